//! An in-memory [`SyncStore`], for tests, simulations and fuzzing.
//!
//! It keeps one account: groups, per-contact visibility, messages and per-contact
//! message status, with the same meaning as the encrypted store's tables
//! (`spec/store.md#schema`). Everything committed is "durable": a simulated restart
//! drops the sessions and keeps the store.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::message::{Group, Message};
use super::store::{
    Changes, Due, GroupEntry, MessageState, OutgoingMessage, SyncStore, Visibility,
};
use crate::ids::{GroupId, MessageId};
use crate::time::Timestamp;

/// A stored message.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Its group.
    pub group: GroupId,
    /// Its timestamp.
    pub timestamp: Timestamp,
    /// Whether we created it.
    pub local: bool,
    /// Its validation state.
    pub state: MessageState,
    /// Whether it may be sent to contacts its group is shared with.
    pub shared: bool,
    /// The raw message; `None` once deleted, or for an invalid message's tombstone.
    pub raw: Option<Vec<u8>>,
    /// The contact it came from, for received messages.
    pub source: Option<u64>,
    /// Its dependencies.
    pub dependencies: Vec<MessageId>,
    /// Client metadata.
    pub metadata: Vec<(String, Vec<u8>)>,
    /// Whether the user has read it.
    pub read: bool,
}

impl fmt::Debug for StoredMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredMessage")
            .field("group", &self.group)
            .field("state", &self.state)
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

/// A message's sync state towards one contact (`spec/store.md#schema`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// We owe the contact an acknowledgement.
    pub ack: bool,
    /// The contact has the message.
    pub seen: bool,
    /// The contact asked for it.
    pub requested: bool,
    /// When it may be offered again (ms).
    pub expiry: u64,
    /// How often it was sent or offered.
    pub tx_count: u32,
    /// The latency (ms) of the transport it last went over.
    pub max_latency: Option<u64>,
}

/// The error of a [`MemoryStore`] told to fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InjectedFailure;

/// One account's sync data, in memory.
#[derive(Clone, Default)]
pub struct MemoryStore {
    groups: BTreeMap<GroupId, Group>,
    visibility: BTreeMap<(u64, GroupId), Visibility>,
    messages: BTreeMap<MessageId, StoredMessage>,
    dependents: BTreeMap<MessageId, BTreeSet<MessageId>>,
    status: BTreeMap<(u64, MessageId), Status>,
    commits: u64,
    failing: bool,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("groups", &self.groups.len())
            .field("messages", &self.messages.len())
            .field("commits", &self.commits)
            .finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// An empty account.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// Adds a group, if it is not known yet.
    pub fn add_group(&mut self, group: Group) -> GroupId {
        let id = group.id();
        self.groups.entry(id).or_insert(group);
        id
    }

    /// Sets whether a group is synced with a contact. Sharing it makes every
    /// delivered, shared message of the group sendable to the contact.
    pub fn set_visibility(&mut self, contact: u64, group: GroupId, visibility: Visibility) {
        self.visibility.insert((contact, group), visibility);
        if visibility == Visibility::Shared {
            let ids: Vec<MessageId> = self
                .messages
                .iter()
                .filter(|(_, m)| m.group == group && m.state == MessageState::Delivered && m.shared)
                .map(|(id, _)| *id)
                .collect();
            for id in ids {
                self.status.entry((contact, id)).or_default();
            }
        }
    }

    /// Stores a message we created, delivered and shared, to be sent to every contact
    /// its group is shared with. Returns its identifier; a message already stored is
    /// left as it is.
    pub fn add_local_message(&mut self, message: &Message) -> MessageId {
        let id = message.id();
        if self.messages.contains_key(&id) {
            return id;
        }
        self.messages.insert(
            id,
            StoredMessage {
                group: message.group,
                timestamp: message.timestamp,
                local: true,
                state: MessageState::Delivered,
                shared: true,
                raw: Some(message.to_raw()),
                source: None,
                dependencies: Vec::new(),
                metadata: Vec::new(),
                read: true,
            },
        );
        self.share_with_contacts(id, message.group, None);
        id
    }

