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

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bramble_proto::contact::{Link, LinkError, SafetyNumber};
use bramble_proto::ids::MessageId;
use bramble_proto::messaging::DeliveryState;
use bramble_proto::stream::StreamError;
use bramble_proto::time::Timestamp;
use bramble_proto::transport::TransportId;
use bramble_store::{
    Contact, ContactId, ConversationMessage, KdfParams, PendingContactId, Store, StoreError,
};
use chacha20::ChaCha20Rng;
use rand_core::SeedableRng;
use thicket_transport::{Kind, Ready, Status, Transport, TransportSetup, file};
use tokio::sync::{Notify, broadcast, watch};

mod conn;
mod db;
mod ops;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;

use db::Db;
pub use ops::Target;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Not a usable link.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// Our own link.
    #[error("this is your own link; send it to the person you want to add, and add theirs")]
    OwnLink,
    /// The link belongs to a contact already.
    #[error("{0} is already a contact")]
    AlreadyContact(String),
    /// The link was added already and waits for the other side.
    #[error("this link was already added, as {0}")]
    AlreadyPending(String),
    /// The link does not hold a usable key.
    #[error("the link does not hold a usable key")]
    BadLink,
    /// No contact or pending contact goes by that name.
    #[error("no contact or pending contact is called {0:?}")]
    UnknownName(String),
    /// More than one goes by that name.
    #[error("more than one contact is called {0:?}; give one of them another name")]
    AmbiguousName(String),
    /// The contact was removed meanwhile.
    #[error("the contact no longer exists")]
    ContactGone,
    /// The pending contact completed, expired or was removed meanwhile.
    #[error("the pending contact no longer exists")]
    PendingGone,
    /// A transport no keys exist for.
    #[error("no keys exist for that transport")]
    UnknownTransport,
    /// A handshake could not go on.
    #[error("handshake: {0}")]
    Handshake(bramble_proto::contact::HandshakeError),
    /// Stream keys could not be used.
    #[error("stream keys: {0}")]
    Stream(StreamError),
    /// A sync session failed.
    #[error("sync: {0}")]
    Sync(String),
    /// A file or network operation failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The system clock is before 1970 or past 9999.
    #[error("the system clock is not set")]
    Clock,
    /// The engine has shut down.
    #[error("the engine has stopped")]
    Stopped,
}

/// What the engine tells user interfaces.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A contact's message arrived and may be shown.
    MessageReceived {
        /// From whom.
        contact: ContactId,
        /// The message.
        id: MessageId,
    },
    /// One of our messages changed delivery state.
    DeliveryChanged {
        /// To whom.
        contact: ContactId,
        /// The message.
        id: MessageId,
        /// Its new state.
        state: DeliveryState,
    },
    /// A handshake completed on our side: a new contact.
    ContactAdded {
        /// The contact.
        contact: ContactId,
    },
    /// A sync connection to a contact opened.
    ContactConnected {
        /// The contact.
        contact: ContactId,
        /// Over which transport.
        transport: TransportId,
    },
    /// A sync connection to a contact closed.
    ContactDisconnected {
        /// The contact.
        contact: ContactId,
        /// Over which transport.
        transport: TransportId,
    },
    /// A pending contact moved on.
    PendingChanged {
        /// The pending contact.
        pending: PendingContactId,
        /// Its new state.
        state: PendingState,
    },
    /// How many contacts a broadcast transport (LAN, BLE) sees nearby, and how many
    /// are connected over it, when either changes.
    Nearby {
        /// The transport.
        transport: TransportId,
        /// Contacts whose beacon is in sight.
        seen: usize,
        /// Contacts with a connection over it.
        connected: usize,
    },
    /// A transport's status changed.
    TransportStatus {
        /// The transport.
        transport: TransportId,
        /// Its status.
        status: Status,
    },
}

/// A contact as a contact list shows it: [`Engine::overview`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactOverview {
    /// The contact.
    pub contact: Contact,
    /// Received messages not read yet.
    pub unread: u64,
    /// When the latest message either way was written.
    pub last: Option<Timestamp>,
}

/// Where a pending contact stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PendingState {
    /// Waiting for the other side's first handshake stream.
    Waiting,
    /// The other side's key arrived; waiting for its contact info.
    AwaitingInfo,
    /// We hold the other side's info (the contact exists); waiting for proof that it
    /// holds ours.
    Completed(ContactId),
    /// The peer's last handshake records were refused, for this reason
    /// (spec/contacts.md#pending-contacts). It keeps its state and may still move on
    /// or complete; the user may remove it and add the link again.
    Failed(String),
    /// Removed: it expired before completing.
    Expired,
}

