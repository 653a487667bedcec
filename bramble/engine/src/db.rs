//! The database worker: one thread owns the [`Store`]; async code sends it closures and
//! awaits their results, so no database call ever blocks the runtime.

use std::sync::mpsc;
use std::thread;

use bramble_store::Store;
use chacha20::ChaCha20Rng;
use tokio::sync::oneshot;

use crate::EngineError;

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
    pub(crate) fn spawn(store: Store, mut rng: ChaCha20Rng) -> Result<Db, EngineError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        thread::Builder::new()
            .name(String::from("thicket-db"))
            .spawn(move || {
                let mut store = Some(store);
                while let Ok(job) = queue.recv() {
                    match job {
                        Job::Run(f) => {
                            // After a close, jobs are dropped unrun: their callers see
                            // `Stopped`.
                            if let Some(s) = store.as_mut() {
                                f(s, &mut rng);
                            }
                        }
                        Job::Close(done) => {
                            drop(store.take());
                            let _ = done.send(());
                        }
                    }
                }
            })
            .map_err(EngineError::Io)?;
        Ok(Db { jobs })
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

    /// Finishes the jobs sent so far, then closes the store.
    pub(crate) async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.jobs.send(Job::Close(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}
