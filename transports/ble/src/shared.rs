//! What the transport's handle, its supervisor and both roles share: the settings, the
//! status, the values to advertise, what the radio sees, and the open links.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bramble_proto::transport::Beacon;
use btleplug::platform::{Adapter, Manager, PeripheralId};
use thicket_transport::Status;
use tokio::sync::{Notify, watch};

use crate::advert::{Rotation, Sightings};
use crate::config::BleConfig;
use crate::link::PipeDriver;

/// The open central side: the adapter, scanning (run by `central`).
#[derive(Clone)]
pub(crate) struct Central {
    pub(crate) adapter: Adapter,
    /// Keeps btleplug's D-Bus session open.
    pub(crate) _manager: Arc<Manager>,
}

#[derive(Default)]
pub(crate) struct State {
    /// Our contacts' beacons of this period.
    pub(crate) contacts: Vec<Beacon>,
    /// Our rendezvous labels (where we are Alice), by point.
    pub(crate) rendezvous: BTreeMap<u64, Beacon>,
    pub(crate) rotation: Rotation,
    pub(crate) sightings: Sightings<PeripheralId>,
    /// Links we dialed, by device.
    pub(crate) central_links: HashMap<PeripheralId, PipeDriver>,
    /// Links centrals opened to us, by device address.
    pub(crate) peripheral_links: HashMap<String, PipeDriver>,
    /// The open radio's central side, while it is open.
    pub(crate) central: Option<Central>,
}

impl State {
    /// Advertises our contacts' beacons and rendezvous labels in turn.
    pub(crate) fn update_rotation(&mut self) {
        let mut values = self.contacts.clone();
        values.extend(self.rendezvous.values().copied());
        self.rotation.set(values);
    }
}

pub(crate) struct Inner {
    pub(crate) config: BleConfig,
    pub(crate) status: watch::Sender<Status>,
    pub(crate) state: Mutex<State>,
    /// Signalled when the values to advertise change.
    pub(crate) advertise: Notify,
    pub(crate) started: Mutex<bool>,
    /// Becomes true when the last handle goes: the supervisor then stops the radio.
    pub(crate) stop: watch::Receiver<bool>,
}

impl Inner {
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
