//! The transport: listening, announcing, finding and dialing (the crate's docs say how).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bramble_proto::crypto::SecretKey;
use bramble_proto::stream::Role;
use bramble_proto::time::{Period, PeriodLength, Timestamp};
use bramble_proto::transport::{BEACON_LEN, Beacon, TransportId};
use mdns_sd::{IfKind, ServiceDaemon, ServiceEvent, ServiceInfo};
use thicket_transport::{
    BoxConnection, BoxFuture, Kind, Peer, RendezvousPoint, Status, Transport, TransportSetup,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use crate::SERVICE_TYPE;
use crate::names::{self, PROPERTY_ADDRESSES, PROPERTY_PORT_KEY};

/// The most connections one remote address may hold open to us at once.
pub const MAX_PER_PEER: usize = 4;
/// The most incoming connections open at once.
pub const MAX_INCOMING: usize = 64;
/// How long one connection attempt may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The most addresses one dial tries.
pub const MAX_CANDIDATES: usize = 12;
/// The most sightings kept: a flood of names pushes out the oldest.
pub const MAX_SIGHTINGS: usize = 1024;
/// How often the period, the interfaces and the announced names are checked.
const TICK: Duration = Duration::from_secs(5);

/// Which interfaces the transport uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Interfaces {
    /// Every interface with an IPv4 address but loopback. (mDNS on loopback as well
    /// as a network interface makes the mDNS library see its own looped-back answers
    /// as a conflict and rename our host.)
    #[default]
    All,
    /// Only these, by name (`lo` for tests on one machine).
    Only(Vec<String>),
}

/// How the LAN transport runs.
#[derive(Clone, Debug, Default)]
pub struct LanConfig {
    interfaces: Interfaces,
}

impl LanConfig {
    /// Every interface.
    pub fn new() -> LanConfig {
        LanConfig::default()
    }

    /// Only the named interfaces.
    #[must_use]
    pub fn with_interfaces(mut self, interfaces: Interfaces) -> LanConfig {
        self.interfaces = interfaces;
        self
    }
}

/// Builds the LAN transport from its secret (the seed of its port key).
#[derive(Debug)]
pub struct LanSetup {
    config: LanConfig,
}

impl LanSetup {
    /// The setup for `config`.
    pub fn new(config: LanConfig) -> LanSetup {
        LanSetup { config }
    }
}

impl TransportSetup for LanSetup {
    fn id(&self) -> TransportId {
        TransportId::LAN
    }

    fn build(self: Box<Self>, secret: &SecretKey) -> io::Result<Arc<dyn Transport>> {
        Ok(Arc::new(LanTransport::new(self.config, secret)?))
    }
}

/// Where a beacon was seen.
#[derive(Clone, Debug)]
struct Sighting {
    addresses: Vec<SocketAddrV4>,
    /// When this beacon, at these addresses, was first seen.
    first: Instant,
    /// When it was last confirmed.
    last: Instant,
}

/// The announced names of one period.
#[derive(Default)]
struct Announced {
    period: Option<Period>,
    port: u16,
    /// The addresses the instances point at (given explicitly: the mDNS library's own
    /// choice mixes loopback in, which it then takes for a conflict).
    addresses: Vec<Ipv4Addr>,
    /// Registered instances by beacon, with their full names.
    registered: BTreeMap<Beacon, String>,
    pads: Vec<Beacon>,
}

#[derive(Default)]
struct State {
    daemon: Option<ServiceDaemon>,
    listener: Option<tokio::task::AbortHandle>,
    incoming: Option<mpsc::Sender<BoxConnection>>,
    /// Contacts' beacons, from the engine.
    contacts: BTreeSet<Beacon>,
    /// Our rendezvous labels (where we are Alice), by point.
    rendezvous: HashMap<u64, Beacon>,
    announced: Announced,
    sightings: HashMap<Beacon, Sighting>,
    /// Open incoming connections per remote address.
    per_peer: HashMap<IpAddr, usize>,
}

struct Inner {
    config: LanConfig,
    port_key: SecretKey,
    period_length: PeriodLength,
    status: watch::Sender<Status>,
    state: Mutex<State>,
    start: tokio::sync::Mutex<bool>,
}

impl Inner {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let Some(l) = state.listener.take() {
            l.abort();
        }
        if let Some(daemon) = state.daemon.take() {
            // Goodbyes, so that neighbours forget our names now rather than in 75 minutes.
            for name in state.announced.registered.values() {
                let _ = daemon.unregister(name);
            }
            let _ = daemon.shutdown();
        }
    }
}

