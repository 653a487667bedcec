//! Tests that need the store's internals: the database key, the raw connection, the
//! schema machinery.

use std::path::Path;
use std::time::Duration;

use bramble_proto::crypto::SecretKey;
use bramble_proto::ids::{GroupId, MessageId};
use bramble_proto::stream::{Role, RootKey, TransportKeys};
use bramble_proto::time::{Period, PeriodLength, Timestamp};
use bramble_proto::transport::TransportId;
use chacha20::ChaCha20Rng;
use chacha20::rand_core::SeedableRng;

use crate::key_file::{self, KeyFile, Paths};
use crate::{
    KdfParams, MessageState, NewContact, NewMessage, StatusInit, Store, StoreError, db, schema,
};

const PASSWORD: &str = "pw";

fn now() -> Timestamp {
    Timestamp::from_millis(1_763_769_600_000).unwrap()
}

fn light() -> KdfParams {
    KdfParams::new(256, 1, 1).unwrap()
}

fn new_account(dir: &Path) -> Store {
    Store::create(
        dir,
        "ada",
        PASSWORD,
        light(),
        now(),
        &mut ChaCha20Rng::seed_from_u64(1),
    )
    .unwrap()
}

fn db_key(dir: &Path) -> SecretKey {
    key_file::read(&Paths { dir }.primary())
        .unwrap()
        .unwrap()
        .open(PASSWORD.as_bytes())
        .unwrap()
}

/// Decrypts every page of a SQLCipher 4 database file, or every frame of its
/// write-ahead log, with the raw database key: AES-256-CBC, 4096-byte pages ending in a
/// 16-byte IV and a 64-byte HMAC; the first 16 bytes of the database are its salt.
/// Stale frames past the log's valid end are decrypted too.
fn decrypt_pages(path: &Path, key: &SecretKey, wal: bool) -> Vec<u8> {
    use aes::cipher::{BlockModeDecrypt, KeyIvInit, block_padding::NoPadding};
    const PAGE: usize = 4096;
    const RESERVE: usize = 80;
    let data = std::fs::read(path).unwrap_or_default();
    let (mut at, header, frame) = if wal {
        (32, 24, PAGE + 24)
    } else {
        (0, 0, PAGE)
    };
    let mut out = Vec::new();
    while at + frame <= data.len() {
        let page = &data[at + header..at + header + PAGE];
        let start = if !wal && at == 0 { 16 } else { 0 };
        let iv: [u8; 16] = page[PAGE - RESERVE..PAGE - RESERVE + 16]
            .try_into()
            .unwrap();
        let mut buf = page[start..PAGE - RESERVE].to_vec();
        cbc::Decryptor::<aes::Aes256>::new(key.expose_secret().into(), &iv.into())
            .decrypt_padded::<NoPadding>(&mut buf)
            .unwrap();
        out.extend_from_slice(&buf);
        at += frame;
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Everything readable with the database key: decrypted database pages and log frames.
fn readable(dir: &Path, key: &SecretKey) -> Vec<u8> {
    let mut all = decrypt_pages(&dir.join("thicket.db"), key, false);
    all.extend(decrypt_pages(&dir.join("thicket.db-wal"), key, true));
    all
}

#[test]
fn the_page_decryption_reads_what_sqlite_wrote() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a");
    let mut store = new_account(&dir);
    store
        .set_setting("probe", "k", b"FINDABLE-PROBE-VALUE")
        .unwrap();
    let key = db_key(&dir);
    // Page 1 after the salt: page size 4096 big-endian, then reserved bytes = 80.
    let first = decrypt_pages(&dir.join("thicket.db"), &key, false);
    assert_eq!(&first[..2], &[0x10, 0x00]);
    assert_eq!(first[4], 80);
    assert!(contains(&readable(&dir, &key), b"FINDABLE-PROBE-VALUE"));
}

/// A new account in a temporary directory, with its database key.
fn fixture() -> (tempfile::TempDir, std::path::PathBuf, Store, SecretKey) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a");
    let store = new_account(&dir);
    let key = db_key(&dir);
    (tmp, dir, store, key)
}

