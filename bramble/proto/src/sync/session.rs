//! Sync sessions (`spec/sync.md#sessions`): the state machine that runs over one
//! connection or one one-way stream with one contact.
//!
//! # Order of calls
//!
//! A session is driven by its owner, which holds the connection, the clock and the
//! store:
//!
//! 1. [`Session::handle_input`] with the plaintext of the contact's stream, in whatever
//!    pieces it arrives (after [`StreamReader`](crate::stream::StreamReader) has
//!    authenticated it); [`Session::handle_end_of_input`] when that stream ends cleanly.
//! 2. [`Session::poll_transmit`] until it returns `false`, writing what it appends
//!    into our stream, then flushing the stream.
//! 3. [`Session::poll_event`] until `None`, to learn what was delivered and
//!    acknowledged.
//! 4. [`Session::poll_timeout`]: when to call [`Session::handle_timeout`] and then
//!    [`Session::poll_transmit`] again if nothing else happens first.
//! 5. [`Session::notify_store_changed`] when the account changed outside the session
//!    (a new message to send, a group shared), then [`Session::poll_transmit`].
//! 6. [`Session::close`] when the connection ends, so that acknowledgements that could
//!    not be sent are remembered for the next one.
//!
//! Every call that takes the store commits at most one [`Changes`], and only after it
//! has returned does the session acknowledge what it received.

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use super::message::Message;
use super::record::{
    self, MAX_IDS, MAX_RANGES, PRIORITY_LEN, Range, Record, RecordError, RecordReader,
};
use super::store::{
    Changes, GroupEntry, MessageState, OutgoingMessage, ReceivedMessage, SyncStore, Transmission,
    Visibility,
};
use super::validation::{Clients, MAX_DEPENDENCIES};
use crate::ids::{GroupId, MessageId};
use crate::time::{PeriodLength, Timestamp};

/// The sync protocol version this implementation speaks, as listed in VERSIONS.
pub const SYNC_VERSION: u8 = 1;
/// The most offered message identifiers a session keeps to request
/// (`spec/sync.md#limits`).
pub const MAX_OFFERED: usize = 1000;
/// The most messages from one contact that may wait in the store for dependencies.
pub const MAX_PENDING: usize = 1000;
/// The most invalid messages from one contact the store keeps tombstones of; further
/// invalid messages are dropped without one (and requested again if offered again).
pub const MAX_TOMBSTONES: usize = 10_000;
/// The most messages sent in one connection whose acknowledgement a session waits for:
/// a session writes no further message until the peer's RECEIVED makes room.
pub const MAX_IN_FLIGHT: usize = 4096;
/// The most acknowledgements by identifier a session holds in memory before it lets
/// the store remember them.
pub const MAX_QUEUED_ACKS: usize = 4096;
/// The most messages one step commits: a larger input is committed in several steps.
const MAX_STEP_MESSAGES: usize = 256;
/// How many messages one call to [`Session::poll_transmit`] loads at most.
const MESSAGES_PER_POLL: usize = 256;
/// The most groups a session caches.
const MAX_CACHED_GROUPS: usize = 64;
/// The shortest time [`Session::poll_timeout`] asks to wait.
const MIN_TIMER: Duration = Duration::from_secs(1);
/// Retransmission intervals stop doubling after this many transmissions.
const MAX_BACKOFF_DOUBLINGS: u32 = 10;
/// The shortest latency retransmission is scaled by.
const MIN_RETRANSMISSION_LATENCY_MS: u64 = 5_000;

/// How a session uses its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Interactive, over a duplex connection: acknowledge, offer, request, send.
    Duplex,
    /// Batch, writing a one-way stream: every acknowledgement owed and every message
    /// not yet acknowledged, then the end.
    SendOnly,
    /// Batch, reading a one-way stream: whatever needs a reply waits for the next
    /// stream to the contact.
    ReceiveOnly,
}

/// How to set up a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// Interactive or batch.
    pub mode: Mode,
    /// The maximum latency of the transport the session runs over.
    pub max_latency: Duration,
    /// A PRIORITY nonce to send after VERSIONS: the side that dialled a duplex
    /// connection sends one.
    pub priority: Option<[u8; PRIORITY_LEN]>,
}

/// What a session tells its owner.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncEvent {
    /// A message is valid and every message it depends on is delivered: its client
    /// may show it. Happens once per message, whichever session delivers it.
    Delivered {
        /// The message.
        id: MessageId,
        /// Its group.
        group: GroupId,
    },
    /// The contact acknowledged these messages (they may include identifiers that are
    /// not ours; the store ignored those).
    Acknowledged(Vec<MessageId>),
    /// These messages were sent to the contact (not offered).
    Sent(Vec<MessageId>),
    /// The contact's PRIORITY nonce.
    PeerPriority([u8; PRIORITY_LEN]),
}

