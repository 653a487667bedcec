//! A deterministic multi-peer simulation of Thicket's sync layer over the real stream
//! layer, with virtual time.
//!
//! Peers run [`Session`]s over [`StreamWriter`]/[`StreamReader`] pairs with real
//! [`TransportKeys`], so tags, rotation across periods and clock skew are exercised too.
//! Links carry duplex connections (Tor-like: they open, carry bytes with latency, and
//! may be cut at any byte) and one-way files (carried for days, possibly lost,
//! duplicated or delivered out of order). Peers have skewed clocks, restart (crash)
//! mid-sync, and their links partition and heal.
//!
//! Everything random comes from one seeded RNG: a failing run prints its seed, and
//! `SIM_SEED=<seed>` replays it exactly.
// Virtual times and random draws are converted freely; all stay far below the limits.
#![allow(clippy::cast_possible_truncation)]

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::time::Duration;

use bramble_proto::crypto::{SecretKey, SigningKey, VerifyingKey};
use bramble_proto::ids::{GroupId, MessageId};
use bramble_proto::messaging;
use bramble_proto::stream::{
    Role, RootKey, StreamReader, StreamTag, StreamWriter, TAG_LEN, TransportKeys,
    TransportKeysState,
};
use bramble_proto::sync::memory::MemoryStore;
use bramble_proto::sync::{Mode, Session, SessionConfig, SyncEvent, SyncStore, Visibility};
use bramble_proto::time::{PeriodLength, Timestamp};
use bramble_proto::transport::TransportId;
use chacha20::ChaCha20Rng;
use chacha20::rand_core::{Rng, SeedableRng};

/// Milliseconds.
pub const SECOND: u64 = 1000;
/// Milliseconds.
pub const MINUTE: u64 = 60 * SECOND;
/// Milliseconds.
pub const HOUR: u64 = 60 * MINUTE;
/// Milliseconds.
pub const DAY: u64 = 24 * HOUR;

/// Where the simulation's clock starts (2026-01-01).
pub const EPOCH: u64 = 1_767_225_600_000;

/// The seed to use: `SIM_SEED` if set, else `default`. Printed, so a failure can be
/// replayed.
pub fn seed(default: u64) -> u64 {
    let seed = std::env::var("SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    #[allow(clippy::print_stderr)]
    {
        eprintln!("simulation seed {seed} (replay with SIM_SEED={seed})");
    }
    seed
}

/// A peer's account as the simulation uses it: the sync store plus what the engine
/// would keep next to it (contacts, stream keys).
pub trait Backend {
    /// The store as a session with one contact sees it.
    type View<'a>: SyncStore
    where
        Self: 'a;
    /// The view for `contact`.
    fn view(&mut self, contact: u64) -> Self::View<'_>;
    /// The account's identity key.
    fn identity(&mut self) -> VerifyingKey;
    /// Adds a contact with its stream keys, and the conversation with it.
    fn add_contact(&mut self, contact: u64, identity: &VerifyingKey, keys: &[TransportKeys]);
    /// Writes a text message to a contact; returns its identifier.
    fn send_text(&mut self, contact: u64, text: &str, now: Timestamp) -> MessageId;
    /// The conversation with a contact as shown: `(id, ours, text)` in order.
    fn conversation(&mut self, contact: u64) -> Vec<(MessageId, bool, String)>;
    /// `(tx_count, seen)` of a message towards a contact.
    fn delivery(&mut self, id: &MessageId, contact: u64) -> (u32, bool);
    /// Stream keys, as stored.
    fn keys(&mut self, contact: u64, transport: &TransportId) -> TransportKeys;
    /// Stores stream keys durably.
    fn save_keys(&mut self, contact: u64, keys: &TransportKeys);
    /// A crash and restart: only what was committed survives.
    fn restart(&mut self);
}

/// The in-memory backend: everything committed is durable.
#[derive(Debug)]
pub struct Memory {
    identity: VerifyingKey,
    store: MemoryStore,
    groups: BTreeMap<u64, GroupId>,
    keys: BTreeMap<(u64, String), TransportKeysState>,
}

impl Memory {
    /// An account whose identity comes from `seed`.
    pub fn new(seed: u64) -> Self {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&seed.to_be_bytes());
        Memory {
            identity: SigningKey::from_seed(bytes).verifying_key(),
            store: MemoryStore::new(),
            groups: BTreeMap::new(),
            keys: BTreeMap::new(),
        }
    }
}

