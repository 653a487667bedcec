//! What a sync session needs from the store (`spec/sync.md#sessions`).
//!
//! A session talks to one contact. The store it is given is a view of the account from
//! that contact's side: "sendable" always means sendable **to this contact**, and
//! changes the session commits (acks owed, messages seen, transmissions) concern this
//! contact. Reads must see everything committed before them, by this session or any
//! other; [`SyncStore::commit`] must apply a whole [`Changes`] durably and atomically
//! before it returns, because the session acknowledges received messages only after it
//! does.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::message::{Group, Message};
use crate::ids::{GroupId, MessageId};
use crate::time::Timestamp;

/// Whether a group is synced with a contact (`spec/sync.md#visibility`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Visibility {
    /// Not at all: the contact's messages for the group are dropped and not acknowledged.
    Invisible,
    /// The contact's messages are accepted and acknowledged; ours are never sent.
    Visible,
    /// Messages are accepted from and sent to the contact.
    Shared,
}

/// Where a message is in validation (`spec/sync.md#validation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MessageState {
    /// Received but not validated. This implementation validates before it stores, so
    /// it never stores a message in this state; a store may hold older ones.
    Unknown,
    /// Failed validation, or depends on a message that did. Kept as a tombstone
    /// without its content so that it is neither requested nor accepted again.
    Invalid,
    /// Valid, waiting for dependencies to be delivered.
    Pending,
    /// Valid with every dependency delivered, and handed to its client.
    Delivered,
}

/// A group as the store knows it, with its visibility towards the session's contact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupEntry {
    /// The group.
    pub group: Group,
    /// Whether it is synced with the contact.
    pub visibility: Visibility,
}

/// A message the session may send: its identifier and raw bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// The message identifier.
    pub id: MessageId,
    /// The raw message, `group id ‖ timestamp ‖ body`.
    pub raw: Vec<u8>,
    /// How often it was sent or offered to the contact before.
    pub tx_count: u32,
}

impl fmt::Debug for OutgoingMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutgoingMessage")
            .field("id", &self.id)
            .field("len", &self.raw.len())
            .field("tx_count", &self.tx_count)
            .finish()
    }
}

/// A message that is due to be offered again, with its transmission count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Due {
    /// The message identifier.
    pub id: MessageId,
    /// How often it was sent or offered to the contact before.
    pub tx_count: u32,
}

/// A message received from the session's contact, decided on by the session.
#[derive(Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// Its identifier, recomputed from its content.
    pub id: MessageId,
    /// The message.
    pub message: Message,
    /// Its state after validation: never [`MessageState::Unknown`]. An invalid
    /// message is stored as a tombstone: its identifier, group and timestamp only.
    pub state: MessageState,
    /// The messages it depends on.
    pub dependencies: Vec<MessageId>,
    /// What its client's validator extracted from it.
    pub metadata: Vec<(String, Vec<u8>)>,
    /// Whether the store must remember that the contact is owed an acknowledgement
    /// (the session could not send one itself).
    pub ack_owed: bool,
    /// When it was received, by our clock.
    pub received_at: Timestamp,
}

impl fmt::Debug for ReceivedMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceivedMessage")
            .field("id", &self.id)
            .field("state", &self.state)
            .field("dependencies", &self.dependencies.len())
            .field("ack_owed", &self.ack_owed)
            .finish_non_exhaustive()
    }
}

/// One transmission (send or offer) of a message to the contact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmission {
    /// The message.
    pub id: MessageId,
    /// The maximum latency of the transport it went over, in milliseconds.
    pub max_latency_ms: u64,
    /// When it may be offered again if it is not acknowledged by then.
    pub expiry: Timestamp,
}

/// Everything one step of a session changes, committed in one transaction.
///
/// Apply in this order: `received`, `states`, `seen`, `acks_owed`, `acks_sent`,
/// `requested`, `transmissions`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// New messages from the contact. A message already stored is left as it is (unless
    /// it is [`MessageState::Unknown`], which the decision replaces), and counts as seen
    /// by the contact.
    pub received: Vec<ReceivedMessage>,
    /// New states of stored messages (dependencies resolved).
    pub states: Vec<(MessageId, MessageState)>,
    /// Messages the contact holds: never send or offer them to the contact again.
    pub seen: Vec<MessageId>,
    /// Stored messages the contact is owed an acknowledgement for.
    pub acks_owed: Vec<MessageId>,
    /// Owed acknowledgements that were written to the contact.
    pub acks_sent: Vec<MessageId>,
    /// Messages the contact asked for: send them as soon as possible.
    pub requested: Vec<MessageId>,
    /// Messages sent or offered to the contact. Clears `requested`.
    pub transmissions: Vec<Transmission>,
}