/// What the peer did wrong. The session is over: drop the connection without a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PeerError {
    /// A record could not be read.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The stream did not start with VERSIONS.
    #[error("the stream did not start with VERSIONS")]
    MissingVersions,
    /// The peer speaks no sync version we do.
    #[error("no common sync version")]
    NoCommonVersion,
    /// A record that may not appear here: a second VERSIONS or PRIORITY, or RECEIVED
    /// in a one-way stream.
    #[error("unexpected record of type {0}")]
    UnexpectedRecord(u8),
    /// Input handed to a session that only writes a one-way stream: a bug of its owner.
    #[error("input to a session that only sends")]
    InputToSendOnly,
    /// RECEIVED named a message number we never sent.
    #[error("acknowledged a message number that was never sent")]
    UnsentMessageNumber,
    /// More than 2³² messages in one stream.
    #[error("too many messages in one stream")]
    TooManyMessages,
}

/// Why a session call failed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError<E: fmt::Debug> {
    /// The peer broke the protocol; the session is over.
    #[error("the peer broke the sync protocol: {0}")]
    Peer(PeerError),
    /// The store failed; nothing of the failed step was committed and the session is
    /// over.
    #[error("store error: {0:?}")]
    Store(E),
    /// The session ended with an earlier error.
    #[error("the session has ended")]
    Closed,
}

/// Message numbers of our stream in this connection still waiting for RECEIVED.
#[derive(Debug, Default)]
struct InFlight {
    base: u64,
    slots: VecDeque<Option<MessageId>>,
}

impl InFlight {
    fn next(&self) -> u64 {
        self.base + self.slots.len() as u64
    }

    fn push(&mut self, id: MessageId) {
        self.slots.push_back(Some(id));
        if self.slots.len() > MAX_IN_FLIGHT {
            // Forget the oldest: it will be offered again when it expires.
            self.slots.pop_front();
            self.base += 1;
        }
    }

    /// Takes the identifiers of `range`; `Err` if it reaches numbers never sent.
    fn acknowledge(&mut self, range: &Range, out: &mut Vec<MessageId>) -> Result<(), PeerError> {
        if range.end() > self.next() {
            return Err(PeerError::UnsentMessageNumber);
        }
        let from = u64::from(range.first).max(self.base);
        for n in from..range.end() {
            // n - base < slots.len() because end <= next.
            let slot = usize::try_from(n - self.base)
                .ok()
                .and_then(|i| self.slots.get_mut(i));
            if let Some(id) = slot.and_then(Option::take) {
                out.push(id);
            }
        }
        while let Some(None) = self.slots.front() {
            self.slots.pop_front();
            self.base += 1;
        }
        Ok(())
    }
}

/// Decisions of one step, visible to the rest of the step before they are committed.
#[derive(Default)]
struct Step {
    changes: Changes,
    states: BTreeMap<MessageId, MessageState>,
    received_index: BTreeMap<MessageId, usize>,
    delivered: Vec<(MessageId, GroupId)>,
    acknowledged: Vec<MessageId>,
    ack_numbers: Vec<(u64, MessageId)>,
    ack_ids: Vec<MessageId>,
    quarantined: Option<(usize, usize)>,
}

impl Step {
    fn state<S: SyncStore>(
        &self,
        id: &MessageId,
        store: &mut S,
    ) -> Result<Option<MessageState>, S::Error> {
        match self.states.get(id) {
            Some(s) => Ok(Some(*s)),
            None => store.message_state(id),
        }
    }

    fn set_state(&mut self, id: MessageId, state: MessageState) {
        if let Some(&i) = self.received_index.get(&id)
            && let Some(r) = self.changes.received.get_mut(i)
        {
            r.state = state;
            if state == MessageState::Invalid {
                // Never acknowledge what turned out invalid in the same step.
                r.ack_owed = false;
                self.changes.acks_owed.retain(|a| *a != id);
            }
        } else {
            self.changes.states.push((id, state));
        }
        self.states.insert(id, state);
    }

    fn receive(&mut self, r: ReceivedMessage) {
        self.states.insert(r.id, r.state);
        self.received_index
            .insert(r.id, self.changes.received.len());
        self.changes.received.push(r);
    }