    fn share_with_contacts(&mut self, id: MessageId, group: GroupId, except: Option<u64>) {
        let contacts: Vec<u64> = self
            .visibility
            .iter()
            .filter(|((c, g), v)| *g == group && **v == Visibility::Shared && Some(*c) != except)
            .map(|((c, _), _)| *c)
            .collect();
        for c in contacts {
            self.status.entry((c, id)).or_default();
        }
    }

    /// A stored message.
    pub fn message(&self, id: &MessageId) -> Option<&StoredMessage> {
        self.messages.get(id)
    }

    /// Every stored message.
    pub fn messages(&self) -> impl Iterator<Item = (&MessageId, &StoredMessage)> {
        self.messages.iter()
    }

    /// A message's sync state towards a contact.
    pub fn status(&self, id: &MessageId, contact: u64) -> Option<Status> {
        self.status.get(&(contact, *id)).copied()
    }

    /// Deletes a message's content for good, keeping its identifier.
    pub fn delete_message(&mut self, id: &MessageId) {
        if let Some(m) = self.messages.get_mut(id) {
            m.raw = None;
            m.metadata.clear();
        }
    }

    /// Marks a message read.
    pub fn mark_read(&mut self, id: &MessageId) {
        if let Some(m) = self.messages.get_mut(id) {
            m.read = true;
        }
    }

    /// The delivered messages of a group that still have their content, in timestamp
    /// order with ties broken by identifier: `(id, message, local)`.
    pub fn conversation(&self, group: &GroupId) -> Vec<(MessageId, Message, bool)> {
        let mut out: Vec<(MessageId, Message, bool)> = self
            .messages
            .iter()
            .filter(|(_, m)| &m.group == group && m.state == MessageState::Delivered)
            .filter_map(|(id, m)| {
                let raw = m.raw.as_ref()?;
                Some((*id, Message::parse(raw).ok()?, m.local))
            })
            .collect();
        out.sort_by_key(|a| (a.1.timestamp, a.0));
        out
    }

    /// How many commits succeeded.
    pub fn commits(&self) -> u64 {
        self.commits
    }

    /// Makes every commit fail (or succeed again), to test failure handling.
    pub fn set_failing(&mut self, failing: bool) {
        self.failing = failing;
    }

    /// The store as a session with `contact` sees it.
    pub fn view(&mut self, contact: u64) -> MemoryView<'_> {
        MemoryView {
            store: self,
            contact,
        }
    }

    fn sendable(&self, contact: u64, id: &MessageId, status: &Status) -> bool {
        let Some(m) = self.messages.get(id) else {
            return false;
        };
        !status.seen
            && m.state == MessageState::Delivered
            && m.shared
            && m.raw.is_some()
            && self.visibility.get(&(contact, m.group)) == Some(&Visibility::Shared)
    }

    /// Sendable messages towards `contact` with their status, in timestamp order.
    fn sendable_list(&self, contact: u64) -> Vec<(MessageId, Status, &StoredMessage)> {
        let mut out: Vec<(MessageId, Status, &StoredMessage)> = self
            .status
            .range((contact, MessageId([0; 32]))..=(contact, MessageId([0xff; 32])))
            .filter(|((_, id), s)| self.sendable(contact, id, s))
            .filter_map(|((_, id), s)| Some((*id, *s, self.messages.get(id)?)))
            .collect();
        out.sort_by_key(|a| (a.2.timestamp, a.0));
        out
    }

    fn outgoing(id: MessageId, status: &Status, m: &StoredMessage) -> Option<OutgoingMessage> {
        Some(OutgoingMessage {
            id,
            raw: m.raw.clone()?,
            tx_count: status.tx_count,
        })
    }
}

/// A [`MemoryStore`] as a session with one contact sees it.
#[derive(Debug)]
pub struct MemoryView<'a> {
    store: &'a mut MemoryStore,
    contact: u64,
}