impl Changes {
    /// Whether there is nothing to commit.
    pub fn is_empty(&self) -> bool {
        self.received.is_empty()
            && self.states.is_empty()
            && self.seen.is_empty()
            && self.acks_owed.is_empty()
            && self.acks_sent.is_empty()
            && self.requested.is_empty()
            && self.transmissions.is_empty()
    }
}

/// The store as a sync session with one contact sees it.
///
/// "Sendable" means, for a message `m` and this contact: the store tracks `m` for the
/// contact, the contact has not seen it, `m` is [`MessageState::Delivered`], shared and
/// not deleted, and its group is [`Visibility::Shared`] with the contact.
pub trait SyncStore {
    /// The store's error.
    type Error: fmt::Debug;

    /// A group and its visibility towards the contact; `None` if unknown.
    ///
    /// # Errors
    /// Store errors.
    fn group(&mut self, id: &GroupId) -> Result<Option<GroupEntry>, Self::Error>;

    /// The state of a stored message, deleted ones included; `None` if unknown.
    ///
    /// # Errors
    /// Store errors.
    fn message_state(&mut self, id: &MessageId) -> Result<Option<MessageState>, Self::Error>;

    /// The dependencies of a stored message.
    ///
    /// # Errors
    /// Store errors.
    fn dependencies(&mut self, id: &MessageId) -> Result<Vec<MessageId>, Self::Error>;

    /// Stored messages in [`MessageState::Pending`] that depend on `id`, with their
    /// groups.
    ///
    /// # Errors
    /// Store errors.
    fn pending_dependents(
        &mut self,
        id: &MessageId,
    ) -> Result<Vec<(MessageId, GroupId)>, Self::Error>;

    /// How many stored messages that are not ours and that the contact sent or offered
    /// us are `(pending, invalid)`.
    ///
    /// # Errors
    /// Store errors.
    fn quarantined(&mut self) -> Result<(usize, usize), Self::Error>;

    /// Up to `limit` messages the contact is owed an acknowledgement for.
    ///
    /// # Errors
    /// Store errors.
    fn owed_acks(&mut self, limit: usize) -> Result<Vec<MessageId>, Self::Error>;

    /// Up to `limit` sendable messages the contact requested, oldest first.
    ///
    /// # Errors
    /// Store errors.
    fn requested_messages(&mut self, limit: usize) -> Result<Vec<OutgoingMessage>, Self::Error>;

    /// Up to `limit` sendable messages we created and never sent or offered to the
    /// contact, in any order (receivers order by timestamp): the contact cannot hold
    /// them yet.
    ///
    /// # Errors
    /// Store errors.
    fn fresh_messages(&mut self, limit: usize) -> Result<Vec<OutgoingMessage>, Self::Error>;

    /// Up to `limit` sendable, unrequested messages other than fresh ones that are due
    /// at `now` over a transport of latency `max_latency_ms`: never transmitted, or
    /// expired, or last transmitted over a slower transport.
    ///
    /// # Errors
    /// Store errors.
    fn due_offers(
        &mut self,
        now: Timestamp,
        max_latency_ms: u64,
        limit: usize,
    ) -> Result<Vec<Due>, Self::Error>;

    /// The earliest expiry among sendable messages that are waiting only for their
    /// expiry over a transport of latency `max_latency_ms`.
    ///
    /// # Errors
    /// Store errors.
    fn next_expiry(&mut self, max_latency_ms: u64) -> Result<Option<Timestamp>, Self::Error>;

    /// Every sendable message, fewest transmissions first, then oldest: what a batch
    /// (one-way) stream carries.
    ///
    /// # Errors
    /// Store errors.
    fn unacked_messages(&mut self) -> Result<Vec<Due>, Self::Error>;

    /// A message's raw bytes if it is still sendable.
    ///
    /// # Errors
    /// Store errors.
    fn sendable_message(&mut self, id: &MessageId) -> Result<Option<OutgoingMessage>, Self::Error>;

    /// Applies `changes` durably and atomically.
    ///
    /// # Errors
    /// Store errors; then nothing of `changes` is applied.
    fn commit(&mut self, changes: &Changes) -> Result<(), Self::Error>;
}