    fn dependencies<S: SyncStore>(
        &self,
        id: &MessageId,
        store: &mut S,
    ) -> Result<Vec<MessageId>, S::Error> {
        match self
            .received_index
            .get(id)
            .and_then(|&i| self.changes.received.get(i))
        {
            Some(r) => Ok(r.dependencies.clone()),
            None => store.dependencies(id),
        }
    }

    fn pending_dependents<S: SyncStore>(
        &self,
        id: &MessageId,
        store: &mut S,
    ) -> Result<Vec<(MessageId, GroupId)>, S::Error> {
        let mut out: Vec<(MessageId, GroupId)> = store
            .pending_dependents(id)?
            .into_iter()
            .filter(|(d, _)| {
                self.states
                    .get(d)
                    .is_none_or(|s| *s == MessageState::Pending)
            })
            .collect();
        out.extend(
            self.changes
                .received
                .iter()
                .filter(|r| r.state == MessageState::Pending && r.dependencies.contains(id))
                .map(|r| (r.id, r.message.group)),
        );
        Ok(out)
    }

    fn quarantined<S: SyncStore>(&mut self, store: &mut S) -> Result<(usize, usize), S::Error> {
        match self.quarantined {
            Some(n) => Ok(n),
            None => {
                let n = store.quarantined()?;
                self.quarantined = Some(n);
                Ok(n)
            }
        }
    }
}

/// A sync session with one contact over one connection or one-way stream.
pub struct Session {
    mode: Mode,
    max_latency_ms: u64,
    // Writing.
    versions_sent: bool,
    priority: Option<[u8; PRIORITY_LEN]>,
    in_flight: InFlight,
    ack_ranges: Vec<Range>,
    ack_queue: VecDeque<MessageId>,
    unsent_acks: Vec<MessageId>,
    to_request: VecDeque<MessageId>,
    requested: BTreeMap<MessageId, Timestamp>,
    batch: Option<VecDeque<MessageId>>,
    finished: bool,
    next_expiry: Option<Timestamp>,
    // Reading.
    reader: RecordReader,
    versions_received: bool,
    priority_received: bool,
    next_incoming: u64,
    groups: BTreeMap<GroupId, Option<GroupEntry>>,
    events: VecDeque<SyncEvent>,
    failed: bool,
}

impl Session {
    /// A new session.
    pub fn new(config: SessionConfig) -> Self {
        let max_latency_ms = u64::try_from(config.max_latency.as_millis()).unwrap_or(u64::MAX);
        Session {
            mode: config.mode,
            max_latency_ms,
            versions_sent: false,
            priority: config.priority,
            in_flight: InFlight::default(),
            ack_ranges: Vec::new(),
            ack_queue: VecDeque::new(),
            unsent_acks: Vec::new(),
            to_request: VecDeque::new(),
            requested: BTreeMap::new(),
            batch: None,
            finished: false,
            next_expiry: None,
            reader: RecordReader::new(),
            versions_received: false,
            priority_received: false,
            next_incoming: 0,
            groups: BTreeMap::new(),
            events: VecDeque::new(),
            failed: false,
        }
    }

    /// The session's mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// For a [`Mode::SendOnly`] session: whether everything has been written, so the
    /// stream can be finished.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Feeds plaintext of the contact's stream.
    ///
    /// # Errors
    /// [`SyncError::Peer`] if the contact broke the protocol, [`SyncError::Store`] if the
    /// store failed; either way the session is over. Messages read before a protocol
    /// error are kept.
    pub fn handle_input<S: SyncStore, C: Clients>(
        &mut self,
        now: Timestamp,
        mut input: &[u8],
        store: &mut S,
        clients: &C,
    ) -> Result<(), SyncError<S::Error>> {
        if self.failed {
            return Err(SyncError::Closed);
        }
        if self.mode == Mode::SendOnly && !input.is_empty() {
            self.failed = true;
            return Err(SyncError::Peer(PeerError::InputToSendOnly));
        }
        let mut step = Step::default();
        let mut peer_error = None;
        while !input.is_empty() {
            let result = match self.reader.read(&mut input) {
                Ok(Some(record)) => self.handle_record(now, record, &mut step, store, clients),
                Ok(None) => break,
                Err(e) => Err(Handled::Peer(e.into())),
            };
            match result {
                Ok(()) => {}
                Err(Handled::Peer(e)) => {
                    peer_error = Some(e);
                    break;
                }
                Err(Handled::Store(e)) => {
                    self.failed = true;
                    return Err(SyncError::Store(e));
                }
            }
            if step.changes.received.len() >= MAX_STEP_MESSAGES {
                self.finish_step(core::mem::take(&mut step), store)?;
            }
        }
        self.finish_step(step, store)?;
        if let Some(e) = peer_error {
            self.failed = true;
            return Err(SyncError::Peer(e));
        }
        Ok(())
    }

