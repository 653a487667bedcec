//! Store throughput and unlock cost. Run with `cargo bench -p bramble-store --bench store`.
//!
//! From one run:
//! - messages stored per second through [`Store::add_messages`] (each with a per-contact
//!   status row, 100 messages per transaction) against a raw SQLCipher loop inserting the
//!   same rows into the same schema with the same settings (target ratio ≥ 0.7);
//! - the time to unlock an account holding 100,000 messages, without Argon2id
//!   (target ≤ 100 ms), and the Argon2id cost of calibrated parameters, separately.
#![allow(
    missing_docs,
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::path::Path;
use std::time::{Duration, Instant};

use bramble_proto::crypto::{AgreementSecretKey, SigningKey};
use bramble_proto::ids::{GroupId, MessageId};
use bramble_proto::stream::Role;
use bramble_proto::time::Timestamp;
use bramble_store::{
    ContactId, KdfParams, MessageState, NewContact, NewMessage, StatusInit, Store,
};
use chacha20::ChaCha20Rng;
use chacha20::rand_core::{Rng, SeedableRng};

const MESSAGES: usize = 10_000;
const BATCH: usize = 100;
const BODY: usize = 1024;
const UNLOCK_MESSAGES: usize = 100_000;
const PASSWORD: &str = "benchmark password";

fn now() -> Timestamp {
    Timestamp::from_millis(1_763_769_600_000).unwrap()
}

fn id(round: u32, n: usize) -> MessageId {
    let mut id = [0u8; 32];
    id[..4].copy_from_slice(&round.to_be_bytes());
    id[4..12].copy_from_slice(&(n as u64).to_be_bytes());
    MessageId(id)
}

fn setup(dir: &Path, params: KdfParams) -> (Store, ContactId, GroupId) {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut store = Store::create(dir, "bench", PASSWORD, params, now(), &mut rng).unwrap();
    let contact = store
        .add_contact(
            &NewContact {
                nickname: "peer",
                alias: None,
                signing_public: SigningKey::generate(&mut rng).verifying_key(),
                handshake_public: AgreementSecretKey::generate(&mut rng).public_key(),
                role: Role::Alice,
                verified: false,
                added_at: now(),
            },
            &[],
        )
        .unwrap();
    let group = GroupId([7; 32]);
    store.add_group(group, "bench", 0, b"").unwrap();
    (store, contact, group)
}

fn fill(
    store: &mut Store,
    contact: ContactId,
    group: GroupId,
    round: u32,
    count: usize,
    bodies: &[Vec<u8>],
) {
    let status = [StatusInit {
        contact,
        ack: true,
        seen: true,
    }];
    for start in (0..count).step_by(BATCH) {
        let batch: Vec<_> = (start..(start + BATCH).min(count))
            .map(|n| {
                let m = NewMessage {
                    id: id(round, n),
                    group,
                    timestamp: now(),
                    raw: &bodies[n % bodies.len()],
                    local: false,
                    state: MessageState::Delivered,
                    shared: false,
                    received_at: now(),
                    metadata: &[],
                    dependencies: &[],
                };
                (m, &status[..])
            })
            .collect();
        store.add_messages(&batch).unwrap();
    }
}

/// The same rows with plain prepared statements on a bare SQLCipher connection.
fn raw_fill(conn: &mut rusqlite::Connection, round: u32, count: usize, bodies: &[Vec<u8>]) {
    let ts = now().as_millis() as i64;
    for start in (0..count).step_by(BATCH) {
        let tx = conn.transaction().unwrap();
        {
            let mut m = tx
                .prepare_cached(
                    "INSERT INTO messages (id, group_id, timestamp, local, state, shared, raw, received_at)
                     VALUES (?1, ?2, ?3, 0, 3, 0, ?4, ?3)",
                )
                .unwrap();
            let mut s = tx
                .prepare_cached(
                    "INSERT INTO message_status (message_id, contact_id, ack, seen) VALUES (?1, 1, 1, 1)",
                )
                .unwrap();
            for n in start..(start + BATCH).min(count) {
                let mid = id(round, n);
                m.execute(rusqlite::params![
                    &mid.0[..],
                    &[7u8; 32][..],
                    ts,
                    &bodies[n % bodies.len()]
                ])
                .unwrap();
                s.execute([&mid.0[..]]).unwrap();
            }
        }
        tx.commit().unwrap();
    }
}