/// The LAN transport. A cheap handle.
#[derive(Clone)]
pub struct LanTransport {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for LanTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LanTransport").finish_non_exhaustive()
    }
}

fn unix_now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Timestamp::from_millis(ms).unwrap_or(Timestamp::MAX)
}

fn random<const N: usize>() -> io::Result<[u8; N]> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|e| io::Error::other(format!("no randomness: {e}")))?;
    Ok(out)
}

fn mdns_error(e: mdns_sd::Error) -> io::Error {
    io::Error::other(format!("mDNS: {e}"))
}

/// Our IPv4 addresses on the interfaces in use, loopback left out (what we publish).
fn local_addresses(interfaces: &Interfaces) -> Vec<Ipv4Addr> {
    addresses(interfaces, false)
}

/// The IPv4 addresses mDNS announces: those of [`local_addresses`], and with
/// [`Interfaces::Only`] loopback too (tests on one machine).
fn announced_addresses(interfaces: &Interfaces) -> Vec<Ipv4Addr> {
    addresses(interfaces, matches!(interfaces, Interfaces::Only(_)))
}

fn addresses(interfaces: &Interfaces, loopback: bool) -> Vec<Ipv4Addr> {
    let Ok(all) = if_addrs::get_if_addrs() else {
        return Vec::new();
    };
    let mut out: Vec<Ipv4Addr> = all
        .into_iter()
        .filter(|i| match interfaces {
            Interfaces::All => true,
            Interfaces::Only(names) => names.contains(&i.name),
        })
        .filter_map(|i| match i.ip() {
            IpAddr::V4(a) if (loopback || !a.is_loopback()) && !a.is_link_local() => Some(a),
            _ => None,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Whether an address from the network may be dialled.
fn dialable(a: &SocketAddrV4) -> bool {
    let ip = a.ip();
    a.port() != 0 && !ip.is_unspecified() && !ip.is_multicast() && !ip.is_broadcast()
}

impl LanTransport {
    /// The transport for `config`, with its port key derived from `secret`. Touches
    /// nothing until [`Transport::start`].
    ///
    /// # Errors
    /// None today; kept for configurations that can be refused.
    pub fn new(config: LanConfig, secret: &SecretKey) -> io::Result<LanTransport> {
        let max_latency = TransportId::LAN
            .spec_max_latency()
            .ok_or_else(|| io::Error::other("no latency for the LAN transport"))?;
        let period_length = PeriodLength::for_max_latency(max_latency)
            .map_err(|_| io::Error::other("bad LAN period"))?;
        Ok(LanTransport {
            inner: Arc::new(Inner {
                config,
                port_key: names::port_key(secret),
                period_length,
                status: watch::channel(Status::Stopped).0,
                state: Mutex::new(State::default()),
                start: tokio::sync::Mutex::new(false),
            }),
        })
    }

    /// The port we listen on now (0 before start).
    pub fn port(&self) -> u16 {
        self.inner.state().announced.port
    }

    /// The instance names we announce now, for tests and diagnostics.
    pub fn announced(&self) -> Vec<String> {
        self.inner
            .state()
            .announced
            .registered
            .keys()
            .map(names::instance_name)
            .collect()
    }
}

/// Binds our port of `period`, or any port if it is taken.
async fn bind(port_key: &SecretKey, period: Period) -> io::Result<TcpListener> {
    let wanted = names::port(port_key, period);
    match TcpListener::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, wanted)).await {
        Ok(l) => Ok(l),
        Err(e) => {
            tracing::info!("LAN port of this period is taken ({e}); another one instead");
            TcpListener::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)).await
        }
    }
}

