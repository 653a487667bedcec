//! `bramble-store` through its public API.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

#[path = "store/accounts.rs"]
mod accounts;
#[path = "store/crash.rs"]
mod crash;
#[path = "store/data.rs"]
mod data;
#[path = "store/on_disk.rs"]
mod on_disk;
#[path = "store/sync.rs"]
mod sync;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bramble_proto::time::Timestamp;
use bramble_store::{KdfParams, Store};
use chacha20::ChaCha20Rng;
use chacha20::rand_core::SeedableRng;

/// Light Argon2 parameters: tests are about the store, not the KDF's cost.
pub fn light() -> KdfParams {
    KdfParams::new(256, 1, 1).unwrap()
}

pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

pub fn now() -> Timestamp {
    Timestamp::from_millis(1_763_769_600_000).unwrap()
}

pub const PASSWORD: &str = "correct horse battery staple";

/// A new account in a fresh temporary directory (kept alive by the returned guard).
pub fn account() -> (tempfile::TempDir, PathBuf, Store) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("account");
    let store = Store::create(&dir, "ada", PASSWORD, light(), now(), &mut rng(1)).unwrap();
    (tmp, dir, store)
}

/// Every file in `dir` with its bytes.
pub fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
