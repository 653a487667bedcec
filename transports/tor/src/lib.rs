//! Thicket's Tor transport (`spec/tor.md`): arti runs inside the process, so no tor
//! daemon is needed, and every byte to a contact goes through Tor.
//!
//! - Each account hosts one onion service for as long as it runs. Its identity key is
//!   made from the account's transport secret (32 random bytes in the encrypted store,
//!   [`thicket_transport::TransportSetup`]) and handed to arti at launch; arti's
//!   keystore is in memory only, so no onion key is ever written to disk. The address
//!   is published to contacts as the `onion` property and stays the same across
//!   restarts.
//! - A pending contact's rendezvous: both sides host an onion service whose key comes
//!   from their rendezvous key (`spec/contacts.md#rendezvous`) and dial the other's.
//! - Connections arrive on virtual port [`PORT`]; any other port closes the circuit.
//! - Status: bootstrap progress while arti starts, then whether our onion service is
//!   published ([`Status::Limited`] until it is).
//!
//! Arti's state (guards, onion-service bookkeeping) and directory cache live in the
//! account's folder ([`TorConfig`]).

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::str::FromStr as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::Duration;

use arti_client::{ErrorKind, HasKind as _, TorClient};
use bramble_proto::crypto::SecretKey;
use bramble_proto::transport::TransportId;
use futures::{Stream, StreamExt as _};
use safelog::DisplayRedacted as _;
use thicket_transport::{
    BoxConnection, BoxFuture, Kind, Peer, RendezvousPoint, Status, Transport, TransportSetup,
};
use tokio::sync::{Semaphore, mpsc, watch};
use tor_cell::relaycell::msg::Connected;
use tor_hscrypto::pk::{HsId, HsIdKey, HsIdKeypair};
use tor_hsservice::{
    OnionServiceConfig, RendRequest, RunningOnionService, StreamRequest, handle_rend_requests,
};
use tor_llcrypto::pk::ed25519;
use tor_proto::stream::IncomingStreamRequest;
use tor_rtcompat::PreferredRuntime;

mod config;

pub use config::{ConfigError, TorConfig};

/// The virtual port of every Thicket onion service.
pub const PORT: u16 = 80;

/// The transport property holding an account's onion address.
pub const PROPERTY: &str = "onion";

/// The longest one attempt to reach a contact's onion service may take (fetching the
/// descriptor, introduction, rendezvous and the stream).
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(90);

/// The longest one attempt to reach a pending contact's rendezvous service may take.
pub const RENDEZVOUS_TIMEOUT: Duration = Duration::from_secs(60);

/// How many incoming streams may be in the middle of being accepted at once.
const MAX_ACCEPTING: usize = 32;

/// How many streams one circuit (one caller) may have open on our services.
const MAX_STREAMS_PER_CIRCUIT: u32 = 4;

/// The nickname of the account's own onion service in arti's state.
const MAIN_NICKNAME: &str = "thicket";

/// The onion service keypair made from a 32-byte seed, as Tor makes one from an ed25519
/// secret key (RFC 8032: the seed's SHA-512, clamped).
fn keypair(seed: &SecretKey) -> HsIdKeypair {
    let kp = ed25519::Keypair::from(seed.expose_secret());
    HsIdKeypair::from(ed25519::ExpandedKeypair::from(&kp))
}

fn hsid(seed: &SecretKey) -> HsId {
    HsIdKey::from(&keypair(seed)).id()
}

/// The onion address (`<56 base32 characters>.onion`) of the service whose key comes
/// from `seed`.
pub fn onion_address(seed: &SecretKey) -> String {
    hsid(seed).display_unredacted().to_string()
}

/// Builds the Tor transport from the account's secret ([`TransportSetup`]).
#[derive(Clone, Debug)]
pub struct TorSetup {
    config: TorConfig,
}

impl TorSetup {
    /// A setup with this configuration.
    pub fn new(config: TorConfig) -> TorSetup {
        TorSetup { config }
    }
}

impl TransportSetup for TorSetup {
    fn id(&self) -> TransportId {
        TransportId::TOR
    }

    fn build(self: Box<Self>, secret: &SecretKey) -> io::Result<Arc<dyn Transport>> {
        Ok(Arc::new(TorTransport::new(self.config, secret)?))
    }
}

#[derive(Default)]
struct Services {
    main: Option<Arc<RunningOnionService>>,
    /// Rendezvous services by point id, with the nickname they run under.
    rendezvous: HashMap<u64, (String, Arc<RunningOnionService>)>,
    /// Nicknames are never reused within a process: arti's in-memory keystore keeps the
    /// key of a stopped service.
    launched: u64,
}