/// Whether [`Engine::open_with`] starts the transports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Start them: listen, dial contacts, meet pending ones.
    Online,
    /// Only record their addresses; no network is touched.
    Offline,
}

/// A pending contact as shown to the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingInfo {
    /// Its identifier.
    pub id: PendingContactId,
    /// The name the user gave the link.
    pub alias: String,
    /// The link.
    pub link: Link,
    /// When it was added.
    pub added_at: Timestamp,
    /// When it will be removed unless completed.
    pub expires_at: Timestamp,
    /// Where it stands.
    pub state: PendingState,
}

/// What an export wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportReport {
    /// The files written.
    pub files: Vec<PathBuf>,
    /// How many messages they carry.
    pub messages: usize,
}

/// What a folder sync read and wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FolderReport {
    /// What reading the folder found.
    pub imported: ImportReport,
    /// The files written.
    pub written: Vec<PathBuf>,
    /// How many messages they carry.
    pub messages: usize,
}

/// What an import read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Messages delivered, per contact.
    pub messages: Vec<(ContactId, MessageId)>,
    /// Handshake streams read.
    pub handshakes: usize,
    /// Contacts the import completed.
    pub contacts_added: Vec<ContactId>,
    /// Stream files no contact of ours wrote, or already read.
    pub unrecognised: usize,
    /// Files that are not stream files, or damaged streams, with why.
    pub rejected: Vec<(PathBuf, String)>,
    /// Files removed once read whole ([`Engine::sync_folder`] only): streams for us,
    /// which nobody else can read and which could not be read again.
    pub removed: Vec<PathBuf>,
}

/// The current time as a protocol timestamp.
///
/// # Errors
/// [`EngineError::Clock`] for a clock outside the timestamp range.
pub fn now() -> Result<Timestamp, EngineError> {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| EngineError::Clock)?
        .as_millis();
    Timestamp::from_millis(u64::try_from(ms).map_err(|_| EngineError::Clock)?)
        .map_err(|_| EngineError::Clock)
}

fn fresh_rng() -> Result<ChaCha20Rng, EngineError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|_| EngineError::Io(io::Error::other("no system randomness")))?;
    Ok(ChaCha20Rng::from_seed(seed))
}

/// Creates an account in `dir`, with Argon2id parameters calibrated to this machine.
/// Takes about a second.
///
/// # Errors
/// [`StoreError::AccountExists`], a refused nickname or password, I/O errors.
pub fn create_account(dir: &Path, nickname: &str, password: &str) -> Result<(), EngineError> {
    let params = KdfParams::calibrated()?;
    let mut rng = fresh_rng()?;
    let store = Store::create(dir, nickname, password, params, now()?, &mut rng)?;
    drop(store);
    Ok(())
}

/// How long to wait before dialing a contact again after a failure: doubling from one
/// second to five minutes.
#[derive(Clone, Copy, Debug)]
struct Backoff {
    next: tokio::time::Instant,
    delay: Duration,
    /// When the failure happened.
    failed: std::time::Instant,
}

impl Backoff {
    /// The wait after another failure: `MIN_BACKOFF`, then double the last, up to `max`.
    fn after(last: Option<&Backoff>, max: Duration) -> Backoff {
        let delay = last.map_or(MIN_BACKOFF, |b| (b.delay * 2).min(max));
        Backoff {
            next: tokio::time::Instant::now() + delay,
            delay,
            failed: std::time::Instant::now(),
        }
    }

    /// Whether the next attempt must still wait.
    fn waiting(&self) -> bool {
        self.next > tokio::time::Instant::now()
    }

    /// Whether the next attempt must still wait, unless a broadcast transport newly saw
    /// the peer after the failure (it came into range: try at once).
    fn waiting_unless(&self, sighted: Option<std::time::Instant>) -> bool {
        self.waiting() && sighted.is_none_or(|seen| seen <= self.failed)
    }
}

const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How often the dialer looks for contacts to connect to.
const DIAL_TICK: Duration = Duration::from_millis(500);
/// How many incoming tags may wait for recognition at once.
const MAX_UNRECOGNISED: usize = 16;
/// How often keys are rotated and pending contacts expired.
const MAINTENANCE_TICK: Duration = Duration::from_secs(60);

struct ConnEntry {
    id: u64,
    alice_dialed: bool,
    close: watch::Sender<bool>,
}

