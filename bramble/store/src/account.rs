//! Accounts: creating, unlocking, changing the password and deleting
//! (`spec/store.md#accounts`).

use std::fs::{self, File, OpenOptions};
use std::path::Path;

use bramble_proto::crypto::{AgreementSecretKey, SecretKey, SigningKey};
use bramble_proto::time::Timestamp;
use rand_core::CryptoRng;

use crate::error::{Result, StoreError};
use crate::kdf::KdfParams;
use crate::key_file::{self, KeyFile, Paths, present};
use crate::{Store, db, schema};

pub(crate) const DB_FILE: &str = "thicket.db";
const LOCK_FILE: &str = "thicket.lock";
/// How long opening waits for another holder of the account's lock before reporting
/// [`StoreError::InUse`].
pub(crate) const LOCK_WAIT: std::time::Duration = std::time::Duration::from_millis(500);
/// The names of the key file, its backup and their temporaries: any of them present means
/// an account is, or was being, set up here.
const KEY_FILES: &[&str] = &[
    "thicket.key",
    "thicket.key.bak",
    "thicket.key.tmp",
    "thicket.key.bak.tmp",
    "thicket.key.old",
];
/// Folders transports keep in the account directory (`spec/store.md#account-directory`).
const TRANSPORT_DIRS: &[&str] = &["tor"];
const DB_FILES: &[&str] = &[
    "thicket.db",
    "thicket.db-wal",
    "thicket.db-shm",
    "thicket.db-journal",
];

/// The longest nickname or alias, in bytes.
pub const MAX_NICKNAME_LEN: usize = bramble_proto::contact::info::MAX_NAME_LEN;

/// Checks a name shown in the terminal: a nickname (ours or a contact's) or an alias.
/// Refuses control characters (terminal escapes) and the bidirectional formatting
/// characters that can make a name display as another.
pub(crate) fn check_name(name: &str) -> Result<()> {
    use bramble_proto::contact::NameError;
    bramble_proto::contact::check_name(name).map_err(|e| {
        StoreError::InvalidInput(match e {
            NameError::Empty => "the name is empty",
            NameError::TooLong => "the name is longer than 50 bytes",
            _ => "the name contains control or direction characters",
        })
    })
}

fn check_password(password: &str) -> Result<()> {
    if password.is_empty() {
        return Err(StoreError::InvalidInput("the password is empty"));
    }
    Ok(())
}

/// Takes the account's exclusive lock, held for as long as the file stays open.
///
/// The lock file is checked to still be the one at its path after locking: a process that
/// opened it just before another deleted the account would otherwise hold a lock on a
/// file no one else can see.
///
/// A lock that is taken is waited for briefly ([`LOCK_WAIT`]) before the account counts as
/// in use: the holder may be going away. A process that just closed the account can still
/// hold the lock for a moment, because the lock belongs to the open file, which a child
/// forked by another thread shares until it executes its program; and a previous instance
/// may be finishing its shutdown.
fn lock(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK_FILE);
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    let mut stale = 0;
    while stale < 8 {
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10));
                continue;
            }
            Err(fs::TryLockError::WouldBlock) => return Err(StoreError::InUse),
            Err(fs::TryLockError::Error(e)) => return Err(e.into()),
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let held = file.metadata()?;
            match fs::metadata(&path) {
                Ok(now) if now.dev() == held.dev() && now.ino() == held.ino() => return Ok(file),
                Ok(_) => stale += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => stale += 1,
                Err(e) => return Err(e.into()),
            }
        }
        #[cfg(not(unix))]
        return Ok(file);
    }
    Err(StoreError::InUse)
}

/// Creates the account directory (or tightens an existing one) and makes it durable.
fn create_dir_private(dir: &Path) -> Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        builder.mode(0o700);
        builder.create(dir)?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    #[cfg(not(unix))]
    builder.create(dir)?;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        key_file::sync_dir(parent)?;
    }
    Ok(())
}

/// Whether `dir` holds an account: its key file or a backup of it.
///
/// # Errors
/// I/O errors other than "not found" (a permission problem is not "no account").
pub fn exists(dir: &Path) -> Result<bool> {
    for name in &KEY_FILES[..2] {
        if present(&dir.join(name))? {
            return Ok(true);
        }
    }
    Ok(false)
}

