//! The peripheral role with bluer (btleplug cannot advertise or serve): advertise the
//! rotating UUIDs, serve the characteristic, and carry one pipe per central (writes in,
//! notifications out, each naming its link).

use std::str::FromStr as _;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bluer::adv::{Advertisement, AdvertisementHandle, Type};
use bluer::gatt::local::{
    Application, ApplicationHandle, Characteristic, CharacteristicNotifier, CharacteristicNotify,
    CharacteristicNotifyMethod, CharacteristicRead, CharacteristicWrite, CharacteristicWriteMethod,
    CharacteristicWriteRequest, Service,
};
use bluer::{Adapter, Address, Session};
use chacha20::ChaCha20Rng;
use chacha20::rand_core::SeedableRng as _;
use futures_util::FutureExt as _;
use thicket_transport::BoxConnection;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::advert::{CHARACTERISTIC_UUID, Change, SERVICE_UUID};
use crate::config::MAX_PERIPHERAL_LINKS;
use crate::link::link;
use crate::pipe::{Pipe, Reason, VERSION, is_open};
use crate::shared::Inner;

/// How often the links centrals hold to us are checked for a central that went away.
const WATCH: Duration = Duration::from_secs(5);
/// Notifications waiting for the notifier, across all links.
const NOTIFY_QUEUE: usize = 64;

/// The open peripheral side: the GATT application and the advertiser.
pub(crate) struct Peripheral {
    adapter: Adapter,
    _session: Session,
    _application: ApplicationHandle,
    notifications: tokio::sync::Mutex<mpsc::Receiver<Vec<u8>>>,
    notifiers: tokio::sync::Mutex<mpsc::Receiver<CharacteristicNotifier>>,
}

fn fail(what: &str, e: impl std::fmt::Display) -> String {
    format!("{what} ({e})")
}

