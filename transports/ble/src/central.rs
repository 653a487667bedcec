//! The central role with btleplug: scan for advertised UUIDs, connect to a device that
//! announced a contact's beacon, and carry a pipe over its characteristic (writes out,
//! notifications in).

use std::io;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use btleplug::api::{
    Central as _, CentralEvent, CentralState, Characteristic, Manager as _, Peripheral as _,
    ScanFilter, WriteType,
};
use btleplug::platform::{Manager, Peripheral, PeripheralId};
use futures_util::StreamExt as _;
use thicket_transport::BoxConnection;
use uuid::Uuid;

use crate::advert::{CHARACTERISTIC_UUID, SERVICE_UUID};
use crate::config::CONNECT_TIMEOUT;
use crate::link::link;
use crate::pipe::{LinkId, Pipe, Reason};
use crate::shared::{Central, Inner};

/// How long one write may take before the link is given up.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

fn fail(what: &str, e: impl std::fmt::Display) -> String {
    format!("{what} ({e})")
}

/// Opens the adapter, checks it is powered, and starts scanning.
pub(crate) async fn open(inner: &Arc<Inner>) -> Result<Central, String> {
    let manager = Manager::new().await.map_err(|e| {
        fail(
            "Bluetooth is not available: is BlueZ (bluetoothd) running?",
            e,
        )
    })?;
    let adapters = manager.adapters().await.map_err(|e| {
        fail(
            "Bluetooth is not available: is BlueZ (bluetoothd) running?",
            e,
        )
    })?;
    let mut chosen = None;
    let mut unreadable = None;
    for adapter in adapters {
        let info = match adapter.adapter_info().await {
            Ok(info) => info,
            Err(e) => {
                unreadable = Some(e.to_string());
                continue;
            }
        };
        let name = info
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        if inner
            .config
            .adapter
            .as_deref()
            .is_none_or(|want| want == name)
        {
            chosen = Some(adapter);
            break;
        }
    }
    let adapter = chosen.ok_or_else(|| {
        let which = match &inner.config.adapter {
            Some(name) => format!("there is no Bluetooth adapter {name}"),
            None => String::from("there is no Bluetooth adapter"),
        };
        match unreadable {
            Some(e) => format!("{which} (an adapter could not be read: {e})"),
            None => which,
        }
    })?;
    match adapter.adapter_state().await {
        Ok(CentralState::PoweredOn) => {}
        Ok(_) => return Err(String::from("Bluetooth is switched off")),
        Err(e) => return Err(fail("cannot read the Bluetooth adapter's state", e)),
    }
    // No service filter: our advertisements carry random-looking UUIDs only.
    adapter
        .start_scan(ScanFilter::default())
        .await
        .map_err(|e| fail("cannot scan for nearby devices", e))?;
    let central = Central {
        adapter,
        _manager: Arc::new(manager),
    };
    inner.state().central = Some(central.clone());
    Ok(central)
}

impl Central {
    /// Records what the adapter sees until it fails; returns why.
    pub(crate) async fn run(&self, inner: &Weak<Inner>) -> String {
        let mut events = match self.adapter.events().await {
            Ok(events) => events,
            Err(e) => return fail("cannot follow the Bluetooth adapter", e),
        };
        // Devices already known when scanning started.
        if let Ok(peripherals) = self.adapter.peripherals().await {
            for p in peripherals {
                self.record(inner, &p.id()).await;
            }
        }
        while let Some(event) = events.next().await {
            match event {
                CentralEvent::DeviceDiscovered(id) | CentralEvent::DeviceUpdated(id) => {
                    self.record(inner, &id).await;
                }
                CentralEvent::ServicesAdvertisement { id, services } => {
                    record_uuids(inner, &id, &services);
                }
                CentralEvent::DeviceDisconnected(id) => {
                    let Some(inner) = inner.upgrade() else {
                        return String::from("stopped");
                    };
                    if let Some(driver) = inner.state().central_links.remove(&id) {
                        driver.fail(Reason::Failure);
                    }
                }
                CentralEvent::StateUpdate(CentralState::PoweredOn) => {}
                CentralEvent::StateUpdate(_) => return String::from("Bluetooth was switched off"),
                _ => {}
            }
            if inner.strong_count() == 0 {
                return String::from("stopped");
            }
        }
        String::from("the Bluetooth adapter went away")
    }

    async fn record(&self, inner: &Weak<Inner>, id: &PeripheralId) {
        let Ok(p) = self.adapter.peripheral(id).await else {
            return;
        };
        if let Ok(Some(props)) = p.properties().await {
            record_uuids(inner, id, &props.services);
        }
    }
}

fn record_uuids(inner: &Weak<Inner>, id: &PeripheralId, services: &[Uuid]) {
    let Some(inner) = inner.upgrade() else {
        return;
    };
    let now = Instant::now();
    let mut state = inner.state();
    for uuid in services {
        state.sightings.record(id.clone(), *uuid.as_bytes(), now);
    }
}

fn io_error(what: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("{what}: {e}"))
}

