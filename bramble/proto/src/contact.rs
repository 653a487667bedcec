//! Adding contacts by swapping links (`spec/contacts.md`).
//!
//! - [`Link`]: an account's link, `thicket://` + base32 of its static X25519 link key
//!   with a checksum that catches typos.
//! - [`Rendezvous`]: what two accounts that hold each other's links both derive: their
//!   roles, the keys of handshake streams, rendezvous onion seeds and broadcast labels.
//! - [`Handshake`]: the owned state machine of the handshake and contact exchange,
//!   which completes over duplex connections and over one-way links alike.
//! - [`SafetyNumber`]: sixty digits two contacts compare to verify each other.
//! - [`PENDING_EXPIRY`]: how long a link waits for the other side.

mod handshake;
pub mod info;
mod link;
mod rendezvous;
mod safety;

use core::time::Duration;

pub use handshake::{
    Completed, HANDSHAKE_RECORD_VERSION, Handshake, HandshakeError, HandshakeReader,
    HandshakeRecord, MAX_PAYLOAD, Profile, Sent, record_type,
};
pub use info::{ContactInfo, InfoError, NameError, Properties, check_name};
pub use link::{
    LINK_CHARS, LINK_PREFIX, LINK_VERSION, Link, LinkError, base32_decode, base32_encode,
};
pub use rendezvous::{HANDSHAKE_PERIOD, LABEL_LEN, Rendezvous, RendezvousError};
pub use safety::SafetyNumber;

/// A pending contact is removed this long after its link was added if the handshake has
/// not completed: long enough for two rounds of files carried by hand, short enough
/// that an ephemeral secret does not wait in the store for months.
pub const PENDING_EXPIRY: Duration = Duration::from_secs(14 * 86_400);
