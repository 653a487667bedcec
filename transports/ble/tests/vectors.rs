//! `spec/vectors/ble.json`: advertised UUIDs, the GATT UUIDs, pipe frames, values that are
//! no frame, and frame limits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bramble_proto::transport::Beacon;
use thicket_ble::advert::{
    CHARACTERISTIC_UUID, SERVICE_UUID, advertised_uuid, announces, is_candidate,
};
use thicket_ble::pipe::{Frame, Reason, frame_limit};

fn load() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../spec/vectors/ble.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn bytes(v: &serde_json::Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn uuid_text(u: u128) -> String {
    uuid::Uuid::from_u128(u).to_string()
}

#[test]
fn the_gatt_uuids_are_those_of_the_spec() {
    let v = load();
    assert_eq!(uuid_text(SERVICE_UUID), v["service_uuid"].as_str().unwrap());
    assert_eq!(
        uuid_text(CHARACTERISTIC_UUID),
        v["characteristic_uuid"].as_str().unwrap()
    );
}

#[test]
fn advertised_uuids_are_those_of_the_spec() {
    let v = load();
    let cases = v["adverts"].as_array().unwrap();
    assert_eq!(cases.len(), 4);
    for case in cases {
        let value = Beacon(bytes(&case["value"]).try_into().unwrap());
        let salt: [u8; 8] = bytes(&case["salt"]).try_into().unwrap();
        let uuid: [u8; 16] = bytes(&case["uuid"]).try_into().unwrap();
        assert_eq!(advertised_uuid(&value, salt), uuid);
        assert_eq!(
            uuid_text(u128::from_be_bytes(uuid)),
            case["uuid_text"].as_str().unwrap()
        );
        assert!(is_candidate(&uuid));
        assert!(announces(&uuid, &value));
        let mut other = value;
        other.0[0] ^= 1;
        assert!(!announces(&uuid, &other));
    }
}

#[test]
fn frames_are_those_of_the_spec() {
    let v = load();
    for case in v["frames"].as_array().unwrap() {
        let b = bytes(&case["bytes"]);
        let frame = Frame::parse(&b).unwrap();
        let expected = match case["frame"].as_str().unwrap() {
            "open" => Frame::Open {
                version: u8::try_from(case["version"].as_u64().unwrap()).unwrap(),
                link: bytes(&case["link"]).try_into().unwrap(),
            },
            "data" => {
                let payload = bytes(&case["payload"]);
                let Frame::Data { seq, payload: got } = frame else {
                    panic!("{case}: not DATA");
                };
                assert_eq!(u64::from(seq), case["seq"].as_u64().unwrap());
                assert_eq!(got, payload.as_slice());
                let mut out = Vec::new();
                frame.encode(&mut out);
                assert_eq!(out, b);
                continue;
            }
            "ack" => Frame::Ack {
                consumed: u8::try_from(case["consumed"].as_u64().unwrap()).unwrap(),
            },
            "close" => Frame::Close {
                seq: u8::try_from(case["seq"].as_u64().unwrap()).unwrap(),
            },
            "reset" => Frame::Reset(match case["reason"].as_str().unwrap() {
                "violation" => Reason::Violation,
                "failure" => Reason::Failure,
                "replaced" => Reason::Replaced,
                other => panic!("reason {other}"),
            }),
            other => panic!("frame {other}"),
        };
        assert_eq!(frame, expected, "{case}");
        if case.get("note").is_none() {
            let mut out = Vec::new();
            frame.encode(&mut out);
            assert_eq!(out, b, "{case}");
        }
    }
    let invalid = v["invalid_frames"].as_array().unwrap();
    assert!(invalid.len() >= 8);
    for value in invalid {
        assert!(Frame::parse(&bytes(value)).is_err(), "{value}");
    }
}

#[test]
fn frame_limits_are_those_of_the_spec() {
    let v = load();
    for (mtu, limit) in v["frame_limits"].as_object().unwrap() {
        let mtu: u16 = mtu.parse().unwrap();
        assert_eq!(
            frame_limit(mtu) as u64,
            limit.as_u64().unwrap(),
            "MTU {mtu}"
        );
    }
}
