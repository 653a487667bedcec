//! The engine: an account's running messenger.
//!
//! [`Engine::open`] unlocks the account, moves the store to a worker thread (every
//! database call goes through it, so none blocks the async runtime), starts the
//! registered [`Transport`]s and then, until [`Engine::shutdown`]:
//!
//! - accepts incoming connections and reads the first stream tag: a contact's stream
//!   starts a sync session, a pending contact's handshake stream the handshake, and
//!   anything else is dropped without a byte of reply;
//! - dials every contact it is not connected to over every duplex transport, at the
//!   addresses the contact published, with exponential backoff; on broadcast transports
//!   (LAN, BLE) announces each contact's beacon and dials a contact as soon as one of its
//!   beacons is sighted; meets pending contacts at their rendezvous points;
//! - keeps one connection per contact and transport: of two redundant ones, both sides
//!   keep the one Alice dialed (or the newer);
//! - rotates stream keys at period boundaries and removes expired pending contacts;
//! - publishes [`Event`]s for user interfaces.
//!
//! Files (the one-way transport) are written and read on request: [`Engine::export`]
//! and [`Engine::import`].

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bramble_proto::contact::{Link, SafetyNumber};
use bramble_proto::ids::MessageId;
use bramble_proto::time::Timestamp;
use bramble_proto::transport::TransportId;
use bramble_store::{Contact, ContactId, ConversationMessage, KdfParams, PendingContactId, Store};
use thicket_transport::{Kind, Ready, Status, Transport, TransportSetup};
use tokio::sync::broadcast;

mod clock;
mod conn;
mod db;
mod error;
mod event;
mod folder;
mod maintenance;
mod ops;
mod peers;
mod shared;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;

pub use clock::now;
pub use error::EngineError;
pub use event::{ContactOverview, Event, PendingInfo, PendingState};
pub use folder::{ExportReport, FolderReport, ImportReport};
pub use ops::Target;

use clock::fresh_rng;
use db::Db;
use shared::Shared;

/// Whether [`Engine::open_with`] starts the transports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Start them: listen, dial contacts, meet pending ones.
    Online,
    /// Only record their addresses; no network is touched.
    Offline,
}

/// Creates an account in `dir`, with Argon2id parameters calibrated to this machine.
/// Takes about a second.
///
/// # Errors
/// [`StoreError::AccountExists`](bramble_store::StoreError::AccountExists), a refused
/// nickname or password, I/O errors.
pub fn create_account(dir: &Path, nickname: &str, password: &str) -> Result<(), EngineError> {
    let params = KdfParams::calibrated()?;
    let mut rng = fresh_rng()?;
    let store = Store::create(dir, nickname, password, params, now()?, &mut rng)?;
    drop(store);
    Ok(())
}

/// A running account.
#[derive(Clone)]
pub struct Engine {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl Engine {
    /// Unlocks the account in `dir` and starts `transports` (the file transport is
    /// always available through [`Engine::export`] and [`Engine::import`] and need not
    /// be registered). Must be called within a Tokio runtime; call
    /// [`Engine::shutdown`] before the process exits, so that the store closes while
    /// nothing else is tearing the process down.
    ///
    /// # Errors
    /// [`StoreError::WrongPassword`](bramble_store::StoreError::WrongPassword),
    /// [`StoreError::NoAccount`](bramble_store::StoreError::NoAccount),
    /// [`StoreError::InUse`](bramble_store::StoreError::InUse)
    /// and the other errors of opening an account; a transport that fails to start.
    pub async fn open(
        dir: &Path,
        password: &str,
        transports: Vec<Arc<dyn Transport>>,
    ) -> Result<Engine, EngineError> {
        let setups = transports
            .into_iter()
            .map(|t| Box::new(Ready(t)) as Box<dyn TransportSetup>)
            .collect();
        Engine::open_with(dir, password, setups, Mode::Online).await
    }

    /// Unlocks the account in `dir` and builds each transport from its secret in the
    /// store (made on first use: [`TransportSetup::build`]). Their addresses become our
    /// local properties, published to contacts in handshakes. [`Mode::Online`] then
    /// starts them and dials contacts; [`Mode::Offline`] drops them again (for
    /// one-shot commands that must not touch a network).
    ///
    /// # Errors
    /// As [`Engine::open`]; a transport that cannot be built.
    pub async fn open_with(
        dir: &Path,
        password: &str,
        setups: Vec<Box<dyn TransportSetup>>,
        mode: Mode,
    ) -> Result<Engine, EngineError> {
        let (dir, password) = (dir.to_owned(), zeroize::Zeroizing::new(password.to_owned()));
        let store = tokio::task::spawn_blocking(move || Store::open(&dir, &password))
            .await
            .map_err(|_| EngineError::Stopped)??;
        let db = Db::spawn(store, fresh_rng()?)?;
        match Engine::start(db.clone(), setups, mode).await {
            Ok(engine) => Ok(engine),
            Err(e) => {
                // The store closes before the error reaches the caller, who may exit.
                db.close().await;
                Err(e)
            }
        }
    }