struct Inner {
    config: TorConfig,
    identity: SecretKey,
    /// Our service's identity, and its address.
    own: HsId,
    onion: String,
    /// Set once arti runs and our service is launched.
    client: OnceLock<Arc<TorClient<PreferredRuntime>>>,
    incoming: OnceLock<mpsc::Sender<BoxConnection>>,
    /// One start at a time.
    starting: tokio::sync::Mutex<()>,
    /// One rendezvous launch at a time, so that a point's service is launched once.
    launching: tokio::sync::Mutex<()>,
    services: Mutex<Services>,
    status: watch::Sender<Status>,
    /// Why bootstrapping failed last, until it succeeds.
    boot_error: Mutex<Option<String>>,
    accepting: Arc<Semaphore>,
    /// A stream reached our own service since it last broke.
    reached: Arc<AtomicBool>,
}

/// The Tor transport. Cheap to clone.
#[derive(Clone)]
pub struct TorTransport {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TorTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TorTransport").finish_non_exhaustive()
    }
}

fn other(what: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("{what}: {e}"))
}

impl TorTransport {
    /// A transport whose onion service key comes from `secret`. Touches no network and
    /// no file until [`Transport::start`].
    ///
    /// # Errors
    /// The configuration is refused.
    pub fn new(config: TorConfig, secret: &SecretKey) -> io::Result<TorTransport> {
        // Checked here so that a bad configuration fails before anything starts.
        config
            .build()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        Ok(TorTransport {
            inner: Arc::new(Inner {
                own: hsid(secret),
                onion: onion_address(secret),
                identity: secret.clone(),
                config,
                client: OnceLock::new(),
                incoming: OnceLock::new(),
                starting: tokio::sync::Mutex::new(()),
                launching: tokio::sync::Mutex::new(()),
                services: Mutex::new(Services::default()),
                status: watch::channel(Status::Stopped).0,
                boot_error: Mutex::new(None),
                accepting: Arc::new(Semaphore::new(MAX_ACCEPTING)),
                reached: Arc::new(AtomicBool::new(false)),
            }),
        })
    }

    /// Our onion address.
    pub fn onion_address(&self) -> &str {
        &self.inner.onion
    }

    /// The arti client once started, for measurements against raw arti (the
    /// `thicket` Tor benchmark) and diagnostics.
    pub fn tor_client(&self) -> Option<Arc<TorClient<PreferredRuntime>>> {
        self.inner.client.get().cloned()
    }

    fn client(&self) -> io::Result<Arc<TorClient<PreferredRuntime>>> {
        self.inner
            .client
            .get()
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "Tor is not started"))
    }

    fn services(&self) -> std::sync::MutexGuard<'_, Services> {
        self.inner
            .services
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Launches an onion service on `client` with the key from `seed` and hands its
    /// streams to `incoming`.
    fn launch(
        &self,
        client: &TorClient<PreferredRuntime>,
        incoming: mpsc::Sender<BoxConnection>,
        nickname: &str,
        seed: &SecretKey,
    ) -> io::Result<Arc<RunningOnionService>> {
        let config = service_config(nickname)?;
        let (service, requests) = client
            .launch_onion_service_with_hsid(config, keypair(seed))
            .map_err(|e| other("cannot launch an onion service", e))?
            .ok_or_else(|| io::Error::other("the onion service is disabled"))?;
        let reached = (nickname == MAIN_NICKNAME).then(|| self.inner.reached.clone());
        tokio::spawn(serve(
            requests,
            incoming,
            self.inner.accepting.clone(),
            reached,
        ));
        Ok(service)
    }

    /// Starts arti and our service; on success (only), the transport counts as started.
    async fn start_once(&self, incoming: mpsc::Sender<BoxConnection>) -> io::Result<()> {
        // Arti's TLS needs a process-wide provider; another one already installed is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = self
            .inner
            .config
            .build()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let (state, cache) = (self.inner.config.state_dir(), self.inner.config.cache_dir());
        // Arti's client opens its state and directory cache from disk: off the runtime.
        let client = tokio::task::spawn_blocking(move || {
            create_private_dir(&state)?;
            create_private_dir(&cache)?;
            clear_service_records(&state)?;
            TorClient::builder()
                .config(config)
                .create_unbootstrapped()
                .map_err(|e| other("arti", e))
        })
        .await
        .map_err(|e| other("interrupted", e))??;
        self.inner.status.send_replace(Status::Starting {
            percent: 0,
            detail: String::from("connecting to the Tor network"),
        });
        let main = self.launch(
            &client,
            incoming.clone(),
            MAIN_NICKNAME,
            &self.inner.identity,
        )?;
        self.services().main = Some(main.clone());
        // Both are unset (the start lock is held and they are set only here).
        let _ = self.inner.client.set(client.clone());
        let _ = self.inner.incoming.set(incoming);
        tokio::spawn(watch_status(
            Arc::downgrade(&self.inner),
            client.clone(),
            main,
        ));
        tokio::spawn(bootstrap(client, Arc::downgrade(&self.inner)));
        Ok(())
    }

    /// Connects to the onion service `hsid` on [`PORT`] within `timeout`.
    async fn connect(&self, hsid: HsId, timeout: Duration) -> io::Result<BoxConnection> {
        let client = self.client()?;
        let address = hsid.display_unredacted().to_string();
        match tokio::time::timeout(timeout, client.connect((address.as_str(), PORT))).await {
            Ok(Ok(stream)) => Ok(Box::new(stream)),
            // The address is the contact's: it stays out of the message.
            Ok(Err(e)) => Err(io::Error::new(kind_of(e.kind()), describe(e.kind()))),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the onion service did not answer in time",
            )),
        }
    }
}