/// Stream keys for a 30-second transport from a root key of `seed` bytes.
fn derive_keys(seed: u8, role: Role, transport: TransportId, start: u64) -> TransportKeys {
    let root = RootKey::new(SecretKey::from_bytes([seed; 32]));
    let len = PeriodLength::for_max_latency(Duration::from_secs(30)).unwrap();
    TransportKeys::derive(&root, role, transport, len, Period(start)).unwrap()
}

/// Adds a contact whose identity and link keys come from `seed`.
fn add_contact(
    store: &mut Store,
    seed: u8,
    nickname: &str,
    role: Role,
    keys: &[bramble_proto::stream::TransportKeysState],
) -> crate::ContactId {
    let signing = bramble_proto::crypto::SigningKey::from_seed([seed; 32]);
    let handshake =
        bramble_proto::crypto::AgreementSecretKey::from_bytes([seed.wrapping_add(1); 32]);
    let contact = NewContact {
        nickname,
        alias: None,
        signing_public: signing.verifying_key(),
        handshake_public: handshake.public_key(),
        role,
        verified: false,
        added_at: now(),
    };
    store.add_contact(&contact, keys).unwrap()
}

/// How the control runs skip one erasure step.
#[derive(Clone, Copy, PartialEq)]
enum Erasure {
    /// As the store does it.
    Full,
    /// Rotated keys are written without the checkpoint that follows.
    NoCheckpointAfterRotation,
}

/// Stores a contact's keys and a long message, then rotates the keys and deletes the
/// message. Returns what should be gone.
fn rotate_and_delete(store: &mut Store, erasure: Erasure) -> (Vec<[u8; 32]>, Vec<u8>) {
    let keys = derive_keys(77, Role::Alice, TransportId::TOR, 20_000);
    let old = keys.to_state();
    let mut gone: Vec<[u8; 32]> = vec![*old.outgoing.secret.expose_secret()];
    gone.extend(old.incoming.iter().map(|p| *p.secret.expose_secret()));
    let contact = add_contact(store, 5, "grace", Role::Alice, &[old]);
    // Long enough to spill onto overflow pages.
    let text = b"THE SAFE HOUSE IS ON ELM STREET. ".repeat(300);
    let group = GroupId([3; 32]);
    store.add_group(group, "test", 0, b"").unwrap();
    let message = NewMessage {
        id: MessageId([4; 32]),
        group,
        timestamp: now(),
        raw: &text,
        local: true,
        state: MessageState::Delivered,
        shared: true,
        received_at: now(),
        metadata: &[],
        dependencies: &[],
    };
    let status = [StatusInit {
        contact,
        ack: false,
        seen: false,
    }];
    store.add_messages(&[(message, &status[..])]).unwrap();
    store.checkpoint().unwrap();

    // Rotate three periods on: every stored secret is replaced.
    let rotated = keys.rotate_to(Period(20_003)).unwrap();
    match erasure {
        Erasure::Full => store
            .save_transport_keys(&[(contact, &rotated.to_state())])
            .unwrap(),
        Erasure::NoCheckpointAfterRotation => {
            let tx = store.conn.transaction().unwrap();
            crate::transport_keys::overwrite(&tx, contact, &rotated.to_state()).unwrap();
            tx.commit().unwrap();
            // Look now: deleting the message would checkpoint.
            return (gone, text[..64].to_vec());
        }
    }
    store.delete_message(MessageId([4; 32])).unwrap();
    (gone, text[..64].to_vec())
}

#[test]
fn erased_keys_and_messages_are_gone_from_every_page() {
    let (_tmp, dir, mut store, key) = fixture();
    let on: i64 = store
        .conn
        .query_row("PRAGMA secure_delete", [], |r| r.get(0))
        .unwrap();
    assert_eq!(on, 1);
    let (keys, text) = rotate_and_delete(&mut store, Erasure::Full);
    let pages = readable(&dir, &key);
    for (i, k) in keys.iter().enumerate() {
        assert!(!contains(&pages, k), "old key {i} is still readable");
    }
    assert!(!contains(&pages, &text), "deleted text is still readable");
    drop(store);
    // Still gone after a reopen (which replays nothing).
    drop(Store::open(&dir, PASSWORD).unwrap());
    let pages = readable(&dir, &key);
    assert!(!contains(&pages, &text) && !keys.iter().any(|k| contains(&pages, k)));
}