    /// [`Engine::open_with`] once the store is on its worker.
    async fn start(
        db: Db,
        setups: Vec<Box<dyn TransportSetup>>,
        mode: Mode,
    ) -> Result<Engine, EngineError> {
        let mut transports: Vec<Arc<dyn Transport>> = Vec::with_capacity(setups.len());
        for setup in setups {
            let id = setup.id();
            let secret = db
                .call(move |store, rng| ops::transport_secret(store, &id, rng))
                .await?;
            transports.push(setup.build(&secret)?);
        }
        let props: Vec<_> = transports
            .iter()
            .map(|t| (t.id(), t.local_properties()))
            .collect();
        db.call(move |store, _| {
            for (t, p) in props {
                store.set_local_properties(&t, &p)?;
            }
            Ok(())
        })
        .await?;
        let ctx = ops::Ctx::new(transports.iter().map(|t| (t.id(), t.max_latency())));
        if mode == Mode::Offline {
            transports.clear();
        }
        let engine = Engine {
            shared: Arc::new(Shared::new(db, ctx, transports)),
        };
        engine.maintain().await?;
        for t in engine.shared.transports.clone() {
            if let Err(e) = conn::start_transport(engine.shared.clone(), t).await {
                // The transports started so far stop accepting.
                engine.shared.shutdown.send_replace(true);
                return Err(e);
            }
        }
        tokio::spawn(conn::dialer(engine.shared.clone()));
        tokio::spawn(maintenance::run(engine.shared.clone()));
        Ok(engine)
    }

    /// Our addresses on a transport, as published to new contacts.
    ///
    /// # Errors
    /// Store errors.
    pub async fn local_properties(
        &self,
        transport: TransportId,
    ) -> Result<std::collections::BTreeMap<String, String>, EngineError> {
        self.shared
            .db
            .call(move |store, _| Ok(store.local_properties(&transport)?))
            .await
    }

    /// Events from now on.
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.shared.subscribe()
    }

    /// Rotates keys and removes expired pending contacts now (it also happens every
    /// minute while the engine runs).
    ///
    /// # Errors
    /// Store errors.
    pub async fn maintain(&self) -> Result<(), EngineError> {
        maintenance::maintain(&self.shared).await
    }

    /// Our link, to give to people who want to add us.
    ///
    /// # Errors
    /// Store errors.
    pub async fn link(&self) -> Result<Link, EngineError> {
        self.shared
            .db
            .call(|store, _| Ok(Link::new(store.identity()?.handshake_key.public_key())))
            .await
    }

    /// Our nickname.
    ///
    /// # Errors
    /// Store errors.
    pub async fn nickname(&self) -> Result<String, EngineError> {
        self.shared
            .db
            .call(|store, _| Ok(store.identity()?.nickname))
            .await
    }

    /// Adds someone's link under the name `alias`. The handshake runs once they have
    /// added ours, over whatever transport reaches them (or files).
    ///
    /// # Errors
    /// [`EngineError::Link`] for a malformed or mistyped link, [`EngineError::OwnLink`],
    /// [`EngineError::AlreadyContact`], [`EngineError::AlreadyPending`], a refused alias.
    pub async fn add_link(&self, link: &str, alias: &str) -> Result<PendingContactId, EngineError> {
        let (link, alias) = (link.to_owned(), alias.to_owned());
        let now = now()?;
        let id = self
            .shared
            .db
            .call(move |store, rng| ops::add_link(store, &link, &alias, now, rng))
            .await?;
        self.shared.publish(Event::PendingChanged {
            pending: id,
            state: PendingState::Waiting,
        });
        self.shared.wake.notify_one();
        Ok(id)
    }

    /// Every contact.
    ///
    /// # Errors
    /// Store errors.
    pub async fn contacts(&self) -> Result<Vec<Contact>, EngineError> {
        self.shared.db.call(|store, _| Ok(store.contacts()?)).await
    }

    /// Every pending contact.
    ///
    /// # Errors
    /// Store errors.
    pub async fn pending(&self) -> Result<Vec<PendingInfo>, EngineError> {
        self.shared
            .db
            .call(|store, _| ops::pending_infos(store))
            .await
    }

