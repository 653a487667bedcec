//! Builds the contents of `spec/vectors/*.json` from the [`crate::model`].
//!
//! Inputs are fixed; byte strings come from [`bytes`], a BLAKE3 XOF of a name, so the
//! output is the same on every run. `cargo run -p thicket-tests --bin make-vectors`
//! writes the files; the `vectors` test checks that they are up to date.

use serde_json::{Value, json};

use crate::model::{self, Frames, Op};

/// Deterministic filler bytes named by `name`.
pub fn bytes(name: &str, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    blake3::Hasher::new_derive_key("thicket test vectors")
        .update(name.as_bytes())
        .finalize_xof()
        .fill(&mut out);
    out
}

fn key(name: &str) -> [u8; 32] {
    bytes(name, 32).try_into().expect("32 bytes")
}

fn h(b: impl AsRef<[u8]>) -> Value {
    Value::String(hex::encode(b))
}

/// Every vector file: `(file name, contents)`.
pub fn all() -> Vec<(&'static str, Value)> {
    vec![
        ("crypto.json", crypto()),
        ("encoding.json", encoding()),
        ("stream-keys.json", stream_keys()),
        ("stream-window.json", stream_window()),
        ("stream.json", stream()),
    ]
}

fn crypto() -> Value {
    let framing_inputs: [&[u8]; 2] = [b"", b"\x00\xff"];
    let hashes: Vec<Value> = [
        ("thicket/test/hash", vec![]),
        ("thicket/test/hash", vec![Vec::new()]),
        ("thicket/test/hash", vec![b"ab".to_vec(), b"c".to_vec()]),
        ("thicket/test/hash", vec![b"a".to_vec(), b"bc".to_vec()]),
        ("thicket/test/hash", vec![bytes("hash input", 1000)]),
    ]
    .into_iter()
    .map(|(label, inputs)| {
        let refs: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();
        json!({
            "label": label,
            "inputs": inputs.iter().map(h).collect::<Vec<_>>(),
            "output": h(model::hash(label, &refs)),
        })
    })
    .collect();
    let macs: Vec<Value> = [
        ("thicket/test/mac", key("mac key 1"), vec![]),
        (
            "thicket/test/mac",
            key("mac key 1"),
            vec![b"message".to_vec()],
        ),
        (
            "thicket/test/mac",
            key("mac key 2"),
            vec![b"message".to_vec()],
        ),
        ("thicket/stream/tag-key", key("period secret"), vec![]),
    ]
    .into_iter()
    .map(|(label, k, inputs)| {
        let refs: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();
        json!({
            "label": label,
            "key": h(k),
            "inputs": inputs.iter().map(h).collect::<Vec<_>>(),
            "output": h(model::mac(label, &k, &refs)),
        })
    })
    .collect();

    // RFC 7748 §6.1 key pairs, plus our rejection of a low-order point.
    let alice = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
    let bob = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
    let x25519 = |secret_hex: &str, peer_secret_hex: &str| {
        let s: [u8; 32] = hex::decode(secret_hex).unwrap().try_into().unwrap();
        let p: [u8; 32] = hex::decode(peer_secret_hex).unwrap().try_into().unwrap();
        let public = x25519_dalek::x25519(s, x25519_dalek::X25519_BASEPOINT_BYTES);
        let peer_public = x25519_dalek::x25519(p, x25519_dalek::X25519_BASEPOINT_BYTES);
        json!({
            "secret": secret_hex,
            "public": h(public),
            "peer_public": h(peer_public),
            "shared": h(x25519_dalek::x25519(s, peer_public)),
        })
    };
    let mut low_order = [0u8; 32];
    low_order[0] = 1;

    let signatures: Vec<Value> = [
        ("thicket/test/sign", b"".to_vec()),
        ("thicket/test/sign", b"hello".to_vec()),
        ("thicket/test/other", b"hello".to_vec()),
    ]
    .into_iter()
    .map(|(label, message)| {
        use ed25519_dalek::Signer;
        let seed = key("signing seed");
        let sk = ed25519_dalek::SigningKey::from_bytes(&seed);
        let sig = sk.sign(&model::framed(label, &[&message]));
        json!({
            "seed": h(seed),
            "public": h(sk.verifying_key().to_bytes()),
            "label": label,
            "message": h(&message),
            "signature": h(sig.to_bytes()),
        })
    })
    .collect();

    let sealed: Vec<Value> = [
        (b"".to_vec(), b"".to_vec()),
        (b"associated".to_vec(), b"a secret value".to_vec()),
    ]
    .into_iter()
    .map(|(ad, plaintext)| {
        use chacha20poly1305::aead::AeadInOut;
        use chacha20poly1305::{KeyInit, XChaCha20Poly1305};
        let k = key("seal key");
        let nonce: [u8; 24] = bytes("seal nonce", 24).try_into().unwrap();
        let mut ct = plaintext.clone();
        let tag = XChaCha20Poly1305::new(&k.into())
            .encrypt_inout_detached(&nonce.into(), &ad, ct.as_mut_slice().into())
            .unwrap();
        json!({
            "key": h(k),
            "nonce": h(nonce),
            "associated_data": h(&ad),
            "plaintext": h(&plaintext),
            "sealed": h([&nonce[..], &ct, &tag].concat()),
        })
    })
    .collect();

    json!({
        "spec": "spec/crypto.md",
        "description": "Length framing, labelled hash and MAC/KDF, X25519 (RFC 7748 §6.1 keys), labelled Ed25519 signatures and sealed values.",
        "framing": [{
            "label": "thicket/test",
            "inputs": framing_inputs.iter().map(h).collect::<Vec<_>>(),
            "framed": h(model::framed("thicket/test", &framing_inputs)),
        }],
        "hash": hashes,
        "mac": macs,
        "x25519": [x25519(alice, bob), x25519(bob, alice)],
        "x25519_rejected": [{
            "secret": alice,
            "peer_public": h(low_order),
            "error": "non-contributory",
        }],
        "ed25519": signatures,
        "sealed": sealed,
    })
}

