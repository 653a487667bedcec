//! Sync throughput end to end. Run with `cargo bench -p bramble-store --bench sync`.
//!
//! From one run: 10,000 text messages of 1 KiB written by Alice are synced to Bob
//! through sync sessions, real streams (tags, headers, frames) in both directions, and
//! both encrypted stores, over an in-memory duplex connection, until Bob has stored
//! every message and Alice has seen every acknowledgement. Printed:
//!
//! - messages per second, against the rate at which Bob's store alone inserts the same
//!   raw messages with their status rows in transactions of the same size (target ratio
//!   ≥ 0.5);
//! - bytes on the wire, both directions, per byte of message text (target ≤ 1.06), and
//!   per byte of raw message (group id, timestamp, encoded body).
#![allow(
    missing_docs,
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_possible_truncation
)]

use std::path::Path;
use std::time::{Duration, Instant};

use bramble_proto::crypto::{AgreementPublicKey, SecretKey};
use bramble_proto::messaging;
use bramble_proto::stream::{
    Role, RootKey, StreamReader, StreamTag, StreamWriter, TAG_LEN, TransportKeys,
};
use bramble_proto::sync::{Message, Mode, Session, SessionConfig, SyncEvent};
use bramble_proto::time::{PeriodLength, Timestamp};
use bramble_proto::transport::TransportId;
use bramble_store::{
    ContactId, KdfParams, MessageState, NewContact, NewMessage, StatusInit, Store,
};
use chacha20::ChaCha20Rng;
use chacha20::rand_core::SeedableRng;

const MESSAGES: usize = 10_000;
const TEXT: usize = 1024;
/// Bytes a side writes before it flushes and the other side reads.
const ROUND: usize = 256 * 1024;
const RUNS: usize = 3;
const PASSWORD: &str = "benchmark password";

fn now() -> Timestamp {
    Timestamp::from_millis(1_767_225_600_000).unwrap()
}

fn account(dir: &Path, seed: u64) -> Store {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    Store::create(
        dir,
        "bench",
        PASSWORD,
        KdfParams::new(256, 1, 1).unwrap(),
        now(),
        &mut rng,
    )
    .unwrap()
}

fn keys(role: Role) -> TransportKeys {
    let len = PeriodLength::for_max_latency(Duration::from_secs(30)).unwrap();
    TransportKeys::derive(
        &RootKey::new(SecretKey::from_bytes([3; 32])),
        role,
        TransportId::LAN,
        len,
        len.period_of(now()),
    )
    .unwrap()
}

/// Alice and Bob, contacts of each other with LAN keys.
fn pair(dir: &Path) -> (Store, ContactId, Store, ContactId) {
    let mut a = account(&dir.join("alice"), 1);
    let mut b = account(&dir.join("bob"), 2);
    let add = |store: &mut Store, other: &Store, role: Role| {
        let theirs = other.identity().unwrap().signing_key.verifying_key();
        store
            .add_contact(
                &NewContact {
                    nickname: "peer",
                    alias: None,
                    signing_public: theirs,
                    handshake_public: AgreementPublicKey([role as u8; 32]),
                    role,
                    verified: false,
                    added_at: now(),
                },
                &[keys(role).to_state()],
            )
            .unwrap()
    };
    let ca = add(&mut a, &b, Role::Alice);
    let cb = add(&mut b, &a, Role::Bob);
    (a, ca, b, cb)
}

fn text(i: usize) -> String {
    let mut t = format!("{i:08} ");
    while t.len() < TEXT {
        t.push_str("the quick brown fox jumps over the lazy dog ");
    }
    t.truncate(TEXT);
    t
}

/// One end of the connection: its session, its outgoing stream and its reader.
struct End {
    session: Session,
    writer: StreamWriter,
    reader: Option<StreamReader>,
    pending_tag: Vec<u8>,
}

