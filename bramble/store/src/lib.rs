//! Thicket's encrypted store (`spec/store.md`).
//!
//! One account lives in one directory: a SQLCipher database whose random 32-byte key is
//! sealed, in a small key file, under a key derived from the password with Argon2id.
//! [`Store::create`] makes an account, [`Store::open`] unlocks it, and the methods of
//! [`Store`] read and write everything Thicket keeps: the local identity, contacts and
//! pending contacts, stream keys, transport properties, groups, messages with their
//! per-contact sync state, and settings.
//!
//! # Guarantees
//!
//! - Nothing readable is written outside the encrypted database (`PRAGMA temp_store =
//!   MEMORY`; the key file holds only the sealed key).
//! - A wrong password, a damaged file or a newer schema is reported with a typed
//!   [`StoreError`] and changes nothing on disk.
//! - Every write is a transaction, committed durably (`synchronous = FULL` in WAL mode)
//!   before the call returns.
//! - Deleted secrets are overwritten (`secure_delete = ON`) and checkpointed out of the
//!   write-ahead log ([`Store::save_transport_keys`], [`Store::delete_message`],
//!   [`Store::remove_contact`]), so they cannot be read back even with the database key.
//!
//! The store is synchronous; the engine runs it on a worker thread.

mod account;
mod contacts;
mod db;
mod error;
mod identity;
mod kdf;
mod key_file;
mod messages;
mod schema;
mod settings;
mod sync;
mod transport_keys;

use std::fs::File;
use std::path::PathBuf;

pub use account::{MAX_NICKNAME_LEN, exists};
pub use contacts::{Contact, ContactId, NewContact, PendingContact, PendingContactId};
pub use error::{ErrorKind, Result, StoreError};
pub use identity::LocalIdentity;
pub use kdf::KdfParams;
pub use key_file::KeyFile;
pub use messages::{MessageState, MessageStatus, NewMessage, StatusInit, Visibility};
pub use schema::CURRENT_VERSION as SCHEMA_VERSION;
pub use sync::{ConversationCursor, ConversationMessage, SyncView};

/// An unlocked account.
///
/// Holds the account's exclusive lock while it exists: a second [`Store::open`] of the
/// same directory, from any process, fails with [`StoreError::InUse`].
pub struct Store {
    conn: rusqlite::Connection,
    dir: PathBuf,
    lock: File,
}

impl Store {
    fn new(conn: rusqlite::Connection, dir: PathBuf, lock: File) -> Self {
        Store { conn, dir, lock }
    }

    /// The schema version of the open database.
    ///
    /// # Errors
    /// Database errors.
    pub fn schema_version(&self) -> Result<i64> {
        schema::version(&self.conn)
    }

    /// Runs SQLite's integrity check over the whole database.
    ///
    /// # Errors
    /// [`StoreError::CorruptDatabase`] if it finds a problem; database errors.
    pub fn integrity_check(&self) -> Result<()> {
        let verdict: String = self
            .conn
            .query_row("PRAGMA integrity_check(1)", [], |row| row.get(0))?;
        if verdict == "ok" {
            Ok(())
        } else {
            Err(StoreError::CorruptDatabase)
        }
    }

    /// Empties the write-ahead log into the database. Operations that erase secrets do
    /// this themselves; call it after a batch of writes to keep the log small.
    ///
    /// # Errors
    /// Database errors.
    pub fn checkpoint(&self) -> Result<()> {
        db::checkpoint(&self.conn)
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

/// `u64` to SQLite's `i64`.
fn to_sql(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| StoreError::InvalidInput("a number is too large to store"))
}

/// SQLite's `i64` to `u64`.
fn from_sql(v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| StoreError::InvalidData("a stored number is negative"))
}

/// A 32-byte blob.
fn array32(v: Vec<u8>) -> Result<[u8; 32]> {
    v.try_into()
        .map_err(|_| StoreError::InvalidData("a stored key or identifier has the wrong length"))
}

#[cfg(test)]
mod tests;

/// Entry points for the fuzz targets in `fuzz/`; not part of the API.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    use bramble_proto::crypto::{hash, label};

    /// Parses `body` as a key file twice: as it is, and with a valid checksum appended so
    /// that parsing gets past the checksum; a file that parses with cheap Argon2
    /// parameters is then opened with `password`.
    pub fn key_file(body: &[u8], password: &[u8]) {
        let _ = crate::key_file::KeyFile::parse(body);
        let checksum = hash(label::STORE_KEY_FILE_CHECKSUM, &[body]);
        let bytes = [body, &checksum.0[..]].concat();
        if let Ok(file) = crate::key_file::KeyFile::parse(&bytes) {
            let p = file.params();
            if p.memory_kib() <= 64 && p.iterations() <= 2 && p.parallelism() <= 2 {
                let _ = file.open(password);
            }
        }
    }
}