fn encoding() -> Value {
    let int = |i: i64| json!({ "int": i.to_string() });
    let s = |v: &str| json!({ "str": v });
    let raw = |v: &[u8]| json!({ "raw": hex::encode(v) });
    let list = |v: Vec<Value>| json!({ "list": v });
    let valid = |name: &str, value: Value, encoding: String| json!({ "name": name, "value": value, "encoding": encoding });
    let long_str = "x".repeat(256);
    let nested = |depth: usize| {
        let mut v = list(vec![]);
        for _ in 1..depth {
            v = list(vec![v]);
        }
        v
    };
    let valid_cases = vec![
        valid("null", Value::Null, "00".into()),
        valid("false", json!(false), "10".into()),
        valid("true", json!(true), "11".into()),
        valid("zero", int(0), "2100".into()),
        valid("minus one", int(-1), "21ff".into()),
        valid("int8 max", int(127), "217f".into()),
        valid("int8 min", int(-128), "2180".into()),
        valid("int16 smallest positive", int(128), "220080".into()),
        valid("int16 largest negative", int(-129), "22ff7f".into()),
        valid("int32 smallest positive", int(32_768), "2400008000".into()),
        valid("int32 largest negative", int(-32_769), "24ffff7fff".into()),
        valid(
            "int64 smallest positive",
            int(2_147_483_648),
            "280000000080000000".into(),
        ),
        valid("int64 min", int(i64::MIN), "288000000000000000".into()),
        valid("int64 max", int(i64::MAX), "287fffffffffffffff".into()),
        valid("empty string", s(""), "4100".into()),
        valid("string", s("abc"), "4103616263".into()),
        valid("non-ASCII string", s("é"), "4102c3a9".into()),
        valid(
            "string 256 bytes",
            s(&long_str),
            format!("420100{}", "78".repeat(256)),
        ),
        valid("empty raw", raw(b""), "5100".into()),
        valid("raw", raw(&[0, 1, 0xff]), "51030001ff".into()),
        valid(
            "raw 255 bytes",
            raw(&[7; 255]),
            format!("51ff{}", "07".repeat(255)),
        ),
        valid("empty list", list(vec![]), "6080".into()),
        valid(
            "list",
            list(vec![int(1), s("a"), Value::Null]),
            "602101410161".to_string() + "0080",
        ),
        valid(
            "nested lists, depth 8",
            nested(8),
            format!("{}{}", "60".repeat(8), "80".repeat(8)),
        ),
        valid("empty dict", json!({ "dict": {} }), "7080".into()),
        valid(
            "dict",
            json!({ "dict": { "a": int(1), "b": list(vec![json!(true)]) } }),
            "704101612101410162601180".to_string() + "80",
        ),
        valid(
            "dict keys in byte order",
            json!({ "dict": { "": Value::Null, "A": Value::Null, "a": Value::Null, "aa": Value::Null, "b": Value::Null } }),
            "7041000041014100410161004102616100410162".to_string() + "0080",
        ),
    ];
    let invalid = |name: &str, encoding: String, error: &str, offset: usize| json!({ "name": name, "encoding": encoding, "error": error, "offset": offset });
    let invalid_cases = vec![
        invalid("empty input", "".into(), "unexpected-end", 0),
        invalid("trailing bytes", "0000".into(), "trailing-bytes", 1),
        invalid("unknown type 0x12", "12".into(), "unknown-type", 0),
        invalid("unknown type 0x20", "20".into(), "unknown-type", 0),
        invalid("unknown type 0x23", "2300".into(), "unknown-type", 0),
        invalid(
            "unknown type 0x38 (no floats)",
            "380000000000000000".into(),
            "unknown-type",
            0,
        ),
        invalid(
            "end marker at top level",
            "80".into(),
            "unexpected-end-marker",
            0,
        ),
        invalid(
            "end marker as dict value",
            "7041016180".into(),
            "unexpected-end-marker",
            4,
        ),
        invalid(
            "int16 holding an int8",
            "220005".into(),
            "non-canonical-integer",
            0,
        ),
        invalid(
            "int16 holding -128",
            "22ff80".into(),
            "non-canonical-integer",
            0,
        ),
        invalid(
            "int32 holding an int16",
            "2400000100".into(),
            "non-canonical-integer",
            0,
        ),
        invalid(
            "int64 holding an int32",
            "280000000000000005".into(),
            "non-canonical-integer",
            0,
        ),
        invalid("truncated int16", "2201".into(), "unexpected-end", 2),
        invalid(
            "two-byte length under 256",
            "42000161".into(),
            "non-canonical-length",
            0,
        ),
        invalid(
            "four-byte length under 65536",
            "440000000161".into(),
            "non-canonical-length",
            0,
        ),
        invalid(
            "raw two-byte length zero",
            "520000".into(),
            "non-canonical-length",
            0,
        ),
        invalid(
            "length beyond input",
            "41056162".into(),
            "unexpected-end",
            4,
        ),
        invalid(
            "string over the length limit",
            "5400010001".into(),
            "too-long",
            0,
        ),
        invalid("maximal length prefix", "54ffffffff".into(), "too-long", 0),
        invalid("invalid UTF-8", "4102c328".into(), "invalid-utf8", 0),
        invalid("overlong UTF-8 NUL", "4102c080".into(), "invalid-utf8", 0),
        invalid("UTF-8 surrogate", "4103eda080".into(), "invalid-utf8", 0),
        invalid(
            "integer dict key",
            "70210100".to_string() + "80",
            "non-string-key",
            1,
        ),
        invalid(
            "raw dict key",
            "7051016100".to_string() + "80",
            "non-string-key",
            1,
        ),
        invalid(
            "dict keys out of order",
            "7041016200410161".to_string() + "0080",
            "unordered-key",
            5,
        ),
        invalid(
            "duplicate dict key",
            "7041016100410161".to_string() + "0080",
            "unordered-key",
            5,
        ),
        invalid(
            "nesting depth 9",
            format!("{}{}", "60".repeat(9), "80".repeat(9)),
            "too-deep",
            8,
        ),
        invalid("unterminated list", "6000".into(), "unexpected-end", 2),
        invalid("dict without value", "70410161".into(), "unexpected-end", 4),
    ];
    json!({
        "spec": "spec/encoding.md",
        "description": "Canonical encodings and rejected inputs. Decoded with the default limits: depth 8, strings and raw values up to 65536 bytes. Values: null, booleans, {\"int\": decimal string}, {\"str\": string}, {\"raw\": hex}, {\"list\": [...]}, {\"dict\": {...}}.",
        "limits": { "max_depth": 8, "max_len": 65536 },
        "valid": valid_cases,
        "invalid": invalid_cases,
    })
}