fn kind_of(kind: ErrorKind) -> io::ErrorKind {
    match kind {
        ErrorKind::OnionServiceNotFound | ErrorKind::OnionServiceNotRunning => {
            io::ErrorKind::NotFound
        }
        ErrorKind::OnionServiceConnectionFailed | ErrorKind::RemoteStreamReset => {
            io::ErrorKind::ConnectionRefused
        }
        ErrorKind::TorNetworkTimeout | ErrorKind::RemoteNetworkTimeout => io::ErrorKind::TimedOut,
        ErrorKind::OnionServiceAddressInvalid | ErrorKind::InvalidStreamTarget => {
            io::ErrorKind::InvalidInput
        }
        _ => io::ErrorKind::Other,
    }
}

fn describe(kind: ErrorKind) -> String {
    match kind {
        ErrorKind::OnionServiceNotFound => {
            String::from("the onion service is not published (offline?)")
        }
        ErrorKind::OnionServiceNotRunning => String::from("the onion service is not running"),
        ErrorKind::OnionServiceConnectionFailed => {
            String::from("could not reach the onion service's introduction points")
        }
        kind => format!("Tor: {kind}"),
    }
}

/// Whether a failed rendezvous dial means only that the peer is not there (yet).
fn peer_absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused | io::ErrorKind::TimedOut
    )
}

fn service_config(nickname: &str) -> io::Result<OnionServiceConfig> {
    let nickname = nickname
        .parse()
        .map_err(|e| other("bad onion service nickname", e))?;
    tor_hsservice::config::OnionServiceConfigBuilder::default()
        .nickname(nickname)
        .max_concurrent_streams_per_circuit(MAX_STREAMS_PER_CIRCUIT)
        .build()
        .map_err(|e| other("bad onion service configuration", e))
}

/// Accepts the streams to [`PORT`] of one service and hands them to the engine; a
/// stream to any other port closes its circuit.
async fn serve(
    requests: impl Stream<Item = RendRequest> + Send + 'static,
    incoming: mpsc::Sender<BoxConnection>,
    accepting: Arc<Semaphore>,
    reached: Option<Arc<AtomicBool>>,
) {
    let streams = handle_rend_requests(requests);
    let mut streams = std::pin::pin!(streams);
    while let Some(request) = streams.next().await {
        let Ok(permit) = accepting.clone().try_acquire_owned() else {
            // Too many half-open streams: this one goes.
            let _ = request.shutdown_circuit();
            continue;
        };
        let (incoming, reached) = (incoming.clone(), reached.clone());
        tokio::spawn(async move {
            let _permit = permit;
            if let Some(stream) = accept(request).await {
                if let Some(r) = reached {
                    r.store(true, Ordering::Relaxed);
                }
                let _ = incoming.send(Box::new(stream)).await;
            }
        });
    }
}

async fn accept(request: StreamRequest) -> Option<arti_client::DataStream> {
    match request.request() {
        IncomingStreamRequest::Begin(begin) if begin.port() == PORT => {
            request.accept(Connected::new_empty()).await.ok()
        }
        _ => {
            let _ = request.shutdown_circuit();
            None
        }
    }
}

