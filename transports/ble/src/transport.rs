//! The Bluetooth LE transport: both roles on one adapter, driven by a supervisor task that
//! opens the radio, keeps it running, reports its status, and starts over when the adapter
//! goes away, is switched off, or BlueZ restarts.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bramble_proto::crypto::SecretKey;
use bramble_proto::stream::Role;
use bramble_proto::transport::{Beacon, TransportId};
use btleplug::platform::PeripheralId;
use thicket_transport::{
    BoxConnection, BoxFuture, Kind, Peer, RendezvousPoint, Status, Transport, TransportSetup,
};
use tokio::sync::{Notify, mpsc, watch};

use crate::advert::{Rotation, Sightings};
use crate::link::PipeDriver;
use crate::{central, peripheral};

/// How long one connection attempt may take, service discovery included.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The most links we dial and keep open at once.
pub const MAX_CENTRAL_LINKS: usize = 6;
/// The most links centrals may hold to us at once.
pub const MAX_PERIPHERAL_LINKS: usize = 8;
/// How long to wait before opening the radio again after it failed.
pub(crate) const RETRY: Duration = Duration::from_secs(10);

/// Which roles the transport plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Roles {
    /// Scan and connect (btleplug), and advertise and serve (bluer): the normal case.
    Both,
    /// Only scan and connect: nobody can find this device (tests against a mocked BlueZ
    /// that has no GATT server).
    CentralOnly,
}

/// Where BlueZ keeps its settings, among them whether the controller uses private
/// addresses.
pub const BLUEZ_MAIN_CONF: &str = "/etc/bluetooth/main.conf";

/// How the BLE transport runs.
#[derive(Clone, Debug)]
pub struct BleConfig {
    pub(crate) adapter: Option<String>,
    pub(crate) roles: Roles,
    pub(crate) bluez_conf: std::path::PathBuf,
}

impl Default for BleConfig {
    fn default() -> Self {
        BleConfig {
            adapter: None,
            roles: Roles::Both,
            bluez_conf: std::path::PathBuf::from(BLUEZ_MAIN_CONF),
        }
    }
}

impl BleConfig {
    /// The default adapter, both roles.
    pub fn new() -> BleConfig {
        BleConfig::default()
    }

    /// Uses the adapter of this name (`hci1`) rather than the default one.
    #[must_use]
    pub fn with_adapter(mut self, name: &str) -> BleConfig {
        self.adapter = Some(name.to_owned());
        self
    }

    /// Plays only these roles.
    #[must_use]
    pub fn with_roles(mut self, roles: Roles) -> BleConfig {
        self.roles = roles;
        self
    }

    /// Reads BlueZ's settings from `path` rather than [`BLUEZ_MAIN_CONF`] (tests).
    #[must_use]
    pub fn with_bluez_conf(mut self, path: &std::path::Path) -> BleConfig {
        self.bluez_conf = path.to_owned();
        self
    }
}

/// Whether BlueZ settings (`main.conf`) turn private addresses on: `Privacy` in
/// `[General]` set to anything but `off`. Without them the controller advertises its
/// public address, which names the device forever (`spec/ble.md#what-a-bystander-can-and-cannot-learn`).
pub fn uses_private_addresses(main_conf: &str) -> bool {
    let mut general = false;
    let mut private = false;
    for line in main_conf.lines().map(str::trim) {
        if line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            general = section.trim() == "General";
        } else if general
            && let Some((key, value)) = line.split_once('=')
            && key.trim() == "Privacy"
        {
            let value = value.trim();
            private = !value.is_empty() && value != "off";
        }
    }
    private
}

/// What the transport should warn of when it advertises: `None` if BlueZ uses private
/// addresses.
async fn address_warning(conf: std::path::PathBuf) -> Option<String> {
    let text = tokio::task::spawn_blocking(move || std::fs::read_to_string(conf))
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    (!uses_private_addresses(&text)).then(|| {
        String::from(
            "nearby people can follow this device by its fixed Bluetooth address: set \
             Privacy = device in /etc/bluetooth/main.conf and restart bluetoothd",
        )
    })
}

/// Builds the BLE transport (it needs no secret: nothing it sends is derived from one).
#[derive(Debug)]
pub struct BleSetup {
    config: BleConfig,
}

impl BleSetup {
    /// The setup for `config`.
    pub fn new(config: BleConfig) -> BleSetup {
        BleSetup { config }
    }
}

impl TransportSetup for BleSetup {
    fn id(&self) -> TransportId {
        TransportId::BLE
    }