const TAG_NUMBERS: [u64; 4] = [0, 1, 31, 4_294_967_295];

fn stream_keys() -> Value {
    let cases: Vec<Value> = [("tor", 20_123u64), ("file", 700u64)]
        .into_iter()
        .map(|(transport, start)| {
            let root = key(&format!("root key {transport}"));
            let role = |alice: bool| {
                let periods: Vec<Value> = model::chain(&root, alice, transport, start)
                    .take(5)
                    .map(|(period, secret)| {
                        let tk = model::tag_key(&secret);
                        let tags: serde_json::Map<String, Value> = TAG_NUMBERS
                            .iter()
                            .map(|&n| (n.to_string(), h(model::tag(&tk, n))))
                            .collect();
                        json!({
                            "period": period,
                            "secret": h(secret),
                            "tag_key": h(tk),
                            "header_key": h(model::header_key(&secret)),
                            "tags": tags,
                        })
                    })
                    .collect();
                json!({ "periods": periods })
            };
            json!({
                "root_key": h(root),
                "transport": transport,
                "start_period": start,
                "alice": role(true),
                "bob": role(false),
            })
        })
        .collect();
    json!({
        "spec": "spec/stream.md#keys",
        "description": "Period secrets, tag keys, header keys and tags of each direction, for periods start−1 to start+3. 'alice' is the chain Alice sends on (and Bob receives on).",
        "vectors": cases,
    })
}