impl Backend for Memory {
    type View<'a> = bramble_proto::sync::memory::MemoryView<'a>;

    fn view(&mut self, contact: u64) -> Self::View<'_> {
        self.store.view(contact)
    }

    fn identity(&mut self) -> VerifyingKey {
        self.identity
    }

    fn add_contact(&mut self, contact: u64, identity: &VerifyingKey, keys: &[TransportKeys]) {
        let group = messaging::conversation_group(&self.identity, identity);
        let id = self.store.add_group(group);
        self.store.set_visibility(contact, id, Visibility::Shared);
        self.groups.insert(contact, id);
        for k in keys {
            self.save_keys(contact, k);
        }
    }

    fn send_text(&mut self, contact: u64, text: &str, now: Timestamp) -> MessageId {
        let group = self.groups[&contact];
        let latest = self
            .store
            .conversation(&group)
            .iter()
            .filter(|(_, _, ours)| *ours)
            .map(|(_, m, _)| m.timestamp)
            .max();
        let at = messaging::next_timestamp(now, latest);
        let m = messaging::text_message(group, at, text).unwrap();
        self.store.add_local_message(&m)
    }

    fn conversation(&mut self, contact: u64) -> Vec<(MessageId, bool, String)> {
        self.store
            .conversation(&self.groups[&contact])
            .into_iter()
            .map(|(id, m, local)| (id, local, messaging::parse_text(m.body()).unwrap()))
            .collect()
    }

    fn delivery(&mut self, id: &MessageId, contact: u64) -> (u32, bool) {
        let s = self.store.status(id, contact).unwrap();
        (s.tx_count, s.seen)
    }

    fn keys(&mut self, contact: u64, transport: &TransportId) -> TransportKeys {
        let state = self.keys[&(contact, transport.as_str().to_owned())].clone();
        TransportKeys::from_state(state).unwrap()
    }

    fn save_keys(&mut self, contact: u64, keys: &TransportKeys) {
        self.keys.insert(
            (contact, keys.transport().as_str().to_owned()),
            keys.to_state(),
        );
    }

    fn restart(&mut self) {}
}

/// The encrypted store backend: a real account on disk; a restart closes it (as a
/// crash would: nothing but what was committed) and opens it again.
#[derive(Debug)]
pub struct Sql {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    store: Option<bramble_store::Store>,
    contacts: BTreeMap<u64, bramble_store::ContactId>,
}

const SQL_PASSWORD: &str = "simulated password";

impl Sql {
    /// A new account in a temporary directory.
    pub fn new(seed: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("account");
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let store = bramble_store::Store::create(
            &path,
            "peer",
            SQL_PASSWORD,
            bramble_store::KdfParams::new(256, 1, 1).unwrap(),
            Timestamp::from_millis(EPOCH).unwrap(),
            &mut rng,
        )
        .unwrap();
        Sql {
            _dir: dir,
            path,
            store: Some(store),
            contacts: BTreeMap::new(),
        }
    }

    /// The open store.
    pub fn store(&mut self) -> &mut bramble_store::Store {
        self.store.as_mut().unwrap()
    }
}

impl Backend for Sql {
    type View<'a> = bramble_store::SyncView<'a>;