#[derive(Default)]
struct State {
    connections: HashMap<(ContactId, TransportId), ConnEntry>,
    dialing: HashSet<(ContactId, TransportId)>,
    handshaking: HashSet<PendingContactId>,
    rendezvousing: HashSet<(PendingContactId, TransportId)>,
    rendezvous_backoff: HashMap<(PendingContactId, TransportId), Backoff>,
    /// Rendezvous we may have set up on a transport (by point id), to end when their
    /// pending contact goes.
    rendezvous_up: HashSet<(u64, TransportId)>,
    backoff: HashMap<(ContactId, TransportId), Backoff>,
    /// The last [`Event::Nearby`] published per transport.
    nearby: HashMap<TransportId, (usize, usize)>,
    next_conn: u64,
}

struct Inner {
    db: Db,
    ctx: ops::Ctx,
    transports: Vec<Arc<dyn Transport>>,
    events: broadcast::Sender<Event>,
    changes: broadcast::Sender<ContactId>,
    state: Mutex<State>,
    wake: Notify,
    shutdown: watch::Sender<bool>,
    /// Incoming connections allowed to wait for recognition at once.
    recognising: Arc<tokio::sync::Semaphore>,
}

impl Inner {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn publish(&self, event: Event) {
        // No subscriber is fine.
        let _ = self.events.send(event);
    }
}