/// A reference reordering window: `(base, seen)` after accepting `n`, or `None` if `n`
/// is not expected.
fn window_accept(base: &mut u64, seen: &mut u32, n: u64) -> bool {
    if n < *base || n >= *base + 32 || n > 4_294_967_295 || *seen & (1 << (n - *base)) != 0 {
        return false;
    }
    let i = n - *base;
    *seen |= 1 << i;
    if i >= 16 {
        let k = i - 15;
        *seen >>= k;
        *base += k;
    }
    while *seen & 1 == 1 {
        *seen >>= 1;
        *base += 1;
    }
    true
}

fn stream_window() -> Value {
    let sequences: Vec<(&str, Vec<u64>)> = vec![
        ("in order", (0..6).collect()),
        ("replay", vec![0, 0, 1, 1]),
        ("gap then fill", vec![3, 2, 1, 0, 4]),
        (
            "jump past the midpoint",
            vec![3, 20, 19, 5, 4, 0, 21, 36, 37],
        ),
        ("beyond the window", vec![32, 31, 47, 48, 15]),
        ("highest slot first", vec![31, 0, 15, 16, 47]),
    ];
    let vectors: Vec<Value> = sequences
        .into_iter()
        .map(|(name, numbers)| {
            let (mut base, mut seen) = (0u64, 0u32);
            let steps: Vec<Value> = numbers
                .iter()
                .map(|&n| {
                    let accepted = window_accept(&mut base, &mut seen, n);
                    json!({ "stream": n, "accepted": accepted, "base": base, "seen": seen })
                })
                .collect();
            json!({ "name": name, "steps": steps })
        })
        .collect();
    json!({
        "spec": "spec/stream.md#reordering-window",
        "description": "Each sequence starts from a fresh window (base 0, nothing seen) and offers stream numbers in order; after each, the window's base and seen bitmap (bit i = base + i).",
        "vectors": vectors,
    })
}

