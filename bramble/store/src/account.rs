//! Accounts: creating, unlocking, changing the password and deleting
//! (`spec/store.md#accounts`).

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use bramble_proto::crypto::{AgreementSecretKey, SecretKey, SigningKey};
use bramble_proto::time::Timestamp;
use rand_core::CryptoRng;

use crate::error::{Result, StoreError};
use crate::kdf::KdfParams;
use crate::key_file::{self, KeyFile, Paths};
use crate::{Store, db, schema};

pub(crate) const DB_FILE: &str = "thicket.db";
const LOCK_FILE: &str = "thicket.lock";
/// Every file an account may have, in the order deletion removes them: the key files
/// first, so the database is unreadable from the first step on.
const ALL_FILES: &[&str] = &[
    "thicket.key",
    "thicket.key.bak",
    "thicket.key.tmp",
    "thicket.key.bak.tmp",
    "thicket.db",
    "thicket.db-wal",
    "thicket.db-shm",
    "thicket.db-journal",
    LOCK_FILE,
];

/// The longest nickname, in bytes.
pub const MAX_NICKNAME_LEN: usize = 50;

pub(crate) fn check_nickname(nickname: &str) -> Result<()> {
    if nickname.trim().is_empty() {
        return Err(StoreError::InvalidInput("the nickname is empty"));
    }
    if nickname.len() > MAX_NICKNAME_LEN {
        return Err(StoreError::InvalidInput(
            "the nickname is longer than 50 bytes",
        ));
    }
    if nickname.chars().any(char::is_control) {
        return Err(StoreError::InvalidInput(
            "the nickname contains control characters",
        ));
    }
    Ok(())
}

fn check_password(password: &str) -> Result<()> {
    if password.is_empty() {
        return Err(StoreError::InvalidInput("the password is empty"));
    }
    Ok(())
}

/// Takes the account's exclusive lock, held for as long as the file stays open.
fn lock(dir: &Path, create: bool) -> Result<File> {
    let path = dir.join(LOCK_FILE);
    let file = if create {
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        options.open(&path)?
    } else {
        match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(if dir.join("thicket.key").exists() {
                    StoreError::Io(std::io::ErrorKind::NotFound)
                } else {
                    StoreError::NoAccount
                });
            }
            Err(e) => return Err(e.into()),
        }
    };
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(StoreError::InUse),
        Err(fs::TryLockError::Error(e)) => Err(e.into()),
    }
}

fn create_dir_private(dir: &Path) -> Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    Ok(builder.create(dir)?)
}

/// Whether `dir` holds an account (a key file or its backup).
pub fn exists(dir: &Path) -> bool {
    let paths = Paths { dir };
    paths.primary().exists() || paths.backup().exists()
}

impl Store {
    /// Creates an account in `dir`: a fresh identity, a random database key sealed in
    /// the key file under `password`, and an empty database.
    ///
    /// Thicket itself passes [`KdfParams::calibrated`]; tests pass lighter parameters.
    ///
    /// # Errors
    /// [`StoreError::AccountExists`] if `dir` already holds an account;
    /// [`StoreError::InvalidInput`] for an empty password or a bad nickname; I/O errors.
    pub fn create(
        dir: &Path,
        nickname: &str,
        password: &str,
        params: KdfParams,
        now: Timestamp,
        rng: &mut impl CryptoRng,
    ) -> Result<Store> {
        check_nickname(nickname)?;
        check_password(password)?;
        create_dir_private(dir)?;
        let lock = lock(dir, true)?;
        if exists(dir) {
            return Err(StoreError::AccountExists);
        }
        // A database without a key file is left from an interrupted creation: nothing
        // can ever read it, so it goes.
        for name in [
            "thicket.db",
            "thicket.db-wal",
            "thicket.db-shm",
            "thicket.db-journal",
        ] {
            key_file::shred(&dir.join(name))?;
        }
        let db_key = SecretKey::random(rng);
        let mut conn = db::open(&dir.join(DB_FILE), &db_key, true)?;
        db::configure(&conn)?;
        schema::create(&mut conn)?;
        let signing = SigningKey::generate(rng);
        let handshake = AgreementSecretKey::generate(rng);
        crate::identity::insert(&conn, nickname, &signing, &handshake, now)?;
        // The key file is written last: until it exists there is no account.
        let file = KeyFile::seal(&db_key, password.as_bytes(), params, rng)?;
        key_file::replace(&Paths { dir }, &file)?;
        Ok(Store::new(conn, dir.to_path_buf(), lock))
    }