    /// Call when the contact's stream ended cleanly.
    ///
    /// # Errors
    /// [`SyncError::Peer`] if it ended inside a record or before VERSIONS.
    pub fn handle_end_of_input<E: fmt::Debug>(&mut self) -> Result<(), SyncError<E>> {
        if self.failed {
            return Err(SyncError::Closed);
        }
        let result = match self.reader.finish() {
            Err(e) => Err(PeerError::Record(e)),
            Ok(()) if !self.versions_received && self.mode != Mode::SendOnly => {
                Err(PeerError::MissingVersions)
            }
            Ok(()) => Ok(()),
        };
        result.map_err(|e| {
            self.failed = true;
            SyncError::Peer(e)
        })
    }

    /// Commits a step and acts on what it made durable.
    fn finish_step<S: SyncStore>(
        &mut self,
        step: Step,
        store: &mut S,
    ) -> Result<(), SyncError<S::Error>> {
        if !step.changes.is_empty()
            && let Err(e) = store.commit(&step.changes)
        {
            self.failed = true;
            return Err(SyncError::Store(e));
        }
        if !step.changes.requested.is_empty() || !step.changes.received.is_empty() {
            self.next_expiry = None;
        }
        // Durable now: acknowledge, except what turned out invalid within the step.
        let invalid = |id: &MessageId| step.states.get(id) == Some(&MessageState::Invalid);
        for (n, id) in step.ack_numbers.iter().filter(|(_, id)| !invalid(id)) {
            self.acknowledge_number(*n, *id);
        }
        for id in step.ack_ids.iter().filter(|id| !invalid(id)) {
            self.acknowledge_id(*id);
        }
        for (id, group) in step.delivered {
            self.events.push_back(SyncEvent::Delivered { id, group });
        }
        if !step.acknowledged.is_empty() {
            self.events
                .push_back(SyncEvent::Acknowledged(step.acknowledged));
        }
        Ok(())
    }

    fn acknowledge_number(&mut self, n: u64, id: MessageId) {
        // n < 2^32: larger numbers are refused on arrival.
        let Ok(n) = u32::try_from(n) else { return };
        self.unsent_acks.push(id);
        if let Some(last) = self.ack_ranges.last_mut()
            && last.end() == u64::from(n)
        {
            last.count += 1;
        } else {
            self.ack_ranges.push(Range { first: n, count: 1 });
        }
    }

    fn acknowledge_id(&mut self, id: MessageId) {
        self.ack_queue.push_back(id);
    }

    fn handle_record<S: SyncStore, C: Clients>(
        &mut self,
        now: Timestamp,
        record: Record,
        step: &mut Step,
        store: &mut S,
        clients: &C,
    ) -> Result<(), Handled<S::Error>> {
        if !self.versions_received {
            let Record::Versions(versions) = record else {
                return Err(Handled::Peer(PeerError::MissingVersions));
            };
            if !versions.contains(&SYNC_VERSION) {
                return Err(Handled::Peer(PeerError::NoCommonVersion));
            }
            self.versions_received = true;
            return Ok(());
        }
        match record {
            Record::Versions(_) => Err(Handled::Peer(PeerError::UnexpectedRecord(
                record::record_type::VERSIONS,
            ))),
            Record::Priority(nonce) => {
                if self.priority_received {
                    return Err(Handled::Peer(PeerError::UnexpectedRecord(
                        record::record_type::PRIORITY,
                    )));
                }
                self.priority_received = true;
                self.events.push_back(SyncEvent::PeerPriority(nonce));
                Ok(())
            }
            Record::Message(message) => self.on_message(now, message, step, store, clients),
            Record::Ack(ids) => {
                step.changes.seen.extend_from_slice(&ids);
                step.acknowledged.extend(ids);
                Ok(())
            }
            Record::Received(ranges) => {
                if self.mode != Mode::Duplex {
                    return Err(Handled::Peer(PeerError::UnexpectedRecord(
                        record::record_type::RECEIVED,
                    )));
                }
                let mut ids = Vec::new();
                for range in &ranges {
                    self.in_flight
                        .acknowledge(range, &mut ids)
                        .map_err(Handled::Peer)?;
                }
                step.changes.seen.extend_from_slice(&ids);
                step.acknowledged.extend(ids);
                Ok(())
            }
            Record::Offer(ids) => {
                self.forget_unanswered_requests(now);
                for id in ids {
                    match step.state(&id, store).map_err(Handled::Store)? {
                        Some(MessageState::Pending | MessageState::Delivered) => {
                            step.changes.seen.push(id);
                            self.ack_by_id(id, step);
                        }
                        Some(MessageState::Invalid) => {}
                        Some(MessageState::Unknown) | None => {
                            if self.mode != Mode::Duplex
                                || self.requested.contains_key(&id)
                                || self.to_request.contains(&id)
                            {
                                continue;
                            }
                            if self.to_request.len() + self.requested.len() < MAX_OFFERED {
                                self.to_request.push_back(id);
                            }
                        }
                    }
                }
                Ok(())
            }
            Record::Request(ids) => {
                step.changes.requested.extend(ids);
                Ok(())
            }
            Record::Unknown(_) => Ok(()),
        }
    }