struct StreamCase {
    transport: &'static str,
    start: u64,
    period: u64,
    alice_sends: bool,
    stream_number: u64,
}

impl StreamCase {
    fn root(&self) -> [u8; 32] {
        key(&format!("stream root {}", self.transport))
    }

    fn secret(&self) -> [u8; 32] {
        model::chain(&self.root(), self.alice_sends, self.transport, self.start)
            .find(|(p, _)| *p == self.period)
            .map(|(_, s)| s)
            .expect("period after start")
    }

    fn tag(&self) -> [u8; 16] {
        model::tag(&model::tag_key(&self.secret()), self.stream_number)
    }

    fn header(
        &self,
        version: u16,
        number: u64,
        nonce: &[u8; 24],
        stream_secret: &[u8; 32],
    ) -> Vec<u8> {
        model::stream_header(
            &model::header_key(&self.secret()),
            &self.tag(),
            version,
            number,
            nonce,
            stream_secret,
        )
    }

    fn json(&self) -> serde_json::Map<String, Value> {
        let v = json!({
            "root_key": h(self.root()),
            "transport": self.transport,
            "start_period": self.start,
            "sender": model::role_name(self.alice_sends),
            "period": self.period,
            "stream_number": self.stream_number,
        });
        v.as_object().cloned().unwrap_or_default()
    }
}

fn ops_json(ops: &[Op]) -> Vec<Value> {
    ops.iter()
        .map(|op| match op {
            Op::Write(d) => json!({ "write": h(d) }),
            Op::Flush => json!({ "flush": null }),
        })
        .collect()
}

