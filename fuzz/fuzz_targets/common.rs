//! Keys shared by the stream targets.

use core::time::Duration;

use bramble_proto::crypto::SecretKey;
use bramble_proto::stream::{Role, RootKey, TransportKeys};
use bramble_proto::time::{Period, PeriodLength};
use bramble_proto::transport::TransportId;

/// Alice's and Bob's transport keys for one contact.
pub fn pair() -> (TransportKeys, TransportKeys) {
    let len = PeriodLength::for_max_latency(Duration::from_secs(30)).expect("valid latency");
    let derive = |role| {
        let root = RootKey::new(SecretKey::from_bytes([0x42; 32]));
        TransportKeys::derive(&root, role, TransportId::LAN, len, Period(20_000))
            .expect("valid period")
    };
    (derive(Role::Alice), derive(Role::Bob))
}