    /// Forgets requests the contact has not answered within a retransmission interval,
    /// so that they cannot fill the list for the rest of the connection; their
    /// messages are requested again if offered again.
    fn forget_unanswered_requests(&mut self, now: Timestamp) {
        let answer_within = 2 * self.max_latency_ms.max(MIN_RETRANSMISSION_LATENCY_MS);
        let cutoff = now
            .checked_sub(Duration::from_millis(answer_within))
            .unwrap_or(Timestamp::EPOCH);
        self.requested.retain(|_, asked| *asked > cutoff);
    }

    /// Acknowledges a stored message by identifier once the step is committed.
    fn ack_by_id(&mut self, id: MessageId, step: &mut Step) {
        if self.mode == Mode::Duplex && self.ack_queue.len() + step.ack_ids.len() < MAX_QUEUED_ACKS
        {
            step.ack_ids.push(id);
        } else {
            step.changes.acks_owed.push(id);
        }
    }

    fn group<S: SyncStore>(
        &mut self,
        id: &GroupId,
        store: &mut S,
    ) -> Result<Option<GroupEntry>, S::Error> {
        if let Some(entry) = self.groups.get(id) {
            return Ok(entry.clone());
        }
        let entry = store.group(id)?;
        if self.groups.len() >= MAX_CACHED_GROUPS {
            self.groups.clear();
        }
        self.groups.insert(*id, entry.clone());
        Ok(entry)
    }

    fn on_message<S: SyncStore, C: Clients>(
        &mut self,
        now: Timestamp,
        message: Message,
        step: &mut Step,
        store: &mut S,
        clients: &C,
    ) -> Result<(), Handled<S::Error>> {
        let number = self.next_incoming;
        if number > u64::from(u32::MAX) {
            return Err(Handled::Peer(PeerError::TooManyMessages));
        }
        self.next_incoming += 1;
        let id = message.id();
        self.requested.remove(&id);
        match step.state(&id, store).map_err(Handled::Store)? {
            Some(MessageState::Pending | MessageState::Delivered) => {
                step.changes.seen.push(id);
                self.acknowledge(number, id, step);
                return Ok(());
            }
            Some(MessageState::Invalid) => return Ok(()),
            // Stored but never validated (by an older version): decide now.
            Some(MessageState::Unknown) | None => {}
        }
        let Some(entry) = self.group(&message.group, store).map_err(Handled::Store)? else {
            return Ok(());
        };
        if entry.visibility == Visibility::Invisible {
            return Ok(());
        }
        // From a clock more than the tolerated difference ahead: not now, perhaps later.
        let horizon = now
            .checked_add(PeriodLength::MAX_CLOCK_DIFFERENCE)
            .unwrap_or(Timestamp::MAX);
        if message.timestamp > horizon {
            return Ok(());
        }
        let Some(verdict) = clients.validate(&entry.group, &message) else {
            return Ok(());
        };
        let (state, validated) = match verdict {
            Ok(v) if v.dependencies.len() <= MAX_DEPENDENCIES && !v.dependencies.contains(&id) => {
                let mut state = MessageState::Delivered;
                for d in &v.dependencies {
                    match step.state(d, store).map_err(Handled::Store)? {
                        Some(MessageState::Delivered) => {}
                        Some(MessageState::Invalid) => {
                            state = MessageState::Invalid;
                            break;
                        }
                        _ => state = MessageState::Pending,
                    }
                }
                (state, v)
            }
            _ => (MessageState::Invalid, Default::default()),
        };
        if state != MessageState::Delivered {
            let (pending, invalid) = step.quarantined(store).map_err(Handled::Store)?;
            if state == MessageState::Pending {
                if pending >= MAX_PENDING {
                    return Ok(());
                }
                step.quarantined = Some((pending + 1, invalid));
            } else {
                if invalid >= MAX_TOMBSTONES {
                    return Ok(());
                }
                step.quarantined = Some((pending, invalid + 1));
            }
        }
        let group = message.group;
        let ack_owed = self.mode != Mode::Duplex;
        let valid = state != MessageState::Invalid;
        step.receive(ReceivedMessage {
            id,
            message,
            state,
            dependencies: if valid {
                validated.dependencies
            } else {
                Vec::new()
            },
            metadata: if valid {
                validated.metadata
            } else {
                Vec::new()
            },
            ack_owed,
            received_at: now,
        });
        match state {
            MessageState::Delivered => {
                step.delivered.push((id, group));
                self.cascade(id, MessageState::Delivered, step, store)
                    .map_err(Handled::Store)?;
                self.acknowledge(number, id, step);
            }
            MessageState::Pending => self.acknowledge(number, id, step),
            MessageState::Invalid | MessageState::Unknown => {
                self.cascade(id, MessageState::Invalid, step, store)
                    .map_err(Handled::Store)?;
            }
        }
        Ok(())
    }

