//! Opening and configuring the SQLCipher connection (`spec/store.md#database`).

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Once;
use std::time::Duration;

use bramble_proto::crypto::SecretKey;
use rusqlite::{Connection, OpenFlags};
use zeroize::Zeroizing;

use crate::error::{Result, StoreError};

/// Opens the database at `path` with the raw key `db_key` and checks that the key
/// reads it. Writes nothing.
pub(crate) fn open(path: &Path, db_key: &SecretKey, create: bool) -> Result<Connection> {
    static READY: Once = Once::new();
    READY.call_once(wait_for_sqlcipher);
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(path, flags)?;
    // SQLCipher logs to stderr by default, which would corrupt a full-screen UI.
    conn.execute_batch("PRAGMA cipher_log_level = NONE;")?;
    let mut statement = Zeroizing::new(String::with_capacity(80));
    statement.push_str("PRAGMA key = \"x'");
    for b in db_key.expose_secret() {
        // Writing to a String cannot fail.
        let _ = write!(statement, "{b:02x}");
    }
    statement.push_str("'\";");
    conn.execute_batch(&statement)?;
    // The key is only checked on the first read: a wrong key or a damaged file fails here.
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |row| {
        row.get::<_, i64>(0)
    })
    .map_err(|e| match StoreError::from(e) {
        StoreError::Database(_) => StoreError::CorruptDatabase,
        other => other,
    })?;
    Ok(conn)
}

/// Waits until SQLCipher has finished initialising the library.
///
/// SQLite marks itself initialised before it runs SQLCipher's own initialisation, so a
/// connection opened by a second thread in that window is refused its key ("sqlcipher
/// not initialized"), which once failed a test that created two accounts at the same
/// time. The first keyed open in the process waits here (other threads wait on the
/// `Once`) until keying an in-memory database works. Anything else in the process that
/// uses SQLite (arti's directory cache) starts only after an account is open.
fn wait_for_sqlcipher() {
    for _ in 0..1000 {
        if sqlcipher_ready() {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    // Still not ready after a second: the real open reports the error.
}

/// Whether SQLCipher accepts a key now.
pub(crate) fn sqlcipher_ready() -> bool {
    Connection::open_in_memory()
        .and_then(|conn| {
            conn.execute_batch("PRAGMA cipher_log_level = NONE; PRAGMA key = 'ready';")
        })
        .is_ok()
}

/// Settings for every connection, applied after the schema check.
pub(crate) fn configure(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "PRAGMA secure_delete = ON;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA journal_size_limit = 0;
         PRAGMA cache_size = -32768;",
    )?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::InvalidData(
            "the database refused write-ahead logging",
        ));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(())
}

/// Moves everything in the write-ahead log into the database and empties the log, so
/// that pages overwritten by secure deletion leave no older copy behind
/// (`spec/store.md#erasure`).
pub(crate) fn checkpoint(conn: &Connection) -> Result<()> {
    let (busy, _, _): (i64, i64, i64) =
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?;
    if busy != 0 {
        return Err(StoreError::InUse);
    }
    Ok(())
}
