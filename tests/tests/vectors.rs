//! `bramble-proto` against the spec vectors in `spec/vectors/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::Duration;

use bramble_proto::crypto::{
    self, AgreementPublicKey, AgreementSecretKey, CryptoError, SecretKey, Signature, SigningKey,
    VerifyingKey, aead,
};
use bramble_proto::stream::{
    Padding, Role, RootKey, StreamError, StreamReader, StreamTag, StreamWriter, TAG_LEN,
    TransportKeys,
};
use bramble_proto::time::{Period, PeriodLength, Timestamp};
use bramble_proto::transport::{Beacon, TransportId};
use bramble_proto::wire::{self, DecodeErrorKind, Limits, Value};
use serde_json::Value as Json;
use thicket_tests::model;
use thicket_tests::replay::ReplayRng;
use thicket_tests::vectors::{array, bytes, load, render, str, u64};

#[test]
fn vector_files_are_up_to_date() {
    for (name, value) in thicket_tests::generate::all() {
        let path = thicket_tests::vectors::dir().join(name);
        let on_disk = std::fs::read_to_string(&path).unwrap();
        assert!(
            on_disk == render(&value),
            "{name} differs from the model; run `cargo run -p thicket-tests --bin make-vectors` \
             and review the diff"
        );
    }
}

fn inputs(v: &Json) -> Vec<Vec<u8>> {
    v.as_array().unwrap().iter().map(bytes).collect()
}

#[test]
fn crypto_vectors() {
    let v = load("crypto.json");
    for case in v["hash"].as_array().unwrap() {
        let ins = inputs(&case["inputs"]);
        let refs: Vec<&[u8]> = ins.iter().map(Vec::as_slice).collect();
        let out = crypto::hash(str(&case["label"]), &refs);
        assert_eq!(out.0, array::<32>(&case["output"]), "{case}");
    }
    for case in v["mac"].as_array().unwrap() {
        let ins = inputs(&case["inputs"]);
        let refs: Vec<&[u8]> = ins.iter().map(Vec::as_slice).collect();
        let key = SecretKey::from_bytes(array(&case["key"]));
        let label = str(&case["label"]);
        assert_eq!(
            crypto::mac(label, &key, &refs).0,
            array::<32>(&case["output"])
        );
    }
    for case in v["kdf"].as_array().unwrap() {
        let ins = inputs(&case["inputs"]);
        let refs: Vec<&[u8]> = ins.iter().map(Vec::as_slice).collect();
        let key = SecretKey::from_bytes(array(&case["key"]));
        let label = str(&case["label"]);
        assert!(
            crypto::label::ALL.contains(&label),
            "{label} is a protocol label"
        );
        assert_eq!(
            crypto::kdf(label, &key, &refs).expose_secret(),
            &array::<32>(&case["output"])
        );
    }
    for case in v["x25519"].as_array().unwrap() {
        let ours = AgreementSecretKey::from_bytes(array(&case["secret"]));
        assert_eq!(ours.public_key().0, array::<32>(&case["public"]));
        let theirs = AgreementPublicKey(array(&case["peer_public"]));
        assert_eq!(
            ours.agree(&theirs).unwrap().expose_secret(),
            &array::<32>(&case["shared"])
        );
    }
    for case in v["x25519_rejected"].as_array().unwrap() {
        let ours = AgreementSecretKey::from_bytes(array(&case["secret"]));
        let theirs = AgreementPublicKey(array(&case["peer_public"]));
        assert_eq!(
            ours.agree(&theirs).unwrap_err(),
            CryptoError::NonContributory
        );
    }
    for case in v["ed25519"].as_array().unwrap() {
        let key = SigningKey::from_seed(array(&case["seed"]));
        let public = key.verifying_key();
        assert_eq!(public.to_bytes(), array::<32>(&case["public"]));
        let (label, message) = (str(&case["label"]), bytes(&case["message"]));
        let sig = key.sign(label, &message);
        assert_eq!(sig.0, array::<64>(&case["signature"]));
        let decoded = VerifyingKey::from_bytes(&public.to_bytes()).unwrap();
        decoded
            .verify(label, &message, &Signature(array(&case["signature"])))
            .unwrap();
    }
    for case in v["ed25519_verified"].as_array().unwrap() {
        let public = VerifyingKey::from_bytes(&array(&case["public"])).unwrap();
        let sig = Signature(array(&case["signature"]));
        public
            .verify(str(&case["label"]), &bytes(&case["message"]), &sig)
            .unwrap_or_else(|e| panic!("{}: {e}", case["name"]));
    }
    for case in v["ed25519_rejected"].as_array().unwrap() {
        assert_eq!(str(&case["error"]), "bad-signature");
        let public = VerifyingKey::from_bytes(&array(&case["public"])).unwrap();
        let sig = Signature(array(&case["signature"]));
        let result = public.verify(str(&case["label"]), &bytes(&case["message"]), &sig);
        assert_eq!(result, Err(CryptoError::BadSignature), "{}", case["name"]);
    }
    for case in v["ed25519_invalid_keys"].as_array().unwrap() {
        assert_eq!(str(&case["error"]), "invalid-public-key");
        let result = VerifyingKey::from_bytes(&array(&case["public"]));
        assert_eq!(
            result.unwrap_err(),
            CryptoError::InvalidPublicKey,
            "{}",
            case["name"]
        );
    }
    for case in v["sealed_rejected"].as_array().unwrap() {
        assert_eq!(str(&case["error"]), "open-failed");
        let key = SecretKey::from_bytes(array(&case["key"]));
        let result = aead::open(
            &key,
            &bytes(&case["associated_data"]),
            &bytes(&case["sealed"]),
        );
        assert_eq!(
            result.unwrap_err(),
            CryptoError::OpenFailed,
            "{}",
            case["name"]
        );
    }
    for case in v["sealed"].as_array().unwrap() {
        let key = SecretKey::from_bytes(array(&case["key"]));
        let (ad, plaintext) = (bytes(&case["associated_data"]), bytes(&case["plaintext"]));
        let sealed = aead::seal_with_nonce(&key, &array(&case["nonce"]), &ad, &plaintext).unwrap();
        assert_eq!(sealed, bytes(&case["sealed"]));
        assert_eq!(
            aead::open(&key, &ad, &sealed).unwrap().as_slice(),
            plaintext
        );
    }
}

