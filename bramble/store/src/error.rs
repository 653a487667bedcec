//! The store's error type (`spec/store.md#errors`).
//!
//! Every variant says what went wrong without saying anything about the account's
//! content: no passwords, keys, message text or file paths reach `Display` or `Debug`.

use std::io;

/// What went wrong, coarsely, for a UI to decide what to tell the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The password does not unlock the account. Nothing was changed.
    WrongPassword,
    /// There is no account in the directory.
    NoAccount,
    /// An account already exists where one was to be created.
    AccountExists,
    /// Another process has the account open.
    InUse,
    /// A file of the account is damaged or truncated. Nothing was changed.
    Corrupt,
    /// The account was written by a newer version of Thicket. Nothing was changed.
    NewerVersion,
    /// The disk is full. The operation was rolled back.
    DiskFull,
    /// Another I/O failure (permissions, a missing directory, …).
    Io,
    /// An argument was refused (an empty password, out-of-range parameters, …).
    InvalidInput,
    /// A broken invariant inside the store: a bug.
    Internal,
}

/// An error from the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The password does not unlock the account.
    #[error("wrong password")]
    WrongPassword,
    /// There is no account in the directory.
    #[error("no account here")]
    NoAccount,
    /// An account already exists where one was to be created.
    #[error("an account already exists here")]
    AccountExists,
    /// Another process holds the account's lock.
    #[error("the account is open in another process")]
    InUse,
    /// The key file is damaged or truncated (and so is its backup, if there is one).
    #[error("the key file is damaged")]
    CorruptKeyFile,
    /// The key file has a format version this build does not know.
    #[error("the key file was written by a newer version (format {0})")]
    UnsupportedKeyFile(u16),
    /// The database is damaged, truncated, or not the one this key file belongs to.
    #[error("the database is damaged")]
    CorruptDatabase,
    /// The database schema is newer than this build understands.
    #[error(
        "the database was written by a newer version (schema {found}, this build knows up to {supported})"
    )]
    NewerSchema {
        /// The schema version found.
        found: i64,
        /// The newest schema version this build knows.
        supported: i64,
    },
    /// The disk is full.
    #[error("the disk is full")]
    DiskFull,
    /// An I/O error other than a full disk.
    #[error("I/O error: {0}")]
    Io(io::ErrorKind),
    /// A database error that none of the above describes; carries SQLite's extended
    /// result code (never the message, which may quote schema names).
    #[error("database error (SQLite code {0})")]
    Database(i32),
    /// An argument was refused.
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
    /// Stored data does not have the shape the schema promises.
    #[error("stored data is invalid: {0}")]
    InvalidData(&'static str),
}

impl StoreError {
    /// The coarse kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            StoreError::WrongPassword => ErrorKind::WrongPassword,
            StoreError::NoAccount => ErrorKind::NoAccount,
            StoreError::AccountExists => ErrorKind::AccountExists,
            StoreError::InUse => ErrorKind::InUse,
            StoreError::CorruptKeyFile
            | StoreError::CorruptDatabase
            | StoreError::InvalidData(_) => ErrorKind::Corrupt,
            StoreError::UnsupportedKeyFile(_) | StoreError::NewerSchema { .. } => {
                ErrorKind::NewerVersion
            }
            StoreError::DiskFull => ErrorKind::DiskFull,
            StoreError::Io(_) => ErrorKind::Io,
            StoreError::InvalidInput(_) => ErrorKind::InvalidInput,
            StoreError::Database(_) => ErrorKind::Internal,
        }
    }
}

impl From<io::Error> for StoreError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => StoreError::DiskFull,
            kind => StoreError::Io(kind),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ffi::ErrorCode;
        match &e {
            rusqlite::Error::SqliteFailure(f, _) => match f.code {
                ErrorCode::DiskFull => StoreError::DiskFull,
                ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt => StoreError::CorruptDatabase,
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => StoreError::InUse,
                ErrorCode::SystemIoFailure => StoreError::Io(io::ErrorKind::Other),
                ErrorCode::CannotOpen => StoreError::Io(io::ErrorKind::NotFound),
                ErrorCode::ReadOnly | ErrorCode::PermissionDenied => {
                    StoreError::Io(io::ErrorKind::PermissionDenied)
                }
                _ => StoreError::Database(f.extended_code),
            },
            rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)
            | rusqlite::Error::InvalidColumnType(..) => {
                StoreError::InvalidData("a column holds a value of the wrong type or range")
            }
            rusqlite::Error::QueryReturnedNoRows => {
                StoreError::InvalidData("a required row is missing")
            }
            _ => StoreError::Database(-1),
        }
    }
}

/// Shorthand for results of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