#[test]
fn rotated_keys_are_gone_as_soon_as_they_are_saved() {
    let (_tmp, dir, mut store, key) = fixture();
    let keys = derive_keys(78, Role::Bob, TransportId::LAN, 30_000);
    let old = keys.to_state();
    let contact = add_contact(&mut store, 8, "n", Role::Bob, std::slice::from_ref(&old));
    store.checkpoint().unwrap();
    assert!(
        contains(&readable(&dir, &key), old.outgoing.secret.expose_secret()),
        "stored"
    );
    let rotated = keys.rotate_to(Period(30_005)).unwrap();
    store
        .save_transport_keys(&[(contact, &rotated.to_state())])
        .unwrap();
    let pages = readable(&dir, &key);
    assert!(!contains(&pages, old.outgoing.secret.expose_secret()));
    for p in &old.incoming {
        assert!(
            !contains(&pages, p.secret.expose_secret()),
            "incoming {:?}",
            p.period
        );
    }
}

#[test]
fn a_removed_contact_leaves_no_keys_behind() {
    let (_tmp, dir, mut store, key) = fixture();
    let keys = derive_keys(79, Role::Alice, TransportId::BLE, 30_000);
    let state = keys.to_state();
    let contact = add_contact(
        &mut store,
        10,
        "leaving",
        Role::Alice,
        std::slice::from_ref(&state),
    );
    store.checkpoint().unwrap();
    assert!(
        contains(&readable(&dir, &key), state.outgoing.secret.expose_secret()),
        "stored"
    );
    store.remove_contact(contact).unwrap();
    let pages = readable(&dir, &key);
    assert!(!contains(&pages, state.outgoing.secret.expose_secret()));
    assert!(
        state
            .incoming
            .iter()
            .all(|p| !contains(&pages, p.secret.expose_secret()))
    );
}

#[test]
fn unlocking_finishes_an_erasure_a_crash_interrupted() {
    let (tmp, dir, mut store, key) = fixture();
    store
        .set_setting("s", "k", b"ERASE-ME-PLEASE-1234")
        .unwrap();
    store.checkpoint().unwrap();
    // The deletion commits; the checkpoint that would follow never happens (a crash).
    store
        .conn
        .execute("DELETE FROM settings WHERE namespace = 's'", [])
        .unwrap();
    let crashed = tmp.path().join("crashed");
    std::fs::create_dir(&crashed).unwrap();
    for name in [
        "thicket.db",
        "thicket.db-wal",
        "thicket.key",
        "thicket.lock",
    ] {
        std::fs::copy(dir.join(name), crashed.join(name)).unwrap();
    }
    drop(store);
    assert!(
        contains(
            &decrypt_pages(&crashed.join("thicket.db"), &key, false),
            b"ERASE-ME-PLEASE"
        ),
        "the old page is still in the database file"
    );
    drop(Store::open(&crashed, PASSWORD).unwrap());
    assert!(!contains(&readable(&crashed, &key), b"ERASE-ME-PLEASE"));
}

#[test]
fn removing_a_contact_removes_its_conversation() {
    let (_tmp, dir, mut store, key) = fixture();
    let contact = add_contact(&mut store, 12, "gone", Role::Alice, &[]);
    let private = GroupId([20; 32]);
    let shared = GroupId([21; 32]);
    store.add_group(private, "test", 0, b"").unwrap();
    store.add_group(shared, "test", 0, b"").unwrap();
    store
        .set_group_visibility(contact, private, crate::Visibility::Shared)
        .unwrap();
    let text = b"A CONVERSATION THAT MUST GO WITH THE CONTACT".repeat(3);
    let m = |id: u8, group: GroupId| NewMessage {
        id: MessageId([id; 32]),
        group,
        timestamp: now(),
        raw: &text,
        local: true,
        state: MessageState::Delivered,
        shared: true,
        received_at: now(),
        metadata: &[],
        dependencies: &[],
    };
    store
        .add_messages(&[(m(1, private), &[]), (m(2, shared), &[])])
        .unwrap();
    store.remove_contact(contact).unwrap();
    assert!(!store.has_message(MessageId([1; 32])).unwrap());
    assert!(
        store.has_message(MessageId([2; 32])).unwrap(),
        "a group not synced with them stays"
    );
    let pages = readable(&dir, &key);
    let copies = pages
        .windows(text.len())
        .filter(|w| *w == &text[..])
        .count();
    assert_eq!(copies, 1, "only the message in the other group is left");
}