/// A running account.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
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
    /// [`StoreError::WrongPassword`], [`StoreError::NoAccount`], [`StoreError::InUse`]
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
        let inner = Arc::new(Inner {
            db,
            ctx,
            transports,
            events: broadcast::channel(1024).0,
            changes: broadcast::channel(256).0,
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            shutdown: watch::channel(false).0,
            recognising: Arc::new(tokio::sync::Semaphore::new(MAX_UNRECOGNISED)),
        });
        let engine = Engine { inner };
        engine.maintain().await?;
        for t in engine.inner.transports.clone() {
            if let Err(e) = conn::start_transport(engine.inner.clone(), t).await {
                // The transports started so far stop accepting.
                engine.inner.shutdown.send_replace(true);
                return Err(e);
            }
        }
        tokio::spawn(conn::dialer(engine.inner.clone()));
        tokio::spawn(maintenance(engine.inner.clone()));
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
        self.inner
            .db
            .call(move |store, _| Ok(store.local_properties(&transport)?))
            .await
    }

    /// Events from now on.
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// Rotates keys and removes expired pending contacts now (it also happens every
    /// minute while the engine runs).
    ///
    /// # Errors
    /// Store errors.
    pub async fn maintain(&self) -> Result<(), EngineError> {
        let now = now()?;
        let (expired, rotated) = self
            .inner
            .db
            .call(move |store, _| {
                // Expiry erases secrets: it runs even if rotation failed.
                let rotated = ops::rotate_all(store, now);
                Ok((ops::expire_pending(store, now)?, rotated))
            })
            .await?;
        for pending in expired {
            self.inner.publish(Event::PendingChanged {
                pending,
                state: PendingState::Expired,
            });
        }
        rotated
    }

    /// Our link, to give to people who want to add us.
    ///
    /// # Errors
    /// Store errors.
    pub async fn link(&self) -> Result<Link, EngineError> {
        self.inner
            .db
            .call(|store, _| Ok(Link::new(store.identity()?.handshake_key.public_key())))
            .await
    }

    /// Our nickname.
    ///
    /// # Errors
    /// Store errors.
    pub async fn nickname(&self) -> Result<String, EngineError> {
        self.inner
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
            .inner
            .db
            .call(move |store, rng| ops::add_link(store, &link, &alias, now, rng))
            .await?;
        self.inner.publish(Event::PendingChanged {
            pending: id,
            state: PendingState::Waiting,
        });
        self.inner.wake.notify_one();
        Ok(id)
    }

    /// Every contact.
    ///
    /// # Errors
    /// Store errors.
    pub async fn contacts(&self) -> Result<Vec<Contact>, EngineError> {
        self.inner.db.call(|store, _| Ok(store.contacts()?)).await
    }

    /// Every pending contact.
    ///
    /// # Errors
    /// Store errors.
    pub async fn pending(&self) -> Result<Vec<PendingInfo>, EngineError> {
        self.inner
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
            .inner
            .db
            .call(move |store, _| Ok(store.send_private_message(contact, &text, now)?))
            .await?;
        let _ = self.inner.changes.send(contact);
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
        self.inner
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
        self.inner
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
        self.inner
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
        self.inner
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
            let mut state = self.inner.state();
            for ((contact, _), entry) in &state.connections {
                if *contact == c {
                    entry.close.send_replace(true);
                }
            }
            state.backoff.retain(|(contact, _), _| *contact != c);
        }
        Ok(())
    }

    /// How many of a contact's messages are unread.
    ///
    /// # Errors
    /// Store errors.
    pub async fn unread_count(&self, contact: ContactId) -> Result<u64, EngineError> {
        self.inner
            .db
            .call(move |store, _| Ok(store.unread_count(contact)?))
            .await
    }

    /// Marks the whole conversation with a contact read.
    ///
    /// # Errors
    /// Store errors.
    pub async fn mark_read(&self, contact: ContactId) -> Result<(), EngineError> {
        self.inner
            .db
            .call(move |store, _| Ok(store.mark_conversation_read(contact)?))
            .await
    }

    /// The safety number of us and a contact.
    ///
    /// # Errors
    /// [`EngineError::ContactGone`]; store errors.
    pub async fn safety_number(&self, contact: ContactId) -> Result<SafetyNumber, EngineError> {
        self.inner
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
        self.inner
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
        self.export_to(target, dir, false).await
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
        let d = dir.to_owned();
        let present = tokio::task::spawn_blocking(move || d.is_dir())
            .await
            .map_err(|_| EngineError::Stopped)?;
        if !present {
            return Err(EngineError::Io(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no folder {}", dir.display()),
            )));
        }
        let imported = self.import_files(dir, true).await?;
        let mut report = FolderReport {
            imported,
            ..FolderReport::default()
        };
        let mut targets: Vec<Target> = self
            .contacts()
            .await?
            .into_iter()
            .map(|c| Target::Contact(c.id))
            .collect();
        targets.extend(
            self.pending()
                .await?
                .into_iter()
                .filter(|p| {
                    matches!(
                        p.state,
                        PendingState::Waiting
                            | PendingState::AwaitingInfo
                            | PendingState::Failed(_)
                    )
                })
                .map(|p| Target::Pending(p.id)),
        );
        for target in targets {
            let written = self.export_to(target, dir, true).await?;
            report.written.extend(written.files);
            report.messages += written.messages;
        }
        Ok(report)
    }

    async fn export_to(
        &self,
        target: Target,
        dir: &Path,
        skip_empty: bool,
    ) -> Result<ExportReport, EngineError> {
        let now = now()?;
        let ctx = self.inner.ctx.clone();
        let (streams, sent) = self
            .inner
            .db
            .call(move |store, rng| ops::export_streams(store, &ctx, target, now, skip_empty, rng))
            .await?;
        let dir = dir.to_owned();
        let written = tokio::task::spawn_blocking(move || {
            streams
                .iter()
                .map(|s| file::write_stream(&dir, s))
                .collect::<io::Result<Vec<_>>>()
        })
        .await
        .map_err(|_| EngineError::Stopped)?;
        match written {
            Ok(files) => Ok(ExportReport {
                files,
                messages: sent.len(),
            }),
            Err(e) => {
                // The stream that carried them was never written: they are due again now.
                if let Target::Contact(c) = target
                    && !sent.is_empty()
                {
                    // Best effort: the write error is the one to report.
                    let _ = self
                        .inner
                        .db
                        .call(move |store, _| Ok(store.make_due(c, &sent)?))
                        .await;
                }
                Err(EngineError::Io(e))
            }
        }
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
        self.import_files(dir, false).await
    }

    /// [`Engine::import`]; with `consume`, each file read whole is removed once what it
    /// carried is stored.
    async fn import_files(&self, dir: &Path, consume: bool) -> Result<ImportReport, EngineError> {
        let dir = dir.to_owned();
        let found = tokio::task::spawn_blocking(move || file::read_streams(&dir))
            .await
            .map_err(|_| EngineError::Stopped)??;
        let mut report = ImportReport::default();
        let mut read_whole = Vec::new();
        let mut todo = Vec::new();
        for f in found {
            match f.contents {
                Ok(bytes) => todo.push((f.path, bytes)),
                Err(reason) => report.rejected.push((f.path, reason.to_string())),
            }
        }
        loop {
            let mut left = Vec::new();
            let mut progress = false;
            for (path, bytes) in todo {
                let ctx = self.inner.ctx.clone();
                let now = now()?;
                let (bytes, outcome) = self
                    .inner
                    .db
                    .call(move |store, rng| {
                        let r = ops::import_stream(store, &ctx, &bytes, now, rng);
                        Ok((bytes, r))
                    })
                    .await?;
                let outcome = match outcome {
                    Ok(o) => o,
                    // The store failing is not this file's fault: stop, so that the
                    // files after it are not used up against a failing store.
                    Err(e @ (EngineError::Stopped | EngineError::Store(_))) => return Err(e),
                    Err(e) => {
                        report
                            .rejected
                            .push((path, format!("could not be read: {e}")));
                        continue;
                    }
                };
                match outcome {
                    ops::Imported::Sync {
                        contact,
                        delivered,
                        events,
                        damage,
                    } => {
                        progress = true;
                        match damage {
                            Some(why) => report.rejected.push((path.clone(), why)),
                            None if consume => read_whole.push(path.clone()),
                            None => {}
                        }
                        report
                            .messages
                            .extend(delivered.into_iter().map(|id| (contact, id)));
                        for e in events {
                            self.inner.publish(e);
                        }
                    }
                    ops::Imported::Handshake {
                        pending,
                        created,
                        damage,
                        failure,
                    } => {
                        match damage {
                            Some(why) => report.rejected.push((path.clone(), why)),
                            None => {
                                report.handshakes += 1;
                                if consume {
                                    read_whole.push(path.clone());
                                }
                            }
                        }
                        if let Some(why) = failure {
                            self.inner.publish(Event::PendingChanged {
                                pending,
                                state: PendingState::Failed(why),
                            });
                        }
                        progress = true;
                        if let Some(c) = created {
                            report.contacts_added.push(c);
                            self.inner.publish(Event::ContactAdded { contact: c });
                            self.inner.publish(Event::PendingChanged {
                                pending,
                                state: PendingState::Completed(c),
                            });
                        }
                    }
                    ops::Imported::Unrecognised => left.push((path, bytes)),
                }
            }
            todo = left;
            if !progress || todo.is_empty() {
                break;
            }
        }
        report.unrecognised = todo.len();
        // What they carried is committed: a file that cannot be removed (a read-only
        // drive) is simply not read again.
        report.removed = tokio::task::spawn_blocking(move || {
            read_whole
                .into_iter()
                .filter(|p| std::fs::remove_file(p).is_ok())
                .collect()
        })
        .await
        .map_err(|_| EngineError::Stopped)?;
        Ok(report)
    }

    /// The transports this engine runs, with their kinds.
    pub fn transports(&self) -> Vec<(TransportId, Kind)> {
        self.inner
            .transports
            .iter()
            .map(|t| (t.id(), t.kind()))
            .collect()
    }

    /// Each running transport's status now (later changes come as
    /// [`Event::TransportStatus`]).
    pub fn transport_status(&self) -> Vec<(TransportId, Status)> {
        self.inner
            .transports
            .iter()
            .map(|t| (t.id(), t.status().borrow().clone()))
            .collect()
    }

    /// The contacts connected now, and over which transports, once each (later changes
    /// come as [`Event::ContactConnected`] and [`Event::ContactDisconnected`]; with
    /// redundant connections, a disconnection may leave the contact connected).
    pub fn connected(&self) -> Vec<(ContactId, TransportId)> {
        let state = self
            .inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        state.connections.keys().cloned().collect()
    }

    /// For each broadcast transport (LAN, BLE) that has looked: how many contacts are
    /// in sight and how many connected over it (later changes come as
    /// [`Event::Nearby`]).
    pub fn nearby(&self) -> Vec<(TransportId, usize, usize)> {
        let state = self
            .inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        state
            .nearby
            .iter()
            .map(|(t, (seen, connected))| (t.clone(), *seen, *connected))
            .collect()
    }

    /// Closes every connection, stops the engine's tasks, and closes the store once the
    /// database jobs already queued are done.
    pub async fn shutdown(self) {
        self.inner.shutdown.send_replace(true);
        let closing: Vec<_> = self
            .inner
            .state()
            .connections
            .values()
            .map(|c| c.close.clone())
            .collect();
        for c in closing {
            c.send_replace(true);
        }
        // Let connections say goodbye (end their streams), then close the store.
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.inner.db.close().await;
    }
}

async fn maintenance(inner: Arc<Inner>) {
    let mut shutdown = inner.shutdown.subscribe();
    let engine = Engine { inner };
    loop {
        tokio::select! {
            _ = tokio::time::sleep(MAINTENANCE_TICK) => {}
            _ = shutdown.changed() => return,
        }
        let _ = engine.maintain().await;
    }
}
