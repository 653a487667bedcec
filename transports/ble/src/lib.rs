//! Thicket's Bluetooth LE transport (`spec/ble.md`).
//!
//! [`BleTransport`] plays both roles on one adapter: the central role with btleplug (scan
//! for advertised UUIDs, connect to a device that announced a contact's beacon, write to
//! its characteristic, take its notifications) and, on Linux, the peripheral role with
//! bluer (advertise one rotating UUID, serve the characteristic; btleplug can do
//! neither). A supervisor reopens the radio when the adapter goes, is switched off, or
//! BlueZ is absent, and says why in the transport's status.
//!
//! What goes on the air is code with no I/O:
//!
//! - [`advert`]: the advertised UUID that announces a beacon or rendezvous label with a
//!   fresh salt (only a holder of the value recognises it), the rotation through the
//!   values a device advertises, and the table of UUIDs seen nearby.
//! - [`pipe`]: the byte pipe that carries a stream over one GATT characteristic: frames
//!   sized to the ATT MTU, sequence numbers that catch a lost frame, a window of 32
//!   frames, and a clean close.
//! - [`link`]: a pipe as an `AsyncRead + AsyncWrite` connection for the engine, and the
//!   driver through which the radio moves its values.
//!
//! Only [`advert`] and [`pipe`] are built without the default feature `radio` (as the fuzz
//! targets build the crate).

pub mod advert;
#[cfg(feature = "radio")]
mod central;
#[cfg(feature = "radio")]
mod config;
#[cfg(feature = "radio")]
pub mod link;
#[cfg(feature = "radio")]
mod peripheral;
pub mod pipe;
#[cfg(feature = "radio")]
mod shared;
#[cfg(feature = "radio")]
mod transport;

#[cfg(feature = "radio")]
pub use config::{
    BLUEZ_MAIN_CONF, BleConfig, CONNECT_TIMEOUT, MAX_CENTRAL_LINKS, MAX_PERIPHERAL_LINKS, Roles,
    uses_private_addresses,
};
#[cfg(feature = "radio")]
pub use transport::{BleSetup, BleTransport};