#[test]
fn without_secure_delete_the_same_check_finds_the_deleted_text() {
    // A control for the test above: it can fail.
    let (_tmp, dir, mut store, key) = fixture();
    store
        .conn
        .execute_batch("PRAGMA secure_delete = OFF;")
        .unwrap();
    let (_, text) = rotate_and_delete(&mut store, Erasure::Full);
    assert!(
        contains(&readable(&dir, &key), &text),
        "deleted text should survive without secure_delete"
    );
}

#[test]
fn without_the_checkpoint_the_same_check_finds_the_old_keys() {
    // The other control. Rotation overwrites rows in place, so secure_delete alone does
    // not decide this: the older page stays in the database file until the write-ahead
    // log is checkpointed.
    let (_tmp, dir, mut store, key) = fixture();
    let (keys, _) = rotate_and_delete(&mut store, Erasure::NoCheckpointAfterRotation);
    let pages = readable(&dir, &key);
    assert!(
        keys.iter().all(|k| contains(&pages, k)),
        "old keys should survive until the checkpoint"
    );
}

/// The schema as SQLite describes it: every object's definition with whitespace
/// normalised, and every table's columns, indexes and foreign keys.
fn describe(conn: &rusqlite::Connection) -> Vec<String> {
    let mut out = Vec::new();
    let mut stmt = conn
        .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
        .unwrap();
    let objects: Vec<(String, String, String, Option<String>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    for (kind, name, table, sql) in objects {
        // White space normalised, and none before `,` or `)`: a column added by
        // `ALTER TABLE` is stored as `…\n, name TYPE)`.
        let sql = sql
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .replace(" ,", ",")
            .replace(" )", ")");
        out.push(format!("{kind} {name} on {table}: {sql}"));
        if kind == "table" {
            for pragma in ["table_xinfo", "index_list", "foreign_key_list"] {
                let mut stmt = conn
                    .prepare(&format!("SELECT * FROM pragma_{pragma}(?1)"))
                    .unwrap();
                let n = stmt.column_count();
                let rows: Vec<String> = stmt
                    .query_map([&name], |r| {
                        Ok((0..n)
                            .map(|i| {
                                format!(
                                    "{:?}",
                                    r.get_ref(i).map(|v| format!("{v:?}")).unwrap_or_default()
                                )
                            })
                            .collect::<Vec<_>>()
                            .join(","))
                    })
                    .unwrap()
                    .collect::<rusqlite::Result<_>>()
                    .unwrap();
                out.push(format!("  {pragma}({name}): {rows:?}"));
            }
        }
    }
    out
}

/// Every table's columns.
fn columns(conn: &rusqlite::Connection) -> std::collections::BTreeMap<String, Vec<String>> {
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    tables
        .into_iter()
        .map(|table| {
            let columns = conn
                .prepare("SELECT name FROM pragma_table_info(?1)")
                .unwrap()
                .query_map([&table], |r| r.get(0))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            (table, columns)
        })
        .collect()
}

/// Every row of every table in `columns`, rendered from those columns only (so that a
/// column added by an upgrade leaves the older rows comparable).
fn contents(
    conn: &rusqlite::Connection,
    columns: &std::collections::BTreeMap<String, Vec<String>>,
) -> std::collections::BTreeMap<String, Vec<String>> {
    columns
        .iter()
        .map(|(table, columns)| {
            let list = columns
                .iter()
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(", ");
            let mut stmt = conn
                .prepare(&format!("SELECT {list} FROM \"{table}\""))
                .unwrap();
            let n = stmt.column_count();
            let rows = stmt
                .query_map([], |r| {
                    Ok((0..n)
                        .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                        .collect::<Vec<_>>()
                        .join("|"))
                })
                .unwrap()
                .collect::<rusqlite::Result<Vec<_>>>()
                .unwrap();
            // Sorted: a table without rowid has no insertion order to read by.
            let mut rows = rows;
            rows.sort();
            (table.clone(), rows)
        })
        .collect()
}

fn fresh_schema() -> Vec<String> {
    let mut conn = rusqlite::Connection::open_in_memory().unwrap();
    schema::create(&mut conn).unwrap();
    describe(&conn)
}

const V1_SCHEMA: &str = include_str!("../tests/fixtures/v1_schema.sql");
const V1_DATA: &str = include_str!("../tests/fixtures/v1_data.sql");
const V2_SCHEMA: &str = include_str!("../tests/fixtures/v2_schema.sql");
const V2_DATA: &str = include_str!("../tests/fixtures/v2_data.sql");
const V3_SCHEMA: &str = include_str!("../tests/fixtures/v3_schema.sql");
const V3_DATA: &str = include_str!("../tests/fixtures/v3_data.sql");

#[test]
fn every_older_schema_upgrades_to_exactly_the_fresh_one() {
    // One fixture per older version; add one here for every version that ships.
    let fixtures: &[(i64, &str, &str)] = &[
        (1, V1_SCHEMA, V1_DATA),
        (2, V2_SCHEMA, V2_DATA),
        (3, V3_SCHEMA, V3_DATA),
    ];
    assert_eq!(
        fixtures.len() as i64,
        schema::CURRENT_VERSION - 1,
        "a fixture per older version"
    );
    for (version, schema_sql, data_sql) in fixtures {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(schema_sql).unwrap();
        conn.execute_batch(data_sql).unwrap();
        conn.pragma_update(None, "user_version", version).unwrap();
        let kept = columns(&conn);
        let before = contents(&conn, &kept);
        assert!(
            before.values().any(|rows| !rows.is_empty()),
            "the fixture has rows"
        );
        schema::upgrade(&mut conn).unwrap();
        assert_eq!(schema::version(&conn).unwrap(), schema::CURRENT_VERSION);
        assert_eq!(
            describe(&conn),
            fresh_schema(),
            "schema {version} upgraded differs from fresh"
        );
        let after = contents(&conn, &kept);
        for (table, rows) in &before {
            assert_eq!(
                after.get(table),
                Some(rows),
                "table {table} changed in the upgrade"
            );
        }
        let violations: i64 = conn
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(violations, 0);
    }
}

#[test]
fn a_version_1_account_opens_and_is_upgraded() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("old");
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let key = SecretKey::random(&mut rng);
    let conn = db::open(&dir.join("thicket.db"), &key, true).unwrap();
    db::configure(&conn).unwrap();
    conn.execute_batch(V1_SCHEMA).unwrap();
    conn.execute_batch(V1_DATA).unwrap();
    conn.pragma_update(None, "user_version", 1).unwrap();
    drop(conn);
    std::fs::write(dir.join("thicket.lock"), b"").unwrap();
    let file = KeyFile::seal(&key, PASSWORD.as_bytes(), light(), &mut rng).unwrap();
    key_file::replace(&Paths { dir: &dir }, &file).unwrap();

    let store = Store::open(&dir, PASSWORD).unwrap();
    assert_eq!(store.schema_version().unwrap(), schema::CURRENT_VERSION);
    assert_eq!(describe(&store.conn), fresh_schema());
    assert_eq!(store.contacts().unwrap()[0].nickname, "grace");
    // The contact got its private conversation, so its messages are accepted.
    let group = store.conversation_group(crate::ContactId(1)).unwrap().id();
    assert_eq!(
        store.group_visibility(crate::ContactId(1), group).unwrap(),
        crate::Visibility::Shared
    );
    assert_eq!(
        store.setting("ui", "bell").unwrap().as_deref(),
        Some(&[1u8][..])
    );
    let keys = store
        .transport_keys(crate::ContactId(1), &TransportId::TOR)
        .unwrap()
        .unwrap();
    assert_eq!(keys.outgoing.next_stream, 5);
    assert!(TransportKeys::from_state(keys).is_ok());
}