/// What the user is told while arti bootstraps and our service publishes.
fn status_of(
    boot: &arti_client::status::BootstrapStatus,
    service: Option<&tor_hsservice::status::OnionServiceStatus>,
    reached: bool,
    boot_error: Option<String>,
) -> Status {
    use tor_hsservice::status::State;
    if !boot.ready_for_traffic() {
        if let Some(why) = boot_error {
            return Status::Down(why);
        }
        let frac = boot.as_frac().clamp(0.0, 1.0);
        // In 0..=100 after the clamp.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let percent = (frac * 100.0).round() as u8;
        let detail = match boot.blocked() {
            Some(b) => format!("stuck: {b}"),
            None => String::from("connecting to the Tor network"),
        };
        return Status::Starting { percent, detail };
    }
    let Some(service) = service else {
        return Status::Limited(String::from("starting our onion service"));
    };
    match service.state() {
        State::Broken => Status::Limited(format!(
            "our onion service failed{}",
            problem(service.current_problem())
        )),
        State::Running | State::DegradedReachable => Status::Up,
        // Arti's status lags on small networks; a stream that reached us settles it.
        _ if reached => Status::Up,
        State::Bootstrapping => Status::Limited(String::from("publishing our onion service")),
        _ => Status::Limited(format!(
            "contacts may not reach us yet{}",
            problem(service.current_problem())
        )),
    }
}

/// What went wrong with our service, in words (arti's errors name relays).
fn problem(p: Option<&tor_hsservice::status::Problem>) -> &'static str {
    use tor_hsservice::status::Problem;
    match p {
        None => "",
        Some(Problem::DescriptorUpload(_)) => ": publishing its descriptor failed",
        Some(Problem::Ipt(_)) => ": setting up introduction points failed",
        Some(Problem::Runtime(_)) => ": arti failed",
        Some(_) => ": arti reports a problem",
    }
}

/// Removes arti's records of earlier runs' onion services: their intro-point keys were
/// in memory only, so the records are stale, and rendezvous records say who we were
/// meeting.
fn clear_service_records(state_dir: &std::path::Path) -> io::Result<()> {
    let hss = state_dir.join("hss");
    match std::fs::remove_dir_all(&hss) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(other("cannot clear Tor's onion service records", e)),
    }
}

fn create_private_dir(path: &std::path::Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
}

impl Transport for TorTransport {
    fn id(&self) -> TransportId {
        TransportId::TOR
    }

    fn max_latency(&self) -> Duration {
        TransportId::TOR
            .spec_max_latency()
            .unwrap_or(Duration::from_secs(60))
    }

    fn kind(&self) -> Kind {
        Kind::Duplex
    }

    fn start(&self, incoming: mpsc::Sender<BoxConnection>) -> BoxFuture<'_, io::Result<()>> {
        Box::pin(async move {
            let _one = self.inner.starting.lock().await;
            if self.inner.client.get().is_some() {
                return Ok(());
            }
            let started = self.start_once(incoming).await;
            if let Err(e) = &started {
                self.inner
                    .status
                    .send_replace(Status::Down(format!("Tor did not start: {e}")));
            }
            started
        })
    }

    fn local_properties(&self) -> BTreeMap<String, String> {
        BTreeMap::from([(String::from(PROPERTY), self.inner.onion.clone())])
    }

    fn dial<'a>(&'a self, target: &'a Peer) -> BoxFuture<'a, io::Result<BoxConnection>> {
        Box::pin(async move {
            let address = target.properties.get(PROPERTY).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the contact has no onion address",
                )
            })?;
            // 56 base32 characters and `.onion`: arti's parser would take a longer one.
            let hsid = (address.len() == 62)
                .then(|| HsId::from_str(address).ok())
                .flatten()
                .ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "the contact's onion address is not valid",
                    )
                })?;
            if hsid == self.inner.own {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the contact's onion address is ours",
                ));
            }
            self.connect(hsid, DIAL_TIMEOUT).await
        })
    }

    fn rendezvous<'a>(
        &'a self,
        point: &'a RendezvousPoint,
    ) -> BoxFuture<'a, io::Result<Option<BoxConnection>>> {
        Box::pin(async move {
            let client = self.client()?;
            {
                // Checked and launched under one lock: a point's service is launched once.
                let _one = self.inner.launching.lock().await;
                if !self.services().rendezvous.contains_key(&point.id) {
                    let incoming = self.inner.incoming.get().cloned().ok_or_else(|| {
                        io::Error::new(io::ErrorKind::NotConnected, "Tor is not started")
                    })?;
                    let nickname = {
                        let mut services = self.services();
                        services.launched += 1;
                        format!("rendezvous-{}", services.launched)
                    };
                    let service =
                        self.launch(&client, incoming, &nickname, &point.our_onion_seed)?;
                    self.services()
                        .rendezvous
                        .insert(point.id, (nickname, service));
                }
            }
            match self
                .connect(hsid(&point.their_onion_seed), RENDEZVOUS_TIMEOUT)
                .await
            {
                Ok(conn) => Ok(Some(conn)),
                Err(e) if peer_absent(&e) => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    fn end_rendezvous(&self, id: u64) {
        let ended = self.services().rendezvous.remove(&id);
        if let Some((nickname, service)) = ended {
            drop(service);
            // Its records (and lock) go once arti has let go of them; at the latest, at
            // the next start.
            let hss = self.inner.config.state_dir().join("hss");
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    tokio::time::sleep(Duration::from_secs(10)).await;
                    let _ = tokio::task::spawn_blocking(move || {
                        let _ = std::fs::remove_dir_all(hss.join(&nickname));
                        let _ = std::fs::remove_file(hss.join(format!("{nickname}.lock")));
                    })
                    .await;
                });
            }
        }
    }

    fn status(&self) -> watch::Receiver<Status> {
        self.inner.status.subscribe()
    }
}