    /// Unlocks the account in `dir` with `password`.
    ///
    /// If the key file is missing or damaged but its backup (left by an interrupted
    /// password change) opens, the backup is used and restored.
    ///
    /// # Errors
    /// [`StoreError::WrongPassword`], [`StoreError::NoAccount`],
    /// [`StoreError::CorruptKeyFile`], [`StoreError::UnsupportedKeyFile`],
    /// [`StoreError::CorruptDatabase`], [`StoreError::NewerSchema`], [`StoreError::InUse`],
    /// I/O errors. None of them changes anything on disk.
    pub fn open(dir: &Path, password: &str) -> Result<Store> {
        if !dir.is_dir() {
            return Err(StoreError::NoAccount);
        }
        let lock = lock(dir, false)?;
        let paths = Paths { dir };
        let (db_key, from_backup) = unseal(&paths, password.as_bytes())?;
        let db_path = dir.join(DB_FILE);
        if !db_path.exists() {
            return Err(StoreError::CorruptDatabase);
        }
        let mut conn = db::open(&db_path, &db_key, false)?;
        schema::check(&conn)?;
        db::configure(&conn)?;
        schema::upgrade(&mut conn)?;
        // Only now, with the account open, tidy the key files.
        if from_backup {
            if let Some(backup) = key_file::read(&paths.backup())? {
                key_file::replace(&paths, &backup)?;
            }
        } else {
            key_file::remove_backup(&paths)?;
        }
        Ok(Store::new(conn, dir.to_path_buf(), lock))
    }

    /// Seals the database key under `new` instead of `old`. The database itself is not
    /// re-encrypted; see `spec/store.md#changing-the-password` for what that means.
    ///
    /// # Errors
    /// [`StoreError::WrongPassword`] if `old` is wrong (nothing changes);
    /// [`StoreError::InvalidInput`] for an empty new password; I/O errors, after which
    /// either the old or the new key file is in place.
    pub fn change_password(
        &mut self,
        old: &str,
        new: &str,
        params: KdfParams,
        rng: &mut impl CryptoRng,
    ) -> Result<()> {
        check_password(new)?;
        let paths = Paths { dir: &self.dir };
        let (db_key, _) = unseal(&paths, old.as_bytes())?;
        let file = KeyFile::seal(&db_key, new.as_bytes(), params, rng)?;
        key_file::replace(&paths, &file)
    }

    /// Deletes the account: the key files first (overwritten, then removed), so nothing
    /// is readable from that moment, then the database files and the lock.
    ///
    /// # Errors
    /// I/O errors; files not yet removed stay.
    pub fn delete(self) -> Result<()> {
        let Store {
            conn, dir, lock, ..
        } = self;
        drop(conn);
        remove_files(&dir)?;
        drop(lock);
        Ok(())
    }

    /// Deletes the account in `dir` without unlocking it (a panic button needs no
    /// password).
    ///
    /// # Errors
    /// [`StoreError::NoAccount`] if there is none; [`StoreError::InUse`] if it is open.
    pub fn delete_account(dir: &Path) -> Result<()> {
        if !dir.is_dir() || !(exists(dir) || dir.join(DB_FILE).exists()) {
            return Err(StoreError::NoAccount);
        }
        let lock = lock(dir, true)?;
        remove_files(dir)?;
        drop(lock);
        Ok(())
    }

    /// The account's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Opens the database key: the primary key file first, then its backup.
fn unseal(paths: &Paths<'_>, password: &[u8]) -> Result<(SecretKey, bool)> {
    let primary = key_file::read(&paths.primary());
    let backup = key_file::read(&paths.backup());
    match (primary, backup) {
        (Ok(Some(file)), backup) => match file.open(password) {
            Ok(key) => Ok((key, false)),
            // A backup only exists after an interrupted change: try it too.
            Err(StoreError::WrongPassword) => match backup {
                Ok(Some(b)) => b.open(password).map(|key| (key, true)),
                _ => Err(StoreError::WrongPassword),
            },
            Err(e) => Err(e),
        },
        (Ok(None) | Err(StoreError::CorruptKeyFile), Ok(Some(b))) => {
            b.open(password).map(|key| (key, true))
        }
        (Ok(None), Ok(None)) => Err(StoreError::NoAccount),
        (Ok(None), Err(e)) | (Err(e), _) => Err(e),
    }
}

fn remove_files(dir: &Path) -> Result<()> {
    for name in ALL_FILES {
        let path: PathBuf = dir.join(name);
        if name.starts_with("thicket.key") {
            key_file::shred(&path)?;
        } else {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    key_file::sync_dir(dir)?;
    // The directory goes too if nothing else is in it.
    let _ = fs::remove_dir(dir);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicknames() {
        assert!(check_nickname("ada").is_ok());
        assert!(check_nickname("").is_err());
        assert!(check_nickname("  ").is_err());
        assert!(check_nickname("a\nb").is_err());
        assert!(check_nickname(&"é".repeat(26)).is_err());
        assert!(check_nickname(&"é".repeat(25)).is_ok());
    }
}
