//! Opening and configuring the SQLCipher connection (`spec/store.md#database`).

use std::fmt::Write as _;
use std::path::Path;

use bramble_proto::crypto::SecretKey;
use rusqlite::{Connection, OpenFlags};
use zeroize::Zeroizing;

use crate::error::{Result, StoreError};

/// Opens the database at `path` with the raw key `db_key` and checks that the key
/// reads it. Writes nothing.
pub(crate) fn open(path: &Path, db_key: &SecretKey, create: bool) -> Result<Connection> {
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