    /// Acknowledges message `number` of this stream once the step is committed: by
    /// number in a duplex connection, else by the ack flag the store keeps.
    fn acknowledge(&mut self, number: u64, id: MessageId, step: &mut Step) {
        let held = self.unsent_acks.len() + step.ack_numbers.len();
        if self.mode == Mode::Duplex && held < MAX_QUEUED_ACKS {
            step.ack_numbers.push((number, id));
        } else {
            // Not the duplex case, or a contact that does not read what we write: let
            // the store remember the acknowledgement instead of our memory.
            step.changes.acks_owed.push(id);
        }
    }

    /// Moves the pending dependents of `id` on after `id` became `state`: to
    /// delivered once all their dependencies are, to invalid as soon as one is.
    fn cascade<S: SyncStore>(
        &mut self,
        id: MessageId,
        state: MessageState,
        step: &mut Step,
        store: &mut S,
    ) -> Result<(), S::Error> {
        let mut todo = alloc::vec![(id, state)];
        while let Some((id, state)) = todo.pop() {
            for (dependent, group) in step.pending_dependents(&id, store)? {
                if step.state(&dependent, store)? != Some(MessageState::Pending) {
                    continue;
                }
                let next = if state == MessageState::Invalid {
                    MessageState::Invalid
                } else {
                    let mut all = true;
                    for d in step.dependencies(&dependent, store)? {
                        if step.state(&d, store)? != Some(MessageState::Delivered) {
                            all = false;
                            break;
                        }
                    }
                    if !all {
                        continue;
                    }
                    MessageState::Delivered
                };
                step.set_state(dependent, next);
                if next == MessageState::Delivered {
                    step.delivered.push((dependent, group));
                }
                todo.push((dependent, next));
            }
        }
        Ok(())
    }

    /// Appends records to `out` (to be written into our stream) until about
    /// `max_bytes` were added or there is nothing more to send now. Returns whether it
    /// appended anything; when it did not, flush the stream and wait for input, an
    /// event of the store, or [`Session::poll_timeout`].
    ///
    /// # Errors
    /// [`SyncError::Store`]; the session is then over.
    pub fn poll_transmit<S: SyncStore>(
        &mut self,
        now: Timestamp,
        store: &mut S,
        out: &mut Vec<u8>,
        max_bytes: usize,
    ) -> Result<bool, SyncError<S::Error>> {
        if self.failed {
            return Err(SyncError::Closed);
        }
        if self.mode == Mode::ReceiveOnly || self.finished {
            return Ok(false);
        }
        let start = out.len();
        let (changes, sent, written) = match self.transmit(now, store, out, start, max_bytes) {
            Ok(x) => x,
            Err(e) => {
                out.truncate(start);
                self.failed = true;
                return Err(SyncError::Store(e));
            }
        };
        if !changes.is_empty()
            && let Err(e) = store.commit(&changes)
        {
            out.truncate(start);
            self.failed = true;
            return Err(SyncError::Store(e));
        }
        // Written and committed: the acknowledgements are on their way.
        if written.ranges {
            self.ack_ranges.clear();
            self.unsent_acks.clear();
        }
        self.ack_queue.drain(..written.queued_acks);
        if !sent.is_empty() {
            self.events.push_back(SyncEvent::Sent(sent));
        }
        let wrote = out.len() > start;
        if !wrote && self.mode == Mode::Duplex {
            match store.next_expiry(self.max_latency_ms) {
                // A time already past means the store's queries disagree; never spin.
                Ok(t) => {
                    self.next_expiry =
                        t.map(|t| t.max(now.checked_add(MIN_TIMER).unwrap_or(Timestamp::MAX)))
                }
                Err(e) => {
                    self.failed = true;
                    return Err(SyncError::Store(e));
                }
            }
        }
        Ok(wrote)
    }