/// Opens the adapter and serves our characteristic; advertising starts in
/// [`Peripheral::run`].
pub(crate) async fn open(
    inner: &Arc<Inner>,
    incoming: mpsc::Sender<BoxConnection>,
) -> Result<Peripheral, String> {
    let session = Session::new().await.map_err(|e| {
        fail(
            "Bluetooth is not available: is BlueZ (bluetoothd) running?",
            e,
        )
    })?;
    let adapter = match &inner.config.adapter {
        Some(name) => session
            .adapter(name)
            .map_err(|e| fail(&format!("there is no Bluetooth adapter {name}"), e))?,
        None => session
            .default_adapter()
            .await
            .map_err(|e| fail("there is no Bluetooth adapter", e))?,
    };
    match adapter.is_powered().await {
        Ok(true) => {}
        Ok(false) => return Err(String::from("Bluetooth is switched off")),
        Err(e) => return Err(fail("cannot read the Bluetooth adapter's state", e)),
    }
    let (notify_tx, notifications) = mpsc::channel(NOTIFY_QUEUE);
    let (notifier_tx, notifiers) = mpsc::channel(4);
    let weak = Arc::downgrade(inner);
    let write_notify = notify_tx.clone();
    let application = Application {
        services: vec![Service {
            uuid: Uuid::from_u128(SERVICE_UUID),
            primary: true,
            characteristics: vec![Characteristic {
                uuid: Uuid::from_u128(CHARACTERISTIC_UUID),
                read: Some(CharacteristicRead {
                    read: true,
                    fun: Box::new(|_| async { Ok(vec![VERSION]) }.boxed()),
                    ..Default::default()
                }),
                write: Some(CharacteristicWrite {
                    write: true,
                    write_without_response: true,
                    method: CharacteristicWriteMethod::Fun(Box::new(move |value, request| {
                        written(&weak, &incoming, &write_notify, &value, &request);
                        // Every write is accepted, whatever it was: a stranger learns
                        // nothing from our answers.
                        async { Ok(()) }.boxed()
                    })),
                    ..Default::default()
                }),
                notify: Some(CharacteristicNotify {
                    notify: true,
                    method: CharacteristicNotifyMethod::Fun(Box::new(move |notifier| {
                        let tx = notifier_tx.clone();
                        async move {
                            let _ = tx.send(notifier).await;
                        }
                        .boxed()
                    })),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let application = adapter
        .serve_gatt_application(application)
        .await
        .map_err(|e| fail("cannot serve Thicket's characteristic", e))?;
    drop(notify_tx);
    Ok(Peripheral {
        adapter,
        _session: session,
        _application: application,
        notifications: tokio::sync::Mutex::new(notifications),
        notifiers: tokio::sync::Mutex::new(notifiers),
    })
}

/// A central wrote `value`: a new pipe if it is OPEN, else a value for its pipe.
fn written(
    inner: &Weak<Inner>,
    incoming: &mpsc::Sender<BoxConnection>,
    notify: &mpsc::Sender<Vec<u8>>,
    value: &[u8],
    request: &CharacteristicWriteRequest,
) {
    let Some(inner) = inner.upgrade() else {
        return;
    };
    let device = request.device_address.to_string();
    let mut state = inner.state();
    if !is_open(value) {
        if let Some(driver) = state.peripheral_links.get(&device)
            && driver.deliver(value).is_err()
        {
            // The pipe failed; its RESET goes out and its forwarding task ends it.
            tracing::debug!("a central broke the Bluetooth pipe");
        }
        return;
    }
    // A new pipe. An old one from the same central is replaced.
    if let Some(old) = state.peripheral_links.remove(&device) {
        old.fail(Reason::Replaced);
    }
    if state.peripheral_links.len() >= MAX_PERIPHERAL_LINKS {
        tracing::debug!("too many Bluetooth links; a central's OPEN is ignored");
        return;
    }
    let Ok(pipe) = Pipe::accept(request.mtu, value) else {
        return;
    };
    let (stream, driver) = link(pipe);
    if incoming.try_send(Box::new(stream)).is_err() {
        return;
    }
    state
        .peripheral_links
        .insert(device.clone(), driver.clone());
    drop(state);
    let (notify, weak) = (notify.clone(), Arc::downgrade(&inner));
    tokio::spawn(async move {
        while let Some(value) = driver.next_value().await {
            if notify.send(value).await.is_err() {
                driver.fail(Reason::Failure);
            }
        }
        if let Some(inner) = weak.upgrade() {
            let mut state = inner.state();
            if state
                .peripheral_links
                .get(&device)
                .is_some_and(|d| d.same_link(&driver))
            {
                state.peripheral_links.remove(&device);
            }
        }
    });
}

impl Peripheral {
    /// Advertises, notifies and watches links until something fails; returns why.
    pub(crate) async fn run(&self, inner: &Weak<Inner>) -> String {
        let mut seed = [0u8; 32];
        if let Err(e) = getrandom::fill(&mut seed) {
            return fail("no randomness", e);
        }
        let mut rng = ChaCha20Rng::from_seed(seed);
        let mut notifications = self.notifications.lock().await;
        let mut notifiers = self.notifiers.lock().await;
        let mut notifier: Option<CharacteristicNotifier> = None;
        let mut advertisement: Option<AdvertisementHandle> = None;
        let mut watch = tokio::time::interval(WATCH);
        loop {
            let Some(strong) = inner.upgrade() else {
                return String::from("stopped");
            };
            let now = Instant::now();
            let (change, next) = {
                let mut state = strong.state();
                let change = state.rotation.poll(now, &mut rng);
                (change, state.rotation.next_change(now))
            };
            match change {
                Some(Change::Advertise(uuid)) => {
                    // One advertisement at a time: the old one goes first.
                    drop(advertisement.take());
                    match self.adapter.advertise(advertisement_of(uuid)).await {
                        Ok(handle) => advertisement = Some(handle),
                        Err(e) => return fail("cannot advertise", e),
                    }
                }
                Some(Change::Stop) => drop(advertisement.take()),
                None => {}
            }
            let woken = strong.advertise.notified();
            tokio::select! {
                () = tokio::time::sleep_until(next.into()) => {}
                () = woken => {}
                Some(n) = notifiers.recv() => notifier = Some(n),
                Some(value) = notifications.recv(), if notifier.is_some() => {
                    if let Some(n) = notifier.as_mut()
                        && n.notify(value).await.is_err()
                    {
                        // Every central unsubscribed; a new session comes with the next.
                        notifier = None;
                    }
                }
                _ = watch.tick() => self.watch(inner).await,
            }
            drop(strong);
        }
    }

    /// Ends the links of centrals that are no longer connected.
    async fn watch(&self, inner: &Weak<Inner>) {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let devices: Vec<String> = strong.state().peripheral_links.keys().cloned().collect();
        drop(strong);
        for device in devices {
            let connected = match Address::from_str(&device) {
                Ok(address) => match self.adapter.device(address) {
                    Ok(d) => d.is_connected().await.unwrap_or(false),
                    Err(_) => false,
                },
                Err(_) => false,
            };
            let gone = if connected {
                None
            } else {
                inner
                    .upgrade()
                    .and_then(|strong| strong.state().peripheral_links.remove(&device))
            };
            if let Some(driver) = gone {
                driver.fail(Reason::Failure);
            }
        }
    }
}

/// A connectable advertisement of one UUID, with nothing else: no name, appearance or
/// transmit power.
fn advertisement_of(uuid: [u8; 16]) -> Advertisement {
    Advertisement {
        advertisement_type: Type::Peripheral,
        service_uuids: std::iter::once(Uuid::from_bytes(uuid)).collect(),
        discoverable: Some(true),
        local_name: None,
        ..Default::default()
    }
}