impl End {
    fn open(
        store: &mut Store,
        contact: ContactId,
        rng: &mut ChaCha20Rng,
        wire: &mut Vec<u8>,
    ) -> End {
        let state = store
            .transport_keys(contact, &TransportId::LAN)
            .unwrap()
            .unwrap();
        let mut k = TransportKeys::from_state(state).unwrap();
        let stream = k.outgoing_mut().next_stream().unwrap();
        store
            .save_transport_keys(&[(contact, &k.to_state())])
            .unwrap();
        let writer = StreamWriter::new(stream, rng, wire).unwrap();
        End {
            session: Session::new(SessionConfig {
                mode: Mode::Duplex,
                max_latency: Duration::from_secs(30),
                priority: None,
            }),
            writer,
            reader: None,
            pending_tag: Vec::new(),
        }
    }

    /// Writes up to a round's worth, flushed; returns whether anything was written.
    fn write(&mut self, store: &mut Store, contact: ContactId, wire: &mut Vec<u8>) -> bool {
        let mut plain = Vec::new();
        let mut view = store.sync_view(contact);
        while plain.len() < ROUND {
            if !self
                .session
                .poll_transmit(now(), &mut view, &mut plain, ROUND)
                .unwrap()
            {
                break;
            }
        }
        if plain.is_empty() {
            return false;
        }
        self.writer.write(&plain, wire).unwrap();
        self.writer.flush(wire).unwrap();
        true
    }

    /// Reads what the other end wrote; returns the events.
    fn read(&mut self, store: &mut Store, contact: ContactId, wire: &[u8]) -> Vec<SyncEvent> {
        let mut rest = wire;
        if self.reader.is_none() {
            let need = TAG_LEN - self.pending_tag.len();
            let (head, tail) = rest.split_at(need.min(rest.len()));
            self.pending_tag.extend_from_slice(head);
            rest = tail;
            if self.pending_tag.len() < TAG_LEN {
                return Vec::new();
            }
            let state = store
                .transport_keys(contact, &TransportId::LAN)
                .unwrap()
                .unwrap();
            let mut k = TransportKeys::from_state(state).unwrap();
            let tag = StreamTag(self.pending_tag[..].try_into().unwrap());
            let incoming = k
                .incoming_mut()
                .recognise(&tag)
                .expect("our own contact's tag");
            store
                .save_transport_keys(&[(contact, &k.to_state())])
                .unwrap();
            self.reader = Some(StreamReader::new(incoming));
        }
        let mut plain = Vec::new();
        self.reader
            .as_mut()
            .unwrap()
            .handle_bytes(rest, &mut plain)
            .unwrap();
        if !plain.is_empty() {
            let mut view = store.sync_view(contact);
            self.session
                .handle_input(now(), &plain, &mut view, &messaging::validators())
                .unwrap();
        }
        std::iter::from_fn(|| self.session.poll_event()).collect()
    }
}

struct Run {
    elapsed: Duration,
    wire: u64,
}

fn sync_run() -> Run {
    let tmp = tempfile::tempdir().unwrap();
    let (mut a, ca, mut b, cb) = pair(tmp.path());
    for i in 0..MESSAGES {
        a.send_private_message(ca, &text(i), now()).unwrap();
    }
    a.checkpoint().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let start = Instant::now();
    let (mut to_b, mut to_a) = (Vec::new(), Vec::new());
    let mut alice = End::open(&mut a, ca, &mut rng, &mut to_b);
    let mut bob = End::open(&mut b, cb, &mut rng, &mut to_a);
    let mut wire = 0u64;
    let (mut delivered, mut acknowledged) = (0usize, 0usize);
    let mut phases = [Duration::ZERO; 4];
    while delivered < MESSAGES || acknowledged < MESSAGES {
        let t0 = Instant::now();
        let wrote_a = alice.write(&mut a, ca, &mut to_b);
        phases[0] += t0.elapsed();
        let t0 = Instant::now();
        for e in bob.read(&mut b, cb, &to_b) {
            if let SyncEvent::Delivered { .. } = e {
                delivered += 1;
            }
        }
        phases[1] += t0.elapsed();
        wire += to_b.len() as u64;
        to_b.clear();
        let t0 = Instant::now();
        let wrote_b = bob.write(&mut b, cb, &mut to_a);
        phases[2] += t0.elapsed();
        let t0 = Instant::now();
        for e in alice.read(&mut a, ca, &to_a) {
            if let SyncEvent::Acknowledged(ids) = e {
                acknowledged += ids.len();
            }
        }
        phases[3] += t0.elapsed();
        wire += to_a.len() as u64;
        to_a.clear();
        assert!(wrote_a || wrote_b || delivered == MESSAGES, "sync stalled");
    }
    let elapsed = start.elapsed();
    if std::env::var_os("SYNC_BENCH_PHASES").is_some() {
        println!(
            "  phases: alice writes {:?}, bob reads {:?}, bob writes {:?}, alice reads {:?}",
            phases[0], phases[1], phases[2], phases[3]
        );
    }
    assert_eq!(
        b.conversation(cb, None, usize::MAX).unwrap().len(),
        MESSAGES
    );
    Run { elapsed, wire }
}

