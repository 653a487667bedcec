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
        ("store.json", store()),
        ("sync.json", sync()),
        ("messaging.json", messaging()),
        ("contacts.json", contacts()),
        ("tor.json", tor()),
        ("lan.json", lan()),
        ("ble.json", ble()),
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
    type KeyedCase<'a> = (&'a str, [u8; 32], Vec<Vec<u8>>);
    let keyed = |cases: Vec<KeyedCase<'_>>| -> Vec<Value> {
        cases
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
            .collect()
    };
    let macs = keyed(vec![
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
    ]);
    let kdfs = keyed(vec![
        ("thicket/stream/tag-key", key("period secret"), vec![]),
        (
            "thicket/stream/next-chain",
            key("period secret"),
            vec![20_001u64.to_be_bytes().to_vec()],
        ),
    ]);

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

    let (sig_rejected, keys_rejected, sig_verified) = signature_corners();
    // The top bit of a public key is ignored (RFC 7748 §5).
    let top_bit = {
        let mut v = x25519(alice, bob);
        let mut p = hex::decode(v["peer_public"].as_str().unwrap()).unwrap();
        p[31] |= 0x80;
        v["peer_public"] = h(&p);
        v["note"] = json!("peer_public with its top bit set: masked, same result");
        v
    };

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
        "description": "Length framing, labelled hash, MAC and KDF, X25519 (RFC 7748 §6.1 keys) and the rejection of a low-order point, labelled Ed25519 signatures (seeds are RFC 8032 32-byte private keys) with rejected signatures and public keys, sealed values with rejected ones.",
        "framing": [{
            "label": "thicket/test/framing",
            "inputs": framing_inputs.iter().map(h).collect::<Vec<_>>(),
            "framed": h(model::framed("thicket/test/framing", &framing_inputs)),
        }],
        "hash": hashes,
        "mac": macs,
        "kdf": kdfs,
        "x25519": [x25519(alice, bob), x25519(bob, alice), top_bit],
        "x25519_rejected": [{
            "secret": alice,
            "peer_public": h(low_order),
            "error": "non-contributory",
        }],
        "ed25519": signatures,
        "ed25519_verified": sig_verified,
        "ed25519_rejected": sig_rejected,
        "ed25519_invalid_keys": keys_rejected,
        "sealed": sealed,
        "sealed_rejected": sealed_rejections(),
    })
}

/// Ed25519 corner cases: signatures that must not verify, public keys that must not
/// decode, and signatures under unusual keys that must verify.
fn signature_corners() -> (Vec<Value>, Vec<Value>, Vec<Value>) {
    use curve25519_dalek::constants::EIGHT_TORSION;
    use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
    use curve25519_dalek::scalar::Scalar;
    use curve25519_dalek::traits::IsIdentity;
    use ed25519_dalek::Signer;
    use sha2::{Digest, Sha512};

    let seed = key("signing seed");
    let sk = ed25519_dalek::SigningKey::from_bytes(&seed);
    let public = sk.verifying_key().to_bytes();
    let label = "thicket/test/sign";
    let message = b"hello".to_vec();
    let sig = sk.sign(&model::framed(label, &[&message])).to_bytes();
    let case = |name: &str, public: [u8; 32], label: &str, message: &[u8], sig: &[u8]| {
        json!({
            "name": name,
            "public": h(public),
            "label": label,
            "message": h(message),
            "signature": h(sig),
        })
    };
    let rejected = |name: &str, public: [u8; 32], label: &str, message: &[u8], sig: &[u8]| {
        let mut v = case(name, public, label, message, sig);
        v["error"] = json!("bad-signature");
        v
    };

    // The secret scalar behind `public` (RFC 8032 §5.1.5), to build signatures by hand.
    let digest = Sha512::digest(seed);
    let mut clamped = [0u8; 32];
    clamped.copy_from_slice(&digest[..32]);
    clamped[0] &= 248;
    clamped[31] &= 127;
    clamped[31] |= 64;
    let a = Scalar::from_bytes_mod_order(clamped);
    assert_eq!(EdwardsPoint::mul_base(&a).compress().to_bytes(), public);
    let challenge = |r: &[u8; 32], key: &[u8; 32], msg: &[u8]| {
        let mut hasher = Sha512::new();
        hasher.update(r);
        hasher.update(key);
        hasher.update(model::framed(label, &[msg]));
        let wide: [u8; 64] = hasher.finalize().into();
        Scalar::from_bytes_mod_order_wide(&wide)
    };
    let signature = |r: [u8; 32], s: Scalar| [&r[..], &s.to_bytes()[..]].concat();

    // S + L, still below 2^256: the same signature with an unreduced scalar.
    let l: [u8; 32] =
        hex::decode("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
            .unwrap()
            .try_into()
            .unwrap();
    let mut s_plus_l = sig;
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(sig[32 + i]) + u16::from(l[i]) + carry;
        s_plus_l[32 + i] = (sum & 0xff) as u8;
        carry = sum >> 8;
    }
    // R = identity with S = k·a: [S]B − [k]A is the identity, so the equation holds and
    // only the small-order check on R refuses it.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let small_r = {
        let k = challenge(&identity, &public, &message);
        signature(identity, k * a)
    };
    let torsion8 = EIGHT_TORSION[1];
    let small_r8 = {
        let r = torsion8.compress().to_bytes();
        let k = challenge(&r, &public, &message);
        // [S]B − [k]A = 0 ≠ R: also fails the equation; kept for the order-8 encoding.
        signature(r, k * a)
    };

    // A mixed-order key A' = A + T (T of order 8). With a nonce r and k = H(R ‖ A' ‖ M),
    // S = r + k·a gives [S]B − [k]A' = R − [k]T: equal to R exactly when [k]T = 0.
    let mixed = EdwardsPoint::mul_base(&a) + torsion8;
    let mixed_bytes = mixed.compress().to_bytes();
    let mixed_sig = |want_torsion_free: bool| {
        (0u64..)
            .find_map(|i| {
                let r = Scalar::from_bytes_mod_order_wide(&Sha512::digest(i.to_be_bytes()).into());
                let big_r = EdwardsPoint::mul_base(&r).compress().to_bytes();
                let k = challenge(&big_r, &mixed_bytes, &message);
                let killed = (torsion8 * k).is_identity();
                (killed == want_torsion_free).then(|| signature(big_r, r + k * a))
            })
            .unwrap()
    };

    let signatures = vec![
        rejected(
            "label differs",
            public,
            "thicket/test/other",
            &message,
            &sig,
        ),
        rejected("message differs", public, label, b"hellp", &sig),
        rejected(
            "scalar not reduced (S + L)",
            public,
            label,
            &message,
            &s_plus_l,
        ),
        rejected(
            "R of small order (identity) with the equation holding",
            public,
            label,
            &message,
            &small_r,
        ),
        rejected("R of order 8", public, label, &message, &small_r8),
        rejected(
            "mixed-order key, holds only with the cofactor ([k]T ≠ 0)",
            mixed_bytes,
            label,
            &message,
            &mixed_sig(false),
        ),
    ];
    let verified = vec![case(
        "mixed-order key, cofactorless equation holds ([k]T = 0)",
        mixed_bytes,
        label,
        &message,
        &mixed_sig(true),
    )];

    // Keys: small orders, not on the curve, and a non-canonical encoding (y + p) of a
    // point of large order.
    let mut not_on_curve = None;
    let mut non_canonical = None;
    for y in 0u8..=18 {
        let mut enc = [0u8; 32];
        enc[0] = y;
        match CompressedEdwardsY(enc).decompress() {
            None if not_on_curve.is_none() => not_on_curve = Some(enc),
            Some(point) if !point.is_small_order() && non_canonical.is_none() => {
                // p = 2^255 - 19; y + p for y <= 18 is ed+y ff … ff 7f.
                let mut e = [0xff; 32];
                e[0] = 0xed + y;
                e[31] = 0x7f;
                non_canonical = Some(e);
            }
            _ => {}
        }
    }
    let key_case = |name: &str, bytes: [u8; 32]| json!({ "name": name, "public": h(bytes), "error": "invalid-public-key" });
    let keys = vec![
        key_case("identity (order 1)", identity),
        key_case("order 2", EIGHT_TORSION[4].compress().to_bytes()),
        key_case("y = 0 (order 4)", [0; 32]),
        key_case("order 8", torsion8.compress().to_bytes()),
        key_case(
            "not on the curve",
            not_on_curve.expect("some small y is off the curve"),
        ),
        key_case(
            "non-canonical encoding y + p of a large-order point",
            non_canonical.expect("some small y is on the curve"),
        ),
    ];
    (signatures, keys, verified)
}

