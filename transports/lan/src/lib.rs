//! Thicket's LAN transport (`spec/lan.md`): TCP on the local network, found with mDNS.
//!
//! - **Listening**: on every interface, IPv4, on a port that changes every period,
//!   derived from a key only contacts hold ([`names::port`]), or a random one if that
//!   port is taken.
//! - **Announcing**: one mDNS service instance per beacon the engine hands over
//!   ([`announce`](thicket_transport::Transport::announce): one per contact, from the
//!   contact's stream keys) and per rendezvous where we are Alice, padded with random names
//!   to a multiple of eight. An instance name is the beacon in base32; each has a random
//!   host name of its own; there is no TXT content and no IPv6 address (an EUI-64 address
//!   would name the MAC).
//! - **Finding**: browsing records every instance name that parses as a beacon, with its
//!   IPv4 addresses and port; the engine asks whether a contact's beacons are in sight
//!   ([`sighted`](thicket_transport::Transport::sighted)) and dials them, or the last-known
//!   addresses the contact published.
//! - **Strangers**: a connection gets no byte until the engine recognises its tag; at
//!   most [`MAX_PER_PEER`] connections per remote address and [`MAX_INCOMING`] in all.
//!
//! Only [`names`] is built without the default feature `network` (as the fuzz targets
//! build the crate).

pub mod names;
#[cfg(feature = "network")]
mod transport;

/// The mDNS service type Thicket announces under.
pub const SERVICE_TYPE: &str = "_thicket._tcp.local.";
pub use names::{PROPERTY_ADDRESSES, PROPERTY_PORT_KEY};
#[cfg(feature = "network")]
pub use transport::{
    CONNECT_TIMEOUT, Interfaces, LanConfig, LanSetup, LanTransport, MAX_CANDIDATES, MAX_INCOMING,
    MAX_PER_PEER, MAX_SIGHTINGS,
};