fn raw_connection(dir: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(dir.join("raw.db")).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA cipher_log_level = NONE; PRAGMA key = \"x'{}'\";",
        "ab".repeat(32)
    ))
    .unwrap();
    conn.execute_batch(
        "PRAGMA secure_delete = ON; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;
         PRAGMA journal_size_limit = 0; PRAGMA cache_size = -32768; PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;",
    )
    .unwrap();
    conn.execute_batch(include_str!("../src/schema/schema.sql"))
        .unwrap();
    conn.execute_batch(
        "INSERT INTO contacts (id, nickname, signing_public, handshake_public, role, added_at)
         VALUES (1, 'peer', randomblob(32), randomblob(32), 0, 0);
         INSERT INTO groups (id, client_id, major_version, descriptor) VALUES (zeroblob(32), 'x', 0, x'');
         UPDATE groups SET id = x'0707070707070707070707070707070707070707070707070707070707070707';",
    )
    .unwrap();
    conn
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let bodies: Vec<Vec<u8>> = (0..64)
        .map(|_| {
            let mut b = vec![0u8; BODY];
            rng.fill_bytes(&mut b);
            b
        })
        .collect();

    println!(
        "store vs raw SQLCipher: {MESSAGES} messages of {BODY} B with a status row each, {BATCH} per transaction"
    );
    let (mut ours, mut raw) = (Vec::new(), Vec::new());
    for round in 0..3u32 {
        let tmp = tempfile::tempdir().unwrap();
        let (mut store, contact, group) =
            setup(&tmp.path().join("a"), KdfParams::new(256, 1, 1).unwrap());
        let t = Instant::now();
        fill(&mut store, contact, group, round, MESSAGES, &bodies);
        ours.push(MESSAGES as f64 / t.elapsed().as_secs_f64());
        let mut conn = raw_connection(tmp.path());
        let t = Instant::now();
        raw_fill(&mut conn, round, MESSAGES, &bodies);
        raw.push(MESSAGES as f64 / t.elapsed().as_secs_f64());
    }
    let (ours, raw) = (median(ours), median(raw));
    let ratio = ours / raw;
    println!("  store {ours:9.0} msg/s   raw {raw:9.0} msg/s   ratio {ratio:.3}  (target >= 0.70)");

    println!("unlock with {UNLOCK_MESSAGES} messages stored");
    let params = KdfParams::calibrated().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("big");
    let (mut store, contact, group) = setup(&dir, params);
    fill(&mut store, contact, group, 9, UNLOCK_MESSAGES, &bodies);
    store.checkpoint().unwrap();
    drop(store);
    let mut argon = Vec::new();
    let mut total = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        params.derive(PASSWORD.as_bytes(), &[0u8; 32]).unwrap();
        argon.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let store = Store::open(&dir, PASSWORD).unwrap();
        total.push(t.elapsed().as_secs_f64());
        drop(store);
    }
    let (argon, total) = (median(argon), median(total));
    // Unlock without Argon2id, measured directly: rewrap the key with the lightest
    // parameters Argon2 allows (about 0.1 ms), then time opening.
    let lightest = KdfParams::new(8, 1, 1).unwrap();
    let mut store = Store::open(&dir, PASSWORD).unwrap();
    store
        .change_password(PASSWORD, PASSWORD, lightest, &mut rng)
        .unwrap();
    drop(store);
    let mut opens = Vec::new();
    for _ in 0..9 {
        let t = Instant::now();
        let store = Store::open(&dir, PASSWORD).unwrap();
        opens.push(t.elapsed().as_secs_f64());
        drop(store);
    }
    let unlock = Duration::from_secs_f64(median(opens));

    println!(
        "  Argon2id ({} MiB, {} iterations): {:.0} ms",
        params.memory_kib() / 1024,
        params.iterations(),
        argon * 1000.0
    );
    println!(
        "  unlock without Argon2id: {:.2} ms  (target <= 100 ms); with it: {:.0} ms",
        unlock.as_secs_f64() * 1000.0,
        total * 1000.0
    );
    let size = std::fs::metadata(dir.join("thicket.db")).unwrap().len();
    println!("  database size: {:.1} MiB", size as f64 / (1 << 20) as f64);

    let mut missed = false;
    if ratio < 0.70 {
        println!("TARGET MISSED: insert ratio {ratio:.3} < 0.70");
        missed = true;
    }
    if unlock > Duration::from_millis(100) {
        println!("TARGET MISSED: unlock {unlock:?} > 100 ms");
        missed = true;
    }
    if missed {
        std::process::exit(1);
    }
    println!("all targets met");
}
