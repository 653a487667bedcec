//! Transport identifiers (`spec/stream.md#transports`).
//!
//! Keys are derived per transport, so both contacts must name a transport the same way.
//! The identifiers and maximum latencies of the transports Thicket defines are fixed by
//! the spec; other identifiers (for tests) are allowed if they are well-formed.

use alloc::borrow::Cow;
use alloc::string::String;
use core::fmt;
use core::time::Duration;

/// The name of a transport, as fed into key derivation.
///
/// 1 to 32 bytes of lowercase ASCII letters, digits, `-` and `.`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TransportId(Cow<'static, str>);

impl TransportId {
    /// The longest transport identifier, in bytes.
    pub const MAX_LEN: usize = 32;

    /// Tor onion services.
    pub const TOR: TransportId = TransportId(Cow::Borrowed("tor"));
    /// The local network: mDNS discovery plus TCP.
    pub const LAN: TransportId = TransportId(Cow::Borrowed("lan"));
    /// Bluetooth Low Energy.
    pub const BLE: TransportId = TransportId(Cow::Borrowed("ble"));
    /// Files carried by hand (removable drives).
    pub const FILE: TransportId = TransportId(Cow::Borrowed("file"));
    /// The in-process transport of tests. Not a transport of the spec: no latency is
    /// assigned to it, and keys for it exist only between engines that both register it.
    pub const MEMORY: TransportId = TransportId(Cow::Borrowed("memory"));

    /// A transport identifier from its name.
    ///
    /// # Errors
    /// [`InvalidTransportId`] if `name` is empty, too long, or has a character outside
    /// `[a-z0-9.-]`.
    pub fn new(name: &str) -> Result<Self, InvalidTransportId> {
        let valid = !name.is_empty()
            && name.len() <= Self::MAX_LEN
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if valid {
            Ok(TransportId(Cow::Owned(String::from(name))))
        } else {
            Err(InvalidTransportId)
        }
    }

    /// The identifier as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The maximum latency the spec assigns to this transport, for the transports
    /// Thicket defines; `None` for any other identifier.
    pub fn spec_max_latency(&self) -> Option<Duration> {
        const SECOND: u64 = 1000;
        const DAY: u64 = 86_400 * SECOND;
        let ms = match self.as_str() {
            "tor" | "lan" | "ble" => 30 * SECOND,
            "file" => 28 * DAY,
            _ => return None,
        };
        Some(Duration::from_millis(ms))
    }
}

impl fmt::Debug for TransportId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TransportId({})", self.as_str())
    }
}

impl fmt::Display for TransportId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The length of a [`Beacon`].
pub const BEACON_LEN: usize = 16;

/// What a broadcast transport (LAN, BLE) announces so that one contact, or one pending
/// contact, can find us in one period, and looks for to find them
/// (`spec/stream.md#beacons`, `spec/contacts.md#rendezvous`). Pseudo-random to anyone
/// without the shared keys; a new one every period.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Beacon(pub [u8; BEACON_LEN]);

impl fmt::Debug for Beacon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Beacon(")?;
        for b in &self.0[..4] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "..)")
    }
}

/// A transport identifier that breaks the naming rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid transport identifier")]
pub struct InvalidTransportId;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(TransportId::new("tor").unwrap(), TransportId::TOR);
        assert!(TransportId::new("").is_err());
        assert!(TransportId::new("Tor").is_err());
        assert!(TransportId::new("a b").is_err());
        assert!(TransportId::new(&"x".repeat(33)).is_err());
        assert_eq!(
            TransportId::FILE.spec_max_latency(),
            Some(Duration::from_secs(28 * 86_400))
        );
        assert_eq!(TransportId::new("test").unwrap().spec_max_latency(), None);
    }
}