    /// Chooses what to write, in order of priority, and what that changes.
    fn transmit<S: SyncStore>(
        &mut self,
        now: Timestamp,
        store: &mut S,
        out: &mut Vec<u8>,
        start: usize,
        max_bytes: usize,
    ) -> Result<(Changes, Vec<MessageId>, AcksWritten), S::Error> {
        let mut changes = Changes::default();
        let mut sent = Vec::new();
        let mut written_acks = AcksWritten::default();
        let full = |out: &Vec<u8>| out.len() - start >= max_bytes;
        if !self.versions_sent {
            // One version, within every limit: cannot fail.
            let _ = record::write_versions(out, &[SYNC_VERSION]);
            self.versions_sent = true;
            if let Some(nonce) = self.priority.take() {
                record::write_priority(out, &nonce);
            }
        }
        if !self.ack_ranges.is_empty() {
            for chunk in self.ack_ranges.chunks(MAX_RANGES) {
                // Built in ascending order with adjacent numbers merged: canonical.
                let _ = record::write_received(out, chunk);
            }
            written_acks.ranges = true;
        }
        while written_acks.queued_acks < self.ack_queue.len() && !full(out) {
            let ids: Vec<MessageId> = self
                .ack_queue
                .iter()
                .skip(written_acks.queued_acks)
                .take(MAX_IDS)
                .copied()
                .collect();
            let _ = record::write_ack(out, &ids);
            written_acks.queued_acks += ids.len();
        }
        let mut acks_done = false;
        if !full(out) {
            let owed = store.owed_acks(MAX_IDS)?;
            acks_done = owed.len() < MAX_IDS;
            if !owed.is_empty() {
                let _ = record::write_ack(out, &owed);
                changes.acks_sent = owed;
            }
        }
        if self.mode == Mode::Duplex {
            while !self.to_request.is_empty() && !full(out) {
                let n = self.to_request.len().min(MAX_IDS);
                let ids: Vec<MessageId> = self.to_request.drain(..n).collect();
                let _ = record::write_request(out, &ids);
                self.requested.extend(ids.into_iter().map(|id| (id, now)));
            }
        }
        let mut written = BTreeSet::new();
        match self.mode {
            Mode::Duplex => {
                // No more messages than the in-flight window holds: the rest wait for
                // the peer's RECEIVED, so that none is forgotten unacknowledged.
                let room = |s: &Self| MAX_IN_FLIGHT.saturating_sub(s.in_flight.slots.len());
                if !full(out) && room(self) > 0 {
                    for m in store.requested_messages(MESSAGES_PER_POLL.min(room(self)))? {
                        if full(out) || room(self) == 0 {
                            break;
                        }
                        self.send(now, m, out, &mut written, &mut changes, &mut sent);
                    }
                }
                // A full page of fresh messages means there may be more: those come
                // before offers, on the next call (or once RECEIVED makes room).
                let mut more_fresh = false;
                if !full(out) && room(self) > 0 {
                    let limit = MESSAGES_PER_POLL.min(room(self));
                    let fresh = store.fresh_messages(limit)?;
                    more_fresh = fresh.len() == limit;
                    for m in fresh {
                        if full(out) || room(self) == 0 {
                            break;
                        }
                        self.send(now, m, out, &mut written, &mut changes, &mut sent);
                    }
                } else if room(self) == 0 {
                    more_fresh = true;
                }
                if !full(out) && !more_fresh {
                    let due: Vec<_> = store
                        .due_offers(now, self.max_latency_ms, MAX_IDS)?
                        .into_iter()
                        .filter(|d| !written.contains(&d.id))
                        .collect();
                    if !due.is_empty() {
                        let ids: Vec<MessageId> = due.iter().map(|d| d.id).collect();
                        let _ = record::write_offer(out, &ids);
                        for d in due {
                            changes.transmissions.push(Transmission {
                                id: d.id,
                                max_latency_ms: self.max_latency_ms,
                                expiry: expiry(now, self.max_latency_ms, d.tx_count),
                            });
                        }
                    }
                }
            }
            Mode::SendOnly => {
                let batch = match &mut self.batch {
                    Some(b) => b,
                    None => self.batch.insert(
                        store
                            .unacked_messages()?
                            .into_iter()
                            .map(|d| d.id)
                            .collect(),
                    ),
                };
                let mut todo = Vec::new();
                while todo.len() < MESSAGES_PER_POLL {
                    match batch.pop_front() {
                        Some(id) => todo.push(id),
                        None => break,
                    }
                }
                let mut rest = todo.into_iter();
                for id in rest.by_ref() {
                    if let Some(m) = store.sendable_message(&id)? {
                        self.send(now, m, out, &mut written, &mut changes, &mut sent);
                    }
                    if full(out) {
                        break;
                    }
                }
                // Put back what did not fit, in order.
                if let Some(batch) = &mut self.batch {
                    for id in rest.rev() {
                        batch.push_front(id);
                    }
                    if batch.is_empty()
                        && acks_done
                        && written_acks.queued_acks == self.ack_queue.len()
                    {
                        self.finished = true;
                    }
                }
            }
            Mode::ReceiveOnly => {}
        }
        Ok((changes, sent, written_acks))
    }