/// Sealed values that must not open.
fn sealed_rejections() -> Vec<Value> {
    use chacha20poly1305::aead::AeadInOut;
    use chacha20poly1305::{KeyInit, XChaCha20Poly1305};
    let k = key("seal key");
    let nonce: [u8; 24] = bytes("seal nonce", 24).try_into().unwrap();
    let mut ct = b"a secret value".to_vec();
    let tag = XChaCha20Poly1305::new(&k.into())
        .encrypt_inout_detached(&nonce.into(), b"associated", ct.as_mut_slice().into())
        .unwrap();
    let good = [&nonce[..], &ct, &tag].concat();
    let mut flipped = good.clone();
    flipped[30] ^= 4;
    let case = |name: &str, ad: &[u8], sealed: &[u8]| json!({ "name": name, "key": h(k), "associated_data": h(ad), "sealed": h(sealed), "error": "open-failed" });
    vec![
        case("associated data differs", b"associatee", &good),
        case("ciphertext altered", b"associated", &flipped),
        case("shorter than nonce and tag", b"", &good[..39]),
        case("tag cut off", b"associated", &good[..good.len() - 16]),
    ]
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
            "6021014101610080".into(),
        ),
        valid(
            "nested lists, depth 8",
            nested(8),
            format!("{}{}", "60".repeat(8), "80".repeat(8)),
        ),
        valid("empty dict", json!({ "dict": [] }), "7080".into()),
        valid(
            "dict",
            json!({ "dict": [["b", list(vec![json!(true)])], ["a", int(1)]] }),
            "70410161210141016260118080".into(),
        ),
        valid("noncharacter U+FFFF", s("\u{ffff}"), "4103efbfbf".into()),
        valid("U+10FFFF", s("\u{10ffff}"), "4104f48fbfbf".into()),
        valid(
            "dict keys in byte order",
            json!({ "dict": [["b", null], ["aa", null], ["a", null], ["A", null], ["", null]] }),
            "70410000410141004101610041026161004101620080".into(),
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
        invalid("byte F5 in a string", "4101f5".into(), "invalid-utf8", 0),
        invalid(
            "overlong three-byte form",
            "4103e08080".into(),
            "invalid-utf8",
            0,
        ),
        invalid(
            "overlong four-byte form",
            "4104f0808080".into(),
            "invalid-utf8",
            0,
        ),
        invalid(
            "sequence cut at the end of the string",
            "4101c3".into(),
            "invalid-utf8",
            0,
        ),
        invalid("lone continuation byte", "410180".into(), "invalid-utf8", 0),
        invalid(
            "two-byte length field cut short",
            "4200".into(),
            "unexpected-end",
            2,
        ),
        invalid(
            "four-byte length field cut short",
            "440000".into(),
            "unexpected-end",
            3,
        ),
        invalid("int64 cut short", "2800000000".into(), "unexpected-end", 5),
        invalid(
            "dict key with invalid UTF-8 out of order",
            "70410162004102 61ff0080".replace(' ', ""),
            "invalid-utf8",
            5,
        ),
        invalid(
            "code point above U+10FFFF",
            "4104f4908080".into(),
            "invalid-utf8",
            0,
        ),
        invalid(
            "non-type byte as dict key",
            "70120080".into(),
            "non-string-key",
            1,
        ),
        invalid("integer dict key", "7021010080".into(), "non-string-key", 1),
        invalid("raw dict key", "705101610080".into(), "non-string-key", 1),
        invalid(
            "dict keys out of order",
            "70410162004101610080".into(),
            "unordered-key",
            5,
        ),
        invalid(
            "duplicate dict key",
            "70410161004101610080".into(),
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
    let limited = |name: &str, max_depth: usize, max_len: usize, encoding: &str, outcome: Value| {
        json!({
            "name": name,
            "limits": { "max_depth": max_depth, "max_len": max_len },
            "encoding": encoding,
            "outcome": outcome,
        })
    };
    let ok = |v: Value| json!({ "value": v });
    let fails = |error: &str, offset: usize| json!({ "error": error, "offset": offset });
    let limited_cases = vec![
        limited(
            "length at the limit",
            8,
            4,
            "510401020304",
            ok(raw(&[1, 2, 3, 4])),
        ),
        limited(
            "length one over the limit",
            8,
            4,
            "51050102030405",
            fails("too-long", 0),
        ),
        limited(
            "limit checked before the input's end",
            8,
            4,
            "5105",
            fails("too-long", 0),
        ),
        limited(
            "width checked before the limit",
            8,
            4,
            "52000501020304",
            fails("non-canonical-length", 0),
        ),
        limited(
            "depth at the limit",
            2,
            4,
            "60608080",
            ok(list(vec![list(vec![])])),
        ),
        limited(
            "depth one over the limit",
            2,
            4,
            "606060808080",
            fails("too-deep", 2),
        ),
        limited(
            "dict counts as depth",
            1,
            4,
            "60708080",
            fails("too-deep", 1),
        ),
        limited(
            "scalars add no depth",
            1,
            4,
            "6000608080",
            fails("too-deep", 2),
        ),
    ];
    json!({
        "spec": "spec/encoding.md",
        "description": "Canonical encodings and rejected inputs. 'valid' and 'invalid' are decoded with the default limits ('limits'); 'limited' cases with their own limits, each giving either the decoded value or the error and its offset. Values: null, booleans, {\"int\": decimal string}, {\"str\": string}, {\"raw\": hex}, {\"list\": [...]}, {\"dict\": [[key, value], ...]} (pairs in no particular order). 'encode_rejected': values an encoder must refuse ('nested_lists': n lists, each inside the previous, the innermost empty).",
        "limits": { "max_depth": 8, "max_len": 65536 },
        "valid": valid_cases,
        "invalid": invalid_cases,
        "limited": limited_cases,
        "encode_rejected": [{
            "name": "lists nested 65 deep",
            "nested_lists": 65,
            "error": "too-deep",
        }],
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
                            "beacon": h(model::beacon(&secret)),
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
    // period(t) = floor(t / (L + 86,400,000)) for the spec's transports.
    let period_of: Vec<Value> = [
        ("tor", 30_000u64, 0u64),
        ("tor", 30_000, 86_429_999),
        ("tor", 30_000, 86_430_000),
        ("tor", 30_000, 1_763_769_600_000),
        ("file", 2_419_200_000, 1_763_769_600_000),
        ("file", 2_419_200_000, 253_402_300_799_999),
    ]
    .into_iter()
    .map(|(transport, latency, t)| {
        let length = latency + 86_400_000;
        json!({ "transport": transport, "max_latency_ms": latency, "time": t, "period_length_ms": length, "period": t / length })
    })
    .collect();
    json!({
        "spec": "spec/stream.md#keys",
        "periods": period_of,
        "rejected_times": [
            { "time": 253_402_300_800_000u64, "error": "time-out-of-range" },
            { "time": u64::MAX, "error": "time-out-of-range" },
        ],
        "rejected_latencies": [
            { "max_latency_ms": 31_536_000_001u64, "error": "latency-out-of-range" },
        ],

        "transport_ids": {
            "valid": ["tor", "lan", "ble", "file", "x", "a.b-c9", "abcdefghijklmnopqrstuvwxyz012345"],
            "invalid": ["", "Tor", "a b", "a_b", "é", "abcdefghijklmnopqrstuvwxyz0123456"],
        },
        "description": "'vectors': period secrets, tag keys, header keys, beacons and tags of each direction, for periods start−1 to start+3; 'alice' is the chain Alice sends on (and Bob receives on). 'periods': the period containing a time for a transport's latency; 'rejected_times' and 'rejected_latencies': inputs to refuse. 'transport_ids': identifiers to accept and to refuse (invalid-transport-id).",
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
    const MAX: u64 = 4_294_967_295;
    let sequences: Vec<(&str, (u64, u32), Vec<u64>)> = vec![
        ("in order", (0, 0), (0..6).collect()),
        ("replay", (0, 0), vec![0, 0, 1, 1]),
        ("gap then fill", (0, 0), vec![3, 2, 1, 0, 4]),
        (
            "jump past the midpoint",
            (0, 0),
            vec![3, 20, 19, 5, 4, 0, 21, 36, 37],
        ),
        ("beyond the window", (0, 0), vec![32, 31, 47, 48, 15]),
        ("highest slot first", (0, 0), vec![31, 0, 15, 16, 47]),
        (
            "from a stored window",
            (100, 0b1010),
            vec![101, 100, 102, 104, 103, 99],
        ),
        (
            "at the last stream number",
            (MAX - 1, 0),
            vec![MAX + 1, MAX, MAX - 1, MAX + 1],
        ),
    ];
    let vectors: Vec<Value> = sequences
        .into_iter()
        .map(|(name, (base0, seen0), numbers)| {
            let (mut base, mut seen) = (base0, seen0);
            let steps: Vec<Value> = numbers
                .iter()
                .map(|&n| {
                    let accepted = window_accept(&mut base, &mut seen, n);
                    json!({ "stream": n, "accepted": accepted, "base": base, "seen": seen })
                })
                .collect();
            json!({ "name": name, "start": { "base": base0, "seen": seen0 }, "steps": steps })
        })
        .collect();
    json!({
        "spec": "spec/stream.md#reordering-window",
        "description": "Each sequence starts from the window in 'start' (base, and seen bitmap with bit i = base + i) and offers the tags of the listed stream numbers, in order, to a receiver holding that window. 'accepted' says whether the number was expected (its tag matched, so it was marked seen and the window slid); then the window's base and seen bitmap. Stream numbers above 4294967295 are never expected.",
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
        (
            "exactly one full frame",
            case(20_400, 8, true),
            Some(1000),
            vec![Op::Write(bytes("full", model::MAX_FRAME_BODY)), Op::Flush],
        ),
        (
            "payloads exactly a multiple of the padding size",
            case(20_400, 9, false),
            Some(64),
            vec![
                Op::Write(bytes("m64", 64)),
                Op::Flush,
                Op::Write(bytes("m128", 128)),
            ],
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

    // Invalid streams, all for stream 3 of period 20400 sent by Alice and read by Bob.
    let c = case(20_400, 3, true);
    let nonce: [u8; 24] = bytes("invalid nonce", 24).try_into().unwrap();
    let secret = key("invalid secret");
    let prefix = [&c.tag()[..], &c.header(model::VERSION, 3, &nonce, &secret)].concat();
    let with_frames = |f: &dyn Fn(&mut Frames) -> Vec<u8>| {
        let mut frames = Frames::new(&secret);
        [&prefix[..], &f(&mut frames)].concat()
    };
    let header_only = |version: u16, number: u64| {
        let end = Frames::new(&secret).frame(b"", &[], true);
        [
            &c.tag()[..],
            &c.header(version, number, &nonce, &secret),
            &end,
        ]
        .concat()
    };
    let complete =
        with_frames(&|f| [f.frame(b"one", &[], false), f.frame(b"two", &[], true)].concat());
    let flip = |at: usize, mask: u8| {
        let mut s = complete.clone();
        s[at] ^= mask;
        s
    };
    // Frames 0 and 1 have equal headers ("one", "two": 3 bytes, not final), so their masked
    // headers can stay in place while the sealed bodies trade places.
    let bodies_swapped = {
        let mut f = Frames::new(&secret);
        let first = f.frame(b"one", &[], false);
        let second = f.frame(b"two", &[], false);
        let last = f.frame(b"end", &[], true);
        [
            &prefix[..],
            &first[..4],
            &second[4..],
            &second[..4],
            &first[4..],
            &last,
        ]
        .concat()
    };
    // (name, stream, receiver period, error, plaintext released before the error)
    type Invalid<'a> = (&'a str, Vec<u8>, u64, &'a str, &'a [u8]);
    let invalid: Vec<Invalid<'_>> = vec![
        (
            "shorter than a tag",
            complete[..15].to_vec(),
            20_400,
            "unrecognised",
            b"",
        ),
        (
            "stream from two periods back",
            complete.clone(),
            20_402,
            "unrecognised",
            b"",
        ),
        (
            "truncated inside the stream header",
            complete[..50].to_vec(),
            20_400,
            "truncated",
            b"",
        ),
        ("header only", prefix.clone(), 20_400, "truncated", b""),
        (
            "truncated inside a frame header",
            complete[..prefix.len() + 2].to_vec(),
            20_400,
            "truncated",
            b"",
        ),
        (
            "truncated inside the last frame",
            complete[..complete.len() - 1].to_vec(),
            20_400,
            "truncated",
            b"one",
        ),
        (
            "no final frame",
            with_frames(&|f| f.frame(b"one", &[], false)),
            20_400,
            "truncated",
            b"one",
        ),
        (
            "data after the final frame",
            [&complete[..], &[0u8]].concat(),
            20_400,
            "trailing-data",
            b"onetwo",
        ),
        (
            "non-zero padding",
            with_frames(&|f| f.frame(b"pad", &[0, 0, 1], true)),
            20_400,
            "non-zero-padding",
            b"",
        ),
        (
            "non-zero padding before the last padding byte",
            with_frames(&|f| f.frame(b"pad", &[1, 0, 0], true)),
            20_400,
            "non-zero-padding",
            b"",
        ),
        (
            "frame body over the limit",
            with_frames(&|f| f.raw(Frames::header(model::MAX_FRAME_BODY, 1, true), &[])),
            20_400,
            "frame-too-large",
            b"",
        ),
        (
            "frame bodies swapped",
            bodies_swapped,
            20_400,
            "frame-authentication",
            b"",
        ),
        // The mask is a keystream XOR: flipping a masked bit flips the header bit.
        (
            "final flag flipped in a frame header",
            flip(prefix.len(), 0x80),
            20_400,
            "frame-authentication",
            b"",
        ),
        (
            "second frame altered",
            flip(prefix.len() + 23 + 5, 0x10),
            20_400,
            "frame-authentication",
            b"one",
        ),
        (
            "stream header version 2",
            header_only(2, 3),
            20_400,
            "unsupported-version",
            b"",
        ),
        (
            "stream header names another stream number",
            header_only(model::VERSION, 4),
            20_400,
            "stream-number-mismatch",
            b"",
        ),
        (
            "stream header with version and stream number both wrong",
            header_only(2, 4),
            20_400,
            "unsupported-version",
            b"",
        ),
        (
            "stream header altered",
            flip(16 + 30, 1),
            20_400,
            "header-authentication",
            b"",
        ),
    ];
    let invalid: Vec<Value> = invalid
        .into_iter()
        .map(|(name, stream, receiver_period, error, released)| {
            let mut v = c.json();
            v.insert("name".into(), json!(name));
            v.insert("receiver_period".into(), json!(receiver_period));
            v.insert("stream".into(), h(&stream));
            v.insert("error".into(), json!(error));
            v.insert("released".into(), h(released));
            Value::Object(v)
        })
        .collect();

    json!({
        "spec": "spec/stream.md",
        "description": "Whole streams. 'valid': the sender, in 'period', has used stream numbers 0 to stream_number − 1 of that period (its counter stands at 'stream_number'); its writer, given the header nonce and then the stream secret as its random bytes, the padding rule (null: none; m: bodies padded to multiples of m) and the operations followed by finish, produces 'stream'; the receiver (the other role, in 'period') reads back the written bytes and a clean end. 'invalid': the receiver (the role that is not 'sender'), in 'receiver_period', handed all of 'stream', fails with 'error' ('unrecognised' when the tag is not recognised), having released exactly 'released' before failing. 'sequences': one receiver, in 'receiver_period', is handed the streams in order; each gives its 'error' (null for a clean end) after releasing 'released'.",
        "valid": valid,
        "invalid": invalid,
        "sequences": stream_sequences(),
    })
}

/// Several streams to one receiver, where the order matters.
fn stream_sequences() -> Vec<Value> {
    let case = |period, stream_number| StreamCase {
        transport: "lan",
        start: 20_400,
        period,
        alice_sends: true,
        stream_number,
    };
    let stream = |c: &StreamCase, name: &str, payload: &[u8]| {
        let nonce: [u8; 24] = bytes(&format!("{name} nonce"), 24).try_into().unwrap();
        let secret = key(&format!("{name} secret"));
        let mut frames = Frames::new(&secret);
        [
            &c.tag()[..],
            &c.header(model::VERSION, c.stream_number, &nonce, &secret),
            &frames.frame(payload, &[], true),
        ]
        .concat()
    };
    let outcome = |s: Vec<u8>, error: Option<&str>, released: &[u8]| json!({ "stream": h(s), "error": error, "released": h(released) });
    let base = |name: &str, receiver_period: u64, streams: Vec<Value>| {
        json!({
            "name": name,
            "root_key": h(case(20_400, 0).root()),
            "transport": "lan",
            "start_period": 20_400,
            "sender": "alice",
            "receiver_period": receiver_period,
            "streams": streams,
        })
    };
    // Stream 3 with a damaged header, then the real stream 3, then stream 4.
    let three = case(20_400, 3);
    let mut damaged = stream(&three, "seq damaged", b"x");
    damaged[16 + 40] ^= 1;
    vec![
        base(
            "a stream whose header fails still uses up its number",
            20_400,
            vec![
                outcome(damaged, Some("header-authentication"), b""),
                outcome(
                    stream(&three, "seq three", b"three"),
                    Some("unrecognised"),
                    b"",
                ),
                outcome(stream(&case(20_400, 4), "seq four", b"four"), None, b"four"),
            ],
        ),
        base(
            "streams from the previous and the next period",
            20_401,
            vec![
                outcome(
                    stream(&case(20_400, 0), "seq previous", b"previous"),
                    None,
                    b"previous",
                ),
                outcome(stream(&case(20_402, 0), "seq next", b"next"), None, b"next"),
                outcome(
                    stream(&case(20_401, 0), "seq current", b"current"),
                    None,
                    b"current",
                ),
            ],
        ),
    ]
}

fn store() -> Value {
    let db_key = key("database key");
    let salt: [u8; 32] = bytes("key file salt", 32).try_into().unwrap();
    let nonce: [u8; 24] = bytes("key file nonce", 24).try_into().unwrap();
    let params =
        |(m, t, p): (u32, u32, u32)| json!({ "memory_kib": m, "iterations": t, "parallelism": p });
    let valid: Vec<Value> = [
        ("ASCII password", "correct horse", (64u32, 1u32, 1u32)),
        ("non-ASCII password, two lanes", "pässwörd ✓", (256, 2, 2)),
    ]
    .into_iter()
    .map(|(name, password, p)| {
        json!({
            "name": name,
            "password": password,
            "params": params(p),
            "salt": h(salt),
            "nonce": h(nonce),
            "database_key": h(db_key),
            "key_file": h(model::key_file(password.as_bytes(), p, &salt, &nonce, &db_key)),
        })
    })
    .collect();
    let good = model::key_file(b"correct horse", (64, 1, 1), &salt, &nonce, &db_key);
    // Alters the body and recomputes the checksum, so only the alteration matters.
    let rechecked = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut body = good[..good.len() - 32].to_vec();
        f(&mut body);
        let checksum = model::hash("thicket/store/key-file-checksum", &[&body]);
        [&body[..], &checksum].concat()
    };
    let flipped = |at: usize| {
        let mut b = good.clone();
        b[at] ^= 1;
        b
    };
    let invalid = |name: &str, file: Vec<u8>, password: &str, error: &str| json!({ "name": name, "key_file": h(file), "password": password, "error": error });
    let invalid_cases = vec![
        invalid(
            "wrong password",
            good.clone(),
            "correct horsf",
            "wrong-password",
        ),
        invalid("empty password", good.clone(), "", "wrong-password"),
        invalid(
            "checksum does not match",
            flipped(good.len() - 1),
            "correct horse",
            "corrupt-key-file",
        ),
        invalid(
            "salt altered",
            flipped(40),
            "correct horse",
            "corrupt-key-file",
        ),
        invalid(
            "truncated",
            good[..good.len() - 1].to_vec(),
            "correct horse",
            "corrupt-key-file",
        ),
        invalid(
            "wrong magic",
            rechecked(&|b| b[0] = b'T'),
            "correct horse",
            "corrupt-key-file",
        ),
        invalid(
            "version 2",
            rechecked(&|b| b[17] = 2),
            "correct horse",
            "unsupported-key-file",
        ),
        invalid(
            "version 0",
            rechecked(&|b| b[17] = 0),
            "correct horse",
            "corrupt-key-file",
        ),
        invalid(
            "unknown KDF",
            rechecked(&|b| b[18] = 2),
            "correct horse",
            "corrupt-key-file",
        ),
        invalid(
            "zero iterations",
            rechecked(&|b| b[23..27].copy_from_slice(&0u32.to_be_bytes())),
            "correct horse",
            "corrupt-key-file",
        ),
        invalid(
            "memory above 4 GiB is refused unread",
            rechecked(&|b| b[19..23].copy_from_slice(&(4 * 1024 * 1024 + 1u32).to_be_bytes())),
            "correct horse",
            "corrupt-key-file",
        ),
        invalid(
            "parameters altered (the seal binds them)",
            rechecked(&|b| b[23..27].copy_from_slice(&2u32.to_be_bytes())),
            "correct horse",
            "wrong-password",
        ),
        invalid(
            "sealed key altered",
            rechecked(&|b| b[100] ^= 1),
            "correct horse",
            "wrong-password",
        ),
    ];
    json!({
        "spec": "spec/store.md#key-file",
        "description": "Key files. 'valid': sealing 'database_key' under 'password' (UTF-8) with 'params', drawing the salt and then the nonce as random bytes, gives 'key_file', and opening it gives the key back. 'invalid': parsing and opening 'key_file' with 'password' fails with 'error'.",
        "valid": valid,
        "invalid": invalid_cases,
    })
}

fn ids_payload(ids: &[[u8; 32]]) -> Vec<u8> {
    ids.concat()
}

fn sync() -> Value {
    let groups: Vec<Value> = [
        ("thicket.messaging", 1u32, bytes("descriptor", 66)),
        ("thicket.messaging", 2, bytes("descriptor", 66)),
        ("test.empty-descriptor", 0, Vec::new()),
        ("a", u32::MAX, bytes("long descriptor", 16_384)),
    ]
    .into_iter()
    .map(|(client, major, descriptor)| {
        json!({
            "client": client,
            "major_version": major,
            "descriptor": h(&descriptor),
            "group_id": h(model::group_id(client, major, &descriptor)),
        })
    })
    .collect();
    let group = model::group_id("thicket.messaging", 1, &bytes("descriptor", 66));
    let messages: Vec<Value> = [
        (0u64, vec![0u8]),
        (1_764_590_400_000, bytes("body", 100)),
        (253_402_300_799_999, bytes("largest body", 32_768)),
    ]
    .into_iter()
    .map(|(ts, body)| {
        json!({
            "group_id": h(group),
            "timestamp": ts.to_string(),
            "body": h(&body),
            "raw": h(model::raw_message(&group, ts, &body)),
            "message_id": h(model::message_id(&group, ts, &body)),
        })
    })
    .collect();

    let id = |n: &str| key(n);
    let (i1, i2, i3) = (id("id 1"), id("id 2"), id("id 3"));
    let body = bytes("record body", 20);
    let raw = model::raw_message(&group, 1_764_590_400_000, &body);
    let nonce = bytes("priority nonce", 16);
    let ranges = |rs: &[(u32, u32)]| -> Vec<u8> {
        rs.iter()
            .flat_map(|(f, c)| [f.to_be_bytes(), c.to_be_bytes()].concat())
            .collect()
    };
    let j_ids = |ids: &[[u8; 32]]| ids.iter().map(h).collect::<Vec<_>>();
    let many: Vec<[u8; 32]> = (0..1536).map(|i| id(&format!("many {i}"))).collect();
    let valid = vec![
        json!({
            "name": "versions",
            "bytes": h(model::record(4, &[1])),
            "records": [{ "type": "versions", "versions": [1] }],
        }),
        json!({
            "name": "versions listing ten",
            "bytes": h(model::record(4, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10])),
            "records": [{ "type": "versions", "versions": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }],
        }),
        json!({
            "name": "priority",
            "bytes": h(model::record(5, &nonce)),
            "records": [{ "type": "priority", "nonce": h(&nonce) }],
        }),
        json!({
            "name": "ack of three",
            "bytes": h(model::record(0, &ids_payload(&[i1, i2, i3]))),
            "records": [{ "type": "ack", "ids": j_ids(&[i1, i2, i3]) }],
        }),
        json!({
            "name": "offer of the most identifiers a record holds",
            "bytes": h(model::record(2, &ids_payload(&many))),
            "records": [{ "type": "offer", "ids": j_ids(&many) }],
        }),
        json!({
            "name": "request",
            "bytes": h(model::record(3, &ids_payload(&[i2]))),
            "records": [{ "type": "request", "ids": j_ids(&[i2]) }],
        }),
        json!({
            "name": "message",
            "bytes": h(model::record(1, &raw)),
            "records": [{
                "type": "message",
                "raw": h(&raw),
                "message_id": h(model::message_id(&group, 1_764_590_400_000, &body)),
            }],
        }),
        json!({
            "name": "received: ranges with gaps, up to the last number",
            "bytes": h(model::record(6, &ranges(&[(0, 3), (4, 1), (10, 6), (u32::MAX, 1)]))),
            "records": [{ "type": "received", "ranges": [[0, 3], [4, 1], [10, 6], [u32::MAX, 1]] }],
        }),
        json!({
            "name": "unknown record types are skipped",
            "bytes": h([model::record(7, b"later"), model::record(255, &[]), model::record(4, &[1])].concat()),
            "records": [
                { "type": "unknown", "record_type": 7 },
                { "type": "unknown", "record_type": 255 },
                { "type": "versions", "versions": [1] },
            ],
        }),
        json!({
            "name": "a stream of records",
            "bytes": h([
                model::record(4, &[1]),
                model::record(5, &nonce),
                model::record(1, &raw),
                model::record(6, &ranges(&[(0, 1)])),
                model::record(0, &i1),
            ].concat()),
            "records": [
                { "type": "versions", "versions": [1] },
                { "type": "priority", "nonce": h(&nonce) },
                {
                    "type": "message",
                    "raw": h(&raw),
                    "message_id": h(model::message_id(&group, 1_764_590_400_000, &body)),
                },
                { "type": "received", "ranges": [[0, 1]] },
                { "type": "ack", "ids": [h(i1)] },
            ],
        }),
    ];
    let invalid = |name: &str, bytes: Vec<u8>, error: &str| json!({ "name": name, "bytes": h(bytes), "error": error });
    let too_long_ts = model::raw_message(&group, 253_402_300_800_000, &body);
    let invalid_records = vec![
        invalid(
            "record version 0",
            model::record(4, &[1])
                .iter()
                .enumerate()
                .map(|(i, b)| if i == 0 { 0 } else { *b })
                .collect(),
            "unsupported-record-version",
        ),
        invalid(
            "record version 2, refused before its payload arrives",
            vec![2, 4, 0, 1],
            "unsupported-record-version",
        ),
        invalid(
            "payload over 49,152 bytes, refused from the header alone",
            vec![1, 1, 0xc0, 0x01],
            "record-too-large",
        ),
        invalid("empty ack", model::record(0, &[]), "malformed-record"),
        invalid(
            "ack of 31 bytes",
            model::record(0, &[0; 31]),
            "malformed-record",
        ),
        invalid(
            "offer of 33 bytes",
            model::record(2, &[0; 33]),
            "malformed-record",
        ),
        invalid("empty request", model::record(3, &[]), "malformed-record"),
        invalid("empty versions", model::record(4, &[]), "malformed-record"),
        invalid(
            "eleven versions",
            model::record(4, &[1; 11]),
            "malformed-record",
        ),
        invalid(
            "priority of 15 bytes",
            model::record(5, &[0; 15]),
            "malformed-record",
        ),
        invalid(
            "priority of 17 bytes",
            model::record(5, &[0; 17]),
            "malformed-record",
        ),
        invalid("empty received", model::record(6, &[]), "malformed-record"),
        invalid(
            "received of 12 bytes",
            model::record(6, &[0; 12]),
            "malformed-record",
        ),
        invalid(
            "received range of no numbers",
            model::record(6, &ranges(&[(5, 0)])),
            "malformed-record",
        ),
        invalid(
            "received range past 2^32",
            model::record(6, &ranges(&[(u32::MAX, 2)])),
            "malformed-record",
        ),
        invalid(
            "received ranges that touch",
            model::record(6, &ranges(&[(0, 2), (2, 1)])),
            "malformed-record",
        ),
        invalid(
            "received ranges that overlap",
            model::record(6, &ranges(&[(0, 3), (2, 1)])),
            "malformed-record",
        ),
        invalid(
            "received ranges out of order",
            model::record(6, &ranges(&[(5, 1), (0, 1)])),
            "malformed-record",
        ),
        invalid(
            "message of a header only",
            model::record(1, &raw[..40]),
            "malformed-message",
        ),
        invalid(
            "message shorter than a header",
            model::record(1, &raw[..39]),
            "malformed-message",
        ),
        invalid(
            "message timestamp past year 9999",
            model::record(1, &too_long_ts),
            "malformed-message",
        ),
        invalid(
            "message body over 32,768 bytes",
            model::record(1, &model::raw_message(&group, 0, &[0; 32_769])),
            "malformed-message",
        ),
        invalid(
            "stream ends inside a header",
            vec![1, 4, 0],
            "truncated-record",
        ),
        invalid(
            "stream ends inside a payload",
            model::record(0, &i1)[..20].to_vec(),
            "truncated-record",
        ),
    ];
    let retransmission: Vec<Value> = [
        (30_000u64, 0u32),
        (30_000, 1),
        (30_000, 9),
        (30_000, 10),
        (30_000, 11),
        (0, 0),
        (4_999, 2),
        (28 * 86_400_000, 0),
    ]
    .into_iter()
    .map(|(l, n)| json!({ "max_latency_ms": l, "tx_count": n, "interval_ms": model::retransmission_interval(l, n).to_string() }))
    .collect();
    json!({
        "spec": "spec/sync.md",
        "description": "Groups: the group id of (client, major_version, descriptor). Messages: the raw message and message id of (group_id, timestamp, body); timestamps are decimal strings. Records: 'valid' streams of records that a reader must split into exactly 'records' (and a writer reproduce byte for byte, except unknown types); 'invalid' record streams a reader must refuse with 'error' (the first error found, reading from the start; truncated-record at the end of the input). Retransmission: the interval from a transmission to its expiry, in ms, as a decimal string.",
        "groups": groups,
        "messages": messages,
        "records": { "valid": valid, "invalid": invalid_records },
        "retransmission": retransmission,
    })
}

fn messaging() -> Value {
    use ed25519_dalek::SigningKey;
    let public = |name: &str| {
        SigningKey::from_bytes(&key(name))
            .verifying_key()
            .to_bytes()
    };
    let (alice, bob, carol) = (
        public("alice identity"),
        public("bob identity"),
        public("carol identity"),
    );
    let conversations: Vec<Value> = [(alice, bob), (bob, alice), (alice, carol)]
        .into_iter()
        .map(|(a, b)| {
            let descriptor = model::conversation_descriptor(&a, &b);
            json!({
                "our_identity": h(a),
                "their_identity": h(b),
                "descriptor": h(&descriptor),
                "group_id": h(model::group_id("thicket.messaging", 1, &descriptor)),
            })
        })
        .collect();
    let texts: Vec<Value> = [
        "hi".to_string(),
        "two lines\nand a\ttab".to_string(),
        "ünïcødé ✓ 🌲".to_string(),
        "x".repeat(255),
        "y".repeat(256),
        "z".repeat(32_000),
    ]
    .into_iter()
    .map(|t| json!({ "text": t, "body": h(model::text_body(&t)) }))
    .collect();
    let body = |items: &[&[u8]]| [&[0x60][..], &items.concat(), &[0x80]].concat();
    let invalid = |name: &str, b: Vec<u8>| json!({ "name": name, "body": h(b) });
    let text = |t: &str| {
        let mut v = vec![0x41, u8::try_from(t.len()).unwrap()];
        v.extend_from_slice(t.as_bytes());
        v
    };
    let invalid_bodies = vec![
        invalid("empty text", model::text_body("")),
        invalid(
            "text over 32,000 bytes",
            model::text_body(&"x".repeat(32_001)),
        ),
        invalid("escape character", model::text_body("\u{1b}[2J")),
        invalid("carriage return", model::text_body("a\rb")),
        invalid("delete character", model::text_body("\u{7f}")),
        invalid("C1 control character", model::text_body("\u{9b}31m")),
        invalid("kind 1", body(&[&[0x21, 0x01], &text("hi")])),
        invalid("no kind", body(&[&text("hi")])),
        invalid(
            "a third element",
            body(&[&[0x21, 0x00], &text("hi"), &[0x00]]),
        ),
        invalid(
            "text as raw bytes",
            body(&[&[0x21, 0x00], &[0x51, 2, b'h', b'i']]),
        ),
        invalid("a dictionary", vec![0x70, 0x80]),
        invalid("nested list", body(&[&[0x21, 0x00], &body(&[&text("hi")])])),
        invalid(
            "non-canonical length",
            body(&[&[0x21, 0x00], &[0x42, 0, 2, b'h', b'i']]),
        ),
        invalid("trailing byte", [model::text_body("hi"), vec![0]].concat()),
        invalid("not an encoding", vec![0xff]),
    ];
    json!({
        "spec": "spec/messaging.md",
        "description": "Conversations: the descriptor and group id of the conversation between two identity keys (the same whichever is ours). Texts: the body of a text message, and back. Invalid bodies: a validator must refuse each.",
        "conversations": conversations,
        "texts": texts,
        "invalid_bodies": invalid_bodies,
    })
}

fn contacts() -> Value {
    use chacha20poly1305::aead::AeadInOut;
    use chacha20poly1305::{KeyInit, XChaCha20Poly1305};
    use ed25519_dalek::Signer;

    let link_secret = |name: &str| key(&format!("contact {name} link"));
    let names = ["alice", "bob", "carol"];
    let links: Vec<Value> = names
        .iter()
        .map(|n| {
            let public = model::x25519_public(&link_secret(n));
            json!({ "secret": h(link_secret(n)), "public": h(public), "link": model::link(1, &public) })
        })
        .collect();

    let good = model::link(1, &model::x25519_public(&link_secret("alice")));
    let body = good.trim_start_matches("thicket://").to_string();
    let mut typo = body.clone().into_bytes();
    typo[20] = if typo[20] == b'a' { b'b' } else { b'a' };
    let typo = String::from_utf8(typo).unwrap();
    let v2 = model::link(2, &model::x25519_public(&link_secret("alice")));
    let invalid =
        |name: &str, text: &str, error: &str| json!({ "name": name, "text": text, "error": error });
    let invalid_links = vec![
        invalid(
            "one character mistyped",
            &format!("thicket://{typo}"),
            "checksum",
        ),
        invalid("last character lost", &good[..good.len() - 1], "malformed"),
        invalid(
            "a character outside base32",
            &good.replace(&body[..1], "1"),
            "malformed",
        ),
        invalid("empty", "", "malformed"),
        invalid("prefix only", "thicket://", "malformed"),
        invalid("another scheme", &format!("briar://{body}"), "malformed"),
        invalid("version 2", &v2, "unsupported-version"),
    ];
    let accepted = vec![
        json!({ "text": body, "public": h(model::x25519_public(&link_secret("alice"))) }),
        json!({ "text": format!("  {}\n", good.to_uppercase()), "public": h(model::x25519_public(&link_secret("alice"))) }),
    ];

    let rendezvous: Vec<Value> = [("alice", "bob"), ("bob", "alice"), ("alice", "carol")]
        .into_iter()
        .map(|(ours, theirs)| {
            let their_public = model::x25519_public(&link_secret(theirs));
            let (alice, rk) = model::rendezvous(&link_secret(ours), &their_public);
            let tags: Vec<Value> = [("file", true, 0), ("file", true, 1), ("file", false, 0), ("tor", true, 0)]
                .into_iter()
                .map(|(t, a, n)| json!({ "transport": t, "writer": model::role_name(a), "stream": n, "tag": h(model::handshake_tag(&rk, a, t, n)) }))
                .collect();
            json!({
                "our_secret": h(link_secret(ours)),
                "their_public": h(their_public),
                "role": model::role_name(alice),
                "rendezvous_key": h(rk),
                "tor_seed_alice": h(model::tor_seed(&rk, true)),
                "tor_seed_bob": h(model::tor_seed(&rk, false)),
                "labels": [
                    { "transport": "lan", "period": 20_000, "label": h(model::rendezvous_label(&rk, "lan", 20_000)) },
                    { "transport": "ble", "period": 20_000, "label": h(model::rendezvous_label(&rk, "ble", 20_000)) },
                ],
                "handshake_tags": tags,
            })
        })
        .collect();

    // A whole handshake between the links of "alice" and "bob", roles as their public keys
    // sort.
    let (sa, sb) = {
        let (x, y) = (link_secret("alice"), link_secret("bob"));
        if model::x25519_public(&x) < model::x25519_public(&y) {
            (x, y)
        } else {
            (y, x)
        }
    };
    let (ea, eb) = (key("contact alice ephemeral"), key("contact bob ephemeral"));
    let master = model::master_key(
        &sa,
        &ea,
        &model::x25519_public(&sb),
        &model::x25519_public(&eb),
    );
    let master_bob_view = {
        // Bob computes the same key from his side: DH is symmetric.
        let dh = |x: &[u8; 32], y: &[u8; 32]| x25519_dalek::x25519(*x, *y);
        let (sa_pub, ea_pub) = (model::x25519_public(&sa), model::x25519_public(&ea));
        model::mac(
            "thicket/contact/master-key",
            &dh(&eb, &ea_pub),
            &[
                &dh(&eb, &sa_pub),
                &dh(&sb, &ea_pub),
                &sa_pub,
                &model::x25519_public(&sb),
                &ea_pub,
                &model::x25519_public(&eb),
            ],
        )
    };
    assert_eq!(master, master_bob_view);
    let side = |alice: bool, secret: [u8; 32], ephemeral: [u8; 32], name: &str, timestamp: u64| {
        let identity_seed = key(&format!("contact {name} identity"));
        let sk = ed25519_dalek::SigningKey::from_bytes(&identity_seed);
        let identity = sk.verifying_key().to_bytes();
        let onion = format!("{name}.onion");
        let properties = vec![
            ("lan", vec![("port", "7777")]),
            ("tor", vec![("onion", onion.as_str())]),
        ];
        let fields = model::info_fields(&identity, name, timestamp, &properties);
        let (info_key, nonce) = model::info_keys(&master, alice);
        let signed = [&nonce[..], &fields].concat();
        let signature = sk
            .sign(&model::framed("thicket/contact/info-signature", &[&signed]))
            .to_bytes();
        // info = fields with the signature appended before the list's end.
        let info = [
            &fields[..fields.len() - 1],
            &model::encode_raw(&signature),
            &[0x80],
        ]
        .concat();
        let seal_nonce: [u8; 24] = bytes(&format!("contact {name} seal nonce"), 24)
            .try_into()
            .unwrap();
        let mut ct = info.clone();
        let tag = XChaCha20Poly1305::new(&info_key.into())
            .encrypt_inout_detached(
                &seal_nonce.into(),
                model::role_name(alice).as_bytes(),
                ct.as_mut_slice().into(),
            )
            .unwrap();
        let sealed = [&seal_nonce[..], &ct, &tag].concat();
        json!({
            "role": model::role_name(alice),
            "link_secret": h(secret),
            "ephemeral_secret": h(ephemeral),
            "ephemeral_public": h(model::x25519_public(&ephemeral)),
            "identity_seed": h(identity_seed),
            "nickname": name,
            "timestamp": timestamp,
            "properties": properties.iter().map(|(t, p)| json!([t, p])).collect::<Vec<_>>(),
            "info_key": h(info_key),
            "nonce": h(nonce),
            "fields": h(&fields),
            "info": h(&info),
            "seal_nonce": h(seal_nonce),
            "sealed_info": h(&sealed),
            // The records of a handshake stream written once the peer's key is known.
            "records": h([
                model::record(0, &model::x25519_public(&ephemeral)),
                model::record(1, &sealed),
            ]
            .concat()),
        })
    };
    let (ta, tb) = (1_764_547_200_000u64, 1_764_547_260_000u64);
    let root = model::mac("thicket/contact/root-key", &master, &[]);
    let agreed = ta.min(tb);
    let period_length = 30_000 + 86_400_000u64;
    let start = agreed / period_length;
    let first_tag = |alice: bool| {
        let secret = model::next_secret(
            &model::initial_secret(&root, alice, "tor", start - 1),
            start,
        );
        h(model::tag(&model::tag_key(&secret), 0))
    };
    let handshake = json!({
        "alice": side(true, sa, ea, "Alice", ta),
        "bob": side(false, sb, eb, "Bob", tb),
        "master_key": h(master),
        "root_key": h(root),
        "agreed_timestamp": agreed,
        "contact_keys": {
            "transport": "tor",
            "period_length_ms": period_length,
            "start_period": start,
            "alice_tag_0": first_tag(true),
            "bob_tag_0": first_tag(false),
        },
    });

    let account = |name: &str| {
        let sk = ed25519_dalek::SigningKey::from_bytes(&key(&format!("contact {name} identity")));
        (
            sk.verifying_key().to_bytes(),
            model::x25519_public(&link_secret(name)),
        )
    };
    let safety: Vec<Value> = [
        ("alice", "bob"),
        ("bob", "alice"),
        ("alice", "carol"),
        ("bob", "carol"),
    ]
    .into_iter()
    .map(|(a, b)| {
        let (x, y) = (account(a), account(b));
        json!({
            "identity_a": h(x.0), "link_a": h(x.1),
            "identity_b": h(y.0), "link_b": h(y.1),
            "safety_number": model::safety_number(x, y),
        })
    })
    .collect();

    json!({
        "spec": "spec/contacts.md",
        "description": "Links and their rejections; rendezvous keys, roles, onion seeds, broadcast labels and handshake stream tags; a whole handshake (master key, info keys and nonces, signed and sealed contact info, the new contact's first tags); safety numbers.",
        "links": links,
        "links_accepted": accepted,
        "links_rejected": invalid_links,
        "rendezvous": rendezvous,
        "handshake": handshake,
        "safety_numbers": safety,
    })
}

fn lan() -> Value {
    let ports: Vec<Value> = ["alice", "bob"]
        .iter()
        .map(|n| {
            let secret = key(&format!("lan {n} transport secret"));
            let port_key = model::lan_port_key(&secret);
            let ports: serde_json::Map<String, Value> = [0u64, 1, 20_000, 20_001, u64::MAX]
                .iter()
                .map(|&p| (p.to_string(), json!(model::lan_port(&port_key, p))))
                .collect();
            json!({ "name": n, "secret": h(secret), "port_key": h(port_key), "ports": ports })
        })
        .collect();
    let instances: Vec<Value> = [
        vec![0u8; 16],
        vec![0xff; 16],
        bytes("lan beacon", 16),
        model::beacon(&key("lan period secret")).to_vec(),
    ]
    .into_iter()
    .map(|b| json!({ "beacon": h(&b), "instance": model::base32(&b) }))
    .collect();
    json!({
        "spec": "spec/lan.md",
        "description": "'ports': the LAN port key from a transport secret, and the listening port of each listed period. 'instances': the mDNS instance name announcing a beacon. 'invalid_instances': instance names that announce no beacon.",
        "ports": ports,
        "instances": instances,
        "invalid_instances": [
            "", "aaaaaaaaaaaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "77777777777777777777777777", "aaaaaaaaaaaaaaaaaaaaaaaaa1", "alice-laptop",
            "aaaaaaaaaaaaaaaaaaaaaaaaa-",
        ],
    })
}

fn ble() -> Value {
    let uuid_text = |u: &[u8; 16]| {
        let x = hex::encode(u);
        format!(
            "{}-{}-{}-{}-{}",
            &x[..8],
            &x[8..12],
            &x[12..16],
            &x[16..20],
            &x[20..]
        )
    };
    let adverts: Vec<Value> = [
        ([0u8; 16], [0u8; 8]),
        ([0xff; 16], [0xff; 8]),
        (
            bytes("ble beacon", 16).try_into().expect("16 bytes"),
            bytes("ble salt", 8).try_into().expect("8 bytes"),
        ),
        (
            model::beacon(&key("ble period secret")),
            bytes("ble salt 2", 8).try_into().expect("8 bytes"),
        ),
    ]
    .iter()
    .map(|(value, salt)| {
        let uuid = model::ble_advertised_uuid(value, salt);
        json!({ "value": h(value), "salt": h(salt), "uuid": h(uuid), "uuid_text": uuid_text(&uuid) })
    })
    .collect();
    // Frames: the bytes of each, and values that are no frame.
    let frames = json!([
        { "frame": "open", "version": 1, "link": "a1b2c3d4", "bytes": "0001a1b2c3d4" },
        { "frame": "data", "seq": 0, "payload": "68656c6c6f", "bytes": "010068656c6c6f" },
        { "frame": "data", "seq": 255, "payload": "00", "bytes": "01ff00" },
        { "frame": "ack", "consumed": 16, "bytes": "0210" },
        { "frame": "close", "seq": 3, "bytes": "0303" },
        { "frame": "reset", "reason": "violation", "bytes": "0400" },
        { "frame": "reset", "reason": "failure", "bytes": "0401" },
        { "frame": "reset", "reason": "replaced", "bytes": "0402" },
        { "frame": "reset", "reason": "failure", "bytes": "04ff", "note": "unknown reasons read as failure" },
    ]);
    let limits: serde_json::Map<String, Value> = [0u16, 23, 24, 185, 247, 512, 513, 517, 600]
        .iter()
        .map(|&m| {
            let mtu = m.clamp(23, 517);
            (m.to_string(), json!(usize::from(mtu - 3).min(509)))
        })
        .collect();
    json!({
        "spec": "spec/ble.md",
        "description": "'adverts': the advertised UUID announcing a value (beacon or rendezvous label) with a salt, as bytes and as written. 'frames': pipe frames and their bytes (a notification's value is the link followed by a frame). 'invalid_frames': characteristic values that are no frame. 'frame_limits': the largest frame at each ATT MTU.",
        "service_uuid": "06bd5384-5094-4341-8919-b1ca25e7506b",
        "characteristic_uuid": "f31734a9-6a84-46e9-83d1-83a73212f1ce",
        "adverts": adverts,
        "frames": frames,
        "invalid_frames": ["", "00", "0001", "0001a1b2c3", "0001a1b2c3d4e5", "0100", "02", "031111", "04", "0500", "ff00", "2a"],
        "frame_limits": limits,
    })
}

fn tor() -> Value {
    let accounts: Vec<Value> = ["alice", "bob", "carol"]
        .iter()
        .map(|n| {
            let seed = key(&format!("tor {n} transport secret"));
            json!({ "name": n, "seed": h(seed), "address": model::onion_address(&seed) })
        })
        .collect();
    // The rendezvous services of the first pair of contacts.json.
    let (_, rk) = model::rendezvous(
        &key("contact alice link"),
        &model::x25519_public(&key("contact bob link")),
    );
    let rendezvous: Vec<Value> = [true, false]
        .iter()
        .map(|&alice| {
            let seed = model::tor_seed(&rk, alice);
            json!({
                "role": if alice { "alice" } else { "bob" },
                "seed": h(seed),
                "address": model::onion_address(&seed),
            })
        })
        .collect();
    let bad = ["", "example.onion", "aaaa.onion"];
    let good = model::onion_address(&key("tor alice transport secret"));
    let mut checksum = good.clone().into_bytes();
    // Another base32 letter in the checksum: a typo the checksum catches.
    checksum[53] = if checksum[53] == b'a' { b'b' } else { b'a' };
    let mut version = good.clone().into_bytes();
    version[55] = b'c';
    let mut invalid: Vec<Value> = bad.iter().map(|b| json!(b)).collect();
    invalid.push(json!(String::from_utf8(checksum).expect("ascii")));
    invalid.push(json!(String::from_utf8(version).expect("ascii")));
    invalid.push(json!(good.trim_end_matches(".onion")));
    invalid.push(json!(format!("www.{good}")));
    // Longer than an address: the extra characters are not ignored.
    invalid.push(json!(good.replace(".onion", "aaaaaaaa.onion")));
    json!({
        "spec": "spec/tor.md",
        "description": "Onion addresses. 'accounts': the account's service address from its Tor transport secret 'seed'. 'rendezvous': the rendezvous services of contacts.json's alice and bob, from their 'tor_seed'. 'invalid': property values a receiver must not dial.",
        "accounts": accounts,
        "rendezvous": rendezvous,
        "invalid": invalid,
    })
}