    fn build(self: Box<Self>, _secret: &SecretKey) -> io::Result<Arc<dyn Transport>> {
        Ok(Arc::new(BleTransport::new(self.config)))
    }
}

#[derive(Default)]
pub(crate) struct State {
    /// Our contacts' beacons of this period.
    contacts: Vec<Beacon>,
    /// Our rendezvous labels (where we are Alice), by point.
    rendezvous: BTreeMap<u64, Beacon>,
    pub(crate) rotation: Rotation,
    pub(crate) sightings: Sightings<PeripheralId>,
    /// Links we dialed, by device.
    pub(crate) central_links: HashMap<PeripheralId, PipeDriver>,
    /// Links centrals opened to us, by device address.
    pub(crate) peripheral_links: HashMap<String, PipeDriver>,
    /// The open radio's central side, while it is open.
    pub(crate) central: Option<central::Central>,
}

impl State {
    fn update_rotation(&mut self) {
        let mut values = self.contacts.clone();
        values.extend(self.rendezvous.values().copied());
        self.rotation.set(values);
    }
}

pub(crate) struct Inner {
    pub(crate) config: BleConfig,
    pub(crate) status: watch::Sender<Status>,
    state: Mutex<State>,
    /// Signalled when the values to advertise change.
    pub(crate) advertise: Notify,
    started: Mutex<bool>,
    /// Becomes true when the last handle goes: the supervisor then stops the radio.
    stop: watch::Receiver<bool>,
}

/// Held by handles only (never by the transport's own tasks): dropping the last one stops
/// the radio.
struct StopGuard(watch::Sender<bool>);

impl Drop for StopGuard {
    fn drop(&mut self) {
        self.0.send_replace(true);
    }
}

impl Inner {
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The Bluetooth LE transport. A cheap handle.
#[derive(Clone)]
pub struct BleTransport {
    inner: Arc<Inner>,
    _guard: Arc<StopGuard>,
}

impl std::fmt::Debug for BleTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BleTransport").finish_non_exhaustive()
    }
}

impl BleTransport {
    /// The transport for `config`. Touches nothing until [`Transport::start`].
    pub fn new(config: BleConfig) -> BleTransport {
        let (stop_tx, stop) = watch::channel(false);
        BleTransport {
            inner: Arc::new(Inner {
                config,
                status: watch::channel(Status::Stopped).0,
                state: Mutex::new(State::default()),
                advertise: Notify::new(),
                started: Mutex::new(false),
                stop,
            }),
            _guard: Arc::new(StopGuard(stop_tx)),
        }
    }

    /// The values advertised in turn now, for tests and diagnostics.
    pub fn advertised(&self) -> Vec<Beacon> {
        self.inner.state().rotation.values().to_vec()
    }

    /// How many links are open: (dialed by us, opened by centrals).
    pub fn links(&self) -> (usize, usize) {
        let state = self.inner.state();
        (state.central_links.len(), state.peripheral_links.len())
    }

    fn set_values(&self, f: impl FnOnce(&mut State) -> bool) {
        let changed = {
            let mut state = self.inner.state();
            let changed = f(&mut state);
            if changed {
                state.update_rotation();
            }
            changed
        };
        if changed {
            self.inner.advertise.notify_one();
        }
    }

    async fn dial_beacons(&self, beacons: &[Beacon]) -> io::Result<BoxConnection> {
        let (central, device) = {
            let state = self.inner.state();
            let central = state.central.clone().ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotConnected,
                    "Bluetooth is not running: nothing can be reached over it",
                )
            })?;
            let device = state
                .sightings
                .find(beacons, Instant::now())
                .map(|(d, _)| d.clone())
                .ok_or_else(|| {
                    io::Error::new(io::ErrorKind::NotFound, "the contact is not nearby")
                })?;
            if state.central_links.len() >= MAX_CENTRAL_LINKS {
                return Err(io::Error::new(
                    io::ErrorKind::QuotaExceeded,
                    "too many Bluetooth links are open",
                ));
            }
            (central, device)
        };
        central::dial(&self.inner, &central, &device).await
    }
}

impl Transport for BleTransport {
    fn id(&self) -> TransportId {
        TransportId::BLE
    }

    fn max_latency(&self) -> Duration {
        TransportId::BLE
            .spec_max_latency()
            .unwrap_or(Duration::from_secs(30))
    }

    fn kind(&self) -> Kind {
        Kind::Duplex
    }