/// Bootstraps, and retries while arti gives up; the reason shows as [`Status::Down`]
/// until it works.
async fn bootstrap(client: Arc<TorClient<PreferredRuntime>>, inner: Weak<Inner>) {
    loop {
        let result = client.bootstrap().await;
        let done = result.is_ok();
        {
            let Some(inner) = inner.upgrade() else { return };
            *inner
                .boot_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = result
                .err()
                .map(|e| format!("cannot reach the Tor network: {e}"));
        }
        if done {
            return;
        }
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
}

/// Follows bootstrap and our service's state into the transport's status, for as long
/// as the transport exists.
async fn watch_status(
    inner: Weak<Inner>,
    client: Arc<TorClient<PreferredRuntime>>,
    main: Arc<RunningOnionService>,
) {
    let mut boot_events = client.bootstrap_events();
    let mut service_events = main.status_events();
    let mut boot = client.bootstrap_status();
    let mut service = main.status();
    // Reachability by a contact and bootstrap errors are not events of their own: look
    // again now and then.
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        {
            let Some(inner) = inner.upgrade() else { return };
            if service.state() == tor_hsservice::status::State::Broken {
                inner.reached.store(false, Ordering::Relaxed);
            }
            let down = inner
                .boot_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            let now = status_of(
                &boot,
                Some(&service),
                inner.reached.load(Ordering::Relaxed),
                down,
            );
            inner.status.send_if_modified(|s| {
                let changed = *s != now;
                *s = now;
                changed
            });
        }
        tokio::select! {
            b = boot_events.next() => match b {
                Some(b) => boot = b,
                None => return,
            },
            s = service_events.next() => match s {
                Some(s) => service = s,
                None => return,
            },
            _ = tick.tick() => {}
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn the_address_is_a_valid_v3_onion_of_the_seed() {
        let seed = SecretKey::from_bytes([7; 32]);
        let address = onion_address(&seed);
        assert_eq!(address.len(), 62);
        assert!(address.ends_with("d.onion"), "version 3: {address}");
        let parsed = HsId::from_str(&address).unwrap();
        assert_eq!(parsed, hsid(&seed));
        assert_ne!(onion_address(&SecretKey::from_bytes([8; 32])), address);
    }

    #[test]
    fn properties_carry_the_address_and_nothing_is_started() {
        let dir = tempfile::tempdir().unwrap();
        let seed = SecretKey::from_bytes([1; 32]);
        let t = TorTransport::new(TorConfig::new(&dir.path().join("tor")), &seed).unwrap();
        assert_eq!(
            t.local_properties(),
            BTreeMap::from([(String::from("onion"), onion_address(&seed))])
        );
        assert_eq!(*t.status().borrow(), Status::Stopped);
        assert!(!dir.path().join("tor").exists(), "no file before start");
    }

    #[tokio::test]
    async fn dialing_before_start_or_a_bad_address_fails_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let t = TorTransport::new(
            TorConfig::new(&dir.path().join("tor")),
            &SecretKey::from_bytes([1; 32]),
        )
        .unwrap();
        let none = BTreeMap::new();
        let e = t.dial(&Peer::at(none)).await.err().unwrap();
        assert!(e.to_string().contains("no onion address"), "{e}");
        let bad = BTreeMap::from([(String::from("onion"), String::from("example.onion"))]);
        let e = t.dial(&Peer::at(bad)).await.err().unwrap();
        assert!(e.to_string().contains("not valid"), "{e}");
        let good = BTreeMap::from([(
            String::from("onion"),
            onion_address(&SecretKey::from_bytes([2; 32])),
        )]);
        let e = t.dial(&Peer::at(good)).await.err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::NotConnected, "{e}");
    }
}