/// An incoming connection, counted against its peer's limit while open.
struct Counted {
    stream: TcpStream,
    peer: IpAddr,
    inner: Weak<Inner>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.upgrade() {
            let mut state = inner.state();
            if let Some(n) = state.per_peer.get_mut(&self.peer) {
                *n -= 1;
                if *n == 0 {
                    state.per_peer.remove(&self.peer);
                }
            }
        }
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Accepts connections until aborted, within the limits.
async fn accept(listener: TcpListener, inner: Weak<Inner>, incoming: mpsc::Sender<BoxConnection>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!("LAN accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let admitted = {
            let mut state = strong.state();
            let total: usize = state.per_peer.values().sum();
            let mine = state.per_peer.entry(peer.ip()).or_insert(0);
            if *mine >= MAX_PER_PEER || total >= MAX_INCOMING {
                false
            } else {
                *mine += 1;
                true
            }
        };
        drop(strong);
        if !admitted {
            // Closed at once, without a byte.
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let conn = Counted {
            stream,
            peer: peer.ip(),
            inner: inner.clone(),
        };
        if incoming.try_send(Box::new(conn)).is_err() {
            tracing::debug!("LAN: the engine is not keeping up; connection dropped");
        }
    }
}

/// Applies the wanted names to mDNS: withdraws the gone ones, registers the new ones.
/// Called with the state locked; the daemon's calls only queue commands.
fn apply(state: &mut State) {
    let mut wanted: BTreeSet<Beacon> = state.contacts.clone();
    wanted.extend(state.rendezvous.values().copied());
    let (all, pads) = names::padded(&wanted, &state.announced.pads, || {
        Beacon(random::<BEACON_LEN>().unwrap_or_default())
    });
    state.announced.pads = pads;
    let Some(daemon) = state.daemon.as_ref() else {
        return;
    };
    if state.announced.port == 0 || state.announced.addresses.is_empty() {
        return;
    }
    let (gone, new) = names::diff(&state.announced.registered, &all);
    for b in gone {
        if let Some(full) = state.announced.registered.remove(&b) {
            let _ = daemon.unregister(&full);
        }
    }
    let addresses: Vec<IpAddr> = state
        .announced
        .addresses
        .iter()
        .map(|a| IpAddr::V4(*a))
        .collect();
    let empty: &[(&str, &str)] = &[];
    for b in new {
        let instance = names::instance_name(&b);
        // A host name of its own: withdrawing one instance withdraws its host's address
        // records too, which must not take the other instances' with them.
        let Ok(host) = random().map(names::host_name) else {
            continue;
        };
        match ServiceInfo::new(
            SERVICE_TYPE,
            &instance,
            &host,
            &addresses[..],
            state.announced.port,
            empty,
        ) {
            Ok(info) => {
                let full = info.get_fullname().to_owned();
                match daemon.register(info) {
                    Ok(()) => {
                        state.announced.registered.insert(b, full);
                    }
                    Err(e) => tracing::debug!("mDNS register: {e}"),
                }
            }
            Err(e) => tracing::debug!("mDNS name: {e}"),
        }
    }
}

/// Moves to `period`: a new port and pads; every name registered again.
async fn enter_period(inner: &Arc<Inner>, period: Period) -> io::Result<()> {
    let listener = bind(&inner.port_key, period).await?;
    let port = listener.local_addr()?.port();
    let mut state = inner.state();
    let Some(incoming) = state.incoming.clone() else {
        return Ok(());
    };
    let task = tokio::spawn(accept(listener, Arc::downgrade(inner), incoming));
    if let Some(old) = state.listener.replace(task.abort_handle()) {
        old.abort();
    }
    if let Some(daemon) = state.daemon.as_ref() {
        for full in state.announced.registered.values() {
            let _ = daemon.unregister(full);
        }
    }
    state.announced = Announced {
        period: Some(period),
        port,
        addresses: announced_addresses(&inner.config.interfaces),
        registered: BTreeMap::new(),
        pads: Vec::new(),
    };
    apply(&mut state);
    Ok(())
}

/// Points every name at our current addresses, when they changed (a new network, a
/// new DHCP lease): all are withdrawn and registered again.
fn follow_addresses(state: &mut State, addresses: Vec<Ipv4Addr>) {
    if state.announced.addresses == addresses {
        return;
    }
    if let Some(daemon) = state.daemon.as_ref() {
        for full in state.announced.registered.values() {
            let _ = daemon.unregister(full);
        }
    }
    state.announced.registered.clear();
    state.announced.addresses = addresses;
    apply(state);
}

/// Every [`TICK`]: a new period moves the port and names; the status follows the
/// interfaces.
async fn tick(inner: Weak<Inner>) {
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let period = strong.period_length.period_of(unix_now());
        let current = strong.state().announced.period;
        // A failed move is tried again at the next tick (the period stays unentered).
        let listening = if current == Some(period) {
            Ok(())
        } else {
            enter_period(&strong, period).await
        };
        let announced = announced_addresses(&strong.config.interfaces);
        follow_addresses(&mut strong.state(), announced);
        let status = match listening {
            Err(e) => Status::Down(format!("cannot listen: {e}")),
            Ok(()) if local_addresses(&strong.config.interfaces).is_empty() => {
                Status::Limited(String::from("not connected to a local network"))
            }
            Ok(()) => Status::Up,
        };
        strong.status.send_if_modified(|s| {
            let changed = *s != status;
            if changed {
                *s = status;
            }
            changed
        });
        drop(strong);
        tokio::time::sleep(TICK).await;
    }
}