    fn start(&self, incoming: mpsc::Sender<BoxConnection>) -> BoxFuture<'_, io::Result<()>> {
        Box::pin(async move {
            {
                let mut started = self
                    .inner
                    .started
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if *started {
                    return Ok(());
                }
                *started = true;
            }
            self.inner.status.send_replace(Status::Starting {
                percent: 0,
                detail: String::from("opening the Bluetooth adapter"),
            });
            tokio::spawn(supervise(Arc::downgrade(&self.inner), incoming));
            Ok(())
        })
    }

    fn local_properties(&self) -> BTreeMap<String, String> {
        // Bluetooth addresses rotate and beacons find contacts: nothing to publish.
        BTreeMap::new()
    }

    fn dial<'a>(&'a self, target: &'a Peer) -> BoxFuture<'a, io::Result<BoxConnection>> {
        Box::pin(self.dial_beacons(&target.beacons))
    }

    fn broadcasts(&self) -> bool {
        true
    }

    fn announce(&self, beacons: Vec<Beacon>) {
        self.set_values(|state| {
            let changed = state.contacts != beacons;
            state.contacts = beacons;
            changed
        });
    }

    fn sighted(&self, beacons: &[Beacon]) -> Option<Instant> {
        self.inner
            .state()
            .sightings
            .find(beacons, Instant::now())
            .map(|(_, first)| first)
    }

    fn rendezvous<'a>(
        &'a self,
        point: &'a RendezvousPoint,
    ) -> BoxFuture<'a, io::Result<Option<BoxConnection>>> {
        Box::pin(async move {
            match point.role {
                Role::Alice => {
                    self.set_values(|state| {
                        state.rendezvous.insert(point.id, point.label) != Some(point.label)
                    });
                    Ok(None)
                }
                Role::Bob => {
                    if self.sighted(&point.sought).is_none() {
                        return Ok(None);
                    }
                    Ok(self.dial_beacons(&point.sought).await.ok())
                }
            }
        })
    }

    fn end_rendezvous(&self, id: u64) {
        self.set_values(|state| state.rendezvous.remove(&id).is_some());
    }

    fn status(&self) -> watch::Receiver<Status> {
        self.inner.status.subscribe()
    }
}

/// Why each role could not be opened, if it could not: the transport's status.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Opened {
    central: Option<String>,
    /// `None` when the peripheral role is not played.
    peripheral: Option<Option<String>>,
    /// Why what we advertise can be linked to this device, once we advertise.
    address: Option<String>,
}

impl Opened {
    fn status(&self) -> Status {
        match (&self.central, &self.peripheral) {
            (None, Some(None)) if self.address.is_some() => {
                Status::Limited(self.address.clone().unwrap_or_default())
            }
            (None, None | Some(None)) => Status::Up,
            (None, Some(Some(why))) => {
                Status::Limited(format!("nearby devices cannot find this one: {why}"))
            }
            (Some(why), Some(None)) => {
                Status::Limited(format!("this device cannot find nearby ones: {why}"))
            }
            (Some(why), _) => Status::Down(why.clone()),
        }
    }
}

/// Publishes a change of what opened, and the status it makes.
fn publish(inner: &Inner, opened: &Mutex<Opened>, change: impl FnOnce(&mut Opened)) {
    let status = {
        let mut o = opened.lock().unwrap_or_else(PoisonError::into_inner);
        let before = o.clone();
        change(&mut o);
        if *o == before {
            return;
        }
        o.status()
    };
    tracing::info!(?status, "Bluetooth LE");
    inner.status.send_replace(status);
}

/// Tries to open a role that could not be opened, every [`RETRY`], while the other role
/// runs; `None` once the transport is gone.
async fn reopen<R, F>(
    inner: &std::sync::Weak<Inner>,
    opened: &Mutex<Opened>,
    set: impl Fn(&mut Opened, &Result<R, String>),
    open: impl Fn(Arc<Inner>) -> F,
) -> Option<R>
where
    F: Future<Output = Result<R, String>>,
{
    loop {
        tokio::time::sleep(RETRY).await;
        let strong = inner.upgrade()?;
        let result = open(strong.clone()).await;
        publish(&strong, opened, |o| set(o, &result));
        if let Ok(role) = result {
            return Some(role);
        }
    }
}