#[test]
fn a_newer_schema_is_refused_without_a_change() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a");
    let store = new_account(&dir);
    store
        .conn
        .pragma_update(None, "user_version", schema::CURRENT_VERSION + 1)
        .unwrap();
    store.checkpoint().unwrap();
    drop(store);
    let files = |dir: &Path| -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let before = files(&dir);
    match Store::open(&dir, PASSWORD) {
        Err(StoreError::NewerSchema { found, supported }) => {
            assert_eq!(
                (found, supported),
                (schema::CURRENT_VERSION + 1, schema::CURRENT_VERSION)
            );
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    assert_eq!(files(&dir), before);
}

#[test]
fn a_full_disk_is_reported_and_loses_nothing_committed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a");
    let mut store = new_account(&dir);
    store.set_setting("kept", "k", b"before").unwrap();
    let pages: i64 = store
        .conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    // SQLite reports SQLITE_FULL once the database would grow past this.
    store
        .conn
        .execute_batch(&format!("PRAGMA max_page_count = {};", pages + 4))
        .unwrap();
    let mut err = None;
    for i in 0..1000 {
        if let Err(e) = store.set_setting("fill", &i.to_string(), &[0xaa; 3000]) {
            err = Some(e);
            break;
        }
    }
    let err = err.expect("the database filled up");
    assert!(matches!(err, StoreError::DiskFull), "{err}");
    assert_eq!(err.kind(), crate::ErrorKind::DiskFull);
    drop(store);
    let store = Store::open(&dir, PASSWORD).unwrap();
    store.integrity_check().unwrap();
    assert_eq!(
        store.setting("kept", "k").unwrap().as_deref(),
        Some(&b"before"[..])
    );
}