impl SyncStore for MemoryView<'_> {
    type Error = InjectedFailure;

    fn group(&mut self, id: &GroupId) -> Result<Option<GroupEntry>, InjectedFailure> {
        Ok(self.store.groups.get(id).map(|g| GroupEntry {
            group: g.clone(),
            visibility: self
                .store
                .visibility
                .get(&(self.contact, *id))
                .copied()
                .unwrap_or(Visibility::Invisible),
        }))
    }

    fn message_state(&mut self, id: &MessageId) -> Result<Option<MessageState>, InjectedFailure> {
        Ok(self.store.messages.get(id).map(|m| m.state))
    }

    fn dependencies(&mut self, id: &MessageId) -> Result<Vec<MessageId>, InjectedFailure> {
        Ok(self
            .store
            .messages
            .get(id)
            .map(|m| m.dependencies.clone())
            .unwrap_or_default())
    }

    fn pending_dependents(
        &mut self,
        id: &MessageId,
    ) -> Result<Vec<(MessageId, GroupId)>, InjectedFailure> {
        let Some(dependents) = self.store.dependents.get(id) else {
            return Ok(Vec::new());
        };
        Ok(dependents
            .iter()
            .filter_map(|d| {
                let m = self.store.messages.get(d)?;
                (m.state == MessageState::Pending).then_some((*d, m.group))
            })
            .collect())
    }

    fn quarantined(&mut self) -> Result<(usize, usize), InjectedFailure> {
        let c = self.contact;
        let held = |state| {
            self.store
                .messages
                .iter()
                .filter(|(id, m)| {
                    !m.local && m.state == state && self.store.status.contains_key(&(c, **id))
                })
                .count()
        };
        Ok((held(MessageState::Pending), held(MessageState::Invalid)))
    }

    fn owed_acks(&mut self, limit: usize) -> Result<Vec<MessageId>, InjectedFailure> {
        let c = self.contact;
        Ok(self
            .store
            .status
            .range((c, MessageId([0; 32]))..=(c, MessageId([0xff; 32])))
            .filter(|(_, s)| s.ack)
            .map(|((_, id), _)| *id)
            .take(limit)
            .collect())
    }

    fn requested_messages(
        &mut self,
        limit: usize,
    ) -> Result<Vec<OutgoingMessage>, InjectedFailure> {
        Ok(self
            .store
            .sendable_list(self.contact)
            .into_iter()
            .filter(|(_, s, _)| s.requested)
            .filter_map(|(id, s, m)| MemoryStore::outgoing(id, &s, m))
            .take(limit)
            .collect())
    }

    fn fresh_messages(&mut self, limit: usize) -> Result<Vec<OutgoingMessage>, InjectedFailure> {
        Ok(self
            .store
            .sendable_list(self.contact)
            .into_iter()
            .filter(|(_, s, m)| m.local && s.tx_count == 0 && !s.requested)
            .filter_map(|(id, s, m)| MemoryStore::outgoing(id, &s, m))
            .take(limit)
            .collect())
    }

    fn due_offers(
        &mut self,
        now: Timestamp,
        max_latency_ms: u64,
        limit: usize,
    ) -> Result<Vec<Due>, InjectedFailure> {
        Ok(self
            .store
            .sendable_list(self.contact)
            .into_iter()
            .filter(|(_, s, m)| {
                !(s.requested || m.local && s.tx_count == 0)
                    && (s.tx_count == 0
                        || s.expiry <= now.as_millis()
                        || s.max_latency.is_some_and(|l| l > max_latency_ms))
            })
            .map(|(id, s, _)| Due {
                id,
                tx_count: s.tx_count,
            })
            .take(limit)
            .collect())
    }

    fn next_expiry(&mut self, max_latency_ms: u64) -> Result<Option<Timestamp>, InjectedFailure> {
        Ok(self
            .store
            .sendable_list(self.contact)
            .into_iter()
            .filter(|(_, s, _)| {
                !s.requested && s.tx_count > 0 && s.max_latency.is_none_or(|l| l <= max_latency_ms)
            })
            .map(|(_, s, _)| s.expiry)
            .min()
            .and_then(|ms| Timestamp::from_millis(ms).ok()))
    }

    fn unacked_messages(&mut self) -> Result<Vec<Due>, InjectedFailure> {
        let mut list = self.store.sendable_list(self.contact);
        list.sort_by_key(|a| (a.1.tx_count, a.2.timestamp, a.0));
        Ok(list
            .into_iter()
            .map(|(id, s, _)| Due {
                id,
                tx_count: s.tx_count,
            })
            .collect())
    }

    fn sendable_message(
        &mut self,
        id: &MessageId,
    ) -> Result<Option<OutgoingMessage>, InjectedFailure> {
        let Some(status) = self.store.status.get(&(self.contact, *id)).copied() else {
            return Ok(None);
        };
        if !self.store.sendable(self.contact, id, &status) {
            return Ok(None);
        }
        Ok(self
            .store
            .messages
            .get(id)
            .and_then(|m| MemoryStore::outgoing(*id, &status, m)))
    }

    fn commit(&mut self, changes: &Changes) -> Result<(), InjectedFailure> {
        if self.store.failing {
            return Err(InjectedFailure);
        }
        let c = self.contact;
        let store = &mut *self.store;
        for r in &changes.received {
            let known = store
                .messages
                .get(&r.id)
                .is_some_and(|m| m.state != MessageState::Unknown);
            if known {
                let s = store.status.entry((c, r.id)).or_default();
                s.seen = true;
                s.ack |= r.ack_owed;
                continue;
            }
            let valid = r.state != MessageState::Invalid;
            store.messages.insert(
                r.id,
                StoredMessage {
                    group: r.message.group,
                    timestamp: r.message.timestamp,
                    local: false,
                    state: r.state,
                    shared: valid,
                    raw: valid.then(|| r.message.to_raw()),
                    source: Some(c),
                    dependencies: r.dependencies.clone(),
                    metadata: if valid {
                        r.metadata.clone()
                    } else {
                        Vec::new()
                    },
                    read: false,
                },
            );
            for d in &r.dependencies {
                store.dependents.entry(*d).or_default().insert(r.id);
            }
            store.status.insert(
                (c, r.id),
                Status {
                    ack: r.ack_owed,
                    seen: true,
                    ..Status::default()
                },
            );
            if r.state == MessageState::Delivered {
                store.share_with_contacts(r.id, r.message.group, Some(c));
            }
        }
        for (id, state) in &changes.states {
            let Some(m) = store.messages.get_mut(id) else {
                continue;
            };
            m.state = *state;
            let group = m.group;
            match state {
                MessageState::Invalid => {
                    m.raw = None;
                    m.metadata.clear();
                    m.shared = false;
                }
                MessageState::Delivered => {
                    let source = m.source;
                    store.share_with_contacts(*id, group, source);
                }
                _ => {}
            }
        }
        for id in &changes.seen {
            if let Some(s) = store.status.get_mut(&(c, *id)) {
                s.seen = true;
            }
        }
        for id in &changes.acks_owed {
            if store.messages.contains_key(id) {
                let s = store.status.entry((c, *id)).or_default();
                s.ack = true;
                s.seen = true;
            }
        }
        for id in &changes.acks_sent {
            if let Some(s) = store.status.get_mut(&(c, *id)) {
                s.ack = false;
            }
        }
        for id in &changes.requested {
            if let Some(s) = store.status.get_mut(&(c, *id)) {
                s.requested = true;
            }
        }
        for t in &changes.transmissions {
            if let Some(s) = store.status.get_mut(&(c, t.id)) {
                s.tx_count = s.tx_count.saturating_add(1);
                s.expiry = t.expiry.as_millis();
                s.max_latency = Some(t.max_latency_ms);
                s.requested = false;
            }
        }
        store.commits += 1;
        Ok(())
    }
}