fn json_to_value(j: &Json) -> Value {
    match j {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Object(o) => {
            let (tag, inner) = o.iter().next().unwrap();
            match tag.as_str() {
                "int" => Value::Int(str(inner).parse().unwrap()),
                "str" => Value::Str(str(inner).to_owned()),
                "raw" => Value::Raw(bytes(inner)),
                "list" => Value::List(
                    inner
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(json_to_value)
                        .collect(),
                ),
                "dict" => Value::Dict(
                    inner
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|pair| (str(&pair[0]).to_owned(), json_to_value(&pair[1])))
                        .collect::<BTreeMap<_, _>>(),
                ),

                other => panic!("unknown value tag {other}"),
            }
        }
        other => panic!("unexpected JSON {other}"),
    }
}

fn decode_error_name(kind: DecodeErrorKind) -> &'static str {
    match kind {
        DecodeErrorKind::UnexpectedEnd => "unexpected-end",
        DecodeErrorKind::UnknownType => "unknown-type",
        DecodeErrorKind::UnexpectedEndMarker => "unexpected-end-marker",
        DecodeErrorKind::NonCanonicalInteger => "non-canonical-integer",
        DecodeErrorKind::NonCanonicalLength => "non-canonical-length",
        DecodeErrorKind::InvalidUtf8 => "invalid-utf8",
        DecodeErrorKind::TooLong => "too-long",
        DecodeErrorKind::TooDeep => "too-deep",
        DecodeErrorKind::NonStringKey => "non-string-key",
        DecodeErrorKind::UnorderedKey => "unordered-key",
        DecodeErrorKind::TrailingBytes => "trailing-bytes",
        _ => "unknown",
    }
}

#[test]
fn encoding_vectors() {
    let v = load("encoding.json");
    let limits = Limits {
        max_depth: usize::try_from(u64(&v["limits"]["max_depth"])).unwrap(),
        max_len: usize::try_from(u64(&v["limits"]["max_len"])).unwrap(),
    };
    assert_eq!(limits, Limits::DEFAULT);
    for case in v["valid"].as_array().unwrap() {
        let encoding = bytes(&case["encoding"]);
        let value = json_to_value(&case["value"]);
        assert_eq!(
            wire::decode(&encoding, &limits).unwrap(),
            value,
            "{}",
            case["name"]
        );
        assert_eq!(wire::encode(&value).unwrap(), encoding, "{}", case["name"]);
    }
    for case in v["invalid"].as_array().unwrap() {
        let err = wire::decode(&bytes(&case["encoding"]), &limits).unwrap_err();
        assert_eq!(
            decode_error_name(err.kind),
            str(&case["error"]),
            "{}",
            case["name"]
        );
        assert_eq!(err.offset as u64, u64(&case["offset"]), "{}", case["name"]);
    }
    for case in v["limited"].as_array().unwrap() {
        let limits = Limits {
            max_depth: usize::try_from(u64(&case["limits"]["max_depth"])).unwrap(),
            max_len: usize::try_from(u64(&case["limits"]["max_len"])).unwrap(),
        };
        let result = wire::decode(&bytes(&case["encoding"]), &limits);
        let outcome = &case["outcome"];
        match outcome.get("value") {
            Some(value) => assert_eq!(result.unwrap(), json_to_value(value), "{}", case["name"]),
            None => {
                let err = result.unwrap_err();
                assert_eq!(
                    decode_error_name(err.kind),
                    str(&outcome["error"]),
                    "{}",
                    case["name"]
                );
                assert_eq!(
                    err.offset as u64,
                    u64(&outcome["offset"]),
                    "{}",
                    case["name"]
                );
            }
        }
    }
    for case in v["encode_rejected"].as_array().unwrap() {
        assert_eq!(str(&case["error"]), "too-deep");
        let mut value = Value::List(Vec::new());
        for _ in 1..u64(&case["nested_lists"]) {
            value = Value::List(vec![value]);
        }
        assert_eq!(
            wire::encode(&value).unwrap_err(),
            wire::EncodeError::TooDeep,
            "{}",
            case["name"]
        );
        // One level less encodes.
        let Value::List(mut inner) = value else {
            unreachable!()
        };
        assert!(wire::encode(&inner.remove(0)).is_ok());
    }
}

