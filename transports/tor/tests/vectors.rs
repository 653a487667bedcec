//! `spec/vectors/tor.json`: onion addresses from seeds, and property values that must not
//! be dialed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io;

use bramble_proto::crypto::SecretKey;
use thicket_tor::{PROPERTY, TorConfig, TorTransport, onion_address};
use thicket_transport::{Peer, Transport as _};

fn load() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../spec/vectors/tor.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn seed(v: &serde_json::Value) -> SecretKey {
    let bytes: [u8; 32] = hex::decode(v.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    SecretKey::from_bytes(bytes)
}

#[test]
fn addresses_are_those_of_the_spec() {
    let v = load();
    let cases: Vec<_> = v["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .chain(v["rendezvous"].as_array().unwrap())
        .collect();
    assert_eq!(cases.len(), 5);
    for case in cases {
        assert_eq!(
            onion_address(&seed(&case["seed"])),
            case["address"].as_str().unwrap()
        );
    }
}

#[tokio::test]
async fn invalid_addresses_are_not_dialed() {
    let v = load();
    let dir = tempfile::tempdir().unwrap();
    let t = TorTransport::new(
        TorConfig::new(&dir.path().join("tor")),
        &SecretKey::from_bytes([9; 32]),
    )
    .unwrap();
    let invalid = v["invalid"].as_array().unwrap();
    assert!(invalid.len() >= 6);
    for value in invalid {
        let props = BTreeMap::from([(String::from(PROPERTY), value.as_str().unwrap().to_owned())]);
        let e = t.dial(&Peer::at(props)).await.err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{value}: {e}");
    }
    // Our own address is refused too, in either case.
    let own = BTreeMap::from([(String::from(PROPERTY), t.onion_address().to_uppercase())]);
    let e = t.dial(&Peer::at(own)).await.err().unwrap();
    assert!(e.to_string().contains("ours"), "{e}");
}