#[test]
fn io_errors_map_to_kinds() {
    let full: StoreError = std::io::Error::from(std::io::ErrorKind::StorageFull).into();
    assert!(matches!(full, StoreError::DiskFull));
    let denied: StoreError = std::io::Error::from(std::io::ErrorKind::PermissionDenied).into();
    assert_eq!(denied.kind(), crate::ErrorKind::Io);
}

#[test]
fn a_full_disk_stops_a_sync_session_before_it_acknowledges_anything() {
    use bramble_proto::messaging;
    use bramble_proto::sync::{Mode, Session, SessionConfig, SyncError};
    let tmp = tempfile::tempdir().unwrap();
    let mut a = new_account(&tmp.path().join("a"));
    let mut g = new_account(&tmp.path().join("g"));
    let add = |store: &mut Store, other: &Store| {
        let theirs = other.identity().unwrap().signing_key.verifying_key();
        store
            .add_contact(
                &NewContact {
                    nickname: "them",
                    alias: None,
                    signing_public: theirs,
                    handshake_public: bramble_proto::crypto::AgreementPublicKey([1; 32]),
                    role: Role::Alice,
                    verified: false,
                    added_at: now(),
                },
                &[],
            )
            .unwrap()
    };
    let (ca, cg) = (add(&mut a, &g), add(&mut g, &a));
    let big = "y".repeat(30_000);
    for _ in 0..20 {
        a.send_private_message(ca, &big, now()).unwrap();
    }
    let config = SessionConfig {
        mode: Mode::Duplex,
        max_latency: Duration::from_secs(30),
        priority: None,
    };
    let mut sa = Session::new(config);
    let mut bytes = Vec::new();
    while sa
        .poll_transmit(now(), &mut a.sync_view(ca), &mut bytes, 1 << 20)
        .unwrap()
    {}
    let pages: i64 = g
        .conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    g.conn
        .execute_batch(&format!("PRAGMA max_page_count = {};", pages + 8))
        .unwrap();
    let mut sg = Session::new(config);
    let err = sg
        .handle_input(
            now(),
            &bytes,
            &mut g.sync_view(cg),
            &messaging::validators(),
        )
        .unwrap_err();
    assert!(
        matches!(err, SyncError::Store(StoreError::DiskFull)),
        "{err:?}"
    );
    // Nothing to acknowledge, now or on the next connection: no status row, no message.
    sg.close(&mut g.sync_view(cg)).unwrap();
    let rows: i64 = g
        .conn
        .query_row("SELECT count(*) FROM message_status", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 0, "no acknowledgement of what was not stored");
    assert!(
        g.conversation(cg, None, 100).unwrap().is_empty(),
        "nothing half-stored"
    );
}

#[test]
fn the_sqlcipher_readiness_check_passes_once_initialised() {
    // The first keyed open waits until this holds; were it never to hold, every start
    // would wait a second for nothing.
    let _ = rusqlite::Connection::open_in_memory().unwrap();
    let start = std::time::Instant::now();
    while !db::sqlcipher_ready() {
        assert!(start.elapsed() < Duration::from_secs(5), "never ready");
        std::thread::sleep(Duration::from_millis(1));
    }
}