    fn view(&mut self, contact: u64) -> Self::View<'_> {
        let id = self.contacts[&contact];
        self.store().sync_view(id)
    }

    fn identity(&mut self) -> VerifyingKey {
        self.store().identity().unwrap().signing_key.verifying_key()
    }

    fn add_contact(&mut self, contact: u64, identity: &VerifyingKey, keys: &[TransportKeys]) {
        let states: Vec<TransportKeysState> = keys.iter().map(TransportKeys::to_state).collect();
        let id = self
            .store()
            .add_contact(
                &bramble_store::NewContact {
                    nickname: "contact",
                    alias: None,
                    signing_public: *identity,
                    handshake_public: bramble_proto::crypto::AgreementPublicKey(
                        [contact as u8; 32],
                    ),
                    role: Role::Alice,
                    verified: false,
                    added_at: Timestamp::from_millis(EPOCH).unwrap(),
                },
                &states,
            )
            .unwrap();
        self.contacts.insert(contact, id);
    }

    fn send_text(&mut self, contact: u64, text: &str, now: Timestamp) -> MessageId {
        let id = self.contacts[&contact];
        self.store().send_private_message(id, text, now).unwrap()
    }

    fn conversation(&mut self, contact: u64) -> Vec<(MessageId, bool, String)> {
        let id = self.contacts[&contact];
        self.store()
            .conversation(id, None, usize::MAX)
            .unwrap()
            .into_iter()
            .map(|m| (m.id, m.ours, m.text))
            .collect()
    }

    fn delivery(&mut self, id: &MessageId, contact: u64) -> (u32, bool) {
        let c = self.contacts[&contact];
        let s = self.store().message_status(*id, c).unwrap().unwrap();
        (s.tx_count, s.seen)
    }

    fn keys(&mut self, contact: u64, transport: &TransportId) -> TransportKeys {
        let c = self.contacts[&contact];
        let state = self.store().transport_keys(c, transport).unwrap().unwrap();
        TransportKeys::from_state(state).unwrap()
    }

    fn save_keys(&mut self, contact: u64, keys: &TransportKeys) {
        let c = self.contacts[&contact];
        self.store()
            .save_transport_keys(&[(c, &keys.to_state())])
            .unwrap();
    }

    fn restart(&mut self) {
        drop(self.store.take());
        self.store = Some(bramble_store::Store::open(&self.path, SQL_PASSWORD).unwrap());
    }
}

/// How a link between two peers behaves.
#[derive(Clone, Debug)]
pub struct Link {
    /// The two peers.
    pub peers: (usize, usize),
    /// Duplex connections, if any: the transport's latency is its spec value.
    pub duplex: Option<Duplex>,
    /// One-way files, if any.
    pub files: Option<Files>,
}

/// Duplex connections over a link.
#[derive(Clone, Debug)]
pub struct Duplex {
    /// Which transport (its keys and latency).
    pub transport: TransportId,
    /// One-way delay of each chunk of bytes.
    pub delay: u64,
    /// How often a peer dials when no connection is up.
    pub redial: u64,
    /// Mean lifetime of a connection; it is cut at a random byte then.
    pub mean_life: u64,
    /// Periods when the link is down (partitions), `[start, end)` in virtual time.
    pub down: Vec<(u64, u64)>,
}

/// Files carried by hand over a link.
#[derive(Clone, Debug)]
pub struct Files {
    /// How often each side writes a file for the other.
    pub every: u64,
    /// Files take up to this long to arrive.
    pub max_delay: u64,
    /// Chance that a file is lost.
    pub loss: f64,
    /// Chance that a file arrives twice (the copy at another time).
    pub duplicate: f64,
}

#[derive(Debug)]
enum Event {
    Dial(usize),
    Bytes {
        conn: usize,
        to: usize,
        bytes: Vec<u8>,
    },
    Cut(usize),
    Wake {
        conn: usize,
        side: usize,
    },
    Send {
        from: usize,
        to: usize,
        text: String,
    },
    Export {
        link: usize,
        from: usize,
    },
    Import {
        from: usize,
        to: usize,
        file: usize,
    },
    Restart(usize),
}

enum Reading {
    Tag(Vec<u8>),
    Stream(StreamReader),
}

struct Side {
    peer: usize,
    other: usize,
    session: Session,
    writer: StreamWriter,
    reading: Reading,
    wake: Option<u64>,
}

struct Conn {
    link: usize,
    transport: TransportId,
    alive: bool,
    sides: [Side; 2],
    last_arrival: [u64; 2],
}

struct Peer<B> {
    backend: B,
    offset: i64,
}

/// What one message should become.
#[derive(Clone, Debug)]
struct Sent {
    from: usize,
    to: usize,
    text: String,
}

/// Counts of what happened, for the test to check and print.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Connections opened.
    pub connections: u64,
    /// Connections cut before they ended.
    pub cuts: u64,
    /// Files written.
    pub files: u64,
    /// Files lost.
    pub files_lost: u64,
    /// Copies of files refused as replays.
    pub replays_refused: u64,
    /// Restarts.
    pub restarts: u64,
    /// Messages sent by users.
    pub sent: u64,
    /// Messages delivered.
    pub delivered: u64,
    /// Bytes carried, both directions.
    pub bytes: u64,
}