/// Connects to `device` and opens a pipe over its characteristic.
pub(crate) async fn dial(
    inner: &Arc<Inner>,
    central: &Central,
    device: &PeripheralId,
) -> io::Result<BoxConnection> {
    let peripheral = central
        .adapter
        .peripheral(device)
        .await
        .map_err(|e| io_error("the device is gone", e))?;
    match tokio::time::timeout(CONNECT_TIMEOUT, connect(&peripheral)).await {
        Ok(Ok(c)) => start(inner, peripheral, c).await,
        Ok(Err(e)) => {
            let _ = peripheral.disconnect().await;
            Err(e)
        }
        Err(_) => {
            let _ = peripheral.disconnect().await;
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connecting over Bluetooth took too long",
            ))
        }
    }
}

/// Connects (once more after a failure: BlueZ often aborts a first LE connection) and
/// finds our characteristic.
async fn connect(peripheral: &Peripheral) -> io::Result<Characteristic> {
    if !peripheral.is_connected().await.unwrap_or(false)
        && let Err(first) = peripheral.connect().await
    {
        tracing::debug!(%first, "Bluetooth connection failed; trying again");
        tokio::time::sleep(Duration::from_millis(200)).await;
        peripheral
            .connect()
            .await
            .map_err(|e| io_error("cannot connect over Bluetooth", e))?;
    }
    peripheral
        .discover_services()
        .await
        .map_err(|e| io_error("cannot read the device's services", e))?;
    let service = Uuid::from_u128(SERVICE_UUID);
    let wanted = Uuid::from_u128(CHARACTERISTIC_UUID);
    peripheral
        .characteristics()
        .into_iter()
        .find(|c| c.uuid == wanted && c.service_uuid == service)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "the device does not serve Thicket's characteristic",
            )
        })
}

async fn start(
    inner: &Arc<Inner>,
    peripheral: Peripheral,
    characteristic: Characteristic,
) -> io::Result<BoxConnection> {
    let fail = |e| {
        let peripheral = peripheral.clone();
        async move {
            let _ = peripheral.disconnect().await;
            e
        }
    };
    let mut notifications = match peripheral.notifications().await {
        Ok(n) => n,
        Err(e) => return Err(fail(io_error("cannot receive from the device", e)).await),
    };
    if let Err(e) = peripheral.subscribe(&characteristic).await {
        return Err(fail(io_error("cannot subscribe to the device", e)).await);
    }
    let mut link_id: LinkId = [0; 4];
    getrandom::fill(&mut link_id).map_err(|e| io_error("no randomness", e))?;
    let (stream, driver) = link(Pipe::dial(peripheral.mtu(), link_id));
    let id = peripheral.id();
    if let Some(old) = inner
        .state()
        .central_links
        .insert(id.clone(), driver.clone())
    {
        old.fail(Reason::Replaced);
    }
    // Values in: notifications of our characteristic.
    let rx = driver.clone();
    let uuid = characteristic.uuid;
    tokio::spawn(async move {
        while let Some(n) = notifications.next().await {
            if n.uuid == uuid && rx.deliver(&n.value).is_err() {
                break;
            }
        }
        if !rx.is_finished() {
            rx.fail(Reason::Failure);
        }
    });
    // Values out: writes, then the disconnect once the pipe is over.
    let weak = Arc::downgrade(inner);
    tokio::spawn(async move {
        while let Some(value) = driver.next_value().await {
            driver.set_mtu(peripheral.mtu());
            if let Err(e) = write(&peripheral, &characteristic, &value).await {
                tracing::debug!(%e, "Bluetooth write failed");
                driver.fail(Reason::Failure);
            }
        }
        let _ = peripheral.unsubscribe(&characteristic).await;
        // One connection carries both directions' GATT: while the device holds a link
        // to our characteristic, disconnecting would end that one too.
        let shared = weak.upgrade().is_some_and(|inner| {
            let mut state = inner.state();
            if state
                .central_links
                .get(&id)
                .is_some_and(|d| d.same_link(&driver))
            {
                state.central_links.remove(&id);
            }
            state
                .peripheral_links
                .contains_key(&peripheral.address().to_string())
        });
        if !shared {
            let _ = peripheral.disconnect().await;
        }
    });
    Ok(Box::new(stream))
}

/// Writes one value with response: the next write goes only once this one is answered.
///
/// Writes without response would be faster, but BlueZ hands each one to the GATT
/// server's process as its own D-Bus call without waiting for the one before, and a
/// server that handles calls concurrently (bluer spawns a task for each) can see them out
/// of order, which breaks the pipe (`spec/ble.md`). Nothing is tried again: a write that
/// failed may still have arrived, and a second copy would break the pipe too.
async fn write(
    peripheral: &Peripheral,
    characteristic: &Characteristic,
    value: &[u8],
) -> Result<(), btleplug::Error> {
    tokio::time::timeout(
        WRITE_TIMEOUT,
        peripheral.write(characteristic, value, WriteType::WithResponse),
    )
    .await
    .unwrap_or(Err(btleplug::Error::TimedOut(WRITE_TIMEOUT)))
}