/// Bob's store inserting the same messages, status row and all, in transactions of the
/// size the sessions commit in.
fn store_only(batch: usize) -> Duration {
    let tmp = tempfile::tempdir().unwrap();
    let (a, ca, mut b, cb) = pair(tmp.path());
    let group = a.conversation_group(ca).unwrap().id();
    let messages: Vec<Message> = (0..MESSAGES)
        .map(|i| {
            let t = Timestamp::from_millis(now().as_millis() + i as u64).unwrap();
            messaging::text_message(group, t, &text(i)).unwrap()
        })
        .collect();
    let raws: Vec<Vec<u8>> = messages.iter().map(Message::to_raw).collect();
    let status = [StatusInit {
        contact: cb,
        ack: false,
        seen: true,
    }];
    let start = Instant::now();
    for (ms, raws) in messages.chunks(batch).zip(raws.chunks(batch)) {
        let rows: Vec<(NewMessage<'_>, &[StatusInit])> = ms
            .iter()
            .zip(raws)
            .map(|(m, raw)| {
                (
                    NewMessage {
                        id: m.id(),
                        group: m.group,
                        timestamp: m.timestamp,
                        raw,
                        local: false,
                        state: MessageState::Delivered,
                        shared: true,
                        received_at: now(),
                        metadata: &[],
                        dependencies: &[],
                    },
                    &status[..],
                )
            })
            .collect();
        b.add_messages(&rows).unwrap();
    }
    start.elapsed()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // Messages per transaction on Bob's side: what one round of bytes carries.
    let raw_len = messaging::text_message(bramble_proto::ids::GroupId([0; 32]), now(), &text(0))
        .unwrap()
        .raw_len();
    let batch = ROUND / (raw_len + 4);
    let mut ratios = Vec::new();
    let mut rates = Vec::new();
    let mut baselines = Vec::new();
    let mut wire = 0;
    for _ in 0..RUNS {
        let run = sync_run();
        let base = store_only(batch);
        let rate = MESSAGES as f64 / run.elapsed.as_secs_f64();
        let base_rate = MESSAGES as f64 / base.as_secs_f64();
        rates.push(rate);
        baselines.push(base_rate);
        ratios.push(rate / base_rate);
        wire = run.wire;
    }
    let text_bytes = (MESSAGES * TEXT) as f64;
    let raw_bytes = (MESSAGES * raw_len) as f64;
    println!(
        "sync A->B, {MESSAGES} x {TEXT} B texts, sessions + streams + both stores (median of {RUNS}):"
    );
    println!(
        "  {:.0} msg/s against Bob's store alone inserting the same rows {batch} per transaction: {:.0} msg/s",
        median(rates),
        median(baselines)
    );
    println!(
        "  ratio {:.3} (target >= 0.5); each run: {ratios:.3?}",
        median(ratios.clone())
    );
    println!(
        "  wire bytes, both directions: {wire}; per text byte {:.4} (target <= 1.06); per raw message byte {:.4}",
        wire as f64 / text_bytes,
        wire as f64 / raw_bytes
    );
}
