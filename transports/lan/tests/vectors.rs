//! `spec/vectors/lan.json`: port keys and ports, instance names of beacons, and names
//! that announce no beacon.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bramble_proto::crypto::SecretKey;
use bramble_proto::time::Period;
use bramble_proto::transport::Beacon;
use thicket_lan::{LanConfig, LanTransport, PROPERTY_PORT_KEY, names};
use thicket_transport::Transport as _;

fn load() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../spec/vectors/lan.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn bytes<const N: usize>(v: &serde_json::Value) -> [u8; N] {
    hex::decode(v.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

#[test]
fn ports_and_port_keys_are_those_of_the_spec() {
    let v = load();
    let cases = v["ports"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    for case in cases {
        let secret = SecretKey::from_bytes(bytes(&case["secret"]));
        let key = names::port_key(&secret);
        assert_eq!(key.expose_secret(), &bytes::<32>(&case["port_key"]));
        // The transport publishes the same key.
        let t = LanTransport::new(LanConfig::new(), &secret).unwrap();
        assert_eq!(
            t.local_properties()[PROPERTY_PORT_KEY],
            case["port_key"].as_str().unwrap()
        );
        for (period, port) in case["ports"].as_object().unwrap() {
            let period = Period(period.parse().unwrap());
            assert_eq!(u64::from(names::port(&key, period)), port.as_u64().unwrap());
        }
    }
}

#[test]
fn instance_names_are_those_of_the_spec() {
    let v = load();
    for case in v["instances"].as_array().unwrap() {
        let beacon = Beacon(bytes(&case["beacon"]));
        let name = case["instance"].as_str().unwrap();
        assert_eq!(names::instance_name(&beacon), name);
        assert_eq!(names::parse_instance(name), Some(beacon));
    }
    let invalid = v["invalid_instances"].as_array().unwrap();
    assert!(invalid.len() >= 6);
    for name in invalid {
        assert_eq!(
            names::parse_instance(name.as_str().unwrap()),
            None,
            "{name}"
        );
    }
}
