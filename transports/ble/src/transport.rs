//! The Bluetooth LE transport: both roles on one adapter, driven by a supervisor task that
//! opens the radio, keeps it running, reports its status, and starts over when the adapter
//! goes away, is switched off, or BlueZ restarts.

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bramble_proto::crypto::SecretKey;
use bramble_proto::stream::Role;
use bramble_proto::transport::{Beacon, TransportId};
use thicket_transport::{
    BoxConnection, BoxFuture, Kind, Peer, RendezvousPoint, Status, Transport, TransportSetup,
};
use tokio::sync::{Notify, mpsc, watch};

use crate::config::{BleConfig, MAX_CENTRAL_LINKS, Roles, address_warning};
use crate::shared::{Inner, State};
use crate::{central, peripheral};

/// How long to wait before opening the radio again after it failed.
pub(crate) const RETRY: Duration = Duration::from_secs(10);

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

/// Held by handles only (never by the transport's own tasks): dropping the last one stops
/// the radio.
struct StopGuard(watch::Sender<bool>);

impl Drop for StopGuard {
    fn drop(&mut self) {
        self.0.send_replace(true);
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
