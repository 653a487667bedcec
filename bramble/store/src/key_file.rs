//! The key file: the database key sealed under a key derived from the password
//! (`spec/store.md#key-file`).
//!
//! ```text
//!   0..16   magic "thicket-keyfile\n"
//!  16..18   u16be format version (1)
//!  18       KDF: 1 = Argon2id v1.3
//!  19..31   u32be memory KiB, u32be iterations, u32be parallelism
//!  31..63   salt (32)
//!  63..135  sealed database key: nonce (24) ‖ ciphertext (32) ‖ tag (16),
//!           XChaCha20-Poly1305 under KDF("thicket/store/key-encryption-key", Argon2id(password, salt)),
//!           associated data bytes 0..63
//! 135..167  checksum: H("thicket/store/key-file-checksum", bytes 0..135)
//! ```
//!
//! The checksum tells a damaged file from a wrong password: a file whose checksum holds
//! but whose seal does not open was opened with the wrong password.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

use bramble_proto::crypto::{SecretKey, aead, hash, kdf, label};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::error::{Result, StoreError};
use crate::kdf::KdfParams;

const MAGIC: &[u8; 16] = b"thicket-keyfile\n";
const FORMAT_VERSION: u16 = 1;
const KDF_ARGON2ID: u8 = 1;
const HEADER_LEN: usize = 63;
const SEALED_END: usize = HEADER_LEN + aead::OVERHEAD + SecretKey::LEN;
/// Length of a version-1 key file.
pub(crate) const LEN: usize = SEALED_END + 32;

/// A parsed key file whose checksum holds: the database key sealed under a password
/// (`spec/store.md#key-file`).
pub struct KeyFile {
    params: KdfParams,
    salt: [u8; 32],
    bytes: [u8; LEN],
}

impl std::fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyFile")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl KeyFile {
    /// Length of a version-1 key file.
    pub const LEN: usize = LEN;

    /// Seals `db_key` under `password`: draws the 32-byte salt, then the 24-byte nonce,
    /// from `rng`.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] if Argon2 refuses the inputs.
    pub fn seal(
        db_key: &SecretKey,
        password: &[u8],
        params: KdfParams,
        rng: &mut impl CryptoRng,
    ) -> Result<KeyFile> {
        let mut salt = [0u8; 32];
        rng.fill_bytes(&mut salt);
        let mut bytes = [0u8; LEN];
        bytes[..16].copy_from_slice(MAGIC);
        bytes[16..18].copy_from_slice(&FORMAT_VERSION.to_be_bytes());
        bytes[18] = KDF_ARGON2ID;
        bytes[19..23].copy_from_slice(&params.memory_kib().to_be_bytes());
        bytes[23..27].copy_from_slice(&params.iterations().to_be_bytes());
        bytes[27..31].copy_from_slice(&params.parallelism().to_be_bytes());
        bytes[31..63].copy_from_slice(&salt);
        let kek = key_encryption_key(&params, password, &salt)?;
        let sealed = aead::seal(&kek, rng, &bytes[..HEADER_LEN], db_key.expose_secret())
            .map_err(|_| StoreError::InvalidInput("database key could not be sealed"))?;
        bytes[HEADER_LEN..SEALED_END].copy_from_slice(&sealed);
        let checksum = hash(label::STORE_KEY_FILE_CHECKSUM, &[&bytes[..SEALED_END]]);
        bytes[SEALED_END..].copy_from_slice(&checksum.0);
        Ok(KeyFile {
            params,
            salt,
            bytes,
        })
    }

    /// Parses and checks a key file's bytes, without the password.
    ///
    /// Every format version starts with the magic and the version and ends with the
    /// checksum of everything before it, so damage is told apart from a newer format.
    ///
    /// # Errors
    /// [`StoreError::CorruptKeyFile`] or [`StoreError::UnsupportedKeyFile`].
    pub fn parse(bytes: &[u8]) -> Result<KeyFile> {
        if bytes.len() < 18 + 32 || &bytes[..16] != MAGIC {
            return Err(StoreError::CorruptKeyFile);
        }
        let (body, checksum) = bytes.split_at(bytes.len() - 32);
        if hash(label::STORE_KEY_FILE_CHECKSUM, &[body]).0[..] != *checksum {
            return Err(StoreError::CorruptKeyFile);
        }
        let version = u16::from_be_bytes([bytes[16], bytes[17]]);
        if version != FORMAT_VERSION {
            return Err(if version > FORMAT_VERSION {
                StoreError::UnsupportedKeyFile(version)
            } else {
                StoreError::CorruptKeyFile
            });
        }
        let bytes: [u8; LEN] = bytes.try_into().map_err(|_| StoreError::CorruptKeyFile)?;
        if bytes[18] != KDF_ARGON2ID {
            return Err(StoreError::CorruptKeyFile);
        }
        let word = |at: usize| {
            u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let params =
            KdfParams::new(word(19), word(23), word(27)).map_err(|_| StoreError::CorruptKeyFile)?;
        let mut salt = [0u8; 32];
        salt.copy_from_slice(&bytes[31..63]);
        Ok(KeyFile {
            params,
            salt,
            bytes,
        })
    }

    /// Opens the sealed database key with `password`.
    ///
    /// # Errors
    /// [`StoreError::WrongPassword`].
    pub fn open(&self, password: &[u8]) -> Result<SecretKey> {
        let kek = key_encryption_key(&self.params, password, &self.salt)?;
        let plain = aead::open(
            &kek,
            &self.bytes[..HEADER_LEN],
            &self.bytes[HEADER_LEN..SEALED_END],
        )
        .map_err(|_| StoreError::WrongPassword)?;
        let key: Zeroizing<[u8; SecretKey::LEN]> = Zeroizing::new(
            plain
                .as_slice()
                .try_into()
                .map_err(|_| StoreError::CorruptKeyFile)?,
        );
        Ok(SecretKey::from_bytes(*key))
    }

    /// The Argon2id parameters the key file names.
    pub fn params(&self) -> KdfParams {
        self.params
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8; LEN] {
        &self.bytes
    }
}