fn stream() -> Value {
    let case = |period, stream_number, alice_sends| StreamCase {
        transport: "lan",
        start: 20_400,
        period,
        alice_sends,
        stream_number,
    };
    let valid_cases: Vec<(&str, StreamCase, Option<usize>, Vec<Op>)> = vec![
        ("empty stream", case(20_400, 0, true), None, vec![]),
        (
            "one message",
            case(20_400, 0, true),
            None,
            vec![Op::Write(b"hello".to_vec())],
        ),
        (
            "flushes and an empty frame",
            case(20_400, 1, false),
            None,
            vec![
                Op::Write(b"hi".to_vec()),
                Op::Flush,
                Op::Flush,
                Op::Write(bytes("msg", 300)),
            ],
        ),
        (
            "padded to multiples of 64",
            case(20_401, 0, true),
            Some(64),
            vec![
                Op::Write(b"12345".to_vec()),
                Op::Flush,
                Op::Write(bytes("pad", 100)),
            ],
        ),
        (
            "larger than one frame",
            case(20_400, 7, true),
            None,
            vec![Op::Write(bytes("big", model::MAX_FRAME_BODY + 5))],
        ),
    ];
    let valid: Vec<Value> = valid_cases
        .into_iter()
        .map(|(name, c, pad, ops)| {
            let nonce: [u8; 24] = bytes(&format!("{name} nonce"), 24).try_into().unwrap();
            let secret = key(&format!("{name} secret"));
            let mut frames = Frames::new(&secret);
            let stream = [
                &c.tag()[..],
                &c.header(model::VERSION, c.stream_number, &nonce, &secret),
                &model::write_frames(&mut frames, &ops, pad),
            ]
            .concat();
            let mut v = c.json();
            v.insert("name".into(), json!(name));
            v.insert("header_nonce".into(), h(nonce));
            v.insert("stream_secret".into(), h(secret));
            v.insert("padding".into(), pad.map_or(Value::Null, |m| json!(m)));
            v.insert("ops".into(), Value::Array(ops_json(&ops)));
            v.insert("stream".into(), h(&stream));
            Value::Object(v)
        })
        .collect();

    // Invalid streams, all for stream 3 of period 20400 sent by Alice unless noted.
    let c = case(20_400, 3, true);
    let nonce: [u8; 24] = bytes("invalid nonce", 24).try_into().unwrap();
    let secret = key("invalid secret");
    let good_header = c.header(model::VERSION, 3, &nonce, &secret);
    let prefix = [&c.tag()[..], &good_header].concat();
    let frames_of = |f: &dyn Fn(&mut Frames) -> Vec<u8>| {
        let mut frames = Frames::new(&secret);
        [&prefix[..], &f(&mut frames)].concat()
    };
    let complete =
        frames_of(&|f| [f.frame(b"one", &[], false), f.frame(b"two", &[], true)].concat());
    let invalid: Vec<(&str, Vec<u8>, u64, &str)> = vec![
        (
            "truncated inside the last frame",
            complete[..complete.len() - 1].to_vec(),
            20_400,
            "truncated",
        ),
        (
            "no final frame",
            frames_of(&|f| f.frame(b"one", &[], false)),
            20_400,
            "truncated",
        ),
        ("header only", prefix.clone(), 20_400, "truncated"),
        (
            "data after the final frame",
            [&complete[..], &[0u8]].concat(),
            20_400,
            "trailing-data",
        ),
        (
            "non-zero padding",
            frames_of(&|f| f.frame(b"pad", &[0, 0, 1], true)),
            20_400,
            "non-zero-padding",
        ),
        (
            "frame body over the limit",
            frames_of(&|f| f.raw(Frames::header(model::MAX_FRAME_BODY, 1, true), &[])),
            20_400,
            "frame-too-large",
        ),
        {
            // Frame 1 first: its header unmasks with frame 0's keystream into an
            // arbitrary length, so the outcome follows the reader's order of checks.
            let mut f = Frames::new(&secret);
            let first = f.frame(b"one", &[], false);
            let second = f.frame(b"two", &[], true);
            let swapped = [&prefix[..], &second, &first].concat();
            let error = model::garbage_header_outcome(
                &secret,
                &second[..4],
                first.len() + second.len() - 4,
            );
            ("frames in the wrong order", swapped, 20_400, error)
        },
        (
            "final flag flipped in a frame header",
            {
                // The mask is a keystream XOR: flipping a masked bit flips the header bit.
                let mut s = complete.clone();
                s[prefix.len()] ^= 0x80;
                s
            },
            20_400,
            "frame-authentication",
        ),
        (
            "stream header version 2",
            [
                &c.tag()[..],
                &c.header(2, 3, &nonce, &secret),
                &Frames::new(&secret).frame(b"", &[], true),
            ]
            .concat(),
            20_400,
            "unsupported-version",
        ),
        (
            "stream header names another stream number",
            [
                &c.tag()[..],
                &c.header(model::VERSION, 4, &nonce, &secret),
                &Frames::new(&secret).frame(b"", &[], true),
            ]
            .concat(),
            20_400,
            "stream-number-mismatch",
        ),
        (
            "stream header altered",
            {
                let mut s = complete.clone();
                s[16 + 30] ^= 1;
                s
            },
            20_400,
            "header-authentication",
        ),
        (
            "frame body altered",
            {
                let mut s = complete.clone();
                s[prefix.len() + 5] ^= 0x10;
                s
            },
            20_400,
            "frame-authentication",
        ),
        (
            "stream from two periods back",
            complete.clone(),
            20_402,
            "unrecognised",
        ),
    ];
    let invalid: Vec<Value> = invalid
        .into_iter()
        .map(|(name, stream, receiver_period, error)| {
            let mut v = c.json();
            v.insert("name".into(), json!(name));
            v.insert("receiver_period".into(), json!(receiver_period));
            v.insert("stream".into(), h(&stream));
            v.insert("error".into(), json!(error));
            Value::Object(v)
        })
        .collect();

    json!({
        "spec": "spec/stream.md",
        "description": "Whole streams. 'valid': the writer, given the header nonce and then the stream secret as its random bytes, the padding rule and the operations followed by finish, produces 'stream'; the receiver (the other role, in 'period') reads back the written bytes and a clean end. 'invalid': the receiver (the role that is not 'sender'), in 'receiver_period', fails with 'error' ('unrecognised' when the tag is not recognised).",
        "valid": valid,
        "invalid": invalid,
    })
}