fn root_key(v: &Json) -> RootKey {
    RootKey::new(SecretKey::from_bytes(array(v)))
}

fn role(name: &str) -> Role {
    match name {
        "alice" => Role::Alice,
        "bob" => Role::Bob,
        other => panic!("unknown role {other}"),
    }
}

fn keys_for(case: &Json, role: Role) -> TransportKeys {
    let transport = TransportId::new(str(&case["transport"])).unwrap();
    let latency = transport.spec_max_latency().unwrap();
    let len = PeriodLength::for_max_latency(latency).unwrap();
    TransportKeys::derive(
        &root_key(&case["root_key"]),
        role,
        transport,
        len,
        Period(u64(&case["start_period"])),
    )
    .unwrap()
}

#[test]
fn stream_key_vectors() {
    let v = load("stream-keys.json");
    for case in v["vectors"].as_array().unwrap() {
        for (our_role, chain) in [(Role::Alice, "alice"), (Role::Bob, "bob")] {
            let periods = case[chain]["periods"].as_array().unwrap();
            let secret = |p: u64| {
                let entry = periods.iter().find(|e| u64(&e["period"]) == p).unwrap();
                (array::<32>(&entry["secret"]), entry["tags"].clone())
            };
            let beacon = |p: u64| {
                let entry = periods.iter().find(|e| u64(&e["period"]) == p).unwrap();
                Beacon(array::<16>(&entry["beacon"]))
            };
            let start = u64(&case["start_period"]);
            // Our outgoing chain is `chain`; the peer receives on it.
            for current in [start, start + 1, start + 2] {
                let keys = keys_for(case, our_role).rotate_to(Period(current)).unwrap();
                let state = keys.to_state();
                assert_eq!(state.outgoing.period, Period(current));
                assert_eq!(state.outgoing.secret.expose_secret(), &secret(current).0);
                let peer = keys_for(case, our_role.peer())
                    .rotate_to(Period(current))
                    .unwrap();
                let peer_state = peer.to_state();
                for (i, inc) in peer_state.incoming.iter().enumerate() {
                    assert_eq!(inc.period, Period(current - 1 + i as u64));
                    assert_eq!(
                        inc.secret.expose_secret(),
                        &secret(current - 1 + i as u64).0
                    );
                }
                // Beacons: ours of the period; the peer looks for the three around it.
                assert_eq!(keys.outgoing().beacon(), beacon(current));
                assert_eq!(
                    peer.incoming().beacons(),
                    [beacon(current - 1), beacon(current), beacon(current + 1)]
                );
                // Tags: the outgoing tags for each listed stream number.
                let tags = secret(current).1;
                for (n, tag) in tags.as_object().unwrap() {
                    let n: u64 = n.parse().unwrap();
                    let mut st = keys.to_state();
                    st.outgoing.next_stream = n;
                    let mut k = TransportKeys::from_state(st).unwrap();
                    let s = k.outgoing_mut().next_stream().unwrap();
                    assert_eq!(s.tag.0, array::<16>(tag), "stream {n}");
                }
                // The peer expects stream 0 and 1 of each of its incoming periods.
                let expected: Vec<StreamTag> = peer.incoming().expected_tags().collect();
                for p in current - 1..=current + 1 {
                    if p + 1 < start {
                        continue;
                    }
                    let tags = secret(p).1;
                    for n in ["0", "1", "31"] {
                        assert!(
                            expected.contains(&StreamTag(array(&tags[n]))),
                            "period {p} stream {n}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn period_and_transport_id_vectors() {
    let v = load("stream-keys.json");
    for case in v["periods"].as_array().unwrap() {
        let latency = Duration::from_millis(u64(&case["max_latency_ms"]));
        let transport = TransportId::new(str(&case["transport"])).unwrap();
        assert_eq!(transport.spec_max_latency(), Some(latency));
        let len = PeriodLength::for_max_latency(latency).unwrap();
        assert_eq!(len.as_millis(), u64(&case["period_length_ms"]));
        let t = Timestamp::from_millis(u64(&case["time"])).unwrap();
        assert_eq!(len.period_of(t), Period(u64(&case["period"])), "{case}");
    }
    for case in v["rejected_times"].as_array().unwrap() {
        assert_eq!(str(&case["error"]), "time-out-of-range");
        assert!(
            Timestamp::from_millis(u64(&case["time"])).is_err(),
            "{case}"
        );
    }
    for case in v["rejected_latencies"].as_array().unwrap() {
        assert_eq!(str(&case["error"]), "latency-out-of-range");
        let latency = Duration::from_millis(u64(&case["max_latency_ms"]));
        assert!(PeriodLength::for_max_latency(latency).is_err(), "{case}");
    }
    for id in v["transport_ids"]["valid"].as_array().unwrap() {
        assert!(TransportId::new(str(id)).is_ok(), "{id}");
    }
    for id in v["transport_ids"]["invalid"].as_array().unwrap() {
        assert!(TransportId::new(str(id)).is_err(), "{id}");
    }
}

#[test]
fn reordering_window_vectors() {
    let v = load("stream-window.json");
    let len = PeriodLength::for_max_latency(Duration::from_secs(30)).unwrap();
    let root = [1u8; 32];
    // Tags of Alice's period 50 from the reference model: it can name any stream number.
    let (_, secret) = model::chain(&root, true, "tor", 50)
        .find(|(p, _)| *p == 50)
        .unwrap();
    let tag_key = model::tag_key(&secret);
    for seq in v["vectors"].as_array().unwrap() {
        let bob = TransportKeys::derive(
            &RootKey::new(SecretKey::from_bytes(root)),
            Role::Bob,
            TransportId::TOR,
            len,
            Period(50),
        )
        .unwrap();
        let mut state = bob.to_state();
        state.incoming[1].window_base = u64(&seq["start"]["base"]);
        state.incoming[1].window_seen = u32::try_from(u64(&seq["start"]["seen"])).unwrap();
        let mut bob = TransportKeys::from_state(state).unwrap();
        for step in seq["steps"].as_array().unwrap() {
            let tag = StreamTag(model::tag(&tag_key, u64(&step["stream"])));
            let accepted = bob.incoming_mut().recognise(&tag).is_some();
            let state = bob.to_state();
            let w = &state.incoming[1];
            let what = format!("{} {step}", seq["name"]);
            assert_eq!(accepted, step["accepted"].as_bool().unwrap(), "{what}");
            assert_eq!(w.window_base, u64(&step["base"]), "{what}");
            assert_eq!(u64::from(w.window_seen), u64(&step["seen"]), "{what}");
        }
    }
}

fn stream_error_name(e: StreamError) -> &'static str {
    match e {
        StreamError::Truncated => "truncated",
        StreamError::HeaderAuthentication => "header-authentication",
        StreamError::UnsupportedVersion => "unsupported-version",
        StreamError::StreamNumberMismatch => "stream-number-mismatch",
        StreamError::FrameTooLarge => "frame-too-large",
        StreamError::FrameAuthentication => "frame-authentication",
        StreamError::NonZeroPadding => "non-zero-padding",
        StreamError::TrailingData => "trailing-data",
        _ => "other",
    }
}

/// Reads `stream` as the receiver, in pieces of `piece` bytes: what was released, and the
/// name of the failure if any.
fn receive(
    receiver: &mut TransportKeys,
    stream: &[u8],
    piece: usize,
) -> (Vec<u8>, Option<&'static str>) {
    let mut plain = Vec::new();
    let Some(tag) = stream.get(..TAG_LEN) else {
        return (plain, Some("unrecognised"));
    };
    let tag = StreamTag(tag.try_into().unwrap());
    let Some(incoming) = receiver.incoming_mut().recognise(&tag) else {
        return (plain, Some("unrecognised"));
    };
    let mut reader = StreamReader::new(incoming);
    for chunk in stream[TAG_LEN..].chunks(piece) {
        if let Err(e) = reader.handle_bytes(chunk, &mut plain) {
            return (plain, Some(stream_error_name(e)));
        }
    }
    let error = reader.finish().err().map(stream_error_name);
    (plain, error)
}

#[test]
fn stream_vectors() {
    let v = load("stream.json");
    for case in v["valid"].as_array().unwrap() {
        let name = str(&case["name"]);
        let sender = role(str(&case["sender"]));
        let period = Period(u64(&case["period"]));
        let mut keys = keys_for(case, sender).rotate_to(period).unwrap();
        let mut stream = keys.outgoing_mut().next_stream().unwrap();
        while stream.stream_number < u64(&case["stream_number"]) {
            stream = keys.outgoing_mut().next_stream().unwrap();
        }
        let randomness = [bytes(&case["header_nonce"]), bytes(&case["stream_secret"])].concat();
        let mut rng = ReplayRng::new(&randomness);
        let mut out = Vec::new();
        let mut writer = StreamWriter::new(stream, &mut rng, &mut out).unwrap();
        assert_eq!(
            rng.remaining(),
            0,
            "{name}: the writer draws nonce then secret"
        );
        if let Some(m) = case["padding"].as_u64() {
            writer.set_padding(Padding::ToMultipleOf(
                u16::try_from(m).unwrap().try_into().unwrap(),
            ));
        }
        let mut written = Vec::new();
        for op in case["ops"].as_array().unwrap() {
            if let Some(data) = op.get("write") {
                let data = bytes(data);
                writer.write(&data, &mut out).unwrap();
                written.extend_from_slice(&data);
            } else {
                writer.flush(&mut out).unwrap();
            }
        }
        writer.finish(&mut out).unwrap();
        let expected = bytes(&case["stream"]);
        assert!(out == expected, "{name}: writer output differs");
        for piece in [1, 7, 1000, expected.len()] {
            let mut receiver = keys_for(case, sender.peer()).rotate_to(period).unwrap();
            assert_eq!(
                receive(&mut receiver, &expected, piece),
                (written.clone(), None),
                "{name}"
            );
        }
    }
    for case in v["invalid"].as_array().unwrap() {
        let name = str(&case["name"]);
        let receiver_role = role(str(&case["sender"])).peer();
        let period = Period(u64(&case["receiver_period"]));
        let stream = bytes(&case["stream"]);
        for piece in [1, 5, stream.len()] {
            let mut receiver = keys_for(case, receiver_role).rotate_to(period).unwrap();
            assert_eq!(
                receive(&mut receiver, &stream, piece),
                (bytes(&case["released"]), Some(str(&case["error"]))),
                "{name}, pieces of {piece}"
            );
        }
    }
    for case in v["sequences"].as_array().unwrap() {
        let name = str(&case["name"]);
        let receiver_role = role(str(&case["sender"])).peer();
        let period = Period(u64(&case["receiver_period"]));
        let mut receiver = keys_for(case, receiver_role).rotate_to(period).unwrap();
        for (i, step) in case["streams"].as_array().unwrap().iter().enumerate() {
            let expected = (bytes(&step["released"]), step["error"].as_str());
            assert_eq!(
                receive(&mut receiver, &bytes(&step["stream"]), 3),
                expected,
                "{name}, stream {i}"
            );
        }
    }
}

fn store_error_name(e: &bramble_store::StoreError) -> &'static str {
    use bramble_store::StoreError;
    match e {
        StoreError::WrongPassword => "wrong-password",
        StoreError::CorruptKeyFile => "corrupt-key-file",
        StoreError::UnsupportedKeyFile(_) => "unsupported-key-file",
        _ => "other",
    }
}

#[test]
fn key_file_vectors() {
    use bramble_store::{KdfParams, KeyFile};
    let v = load("store.json");
    for case in v["valid"].as_array().unwrap() {
        let p = &case["params"];
        let params = KdfParams::new(
            u32::try_from(u64(&p["memory_kib"])).unwrap(),
            u32::try_from(u64(&p["iterations"])).unwrap(),
            u32::try_from(u64(&p["parallelism"])).unwrap(),
        )
        .unwrap();
        let db_key = SecretKey::from_bytes(array(&case["database_key"]));
        let mut rng = ReplayRng::new(&[bytes(&case["salt"]), bytes(&case["nonce"])].concat());
        let password = str(&case["password"]).as_bytes();
        let file = KeyFile::seal(&db_key, password, params, &mut rng).unwrap();
        assert_eq!(rng.remaining(), 0, "{}: salt then nonce", case["name"]);
        assert_eq!(
            file.bytes().to_vec(),
            bytes(&case["key_file"]),
            "{}",
            case["name"]
        );
        let parsed = KeyFile::parse(&bytes(&case["key_file"])).unwrap();
        assert_eq!(parsed.params(), params);
        assert_eq!(parsed.open(password).unwrap(), db_key, "{}", case["name"]);
    }
    for case in v["invalid"].as_array().unwrap() {
        let password = str(&case["password"]).as_bytes();
        let result = KeyFile::parse(&bytes(&case["key_file"])).and_then(|f| f.open(password));
        let err = result.unwrap_err();
        assert_eq!(
            store_error_name(&err),
            str(&case["error"]),
            "{}",
            case["name"]
        );
    }
}

fn record_error_name(e: &bramble_proto::sync::RecordError) -> &'static str {
    use bramble_proto::sync::RecordError as E;
    match e {
        E::UnsupportedVersion(_) => "unsupported-record-version",
        E::TooLarge => "record-too-large",
        E::Malformed(_) => "malformed-record",
        E::MalformedMessage(_) => "malformed-message",
        E::Truncated => "truncated-record",
        other => panic!("not a reader error: {other:?}"),
    }
}

fn read_records(
    bytes: &[u8],
    piece: usize,
) -> Result<Vec<bramble_proto::sync::Record>, bramble_proto::sync::RecordError> {
    let mut reader = bramble_proto::sync::RecordReader::new();
    let mut out = Vec::new();
    for mut chunk in bytes.chunks(piece.max(1)) {
        while let Some(r) = reader.read(&mut chunk)? {
            out.push(r);
        }
    }
    reader.finish()?;
    Ok(out)
}

#[test]
fn sync_vectors() {
    use bramble_proto::ids::{GroupId, MessageId};
    use bramble_proto::sync::record::Range;
    use bramble_proto::sync::{ClientId, Group, Message, Record};
    let v = load("sync.json");
    for case in v["groups"].as_array().unwrap() {
        let group = Group::new(
            ClientId::new(str(&case["client"])).unwrap(),
            u32::try_from(u64(&case["major_version"])).unwrap(),
            bytes(&case["descriptor"]),
        )
        .unwrap();
        assert_eq!(
            group.id().0,
            array::<32>(&case["group_id"]),
            "{}",
            case["client"]
        );
    }
    for case in v["messages"].as_array().unwrap() {
        let ts: u64 = str(&case["timestamp"]).parse().unwrap();
        let m = Message::new(
            GroupId(array(&case["group_id"])),
            Timestamp::from_millis(ts).unwrap(),
            bytes(&case["body"]),
        )
        .unwrap();
        assert_eq!(m.to_raw(), bytes(&case["raw"]));
        assert_eq!(m.id().0, array::<32>(&case["message_id"]));
        assert_eq!(Message::parse(&bytes(&case["raw"])).unwrap(), m);
    }
    let ids = |j: &Json| -> Vec<MessageId> {
        j.as_array()
            .unwrap()
            .iter()
            .map(|x| MessageId(array(x)))
            .collect()
    };
    for case in v["records"]["valid"].as_array().unwrap() {
        let wire = bytes(&case["bytes"]);
        let expected: Vec<Record> = case["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| match str(&r["type"]) {
                "ack" => Record::Ack(ids(&r["ids"])),
                "offer" => Record::Offer(ids(&r["ids"])),
                "request" => Record::Request(ids(&r["ids"])),
                "versions" => Record::Versions(
                    r["versions"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|x| u8::try_from(u64(x)).unwrap())
                        .collect(),
                ),
                "priority" => Record::Priority(array(&r["nonce"])),
                "received" => Record::Received(
                    r["ranges"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| Range {
                            first: u32::try_from(u64(&p[0])).unwrap(),
                            count: u32::try_from(u64(&p[1])).unwrap(),
                        })
                        .collect(),
                ),
                "message" => {
                    let m = Message::parse(&bytes(&r["raw"])).unwrap();
                    assert_eq!(m.id().0, array::<32>(&r["message_id"]));
                    Record::Message(m)
                }
                "unknown" => Record::Unknown(u8::try_from(u64(&r["record_type"])).unwrap()),
                other => panic!("unknown record type in vector: {other}"),
            })
            .collect();
        for piece in [1, 5, wire.len()] {
            assert_eq!(
                read_records(&wire, piece).unwrap(),
                expected,
                "{}",
                case["name"]
            );
        }
        if expected.iter().all(|r| !matches!(r, Record::Unknown(_))) {
            let mut out = Vec::new();
            for r in &expected {
                r.encode(&mut out).unwrap();
            }
            assert_eq!(out, wire, "{}: re-encoding", case["name"]);
        }
    }
    for case in v["records"]["invalid"].as_array().unwrap() {
        let wire = bytes(&case["bytes"]);
        for piece in [1, 3, wire.len()] {
            let err = read_records(&wire, piece).unwrap_err();
            assert_eq!(
                record_error_name(&err),
                str(&case["error"]),
                "{}",
                case["name"]
            );
        }
    }
    for case in v["retransmission"].as_array().unwrap() {
        let start = Timestamp::from_millis(1_000_000).unwrap();
        let interval: u64 = str(&case["interval_ms"]).parse().unwrap();
        let n = u32::try_from(u64(&case["tx_count"])).unwrap();
        let at = bramble_proto::sync::session::expiry(start, u64(&case["max_latency_ms"]), n);
        assert_eq!(at.as_millis() - start.as_millis(), interval, "{case}");
    }
}

#[test]
fn messaging_vectors() {
    use bramble_proto::messaging;
    let v = load("messaging.json");
    for case in v["conversations"].as_array().unwrap() {
        let ours = VerifyingKey::from_bytes(&array(&case["our_identity"])).unwrap();
        let theirs = VerifyingKey::from_bytes(&array(&case["their_identity"])).unwrap();
        let group = messaging::conversation_group(&ours, &theirs);
        assert_eq!(group.descriptor, bytes(&case["descriptor"]));
        assert_eq!(group.id().0, array::<32>(&case["group_id"]));
    }
    for case in v["texts"].as_array().unwrap() {
        let body = bytes(&case["body"]);
        assert_eq!(messaging::encode_text(str(&case["text"])).unwrap(), body);
        assert_eq!(messaging::parse_text(&body).unwrap(), str(&case["text"]));
    }
    for case in v["invalid_bodies"].as_array().unwrap() {
        assert!(
            messaging::parse_text(&bytes(&case["body"])).is_err(),
            "{}",
            case["name"]
        );
    }
}

#[test]
fn every_label_is_in_the_spec() {
    let spec = std::fs::read_to_string(thicket_tests::vectors::dir().join("../crypto.md")).unwrap();
    for label in crypto::label::ALL {
        assert!(
            spec.contains(&format!("| `{label}` |")),
            "{label} missing from crypto.md"
        );
    }
}

#[test]
fn contacts_vectors() {
    use bramble_proto::contact::{
        Handshake, HandshakeReader, HandshakeRecord, Link, LinkError, Profile, Properties,
        Rendezvous, SafetyNumber, Sent,
    };
    let v = load("contacts.json");
    for case in v["links"].as_array().unwrap() {
        let secret = AgreementSecretKey::from_bytes(array(&case["secret"]));
        let public = AgreementPublicKey(array(&case["public"]));
        assert_eq!(secret.public_key(), public);
        assert_eq!(Link::new(public).to_string(), str(&case["link"]));
        assert_eq!(*Link::parse(str(&case["link"])).unwrap().key(), public);
    }
    for case in v["links_accepted"].as_array().unwrap() {
        let public = AgreementPublicKey(array(&case["public"]));
        assert_eq!(*Link::parse(str(&case["text"])).unwrap().key(), public);
    }
    for case in v["links_rejected"].as_array().unwrap() {
        let error = match Link::parse(str(&case["text"])).unwrap_err() {
            LinkError::Malformed => "malformed",
            LinkError::Checksum => "checksum",
            LinkError::UnsupportedVersion(_) => "unsupported-version",
            e => panic!("{e:?}"),
        };
        assert_eq!(error, str(&case["error"]), "{}", case["name"]);
    }
    let role_of = |name: &str| {
        if name == "alice" {
            Role::Alice
        } else {
            Role::Bob
        }
    };
    for case in v["rendezvous"].as_array().unwrap() {
        let ours = AgreementSecretKey::from_bytes(array(&case["our_secret"]));
        let theirs = AgreementPublicKey(array(&case["their_public"]));
        let r = Rendezvous::new(&ours, &theirs).unwrap();
        assert_eq!(r.role(), role_of(str(&case["role"])));
        assert_eq!(
            r.expose_secret().expose_secret(),
            &array::<32>(&case["rendezvous_key"])
        );
        assert_eq!(
            r.tor_seed(Role::Alice).expose_secret(),
            &array::<32>(&case["tor_seed_alice"])
        );
        assert_eq!(
            r.tor_seed(Role::Bob).expose_secret(),
            &array::<32>(&case["tor_seed_bob"])
        );
        for l in case["labels"].as_array().unwrap() {
            let t = TransportId::new(str(&l["transport"])).unwrap();
            assert_eq!(
                r.label(&t, Period(u64(&l["period"]))),
                array::<16>(&l["label"])
            );
        }
        for t in case["handshake_tags"].as_array().unwrap() {
            let transport = TransportId::new(str(&t["transport"])).unwrap();
            let len = PeriodLength::for_max_latency(transport.spec_max_latency().unwrap()).unwrap();
            let mut keys = r.handshake_keys(transport, len).unwrap();
            let n = u64(&t["stream"]);
            let tag = StreamTag(array(&t["tag"]));
            if role_of(str(&t["writer"])) == r.role() {
                let mut stream = keys.outgoing_mut().next_stream().unwrap();
                for _ in 0..n {
                    stream = keys.outgoing_mut().next_stream().unwrap();
                }
                assert_eq!(stream.tag, tag);
            } else {
                assert_eq!(
                    keys.incoming_mut().recognise(&tag).unwrap().stream_number,
                    n
                );
            }
        }
    }

    let h = &v["handshake"];
    struct Side {
        link: AgreementSecretKey,
        identity: SigningKey,
        nickname: String,
        properties: Properties,
        timestamp: Timestamp,
        ephemeral: Vec<u8>,
        seal_nonce: Vec<u8>,
        sealed: Vec<u8>,
    }
    let side = |s: &Json| {
        let mut properties = Properties::new();
        for entry in s["properties"].as_array().unwrap() {
            let props = entry[1]
                .as_array()
                .unwrap()
                .iter()
                .map(|kv| (str(&kv[0]).to_string(), str(&kv[1]).to_string()))
                .collect();
            properties.insert(str(&entry[0]).to_string(), props);
        }
        // The info key opens the sealed info to the info bytes.
        let sealed = bytes(&s["sealed_info"]);
        let opened = aead::open(
            &SecretKey::from_bytes(array(&s["info_key"])),
            str(&s["role"]).as_bytes(),
            &sealed,
        )
        .unwrap();
        assert_eq!(*opened, bytes(&s["info"]));
        Side {
            link: AgreementSecretKey::from_bytes(array(&s["link_secret"])),
            identity: SigningKey::from_seed(array(&s["identity_seed"])),
            nickname: str(&s["nickname"]).to_string(),
            properties,
            timestamp: Timestamp::from_millis(u64(&s["timestamp"])).unwrap(),
            ephemeral: bytes(&s["ephemeral_secret"]),
            seal_nonce: bytes(&s["seal_nonce"]),
            sealed,
        }
    };
    let (a, b) = (side(&h["alice"]), side(&h["bob"]));
    fn profile(s: &Side) -> Profile<'_> {
        Profile {
            link_key: &s.link,
            identity: &s.identity,
            nickname: &s.nickname,
            properties: &s.properties,
        }
    }
    let mut ha = Handshake::start(
        &a.link,
        &b.link.public_key(),
        &mut ReplayRng::new(&a.ephemeral),
    )
    .unwrap();
    let mut hb = Handshake::start(
        &b.link,
        &a.link.public_key(),
        &mut ReplayRng::new(&b.ephemeral),
    )
    .unwrap();
    assert_eq!(ha.role(), Role::Alice);
    let records = |hs: &Handshake| {
        let mut out = Vec::new();
        hs.write_records(&mut Sent::default(), &mut out);
        HandshakeReader::new().read(&out).unwrap()
    };
    let (ra, rb) = (records(&ha), records(&hb));
    assert!(
        ha.handle(
            rb[0].clone(),
            &profile(&a),
            a.timestamp,
            &mut ReplayRng::new(&a.seal_nonce)
        )
        .unwrap()
        .is_none()
    );
    assert!(
        hb.handle(
            ra[0].clone(),
            &profile(&b),
            b.timestamp,
            &mut ReplayRng::new(&b.seal_nonce)
        )
        .unwrap()
        .is_none()
    );
    for (hs, side) in [(&ha, &h["alice"]), (&hb, &h["bob"])] {
        let mut written = Vec::new();
        hs.write_records(&mut Sent::default(), &mut written);
        assert_eq!(written, bytes(&side["records"]));
    }
    let (ra, rb) = (records(&ha), records(&hb));
    assert_eq!(ra[1], HandshakeRecord::ContactInfo(a.sealed.clone()));
    assert_eq!(rb[1], HandshakeRecord::ContactInfo(b.sealed.clone()));
    let mut none = ReplayRng::new(&[]);
    let ca = ha
        .handle(rb[1].clone(), &profile(&a), a.timestamp, &mut none)
        .unwrap()
        .unwrap();
    let cb = hb
        .handle(ra[1].clone(), &profile(&b), b.timestamp, &mut none)
        .unwrap()
        .unwrap();
    assert_eq!(ca.info.nickname, b.nickname);
    assert_eq!(ca.info.properties, b.properties);
    assert_eq!(cb.info.identity, a.identity.verifying_key());
    assert_eq!(ca.agreed.as_millis(), u64(&h["agreed_timestamp"]));
    let k = &h["contact_keys"];
    let transport = TransportId::new(str(&k["transport"])).unwrap();
    let len = PeriodLength::from_millis(u64(&k["period_length_ms"])).unwrap();
    let mut keys_a = ca.transport_keys(transport.clone(), len).unwrap();
    let mut keys_b = cb.transport_keys(transport, len).unwrap();
    assert_eq!(keys_a.period(), Period(u64(&k["start_period"])));
    assert_eq!(
        keys_a.outgoing_mut().next_stream().unwrap().tag,
        StreamTag(array(&k["alice_tag_0"]))
    );
    assert_eq!(
        keys_b.outgoing_mut().next_stream().unwrap().tag,
        StreamTag(array(&k["bob_tag_0"]))
    );

    for case in v["safety_numbers"].as_array().unwrap() {
        let id = |k: &str| VerifyingKey::from_bytes(&array(&case[k])).unwrap();
        let link = |k: &str| AgreementPublicKey(array(&case[k]));
        let n = SafetyNumber::new(
            (&id("identity_a"), &link("link_a")),
            (&id("identity_b"), &link("link_b")),
        );
        assert_eq!(n.to_string(), str(&case["safety_number"]));
    }
}
