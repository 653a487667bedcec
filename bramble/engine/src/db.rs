//! The database worker: one thread owns the [`Store`]; async code sends it closures and
//! awaits their results, so no database call ever blocks the runtime.

use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread::{self, JoinHandle};

use bramble_store::Store;
use chacha20::ChaCha20Rng;
use tokio::sync::oneshot;

use crate::error::EngineError;

/// A closure run on the worker.
type Task = Box<dyn FnOnce(&mut Store, &mut ChaCha20Rng) + Send>;

enum Job {
    Run(Task),
    /// Closes the store (a clean close: the write-ahead log checkpointed), then answers.
    Close(oneshot::Sender<()>),
}

/// A handle to the database worker. Cloning it is cheap; the worker stops when the
/// last handle is dropped or [`Db::close`] is called, after finishing the jobs already
/// sent.
#[derive(Clone, Debug)]
pub(crate) struct Db {
    jobs: mpsc::Sender<Job>,
    /// The worker thread, joined by [`Db::close`]. A process must not exit while the
    /// thread is still ending: SQLCipher's OpenSSL keeps per-thread state that the
    /// thread frees as it ends and `exit` frees too, and the two racing can corrupt the
    /// heap (the likely cause of a "double free or corruption" at exit seen once in CI).
    worker: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Job::Run(_) => "Job::Run",
            Job::Close(_) => "Job::Close",
        })
    }
}

impl Db {
    /// Moves `store` to a new worker thread.
    pub(crate) fn spawn(mut store: Store, mut rng: ChaCha20Rng) -> Result<Db, EngineError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let worker = thread::Builder::new()
            .name(String::from("thicket-db"))
            .spawn(move || {
                while let Ok(job) = queue.recv() {
                    match job {
                        Job::Run(f) => f(&mut store, &mut rng),
                        Job::Close(done) => {
                            drop(store);
                            // Jobs sent after the close are dropped unrun: their
                            // callers see `Stopped`.
                            drop(queue);
                            let _ = done.send(());
                            return;
                        }
                    }
                }
            })
            .map_err(EngineError::Io)?;
        Ok(Db {
            jobs,
            worker: Arc::new(Mutex::new(Some(worker))),
        })
    }

    /// Runs `f` on the worker and returns what it returns.
    ///
    /// # Errors
    /// [`EngineError::Stopped`] if the worker is gone or the store closed; otherwise
    /// whatever `f` returns.
    pub(crate) async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store, &mut ChaCha20Rng) -> Result<T, EngineError> + Send + 'static,
    ) -> Result<T, EngineError> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Job::Run(Box::new(move |store, rng| {
                let _ = tx.send(f(store, rng));
            })))
            .map_err(|_| EngineError::Stopped)?;
        rx.await.map_err(|_| EngineError::Stopped)?
    }

    /// Finishes the jobs sent so far, closes the store and waits for the worker thread
    /// to end. Jobs sent afterwards fail with [`EngineError::Stopped`].
    pub(crate) async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.jobs.send(Job::Close(tx)).is_ok() {
            let _ = rx.await;
        }
        let worker = self
            .worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(worker) = worker {
            // The thread has answered and is returning: the join is short.
            let _ = tokio::task::spawn_blocking(move || worker.join()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use bramble_proto::time::Timestamp;
    use bramble_store::{KdfParams, Store};
    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::Db;
    use crate::error::EngineError;

    /// Sets its flag when the thread holding it ends, after a pause that widens the
    /// window in which an unjoined thread would still be ending.
    struct OnThreadEnd(Arc<AtomicBool>);

    impl Drop for OnThreadEnd {
        fn drop(&mut self) {
            std::thread::sleep(std::time::Duration::from_millis(200));
            self.0.store(true, Ordering::SeqCst);
        }
    }

    thread_local! {
        static GUARD: RefCell<Option<OnThreadEnd>> = const { RefCell::new(None) };
    }

    #[tokio::test]
    async fn close_returns_once_the_worker_thread_has_ended() {
        let dir = tempfile::tempdir().unwrap();
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let now = Timestamp::from_millis(1_780_000_000_000).unwrap();
        let params = KdfParams::new(256, 1, 1).unwrap();
        let store = Store::create(&dir.path().join("a"), "a", "pw", params, now, &mut rng).unwrap();
        let db = Db::spawn(store, rng).unwrap();
        let ended = Arc::new(AtomicBool::new(false));
        let flag = ended.clone();
        db.call(move |store, _| {
            // Thread-local state on the worker, as OpenSSL keeps: it is destroyed only
            // as the thread ends.
            GUARD.with(|g| *g.borrow_mut() = Some(OnThreadEnd(flag)));
            Ok(store.identity().is_ok())
        })
        .await
        .unwrap();
        let other = db.clone();
        db.close().await;
        assert!(
            ended.load(Ordering::SeqCst),
            "the worker's thread-local state outlived close"
        );
        let after = other.call(|_, _| Ok(())).await;
        assert!(matches!(after, Err(EngineError::Stopped)), "{after:?}");
        // A second close is harmless.
        other.close().await;
    }
}