fn key_encryption_key(params: &KdfParams, password: &[u8], salt: &[u8; 32]) -> Result<SecretKey> {
    let stretched = params.derive(password, salt)?;
    let stretched = Zeroizing::new(SecretKey::from_bytes(*stretched));
    Ok(kdf(label::STORE_KEY_ENCRYPTION_KEY, &stretched, &[]))
}

/// The file names of an account's key files.
pub(crate) struct Paths<'a> {
    pub(crate) dir: &'a Path,
}

impl Paths<'_> {
    pub(crate) fn primary(&self) -> std::path::PathBuf {
        self.dir.join("thicket.key")
    }
    pub(crate) fn backup(&self) -> std::path::PathBuf {
        self.dir.join("thicket.key.bak")
    }
    /// The replaced primary during a restore.
    fn old(&self) -> std::path::PathBuf {
        self.dir.join("thicket.key.old")
    }
    fn temp(&self, name: &str) -> std::path::PathBuf {
        self.dir.join(format!("{name}.tmp"))
    }
}

/// The largest key file read: more than any format version needs. A larger file is
/// damaged, and is not read into memory.
const MAX_READ: u64 = 64 * 1024;

/// Reads a key file: `Ok(None)` if it does not exist.
pub(crate) fn read(path: &Path) -> Result<Option<KeyFile>> {
    use std::io::Read;
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut bytes = Vec::new();
    file.take(MAX_READ + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_READ {
        return Err(StoreError::CorruptKeyFile);
    }
    KeyFile::parse(&bytes).map(Some)
}

/// Whether anything exists at `path`, a dangling symbolic link included. Errors other
/// than "not found" are errors, not "no".
pub(crate) fn present(path: &Path) -> Result<bool> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Writes `bytes` to `path` durably and atomically: a temporary file, fsync, rename,
/// fsync of the directory.
fn write_durably(dir: &Path, path: &Path, temp: &Path, bytes: &[u8]) -> Result<()> {
    let result = (|| -> Result<()> {
        let mut f = create_private(temp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(temp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(temp);
    }
    result
}

/// Replaces the key file with `new`, keeping the current one as a durable backup until
/// the new one is durable (`spec/store.md#writing-the-key-file`). The backup is a second
/// name for the old file itself, so overwriting it at the end overwrites the old file's
/// own blocks, not a copy.
pub(crate) fn replace(paths: &Paths<'_>, new: &KeyFile) -> Result<()> {
    let primary = paths.primary();
    let backup = paths.backup();
    match read(&primary) {
        Ok(Some(current)) => {
            // With a valid primary, an older backup is stale.
            shred(&backup)?;
            if fs::hard_link(&primary, &backup).is_err() {
                // File systems without hard links get a copy.
                write_durably(
                    paths.dir,
                    &backup,
                    &paths.temp("thicket.key.bak"),
                    current.bytes(),
                )?;
            }
            sync_dir(paths.dir)?;
        }
        // Nothing worth keeping: a damaged primary is being replaced while its backup,
        // if any, stays until the new primary is durable.
        Ok(None) | Err(StoreError::CorruptKeyFile) => {}
        Err(e) => return Err(e),
    }
    write_durably(paths.dir, &primary, &paths.temp("thicket.key"), new.bytes())?;
    remove_backup(paths)
}

/// Makes the backup the key file again, by renaming it over the primary. The primary it
/// replaces gets another name first and is overwritten once the rename is durable.
pub(crate) fn restore_backup(paths: &Paths<'_>) -> Result<()> {
    let primary = paths.primary();
    let old = paths.old();
    if present(&primary)? {
        shred(&old)?;
        // Without hard links the replaced file is unlinked by the rename, unshredded.
        let _ = fs::hard_link(&primary, &old);
    }
    fs::rename(paths.backup(), &primary)?;
    sync_dir(paths.dir)?;
    shred(&old)?;
    sync_dir(paths.dir)
}

/// Overwrites and removes the backup key file, and a leftover of a restore, if any.
pub(crate) fn remove_backup(paths: &Paths<'_>) -> Result<()> {
    for path in [paths.backup(), paths.old()] {
        if present(&path)? {
            shred(&path)?;
            sync_dir(paths.dir)?;
        }
    }
    Ok(())
}

/// Overwrites a file with zeros, syncs it and removes it. Best effort against recovery:
/// journaling file systems and flash storage may keep old blocks elsewhere.
pub(crate) fn shred(path: &Path) -> Result<()> {
    match OpenOptions::new().write(true).open(path) {
        Ok(mut f) => {
            let len = f.metadata()?.len();
            let zeros = vec![0u8; 1 << 16];
            let mut left = len;
            while left > 0 {
                let n = usize::try_from(left).unwrap_or(usize::MAX).min(zeros.len());
                f.write_all(&zeros[..n])?;
                left -= n as u64;
            }
            f.sync_all()?;
            drop(f);
            fs::remove_file(path)?;
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Creates a file readable and writable by its owner only.
pub(crate) fn create_private(path: &Path) -> Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    Ok(options.open(path)?)
}

/// Makes a rename or unlink in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chacha20::ChaCha20Rng;
    use chacha20::rand_core::SeedableRng;

    fn sample() -> (KeyFile, SecretKey) {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let db_key = SecretKey::random(&mut rng);
        let params = KdfParams::new(64, 1, 1).unwrap();
        (
            KeyFile::seal(&db_key, b"correct horse", params, &mut rng).unwrap(),
            db_key,
        )
    }

    #[test]
    fn seal_parse_open() {
        let (file, db_key) = sample();
        let parsed = KeyFile::parse(file.bytes()).unwrap();
        assert_eq!(parsed.open(b"correct horse").unwrap(), db_key);
        assert!(matches!(
            parsed.open(b"wrong"),
            Err(StoreError::WrongPassword)
        ));
        assert_eq!(parsed.params(), KdfParams::new(64, 1, 1).unwrap());
    }

    #[test]
    fn any_damage_is_corruption_not_a_wrong_password() {
        let (file, _) = sample();
        for i in 0..LEN {
            let mut bad = *file.bytes();
            bad[i] ^= 0x01;
            match KeyFile::parse(&bad) {
                Err(StoreError::CorruptKeyFile) => {}
                other => panic!("byte {i}: {:?}", other.map(|_| ())),
            }
        }
        for len in [0, 1, 17, 18, LEN - 1] {
            assert!(matches!(
                KeyFile::parse(&file.bytes()[..len]),
                Err(StoreError::CorruptKeyFile)
            ));
        }
        let mut longer = file.bytes().to_vec();
        longer.push(0);
        assert!(matches!(
            KeyFile::parse(&longer),
            Err(StoreError::CorruptKeyFile)
        ));
    }

    #[test]
    fn a_newer_format_is_reported_as_such() {
        let (file, _) = sample();
        // A version 2 file of another length, with a valid checksum.
        let mut newer = file.bytes()[..100].to_vec();
        newer[17] = 2;
        let checksum = hash(label::STORE_KEY_FILE_CHECKSUM, &[&newer]);
        newer.extend_from_slice(&checksum.0);
        assert!(matches!(
            KeyFile::parse(&newer),
            Err(StoreError::UnsupportedKeyFile(2))
        ));
        // The same with a damaged checksum is corruption.
        let last = newer.len() - 1;
        newer[last] ^= 1;
        assert!(matches!(
            KeyFile::parse(&newer),
            Err(StoreError::CorruptKeyFile)
        ));
    }
}