    fn send(
        &mut self,
        now: Timestamp,
        m: OutgoingMessage,
        out: &mut Vec<u8>,
        written: &mut BTreeSet<MessageId>,
        changes: &mut Changes,
        sent: &mut Vec<MessageId>,
    ) {
        if !written.insert(m.id) || record::write_message(out, &m.raw).is_err() {
            return;
        }
        if self.mode == Mode::Duplex {
            self.in_flight.push(m.id);
        }
        changes.transmissions.push(Transmission {
            id: m.id,
            max_latency_ms: self.max_latency_ms,
            expiry: expiry(now, self.max_latency_ms, m.tx_count),
        });
        sent.push(m.id);
    }

    /// When to call [`Session::handle_timeout`]: the earliest time a message waiting
    /// for its acknowledgement becomes due to be offered again. Known after a call to
    /// [`Session::poll_transmit`] that wrote nothing.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        if self.failed || self.mode != Mode::Duplex {
            return None;
        }
        self.next_expiry
    }

    /// The time from [`Session::poll_timeout`] has come: call
    /// [`Session::poll_transmit`] next.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        if self.next_expiry.is_some_and(|t| t <= now) {
            self.next_expiry = None;
        }
    }

    /// The account changed outside the session (a message to send, a group shared or
    /// hidden): call [`Session::poll_transmit`] next.
    pub fn notify_store_changed(&mut self) {
        self.groups.clear();
        self.next_expiry = None;
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<SyncEvent> {
        self.events.pop_front()
    }

    /// Ends the session: acknowledgements received but not yet written are handed to
    /// the store to send on the next connection. Call when the connection ends, cleanly
    /// or not (a crash skips this; the contact then sends those messages again and we
    /// acknowledge them then).
    ///
    /// # Errors
    /// [`SyncError::Store`].
    pub fn close<S: SyncStore>(&mut self, store: &mut S) -> Result<(), SyncError<S::Error>> {
        self.failed = true;
        let mut owed: Vec<MessageId> = core::mem::take(&mut self.unsent_acks);
        owed.extend(self.ack_queue.drain(..));
        self.ack_ranges.clear();
        if owed.is_empty() {
            return Ok(());
        }
        let changes = Changes {
            acks_owed: owed,
            ..Changes::default()
        };
        store.commit(&changes).map_err(SyncError::Store)
    }
}

/// When a message sent or offered for the `tx_count + 1`-th time may go again:
/// `now + 2 · max(L, 5 s) · 2^min(tx_count, 10)` (`spec/sync.md#retransmission`).
pub fn expiry(now: Timestamp, max_latency_ms: u64, tx_count: u32) -> Timestamp {
    let base = 2 * max_latency_ms.max(MIN_RETRANSMISSION_LATENCY_MS);
    let interval = base.saturating_mul(1u64 << tx_count.min(MAX_BACKOFF_DOUBLINGS));
    now.checked_add(Duration::from_millis(interval))
        .unwrap_or(Timestamp::MAX)
}

/// Acknowledgements a [`Session::transmit`] wrote from the session's queues, to be
/// removed from them once its commit succeeds.
#[derive(Default)]
struct AcksWritten {
    ranges: bool,
    queued_acks: usize,
}

enum Handled<E> {
    Peer(PeerError),
    Store(E),
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("mode", &self.mode)
            .field("in_flight", &self.in_flight.slots.len())
            .field("to_request", &self.to_request.len())
            .field("requested", &self.requested.len())
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}
