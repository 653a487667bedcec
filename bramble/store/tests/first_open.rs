//! Accounts opened by several threads at once, as the first use of SQLite in a process.
//!
//! SQLite marks itself initialised before SQLCipher has initialised, and a thread that
//! keyed a connection in between was refused. Its own test binary, so that nothing in
//! the process has used SQLite before.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use bramble_proto::time::Timestamp;
use bramble_store::{KdfParams, Store};
use chacha20::ChaCha20Rng;
use rand_core::SeedableRng;

#[test]
fn accounts_created_at_once_by_many_threads_all_open() {
    let dir = tempfile::tempdir().unwrap();
    let threads = 16;
    let start = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let (dir, start) = (dir.path().join(format!("a{i}")), Arc::clone(&start));
            std::thread::spawn(move || {
                let mut rng = ChaCha20Rng::seed_from_u64(i as u64);
                let params = KdfParams::new(256, 1, 1).unwrap();
                let now = Timestamp::from_millis(1_780_000_000_000).unwrap();
                start.wait();
                // Staggered, so that some thread arrives inside the window.
                let until = Instant::now() + Duration::from_micros(25 * i as u64);
                while Instant::now() < until {
                    std::hint::spin_loop();
                }
                Store::create(&dir, "n", "pw", params, now, &mut rng).map(drop)
            })
        })
        .collect();
    for (i, handle) in handles.into_iter().enumerate() {
        let created = handle.join().unwrap();
        assert!(created.is_ok(), "account {i}: {created:?}");
    }
}