/// Opens the radio, runs it until it fails, reports why, and tries again, until the
/// transport is dropped. A role that does not open is tried again while the other runs.
async fn supervise(inner: std::sync::Weak<Inner>, incoming: mpsc::Sender<BoxConnection>) {
    let Some(mut stop) = inner.upgrade().map(|i| i.stop.clone()) else {
        return;
    };
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let roles = strong.config.roles;
        let central = central::open(&strong).await;
        let peripheral = match roles {
            Roles::Both => Some(peripheral::open(&strong, incoming.clone()).await),
            Roles::CentralOnly => None,
        };
        let address = match &peripheral {
            Some(Ok(_)) => address_warning(strong.config.bluez_conf.clone()).await,
            _ => None,
        };
        let opened = Mutex::new(Opened {
            central: central.as_ref().err().cloned(),
            peripheral: peripheral.as_ref().map(|p| p.as_ref().err().cloned()),
            address,
        });
        let status = opened
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .status();
        tracing::info!(?status, "Bluetooth LE");
        strong.status.send_replace(status);
        drop(strong);
        let central = central.ok();
        let peripheral = peripheral.and_then(Result::ok);
        if central.is_none() && peripheral.is_none() {
            tokio::select! {
                () = tokio::time::sleep(RETRY) => continue,
                _ = stop.wait_for(|s| *s) => return,
            }
        }
        // Run until one side fails, then close both and start over.
        let failure = tokio::select! {
            why = async {
                let central = match central {
                    Some(c) => c,
                    None => {
                        let set = |o: &mut Opened, r: &Result<_, String>| {
                            o.central = r.as_ref().err().cloned();
                        };
                        let open = |s: Arc<Inner>| async move { central::open(&s).await };
                        match reopen(&inner, &opened, set, open).await {
                            Some(c) => c,
                            None => return String::from("stopped"),
                        }
                    }
                };
                central.run(&inner).await
            } => why,
            why = async {
                let peripheral = match (peripheral, roles) {
                    (Some(p), _) => p,
                    (None, Roles::CentralOnly) => return std::future::pending().await,
                    (None, Roles::Both) => {
                        let set = |o: &mut Opened, r: &Result<(_, Option<String>), String>| {
                            o.peripheral = Some(r.as_ref().err().cloned());
                            o.address = r.as_ref().ok().and_then(|(_, a)| a.clone());
                        };
                        let open = |s: Arc<Inner>| {
                            let incoming = incoming.clone();
                            async move {
                                let p = peripheral::open(&s, incoming).await?;
                                Ok((p, address_warning(s.config.bluez_conf.clone()).await))
                            }
                        };
                        match reopen(&inner, &opened, set, open).await {
                            Some((p, _)) => p,
                            None => return String::from("stopped"),
                        }
                    }
                };
                peripheral.run(&inner).await
            } => why,
            _ = stop.wait_for(|s| *s) => String::from("stopped"),
        };
        let Some(strong) = inner.upgrade() else {
            return;
        };
        tracing::info!(%failure, "Bluetooth LE stopped");
        {
            let mut state = strong.state();
            state.central = None;
            for (_, driver) in state.central_links.drain() {
                driver.fail(crate::pipe::Reason::Failure);
            }
            for (_, driver) in state.peripheral_links.drain() {
                driver.fail(crate::pipe::Reason::Failure);
            }
        }
        if *stop.borrow() {
            strong.status.send_replace(Status::Stopped);
            return;
        }
        strong.status.send_replace(Status::Down(failure));
        drop(strong);
        tokio::select! {
            () = tokio::time::sleep(RETRY) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_read_from_the_general_section_only() {
        for (conf, private) in [
            ("", false),
            ("[General]\n#Privacy = device\n", false),
            ("[General]\nPrivacy = off\n", false),
            ("[General]\nPrivacy=device\n", true),
            ("[General]\n  Privacy = network \n", true),
            (
                "[General]\nName = x\n\n[GATT]\nCache = no\n[General]\nPrivacy = on\n",
                true,
            ),
            ("[GATT]\nPrivacy = device\n", false),
            ("[General]\nPrivacy = device\nPrivacy = off\n", false),
            ("[General]\nPrivacy =\n", false),
            ("[General]\nprivacy = device\n", false),
        ] {
            assert_eq!(uses_private_addresses(conf), private, "{conf:?}");
        }
    }

    #[test]
    fn a_fixed_address_limits_a_transport_that_is_otherwise_up() {
        let warning = Some(String::from("fixed"));
        let up = Opened {
            central: None,
            peripheral: Some(None),
            address: warning.clone(),
        };
        assert_eq!(up.status(), Status::Limited(String::from("fixed")));
        // Not advertising: nothing to warn of; a missing role says more.
        let central_only = Opened {
            central: None,
            peripheral: None,
            address: None,
        };
        assert_eq!(central_only.status(), Status::Up);
        let no_peripheral = Opened {
            central: None,
            peripheral: Some(Some(String::from("no GATT"))),
            address: warning,
        };
        assert!(matches!(no_peripheral.status(), Status::Limited(why) if why.ends_with("no GATT")));
    }
}