impl Store {
    /// Creates an account in `dir`: a fresh identity, a random database key sealed in
    /// the key file under `password`, and an empty database.
    ///
    /// Thicket itself passes [`KdfParams::calibrated`]; tests pass lighter parameters.
    ///
    /// # Errors
    /// [`StoreError::AccountExists`] if `dir` holds an account or any key file;
    /// [`StoreError::InvalidInput`] for an empty password or a bad nickname; I/O errors.
    pub fn create(
        dir: &Path,
        nickname: &str,
        password: &str,
        params: KdfParams,
        now: Timestamp,
        rng: &mut impl CryptoRng,
    ) -> Result<Store> {
        check_name(nickname)?;
        check_password(password)?;
        create_dir_private(dir)?;
        let lock = lock(dir)?;
        for name in KEY_FILES {
            if present(&dir.join(name))? {
                return Err(StoreError::AccountExists);
            }
        }
        // A database without a key file is left from an interrupted creation: nothing
        // can ever read it, so it goes.
        for name in DB_FILES {
            key_file::shred(&dir.join(name))?;
        }
        // Created by us first, so that SQLite, which would make it 0644, opens a 0600 file;
        // its log and index take the same mode.
        let db_path = dir.join(DB_FILE);
        drop(key_file::create_private(&db_path)?);
        let db_key = SecretKey::random(rng);
        let mut conn = db::open(&db_path, &db_key, true)?;
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
    /// If the key file is missing or damaged, or the password does not open it, its
    /// backup (left by an interrupted password change) is tried, and restored if it opens.
    ///
    /// # Errors
    /// [`StoreError::WrongPassword`], [`StoreError::NoAccount`],
    /// [`StoreError::CorruptKeyFile`], [`StoreError::UnsupportedKeyFile`],
    /// [`StoreError::CorruptDatabase`], [`StoreError::NewerSchema`], [`StoreError::InUse`],
    /// I/O errors. None of them changes anything on disk.
    pub fn open(dir: &Path, password: &str) -> Result<Store> {
        if !dir.is_dir() || !exists(dir)? {
            return Err(StoreError::NoAccount);
        }
        let lock = lock(dir)?;
        let paths = Paths { dir };
        let (db_key, from_backup) = unseal(&paths, password.as_bytes())?;
        let db_path = dir.join(DB_FILE);
        if !present(&db_path)? {
            return Err(StoreError::CorruptDatabase);
        }
        let mut conn = db::open(&db_path, &db_key, false)?;
        let found = schema::check(&conn)?;
        db::configure(&conn)?;
        schema::upgrade(&mut conn)?;
        if found < 3 {
            // Schema 3 gives every contact a private conversation; older accounts'
            // contacts get theirs now.
            crate::sync::ensure_conversations(&mut conn)?;
        }
        // Finish any erasure a crash interrupted: pages overwritten in the log are not
        // yet overwritten in the database file.
        db::checkpoint(&conn)?;
        // Only now, with the account open, tidy the key files.
        if from_backup {
            key_file::restore_backup(&paths)?;
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
        let Store { conn, dir, lock } = self;
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
        if !dir.is_dir() || !(exists(dir)? || present(&dir.join(DB_FILE))?) {
            return Err(StoreError::NoAccount);
        }
        let lock = lock(dir)?;
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

/// Removes the account's files, key files first, then the lock last: while we hold it,
/// no other process can take a lock on a file that is about to disappear (it checks).
fn remove_files(dir: &Path) -> Result<()> {
    for name in KEY_FILES {
        key_file::shred(&dir.join(name))?;
    }
    key_file::sync_dir(dir)?;
    for name in TRANSPORT_DIRS {
        match fs::remove_dir_all(dir.join(name)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    for name in DB_FILES.iter().chain([&LOCK_FILE]) {
        match fs::remove_file(dir.join(name)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
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
    fn names() {
        assert!(check_name("ada").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("  ").is_err());
        assert!(check_name("a\nb").is_err());
        assert!(check_name("a\u{1b}[31mb").is_err());
        assert!(check_name("evil\u{202e}gnp.exe").is_err());
        assert!(check_name("a\u{2067}b").is_err());
        assert!(check_name(&"é".repeat(26)).is_err());
        assert!(check_name(&"é".repeat(25)).is_ok());
        assert!(check_name("Zoë 🌿").is_ok());
    }
}