    /// The contact or pending contact called `name` (our alias for it, else its own
    /// nickname; case-sensitive). A contact wins over a pending contact completed into it.
    ///
    /// # Errors
    /// [`EngineError::UnknownName`], [`EngineError::AmbiguousName`].
    pub async fn find(&self, name: &str) -> Result<Target, EngineError> {
        let contacts = self.contacts().await?;
        let matches: Vec<_> = contacts
            .iter()
            .filter(|c| c.display_name() == name)
            .collect();
        match matches.as_slice() {
            [c] => return Ok(Target::Contact(c.id)),
            [] => {}
            _ => return Err(EngineError::AmbiguousName(name.to_owned())),
        }
        let pending: Vec<_> = self
            .pending()
            .await?
            .into_iter()
            .filter(|p| p.alias == name && !matches!(p.state, PendingState::Completed(_)))
            .collect();
        match pending.as_slice() {
            [p] => Ok(Target::Pending(p.id)),
            [] => Err(EngineError::UnknownName(name.to_owned())),
            _ => Err(EngineError::AmbiguousName(name.to_owned())),
        }
    }

    /// [`Engine::find`], for a contact only.
    ///
    /// # Errors
    /// As [`Engine::find`]; [`EngineError::UnknownName`] for a pending contact, with a
    /// word on why.
    pub async fn find_contact(&self, name: &str) -> Result<ContactId, EngineError> {
        match self.find(name).await? {
            Target::Contact(c) => Ok(c),
            Target::Pending(_) => Err(EngineError::UnknownName(format!(
                "{name} (still pending: the handshake has not completed)"
            ))),
        }
    }

    /// Queues a text message to a contact; it goes out over the first transport that
    /// reaches them.
    ///
    /// # Errors
    /// An empty, too long or control-character text; store errors.
    pub async fn send(&self, contact: ContactId, text: &str) -> Result<MessageId, EngineError> {
        let text = text.to_owned();
        let now = now()?;
        let id = self
            .shared
            .db
            .call(move |store, _| Ok(store.send_private_message(contact, &text, now)?))
            .await?;
        let _ = self.shared.changes.send(contact);
        Ok(id)
    }

    /// The latest `limit` messages of the conversation with a contact, oldest first.
    ///
    /// # Errors
    /// Store errors.
    pub async fn conversation(
        &self,
        contact: ContactId,
        limit: usize,
    ) -> Result<Vec<ConversationMessage>, EngineError> {
        self.shared
            .db
            .call(move |store, _| Ok(store.conversation(contact, None, limit)?))
            .await
    }

    /// Up to `limit` messages of the conversation with a contact written before
    /// `before` (a message's timestamp and identifier), oldest first: the page above
    /// the oldest one shown.
    ///
    /// # Errors
    /// Store errors.
    pub async fn conversation_before(
        &self,
        contact: ContactId,
        before: (Timestamp, MessageId),
        limit: usize,
    ) -> Result<Vec<ConversationMessage>, EngineError> {
        self.shared
            .db
            .call(move |store, _| Ok(store.conversation(contact, Some(before), limit)?))
            .await
    }

    /// Every contact with its unread count and the time of its latest message, in one
    /// call: what a contact list shows.
    ///
    /// # Errors
    /// Store errors.
    pub async fn overview(&self) -> Result<Vec<ContactOverview>, EngineError> {
        self.shared
            .db
            .call(move |store, _| {
                Ok(store
                    .contact_overview()?
                    .into_iter()
                    .map(|(contact, unread, last)| ContactOverview {
                        contact,
                        unread,
                        last,
                    })
                    .collect())
            })
            .await
    }

    /// Removes a contact (with its keys and the conversation) or a pending contact (with
    /// its handshake secrets), and any pending contact of the same link.
    ///
    /// # Errors
    /// Store errors.
    pub async fn remove(&self, target: Target) -> Result<(), EngineError> {
        self.shared
            .db
            .call(move |store, _| {
                let link = match target {
                    Target::Contact(c) => {
                        let link = store.contact(c)?.map(|c| c.handshake_public);
                        store.remove_contact(c)?;
                        link
                    }
                    Target::Pending(p) => {
                        store.remove_pending_contact(p)?;
                        None
                    }
                };
                if let Some(link) = link {
                    for p in store.pending_contacts()? {
                        if p.handshake_public == link {
                            store.remove_pending_contact(p.id)?;
                        }
                    }
                }
                Ok(())
            })
            .await?;
        // Its connections end now, and nothing dials it again.
        if let Target::Contact(c) = target {
            self.shared.peers().forget(c);
        }
        Ok(())
    }

    /// How many of a contact's messages are unread.
    ///
    /// # Errors
    /// Store errors.
    pub async fn unread_count(&self, contact: ContactId) -> Result<u64, EngineError> {
        self.shared
            .db
            .call(move |store, _| Ok(store.unread_count(contact)?))
            .await
    }

    /// Marks the whole conversation with a contact read.
    ///
    /// # Errors
    /// Store errors.
    pub async fn mark_read(&self, contact: ContactId) -> Result<(), EngineError> {
        self.shared
            .db
            .call(move |store, _| Ok(store.mark_conversation_read(contact)?))
            .await
    }