/// The IPv4 addresses an mDNS record points at.
fn addresses_of(info: &mdns_sd::ResolvedService) -> Vec<SocketAddrV4> {
    let port = info.get_port();
    let mut out: Vec<SocketAddrV4> = info
        .get_addresses_v4()
        .into_iter()
        .map(|ip| SocketAddrV4::new(ip, port))
        .filter(dialable)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Records what browsing finds.
async fn browse(inner: Weak<Inner>, events: mdns_sd::Receiver<ServiceEvent>) {
    while let Ok(event) = events.recv_async().await {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let mut state = strong.state();
        match event {
            ServiceEvent::ServiceResolved(info) => {
                let Some(beacon) = names::parse_fullname(info.get_fullname()) else {
                    continue;
                };
                if state.announced.registered.contains_key(&beacon) {
                    // Our own, heard back.
                    continue;
                }
                let addresses = addresses_of(&info);
                if addresses.is_empty() {
                    continue;
                }
                let now = Instant::now();
                match state.sightings.get_mut(&beacon) {
                    Some(s) if s.addresses == addresses => s.last = now,
                    _ => {
                        if state.sightings.len() >= MAX_SIGHTINGS
                            && !state.sightings.contains_key(&beacon)
                            && let Some(oldest) = state
                                .sightings
                                .iter()
                                .min_by_key(|(_, s)| s.last)
                                .map(|(b, _)| *b)
                        {
                            state.sightings.remove(&oldest);
                        }
                        state.sightings.insert(
                            beacon,
                            Sighting {
                                addresses,
                                first: now,
                                last: now,
                            },
                        );
                    }
                }
            }
            ServiceEvent::ServiceRemoved(_, fullname) => {
                if let Some(beacon) = names::parse_fullname(&fullname) {
                    state.sightings.remove(&beacon);
                }
            }
            _ => {}
        }
    }
}

impl LanTransport {
    async fn start_once(&self, incoming: mpsc::Sender<BoxConnection>) -> io::Result<()> {
        let inner = &self.inner;
        inner.status.send_replace(Status::Starting {
            percent: 0,
            detail: String::from("starting mDNS"),
        });
        let daemon = ServiceDaemon::new().map_err(mdns_error)?;
        // IPv6 addresses may embed the MAC (EUI-64): never announced, never browsed.
        daemon.disable_interface(IfKind::IPv6).map_err(mdns_error)?;
        if let Interfaces::Only(names) = &inner.config.interfaces {
            daemon.disable_interface(IfKind::All).map_err(mdns_error)?;
            for n in names {
                daemon
                    .enable_interface(IfKind::Name(n.clone()))
                    .map_err(mdns_error)?;
            }
            daemon.disable_interface(IfKind::IPv6).map_err(mdns_error)?;
        }
        let events = daemon.browse(SERVICE_TYPE).map_err(mdns_error)?;
        {
            let mut state = inner.state();
            state.daemon = Some(daemon);
            state.incoming = Some(incoming);
        }
        let period = inner.period_length.period_of(unix_now());
        enter_period(inner, period).await?;
        tokio::spawn(browse(Arc::downgrade(inner), events));
        tokio::spawn(tick(Arc::downgrade(inner)));
        Ok(())
    }

    /// Where to try `target`: where its beacons were seen (most recent first), then
    /// its published addresses on the ports of the periods around ours.
    fn candidates(&self, target: &Peer) -> Vec<SocketAddrV4> {
        let mut out: Vec<SocketAddrV4> = Vec::new();
        {
            let state = self.inner.state();
            let mut seen: Vec<&Sighting> = target
                .beacons
                .iter()
                .filter_map(|b| state.sightings.get(b))
                .collect();
            seen.sort_by_key(|s| std::cmp::Reverse(s.last));
            for s in seen {
                out.extend(s.addresses.iter().copied());
            }
        }
        let period = self.inner.period_length.period_of(unix_now());
        out.extend(names::published_addresses(&target.properties, period));
        let mut unique = Vec::with_capacity(out.len());
        for a in out.into_iter().filter(dialable) {
            if !unique.contains(&a) {
                unique.push(a);
            }
        }
        unique.truncate(MAX_CANDIDATES);
        unique
    }
}

/// Tries each address in turn.
async fn connect(candidates: &[SocketAddrV4]) -> io::Result<BoxConnection> {
    if candidates.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "the contact is not in sight on the local network",
        ));
    }
    let mut last = None;
    for a in candidates {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(SocketAddr::V4(*a))).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok(Box::new(stream));
            }
            Ok(Err(e)) => last = Some(e),
            Err(_) => last = Some(io::Error::new(io::ErrorKind::TimedOut, "timed out")),
        }
    }
    let why = last.map_or_else(String::new, |e| format!(" ({e})"));
    Err(io::Error::new(
        io::ErrorKind::ConnectionRefused,
        format!("could not reach the contact on the local network{why}"),
    ))
}