/// The simulation.
pub struct Sim<B: Backend> {
    /// Virtual time, ms.
    pub now: u64,
    rng: ChaCha20Rng,
    peers: Vec<Peer<B>>,
    links: Vec<Link>,
    conns: Vec<Conn>,
    files: Vec<Vec<u8>>,
    file_copies: BTreeMap<usize, (u32, u32)>,
    queue: BinaryHeap<Reverse<(u64, u64, usize)>>,
    events: Vec<Option<Event>>,
    seq: u64,
    sent: BTreeMap<MessageId, Sent>,
    delivered: BTreeMap<(usize, MessageId), u32>,
    crashed_sides: Vec<(usize, usize)>,
    /// What happened.
    pub stats: Stats,
}

impl<B: Backend> std::fmt::Debug for Sim<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("now", &self.now)
            .field("peers", &self.peers.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

fn contact_of(peer: usize) -> u64 {
    peer as u64 + 1
}

impl<B: Backend> Sim<B> {
    /// Peers on the given backends, with clock offsets (ms, may be negative), all contacts of
    /// each other; the links say how they can reach each other.
    pub fn new(seed: u64, backends: Vec<B>, offsets: &[i64], links: Vec<Link>) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mut peers: Vec<Peer<B>> = backends
            .into_iter()
            .zip(offsets)
            .map(|(backend, &offset)| Peer { backend, offset })
            .collect();
        // Every pair are contacts with, per transport, keys from a root key agreed at
        // EPOCH (what the contact exchange will do).
        let transports = [TransportId::TOR, TransportId::LAN, TransportId::FILE];
        for a in 0..peers.len() {
            for b in a + 1..peers.len() {
                let mut root = [0u8; 32];
                rng.fill_bytes(&mut root);
                for (me, them, role) in [(a, b, Role::Alice), (b, a, Role::Bob)] {
                    let keys: Vec<TransportKeys> = transports
                        .iter()
                        .map(|t| {
                            let len = PeriodLength::for_max_latency(t.spec_max_latency().unwrap())
                                .unwrap();
                            let start = len.period_of(Timestamp::from_millis(EPOCH).unwrap());
                            TransportKeys::derive(
                                &RootKey::new(SecretKey::from_bytes(root)),
                                role,
                                t.clone(),
                                len,
                                start,
                            )
                            .unwrap()
                        })
                        .collect();
                    let identity = peers[them].backend.identity();
                    peers[me]
                        .backend
                        .add_contact(contact_of(them), &identity, &keys);
                }
            }
        }
        let mut sim = Sim {
            now: EPOCH,
            rng,
            peers,
            links,
            conns: Vec::new(),
            files: Vec::new(),
            file_copies: BTreeMap::new(),
            queue: BinaryHeap::new(),
            events: Vec::new(),
            seq: 0,
            sent: BTreeMap::new(),
            delivered: BTreeMap::new(),
            crashed_sides: Vec::new(),
            stats: Stats::default(),
        };
        for l in 0..sim.links.len() {
            if sim.links[l].duplex.is_some() {
                let at = EPOCH + sim.rng.next_u64() % MINUTE;
                sim.schedule(at, Event::Dial(l));
            }
            if let Some(f) = sim.links[l].files.clone() {
                let (a, b) = sim.links[l].peers;
                for from in [a, b] {
                    let at = EPOCH + sim.rng.next_u64() % f.every;
                    sim.schedule(at, Event::Export { link: l, from });
                }
            }
        }
        sim
    }

    fn schedule(&mut self, at: u64, event: Event) {
        self.seq += 1;
        self.events.push(Some(event));
        self.queue
            .push(Reverse((at.max(self.now), self.seq, self.events.len() - 1)));
    }

    fn chance(&mut self, p: f64) -> bool {
        (self.rng.next_u64() as f64 / u64::MAX as f64) < p
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.rng.next_u64() % n }
    }

    fn local(&self, peer: usize, at: u64) -> Timestamp {
        let ms = (at as i64 + self.peers[peer].offset).max(0) as u64;
        Timestamp::from_millis(ms).unwrap()
    }

    fn global(&self, peer: usize, t: Timestamp) -> u64 {
        (t.as_millis() as i64 - self.peers[peer].offset).max(0) as u64
    }

    /// Schedules a user of `from` to send `text` to `to` at `at`.
    pub fn send_at(&mut self, at: u64, from: usize, to: usize, text: &str) {
        self.schedule(
            at,
            Event::Send {
                from,
                to,
                text: text.to_owned(),
            },
        );
    }

    /// Schedules a crash and restart of `peer` at `at`.
    pub fn restart_at(&mut self, at: u64, peer: usize) {
        self.schedule(at, Event::Restart(peer));
    }

    /// Replaces every link's behaviour, from now on.
    pub fn set_links(&mut self, links: Vec<Link>) {
        let new_dials: Vec<usize> = links
            .iter()
            .enumerate()
            .filter(|(i, l)| {
                l.duplex.is_some() && self.links.get(*i).is_none_or(|o| o.duplex.is_none())
            })
            .map(|(i, _)| i)
            .collect();
        self.links = links;
        for l in new_dials {
            self.schedule(self.now, Event::Dial(l));
        }
    }

    /// Runs until virtual time `until`.
    pub fn run_until(&mut self, until: u64) {
        while let Some(Reverse((at, _, idx))) = self.queue.peek().copied() {
            if at > until {
                break;
            }
            self.queue.pop();
            self.now = at;
            if let Some(event) = self.events[idx].take() {
                self.handle(event);
            }
        }
        self.now = until;
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Dial(l) => self.dial(l),
            Event::Bytes { conn, to, bytes } => self.arrive(conn, to, &bytes),
            Event::Cut(conn) => self.cut(conn),
            Event::Wake { conn, side } => {
                if self.conns[conn].alive && self.conns[conn].sides[side].wake == Some(self.now) {
                    self.conns[conn].sides[side].wake = None;
                    let now = self.local(self.conns[conn].sides[side].peer, self.now);
                    self.conns[conn].sides[side].session.handle_timeout(now);
                    self.drive(conn, side);
                }
            }
            Event::Send { from, to, text } => {
                let now = self.local(from, self.now);
                let id = self.peers[from]
                    .backend
                    .send_text(contact_of(to), &text, now);
                self.sent.insert(id, Sent { from, to, text });
                self.stats.sent += 1;
                for c in 0..self.conns.len() {
                    for s in 0..2 {
                        let side = &self.conns[c].sides[s];
                        if self.conns[c].alive && side.peer == from && side.other == to {
                            self.conns[c].sides[s].session.notify_store_changed();
                            self.drive(c, s);
                        }
                    }
                }
            }
            Event::Export { link, from } => self.export(link, from),
            Event::Import { from, to, file } => self.import(from, to, file),
            Event::Restart(peer) => {
                self.stats.restarts += 1;
                for c in 0..self.conns.len() {
                    if self.conns[c].alive && self.conns[c].sides.iter().any(|s| s.peer == peer) {
                        let side = usize::from(self.conns[c].sides[1].peer == peer);
                        self.crashed_sides.push((c, side));
                        self.cut(c);
                    }
                }
                self.peers[peer].backend.restart();
            }
        }
    }

    fn link_up(&self, l: usize) -> bool {
        self.links[l]
            .duplex
            .as_ref()
            .is_some_and(|d| !d.down.iter().any(|(a, b)| (*a..*b).contains(&self.now)))
    }

    fn dial(&mut self, l: usize) {
        let Some(d) = self.links[l].duplex.clone() else {
            return;
        };
        let redial = d.redial + self.below(d.redial / 4 + 1);
        self.schedule(self.now + redial, Event::Dial(l));
        let busy = self.conns.iter().any(|c| c.alive && c.link == l);
        if busy || !self.link_up(l) {
            return;
        }
        let (a, b) = self.links[l].peers;
        let (dialer, listener) = if self.chance(0.5) { (a, b) } else { (b, a) };
        let conn = self.conns.len();
        let mut nonce = [0u8; 16];
        self.rng.fill_bytes(&mut nonce);
        let sides = [(dialer, listener, Some(nonce)), (listener, dialer, None)].map(
            |(peer, other, priority)| {
                let (writer, header) = self.open_stream(peer, other, &d.transport);
                let session = Session::new(SessionConfig {
                    mode: Mode::Duplex,
                    max_latency: d.transport.spec_max_latency().unwrap(),
                    priority,
                });
                (
                    Side {
                        peer,
                        other,
                        session,
                        writer,
                        reading: Reading::Tag(Vec::new()),
                        wake: None,
                    },
                    header,
                )
            },
        );
        let [(s0, h0), (s1, h1)] = sides;
        self.conns.push(Conn {
            link: l,
            transport: d.transport.clone(),
            alive: true,
            sides: [s0, s1],
            last_arrival: [0, 0],
        });
        self.stats.connections += 1;
        self.carry(conn, 0, h0);
        self.carry(conn, 1, h1);
        // Cut at a random moment, exponentially distributed around the mean life.
        let u = (self.rng.next_u64() as f64 / u64::MAX as f64).max(1e-9);
        let life = (-(u.ln()) * d.mean_life as f64) as u64;
        self.schedule(self.now + life.max(1), Event::Cut(conn));
        self.drive(conn, 0);
        self.drive(conn, 1);
    }

    /// A stream from `peer` to `other`: the stream number is stored before any byte
    /// leaves. Returns the writer and the bytes of tag and header.
    fn open_stream(
        &mut self,
        peer: usize,
        other: usize,
        transport: &TransportId,
    ) -> (StreamWriter, Vec<u8>) {
        let now = self.local(peer, self.now);
        let backend = &mut self.peers[peer].backend;
        let mut keys = backend
            .keys(contact_of(other), transport)
            .rotate_to_time(now)
            .unwrap();
        let stream = keys.outgoing_mut().next_stream().unwrap();
        backend.save_keys(contact_of(other), &keys);
        let mut out = Vec::new();
        let writer = StreamWriter::new(stream, &mut self.rng, &mut out).unwrap();
        (writer, out)
    }

    /// Sends bytes from side `from` to the other side, in order, after the link's delay,
    /// in pieces of up to 1 KiB so that a cut can fall anywhere.
    fn carry(&mut self, conn: usize, from: usize, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        self.stats.bytes += bytes.len() as u64;
        let delay = self.links[self.conns[conn].link]
            .duplex
            .as_ref()
            .map_or(0, |d| d.delay);
        let to = 1 - from;
        let mut rest = &bytes[..];
        let mut at = (self.now + delay).max(self.conns[conn].last_arrival[to]);
        while !rest.is_empty() {
            let n = (1 + self.below(1024) as usize).min(rest.len());
            let (piece, tail) = rest.split_at(n);
            rest = tail;
            self.schedule(
                at,
                Event::Bytes {
                    conn,
                    to,
                    bytes: piece.to_vec(),
                },
            );
            // About 1 ms per KiB: a link of a few Mbit/s.
            at += 1;
        }
        self.conns[conn].last_arrival[to] = at;
    }

    fn cut(&mut self, conn: usize) {
        if !self.conns[conn].alive {
            return;
        }
        self.conns[conn].alive = false;
        self.stats.cuts += 1;
        for s in 0..2 {
            if self.crashed_sides.contains(&(conn, s)) {
                continue;
            }
            let (peer, other) = (
                self.conns[conn].sides[s].peer,
                self.conns[conn].sides[s].other,
            );
            let session = &mut self.conns[conn].sides[s].session;
            let mut view = self.peers[peer].backend.view(contact_of(other));
            session.close(&mut view).unwrap();
        }
    }

    fn arrive(&mut self, conn: usize, to: usize, bytes: &[u8]) {
        if !self.conns[conn].alive {
            return;
        }
        let (peer, other) = (
            self.conns[conn].sides[to].peer,
            self.conns[conn].sides[to].other,
        );
        let now = self.local(peer, self.now);
        let transport = self.conns[conn].transport.clone();
        let mut plain = Vec::new();
        let side = &mut self.conns[conn].sides[to];
        let rest: &[u8] = match &mut side.reading {
            Reading::Tag(buf) => {
                buf.extend_from_slice(bytes);
                if buf.len() < TAG_LEN {
                    return;
                }
                let buf = std::mem::take(buf);
                let tag = StreamTag(buf[..TAG_LEN].try_into().unwrap());
                let backend = &mut self.peers[peer].backend;
                let mut keys = backend
                    .keys(contact_of(other), &transport)
                    .rotate_to_time(now)
                    .unwrap();
                let incoming = keys.incoming_mut().recognise(&tag).unwrap_or_else(|| {
                    panic!("peer {peer} did not recognise a stream of peer {other}")
                });
                backend.save_keys(contact_of(other), &keys);
                let mut reader = StreamReader::new(incoming);
                reader.handle_bytes(&buf[TAG_LEN..], &mut plain).unwrap();
                side.reading = Reading::Stream(reader);
                &[]
            }
            Reading::Stream(_) => bytes,
        };
        if let Reading::Stream(reader) = &mut side.reading {
            reader.handle_bytes(rest, &mut plain).unwrap();
        }
        if plain.is_empty() {
            return;
        }
        let clients = messaging::validators();
        let session = &mut self.conns[conn].sides[to].session;
        let mut view = self.peers[peer].backend.view(contact_of(other));
        session
            .handle_input(now, &plain, &mut view, &clients)
            .unwrap();
        drop(view);
        self.drive(conn, to);
    }

    /// Lets one side write all it has, then acts on its events.
    fn drive(&mut self, conn: usize, s: usize) {
        if !self.conns[conn].alive {
            return;
        }
        let (peer, other) = (
            self.conns[conn].sides[s].peer,
            self.conns[conn].sides[s].other,
        );
        let now = self.local(peer, self.now);
        let mut wire = Vec::new();
        {
            let side = &mut self.conns[conn].sides[s];
            let mut view = self.peers[peer].backend.view(contact_of(other));
            let mut wrote = false;
            loop {
                let mut out = Vec::new();
                let more = side
                    .session
                    .poll_transmit(now, &mut view, &mut out, 16 * 1024)
                    .unwrap();
                side.writer.write(&out, &mut wire).unwrap();
                wrote |= !out.is_empty();
                if !more {
                    break;
                }
            }
            if wrote {
                side.writer.flush(&mut wire).unwrap();
            }
        }
        self.carry(conn, s, wire);
        self.events_of(conn, s);
        let timeout = self.conns[conn].sides[s].session.poll_timeout();
        if let Some(t) = timeout {
            let at = self.global(peer, t).max(self.now + 1);
            if self.conns[conn].sides[s].wake != Some(at) {
                self.conns[conn].sides[s].wake = Some(at);
                self.schedule(at, Event::Wake { conn, side: s });
            }
        }
    }

    fn events_of(&mut self, conn: usize, s: usize) {
        let peer = self.conns[conn].sides[s].peer;
        while let Some(e) = self.conns[conn].sides[s].session.poll_event() {
            if let SyncEvent::Delivered { id, .. } = e {
                self.on_delivered(peer, id);
            }
        }
    }

    fn on_delivered(&mut self, peer: usize, id: MessageId) {
        let sent = self
            .sent
            .get(&id)
            .unwrap_or_else(|| panic!("peer {peer} was delivered a message nobody sent"));
        assert_eq!(sent.to, peer, "a message reached a peer it was not sent to");
        let n = self.delivered.entry((peer, id)).or_default();
        *n += 1;
        assert_eq!(*n, 1, "peer {peer} was delivered a message twice");
        self.stats.delivered += 1;
    }

    fn export(&mut self, link: usize, from: usize) {
        let Some(f) = self.links[link].files.clone() else {
            return;
        };
        self.schedule(self.now + f.every, Event::Export { link, from });
        let (a, b) = self.links[link].peers;
        let to = if from == a { b } else { a };
        let (mut writer, mut file) = self.open_stream(from, to, &TransportId::FILE);
        let now = self.local(from, self.now);
        let mut session = Session::new(SessionConfig {
            mode: Mode::SendOnly,
            max_latency: TransportId::FILE.spec_max_latency().unwrap(),
            priority: None,
        });
        {
            let mut view = self.peers[from].backend.view(contact_of(to));
            while !session.is_finished() {
                let mut out = Vec::new();
                session
                    .poll_transmit(now, &mut view, &mut out, 64 * 1024)
                    .unwrap();
                writer.write(&out, &mut file).unwrap();
            }
        }
        writer.finish(&mut file).unwrap();
        self.stats.files += 1;
        self.stats.bytes += file.len() as u64;
        let id = self.files.len();
        self.files.push(file);
        if self.chance(f.loss) {
            self.stats.files_lost += 1;
            return;
        }
        let copies = if self.chance(f.duplicate) { 2 } else { 1 };
        self.file_copies.insert(id, (copies, 0));
        for _ in 0..copies {
            let at = self.now + self.below(f.max_delay);
            self.schedule(at, Event::Import { from, to, file: id });
        }
    }

    fn import(&mut self, from: usize, to: usize, file: usize) {
        let bytes = self.files[file].clone();
        let now = self.local(to, self.now);
        let tag = StreamTag(bytes[..TAG_LEN].try_into().unwrap());
        let backend = &mut self.peers[to].backend;
        let mut keys = backend
            .keys(contact_of(from), &TransportId::FILE)
            .rotate_to_time(now)
            .unwrap();
        let recognised = keys.incoming_mut().recognise(&tag);
        let copies = self.file_copies.get_mut(&file).unwrap();
        let Some(incoming) = recognised else {
            // Only a second copy may be refused: a replay.
            assert!(
                copies.1 >= 1,
                "peer {to} did not recognise a file of peer {from}"
            );
            copies.1 += 1;
            self.stats.replays_refused += 1;
            return;
        };
        assert_eq!(copies.1, 0, "a copy of a file was accepted twice");
        copies.1 += 1;
        backend.save_keys(contact_of(from), &keys);
        let mut reader = StreamReader::new(incoming);
        let mut plain = Vec::new();
        reader.handle_bytes(&bytes[TAG_LEN..], &mut plain).unwrap();
        reader.finish().unwrap();
        let mut session = Session::new(SessionConfig {
            mode: Mode::ReceiveOnly,
            max_latency: TransportId::FILE.spec_max_latency().unwrap(),
            priority: None,
        });
        let clients = messaging::validators();
        {
            let mut view = backend.view(contact_of(from));
            session
                .handle_input(now, &plain, &mut view, &clients)
                .unwrap();
            session.handle_end_of_input::<()>().unwrap();
            session.close(&mut view).unwrap();
        }
        while let Some(e) = session.poll_event() {
            if let SyncEvent::Delivered { id, .. } = e {
                self.on_delivered(to, id);
            }
        }
    }

    /// Checks that every message sent was delivered exactly once, is shown exactly once
    /// in its recipient's conversation with its text, and is marked delivered (acked)
    /// at its sender. Panics with a description otherwise.
    pub fn assert_converged(&mut self) {
        for (id, sent) in &self.sent {
            let n = self.delivered.get(&(sent.to, *id)).copied().unwrap_or(0);
            assert_eq!(
                n, 1,
                "message from {} to {} delivered {n} times",
                sent.from, sent.to
            );
            let (_, seen) = self.peers[sent.from]
                .backend
                .delivery(id, contact_of(sent.to));
            assert!(
                seen,
                "message from {} to {} never acknowledged",
                sent.from, sent.to
            );
        }
        for p in 0..self.peers.len() {
            for other in (0..self.peers.len()).filter(|o| *o != p) {
                let shown = self.peers[p].backend.conversation(contact_of(other));
                let mut expected: Vec<&MessageId> = self
                    .sent
                    .iter()
                    .filter(|(_, s)| {
                        (s.from == p && s.to == other) || (s.from == other && s.to == p)
                    })
                    .map(|(id, _)| id)
                    .collect();
                expected.sort();
                let mut ids: Vec<&MessageId> = shown.iter().map(|(id, _, _)| id).collect();
                ids.sort();
                assert_eq!(ids, expected, "peer {p}'s conversation with {other}");
                for (id, ours, text) in &shown {
                    let s = &self.sent[id];
                    assert_eq!(&s.text, text);
                    assert_eq!(*ours, s.from == p);
                }
            }
        }
    }

    /// Every message's transmission count towards its recipient.
    pub fn transmissions(&mut self) -> BTreeMap<MessageId, u32> {
        let sent: Vec<(MessageId, usize, usize)> = self
            .sent
            .iter()
            .map(|(id, s)| (*id, s.from, s.to))
            .collect();
        sent.into_iter()
            .map(|(id, from, to)| (id, self.peers[from].backend.delivery(&id, contact_of(to)).0))
            .collect()
    }

    /// How many messages were sent.
    pub fn sent_count(&self) -> usize {
        self.sent.len()
    }

    /// How many messages have been delivered.
    pub fn delivered_count(&self) -> usize {
        self.delivered.len()
    }

    /// A peer's backend.
    pub fn backend(&mut self, peer: usize) -> &mut B {
        &mut self.peers[peer].backend
    }
}

/// A link that only carries duplex connections.
pub fn duplex_link(a: usize, b: usize, d: Duplex) -> Link {
    Link {
        peers: (a, b),
        duplex: Some(d),
        files: None,
    }
}

/// A Tor-like duplex transport: a connection attempt every `redial`, lasting
/// `mean_life` on average.
pub fn tor(redial: u64, mean_life: u64) -> Duplex {
    Duplex {
        transport: TransportId::TOR,
        delay: 300,
        redial,
        mean_life,
        down: Vec::new(),
    }
}

/// How long the stream layer tolerates clocks to differ, for choosing offsets.
pub const MAX_SKEW: Duration = PeriodLength::MAX_CLOCK_DIFFERENCE;