    /// The safety number of us and a contact.
    ///
    /// # Errors
    /// [`EngineError::ContactGone`]; store errors.
    pub async fn safety_number(&self, contact: ContactId) -> Result<SafetyNumber, EngineError> {
        self.shared
            .db
            .call(move |store, _| {
                let c = store.contact(contact)?.ok_or(EngineError::ContactGone)?;
                let me = store.identity()?;
                Ok(SafetyNumber::new(
                    (
                        &me.signing_key.verifying_key(),
                        &me.handshake_key.public_key(),
                    ),
                    (&c.signing_public, &c.handshake_public),
                ))
            })
            .await
    }

    /// Marks a contact verified (after comparing safety numbers) or not.
    ///
    /// # Errors
    /// Store errors.
    pub async fn set_verified(
        &self,
        contact: ContactId,
        verified: bool,
    ) -> Result<(), EngineError> {
        self.shared
            .db
            .call(move |store, _| Ok(store.set_contact_verified(contact, verified)?))
            .await
    }

    /// Writes what `target` should receive as stream files into `dir`: for a pending
    /// contact its handshake, for a contact everything due (and our handshake while it
    /// may still need it).
    ///
    /// # Errors
    /// Store errors; I/O errors writing the files (the messages stay queued: a stream
    /// that was not written is simply never read).
    pub async fn export(&self, target: Target, dir: &Path) -> Result<ExportReport, EngineError> {
        folder::export(&self.shared, target, dir, false).await
    }

    /// Syncs with a folder that travels (on a USB stick) or is shared: reads every
    /// Thicket file in it, as [`Engine::import`] does, then writes what each contact and
    /// each pending contact still waiting should receive, as [`Engine::export`] does,
    /// except that a contact with nothing due and nothing to acknowledge gets no file:
    /// a folder synced often does not fill up with empty streams, nor use up the
    /// contact's window of stream numbers. A file written to us is removed once it was
    /// read whole (only we can read it, and never twice), so the folder holds what is
    /// still on its way; a damaged one stays, and so does everything else.
    ///
    /// # Errors
    /// [`EngineError::Io`] of kind `NotFound` if `dir` is not a folder (a drive not
    /// plugged in); as [`Engine::import`] and [`Engine::export`] otherwise. Files
    /// written before an error stay, and are valid.
    pub async fn sync_folder(&self, dir: &Path) -> Result<FolderReport, EngineError> {
        folder::sync_folder(&self.shared, dir).await
    }

    /// Reads every stream file in `dir`, in name order, again and again while a pass
    /// reads any: a completed handshake lets a later pass recognise the new contact's
    /// streams, and each stream read moves the reordering window on, so that later
    /// exports beyond it become readable. (Earlier ones it moved past are not read: what
    /// they carried is in the later ones, as a batch carries everything unacknowledged.) Nothing in `dir`
    /// is changed; importing twice is harmless. A file that fails is reported and the
    /// others are still read.
    ///
    /// # Errors
    /// The folder cannot be listed; store errors.
    pub async fn import(&self, dir: &Path) -> Result<ImportReport, EngineError> {
        folder::import(&self.shared, dir, false).await
    }

    /// The transports this engine runs, with their kinds.
    pub fn transports(&self) -> Vec<(TransportId, Kind)> {
        self.shared
            .transports
            .iter()
            .map(|t| (t.id(), t.kind()))
            .collect()
    }

    /// Each running transport's status now (later changes come as
    /// [`Event::TransportStatus`]).
    pub fn transport_status(&self) -> Vec<(TransportId, Status)> {
        self.shared
            .transports
            .iter()
            .map(|t| (t.id(), t.status().borrow().clone()))
            .collect()
    }

    /// The contacts connected now, and over which transports, once each (later changes
    /// come as [`Event::ContactConnected`] and [`Event::ContactDisconnected`]; with
    /// redundant connections, a disconnection may leave the contact connected).
    pub fn connected(&self) -> Vec<(ContactId, TransportId)> {
        self.shared.peers().connections()
    }

    /// For each broadcast transport (LAN, BLE) that has looked: how many contacts are
    /// in sight and how many connected over it (later changes come as
    /// [`Event::Nearby`]).
    pub fn nearby(&self) -> Vec<(TransportId, usize, usize)> {
        self.shared.peers().nearby()
    }

    /// Closes every connection, stops the engine's tasks, and closes the store once the
    /// database jobs already queued are done.
    pub async fn shutdown(self) {
        self.shared.shutdown.send_replace(true);
        let closing = self.shared.peers().closers();
        for c in closing {
            c.send_replace(true);
        }
        // Let connections say goodbye (end their streams), then close the store.
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.shared.db.close().await;
    }
}
