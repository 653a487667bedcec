//! The database worker: one thread owns the [`Store`]; async code sends it closures and
//! awaits their results, so no database call ever blocks the runtime.

use std::sync::mpsc;
use std::thread;

use bramble_store::Store;
use chacha20::ChaCha20Rng;
use tokio::sync::oneshot;

use crate::EngineError;

type Job = Box<dyn FnOnce(&mut Store, &mut ChaCha20Rng) + Send>;

/// A handle to the database worker. Cloning it is cheap; the worker stops when the
/// last handle is dropped, after finishing the jobs already sent.
#[derive(Clone, Debug)]
pub(crate) struct Db {
    jobs: mpsc::Sender<Job>,
}

impl Db {
    /// Moves `store` to a new worker thread.
    pub(crate) fn spawn(mut store: Store, mut rng: ChaCha20Rng) -> Result<Db, EngineError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        thread::Builder::new()
            .name(String::from("thicket-db"))
            .spawn(move || {
                while let Ok(job) = queue.recv() {
                    job(&mut store, &mut rng);
                }
                // Dropping the store closes the database cleanly.
            })
            .map_err(EngineError::Io)?;
        Ok(Db { jobs })
    }

    /// Runs `f` on the worker and returns what it returns.
    ///
    /// # Errors
    /// [`EngineError::Stopped`] if the worker is gone; otherwise whatever `f` returns.
    pub(crate) async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store, &mut ChaCha20Rng) -> Result<T, EngineError> + Send + 'static,
    ) -> Result<T, EngineError> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Box::new(move |store, rng| {
                let _ = tx.send(f(store, rng));
            }))
            .map_err(|_| EngineError::Stopped)?;
        rx.await.map_err(|_| EngineError::Stopped)?
    }
}
