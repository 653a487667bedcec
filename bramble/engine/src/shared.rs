//! What the engine's tasks share: the store's worker, the transports, the connection
//! manager's book, and the channels to user interfaces and to open connections.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bramble_store::ContactId;
use thicket_transport::Transport;
use tokio::sync::{Notify, Semaphore, broadcast, watch};

use crate::db::Db;
use crate::event::Event;
use crate::ops::Ctx;
use crate::peers::Peers;

/// How many incoming tags may wait for recognition at once.
const MAX_UNRECOGNISED: usize = 16;

pub(crate) struct Shared {
    /// The store, on its worker thread.
    pub(crate) db: Db,
    /// What the protocol code needs to know of the transports.
    pub(crate) ctx: Ctx,
    /// The transports started (none offline).
    pub(crate) transports: Vec<Arc<dyn Transport>>,
    /// To user interfaces.
    events: broadcast::Sender<Event>,
    /// A contact's outgoing messages changed: its sessions look again.
    pub(crate) changes: broadcast::Sender<ContactId>,
    peers: Mutex<Peers>,
    /// Wakes the dialer early.
    pub(crate) wake: Notify,
    /// Set once, at shutdown.
    pub(crate) shutdown: watch::Sender<bool>,
    /// Incoming connections allowed to wait for recognition at once.
    pub(crate) recognising: Arc<Semaphore>,
}

impl Shared {
    pub(crate) fn new(db: Db, ctx: Ctx, transports: Vec<Arc<dyn Transport>>) -> Shared {
        Shared {
            db,
            ctx,
            transports,
            events: broadcast::channel(1024).0,
            changes: broadcast::channel(256).0,
            peers: Mutex::new(Peers::default()),
            wake: Notify::new(),
            shutdown: watch::channel(false).0,
            recognising: Arc::new(Semaphore::new(MAX_UNRECOGNISED)),
        }
    }

    /// The connection manager's book, locked (never across an `await`).
    pub(crate) fn peers(&self) -> MutexGuard<'_, Peers> {
        self.peers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Events from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    pub(crate) fn publish(&self, event: Event) {
        // No subscriber is fine.
        let _ = self.events.send(event);
    }
}