impl Transport for LanTransport {
    fn id(&self) -> TransportId {
        TransportId::LAN
    }

    fn max_latency(&self) -> Duration {
        TransportId::LAN
            .spec_max_latency()
            .unwrap_or(Duration::from_secs(30))
    }

    fn kind(&self) -> Kind {
        Kind::Duplex
    }

    fn start(&self, incoming: mpsc::Sender<BoxConnection>) -> BoxFuture<'_, io::Result<()>> {
        Box::pin(async move {
            let mut started = self.inner.start.lock().await;
            if *started {
                return Ok(());
            }
            match self.start_once(incoming).await {
                Ok(()) => {
                    *started = true;
                    Ok(())
                }
                Err(e) => {
                    self.inner
                        .status
                        .send_replace(Status::Down(format!("cannot start: {e}")));
                    let mut state = self.inner.state();
                    if let Some(d) = state.daemon.take() {
                        let _ = d.shutdown();
                    }
                    Err(e)
                }
            }
        })
    }

    fn local_properties(&self) -> BTreeMap<String, String> {
        let addresses = local_addresses(&self.inner.config.interfaces)
            .iter()
            .map(Ipv4Addr::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let mut out = BTreeMap::from([(
            String::from(PROPERTY_PORT_KEY),
            hex::encode(self.inner.port_key.expose_secret()),
        )]);
        if !addresses.is_empty() {
            out.insert(String::from(PROPERTY_ADDRESSES), addresses);
        }
        out
    }

    fn dial<'a>(&'a self, target: &'a Peer) -> BoxFuture<'a, io::Result<BoxConnection>> {
        Box::pin(async move {
            if self.inner.state().daemon.is_none() {
                return Err(io::Error::new(
                    io::ErrorKind::NotConnected,
                    "the LAN transport is not started",
                ));
            }
            connect(&self.candidates(target)).await
        })
    }

    fn broadcasts(&self) -> bool {
        true
    }

    fn announce(&self, beacons: Vec<Beacon>) {
        let beacons: BTreeSet<Beacon> = beacons.into_iter().collect();
        let mut state = self.inner.state();
        if state.contacts != beacons {
            state.contacts = beacons;
            apply(&mut state);
        }
    }

    fn sighted(&self, beacons: &[Beacon]) -> Option<Instant> {
        let state = self.inner.state();
        beacons
            .iter()
            .filter_map(|b| state.sightings.get(b).map(|s| s.first))
            .max()
    }

    fn rendezvous<'a>(
        &'a self,
        point: &'a RendezvousPoint,
    ) -> BoxFuture<'a, io::Result<Option<BoxConnection>>> {
        Box::pin(async move {
            match point.role {
                Role::Alice => {
                    let mut state = self.inner.state();
                    if state.rendezvous.insert(point.id, point.label) != Some(point.label) {
                        apply(&mut state);
                    }
                    Ok(None)
                }
                Role::Bob => {
                    let target = Peer {
                        properties: BTreeMap::new(),
                        beacons: point.sought.to_vec(),
                    };
                    let candidates = self.candidates(&target);
                    if candidates.is_empty() {
                        return Ok(None);
                    }
                    Ok(connect(&candidates).await.ok())
                }
            }
        })
    }

    fn end_rendezvous(&self, id: u64) {
        let mut state = self.inner.state();
        if state.rendezvous.remove(&id).is_some() {
            apply(&mut state);
        }
    }

    fn status(&self) -> watch::Receiver<Status> {
        self.inner.status.subscribe()
    }
}
