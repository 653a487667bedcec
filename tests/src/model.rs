//! A reference model of the spec (`crypto.md`, `stream.md`, `store.md`, `sync.md`,
//! `messaging.md`, `contacts.md`), written from the spec
//! with the primitives alone. It shares no code with `bramble-proto`: where the two
//! disagree, one of them does not follow the spec.

use chacha20::cipher::{KeyIvInit, StreamCipher};
use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, XChaCha20Poly1305};

/// Stream protocol version.
pub const VERSION: u16 = 1;
/// Largest frame body.
pub const MAX_FRAME_BODY: usize = 32_767;

/// `frame(label, inputs…)`: each element preceded by its length as `u64be`.
pub fn framed(label: &str, inputs: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in std::iter::once(label.as_bytes()).chain(inputs.iter().copied()) {
        out.extend_from_slice(&(part.len() as u64).to_be_bytes());
        out.extend_from_slice(part);
    }
    out
}

/// `H(label, inputs…)`.
pub fn hash(label: &str, inputs: &[&[u8]]) -> [u8; 32] {
    *blake3::hash(&framed(label, inputs)).as_bytes()
}

/// `MAC(label, key, inputs…)`, also `KDF`.
pub fn mac(label: &str, key: &[u8; 32], inputs: &[&[u8]]) -> [u8; 32] {
    *blake3::keyed_hash(key, &framed(label, inputs)).as_bytes()
}

/// Role names as used in labels.
pub fn role_name(alice: bool) -> &'static str {
    if alice { "alice" } else { "bob" }
}

/// The period secret of `period` (the period before the contact's start period) at the
/// start of `role`'s outgoing chain.
pub fn initial_secret(root: &[u8; 32], alice: bool, transport: &str, period: u64) -> [u8; 32] {
    let label = format!("thicket/stream/initial-chain/{}", role_name(alice));
    mac(&label, root, &[transport.as_bytes(), &period.to_be_bytes()])
}

/// The period secret of `next_period` from that of the period before.
pub fn next_secret(secret: &[u8; 32], next_period: u64) -> [u8; 32] {
    mac(
        "thicket/stream/next-chain",
        secret,
        &[&next_period.to_be_bytes()],
    )
}

/// Tag key of a period.
pub fn tag_key(secret: &[u8; 32]) -> [u8; 32] {
    mac("thicket/stream/tag-key", secret, &[])
}

/// Header key of a period.
pub fn header_key(secret: &[u8; 32]) -> [u8; 32] {
    mac("thicket/stream/header-key", secret, &[])
}

/// The tag of stream `n`.
pub fn tag(tag_key: &[u8; 32], n: u64) -> [u8; 16] {
    let full = mac(
        "thicket/stream/tag",
        tag_key,
        &[&VERSION.to_be_bytes(), &n.to_be_bytes()],
    );
    full[..16].try_into().expect("16 of 32 bytes")
}

/// Period secrets of one direction: `(period, secret)` for `start − 1, start, …`.
pub fn chain(
    root: &[u8; 32],
    alice: bool,
    transport: &str,
    start: u64,
) -> impl Iterator<Item = (u64, [u8; 32])> {
    let first = (start - 1, initial_secret(root, alice, transport, start - 1));
    std::iter::successors(Some(first), |(p, s)| Some((p + 1, next_secret(s, p + 1))))
}

/// The stream header, with the version and stream number given explicitly so that
/// invalid headers can be built too.
pub fn stream_header(
    header_key: &[u8; 32],
    tag: &[u8; 16],
    version: u16,
    stream_number: u64,
    nonce: &[u8; 24],
    stream_secret: &[u8; 32],
) -> Vec<u8> {
    let mut plaintext = Vec::new();
    plaintext.extend_from_slice(&version.to_be_bytes());
    plaintext.extend_from_slice(&stream_number.to_be_bytes());
    plaintext.extend_from_slice(stream_secret);
    let aead = XChaCha20Poly1305::new(header_key.into());
    let aead_tag = aead
        .encrypt_inout_detached(&(*nonce).into(), tag, plaintext.as_mut_slice().into())
        .unwrap();
    [&nonce[..], &plaintext, &aead_tag].concat()
}

/// Seals frames of one stream, in order.
#[allow(missing_debug_implementations)]
pub struct Frames {
    aead: ChaCha20Poly1305,
    mask: chacha20::ChaCha20,
    next: u64,
}

impl Frames {
    /// Frame keys from the stream secret.
    pub fn new(stream_secret: &[u8; 32]) -> Self {
        let frame_key = mac("thicket/stream/frame-key", stream_secret, &[]);
        let mask_key = mac("thicket/stream/frame-header-key", stream_secret, &[]);
        Frames {
            aead: ChaCha20Poly1305::new(&frame_key.into()),
            mask: chacha20::ChaCha20::new(&mask_key.into(), &[0u8; 12].into()),
            next: 0,
        }
    }

    /// A frame with the given plaintext header and body (payload ‖ padding), whatever
    /// they say.
    pub fn raw(&mut self, header: [u8; 4], body: &[u8]) -> Vec<u8> {
        let mut masked = header;
        self.mask.apply_keystream(&mut masked);
        let mut nonce = [0u8; 12];
        nonce[4..].copy_from_slice(&self.next.to_be_bytes());
        self.next += 1;
        let mut body = body.to_vec();
        let aead_tag = self
            .aead
            .encrypt_inout_detached(&nonce.into(), &header, body.as_mut_slice().into())
            .unwrap();
        [&masked[..], &body, &aead_tag].concat()
    }

    /// A well-formed frame header.
    pub fn header(payload_len: usize, padding_len: usize, is_final: bool) -> [u8; 4] {
        let first = u16::try_from(payload_len).expect("payload under 2^15")
            | if is_final { 0x8000 } else { 0 };
        let [a, b] = first.to_be_bytes();
        let [c, d] = u16::try_from(padding_len)
            .expect("padding under 2^16")
            .to_be_bytes();
        [a, b, c, d]
    }

    /// A frame with `padding` after the payload (zeros for a valid frame).
    pub fn frame(&mut self, payload: &[u8], padding: &[u8], is_final: bool) -> Vec<u8> {
        let header = Self::header(payload.len(), padding.len(), is_final);
        self.raw(header, &[payload, padding].concat())
    }
}

/// An operation on the reference writer (`spec/stream.md#writing`).
#[derive(Clone, Debug)]
pub enum Op {
    /// Append bytes.
    Write(Vec<u8>),
    /// Emit the buffer as a frame.
    Flush,
}

/// The frames the reference writer emits for `ops` followed by finishing, with frame
/// bodies padded up to a multiple of `pad_to` (if given).
pub fn write_frames(frames: &mut Frames, ops: &[Op], pad_to: Option<usize>) -> Vec<u8> {
    let padding = |len: usize| match pad_to {
        None => 0,
        Some(m) => ((len.div_ceil(m).max(1)) * m).min(MAX_FRAME_BODY) - len,
    };
    let mut out = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut emit = |out: &mut Vec<u8>, buf: &mut Vec<u8>, is_final: bool| {
        let pad = vec![0u8; padding(buf.len())];
        out.extend(frames.frame(buf, &pad, is_final));
        buf.clear();
    };
    for op in ops {
        match op {
            Op::Write(data) => {
                for &b in data {
                    buf.push(b);
                    if buf.len() == MAX_FRAME_BODY {
                        emit(&mut out, &mut buf, false);
                    }
                }
            }
            Op::Flush => emit(&mut out, &mut buf, false),
        }
    }
    emit(&mut out, &mut buf, true);
    out
}

/// A version-1 key file (`spec/store.md#key-file`) sealing `db_key` under `password`.
pub fn key_file(
    password: &[u8],
    (memory_kib, iterations, parallelism): (u32, u32, u32),
    salt: &[u8; 32],
    nonce: &[u8; 24],
    db_key: &[u8; 32],
) -> Vec<u8> {
    let mut out = b"thicket-keyfile\n".to_vec();
    out.extend_from_slice(&1u16.to_be_bytes());
    out.push(1);
    for word in [memory_kib, iterations, parallelism] {
        out.extend_from_slice(&word.to_be_bytes());
    }
    out.extend_from_slice(salt);
    let params = argon2::Params::new(memory_kib, iterations, parallelism, Some(32)).unwrap();
    let mut stretched = [0u8; 32];
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into(password, salt, &mut stretched)
        .unwrap();
    let kek = mac("thicket/store/key-encryption-key", &stretched, &[]);
    let mut ct = db_key.to_vec();
    let aead_tag = XChaCha20Poly1305::new(&kek.into())
        .encrypt_inout_detached(&(*nonce).into(), &out, ct.as_mut_slice().into())
        .unwrap();
    out.extend_from_slice(nonce);
    out.extend_from_slice(&ct);
    out.extend_from_slice(&aead_tag);
    let checksum = hash("thicket/store/key-file-checksum", &[&out]);
    out.extend_from_slice(&checksum);
    out
}

/// `group id` of `spec/sync.md#clients-and-groups`.
pub fn group_id(client: &str, major: u32, descriptor: &[u8]) -> [u8; 32] {
    hash(
        "thicket/sync/group-id",
        &[client.as_bytes(), &major.to_be_bytes(), descriptor],
    )
}

/// A raw message (`spec/sync.md#messages`).
pub fn raw_message(group: &[u8; 32], timestamp: u64, body: &[u8]) -> Vec<u8> {
    [&group[..], &timestamp.to_be_bytes(), body].concat()
}

/// A message identifier (`spec/sync.md#messages`).
pub fn message_id(group: &[u8; 32], timestamp: u64, body: &[u8]) -> [u8; 32] {
    hash(
        "thicket/sync/message-id",
        &[group, &timestamp.to_be_bytes(), body],
    )
}

/// A record: version 1, type, `u16be` length, payload (`spec/sync.md#records`).
pub fn record(record_type: u8, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(payload.len()).expect("payload fits a record");
    [&[1, record_type][..], &len.to_be_bytes(), payload].concat()
}

/// The retransmission interval after the `tx_count`-th transmission
/// (`spec/sync.md#retransmission`).
pub fn retransmission_interval(max_latency_ms: u64, tx_count: u32) -> u64 {
    2 * max_latency_ms.max(5_000) * 2u64.pow(tx_count.min(10))
}

/// Canonical encoding of a string or raw value's type byte and length
/// (`spec/encoding.md#types`): `base` is 0x41 for strings, 0x51 for raw.
fn length_prefixed(base: u8, bytes: &[u8]) -> Vec<u8> {
    let n = bytes.len();
    let mut out = if let Ok(n) = u8::try_from(n) {
        vec![base, n]
    } else if let Ok(n) = u16::try_from(n) {
        [&[base + 1][..], &n.to_be_bytes()].concat()
    } else {
        let n = u32::try_from(n).expect("under 4 GiB");
        [&[base + 3][..], &n.to_be_bytes()].concat()
    };
    out.extend_from_slice(bytes);
    out
}

/// The conversation descriptor of two identity keys (`spec/messaging.md`).
pub fn conversation_descriptor(a: &[u8; 32], b: &[u8; 32]) -> Vec<u8> {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    [
        &[0x60][..],
        &length_prefixed(0x51, lo),
        &length_prefixed(0x51, hi),
        &[0x80],
    ]
    .concat()
}

/// The body of a text message: the encoding of `[0, text]` (`spec/messaging.md`).
pub fn text_body(text: &str) -> Vec<u8> {
    [
        &[0x60, 0x21, 0x00][..],
        &length_prefixed(0x41, text.as_bytes()),
        &[0x80],
    ]
    .concat()
}

/// Canonical encoding of an integer (`spec/encoding.md#types`): the shortest width.
pub fn encode_int(i: i64) -> Vec<u8> {
    if let Ok(v) = i8::try_from(i) {
        [&[0x21][..], &v.to_be_bytes()].concat()
    } else if let Ok(v) = i16::try_from(i) {
        [&[0x22][..], &v.to_be_bytes()].concat()
    } else if let Ok(v) = i32::try_from(i) {
        [&[0x24][..], &v.to_be_bytes()].concat()
    } else {
        [&[0x28][..], &i.to_be_bytes()].concat()
    }
}

/// Canonical encoding of a string.
pub fn encode_str(s: &str) -> Vec<u8> {
    length_prefixed(0x41, s.as_bytes())
}

/// Canonical encoding of a byte string.
pub fn encode_raw(b: &[u8]) -> Vec<u8> {
    length_prefixed(0x51, b)
}

/// RFC 4648 base32, lowercase, unpadded, written out bit by bit.
pub fn base32(bytes: &[u8]) -> String {
    let bits: Vec<u8> = bytes
        .iter()
        .flat_map(|b| (0..8).rev().map(move |i| (b >> i) & 1))
        .collect();
    bits.chunks(5)
        .map(|chunk| {
            let mut v = 0usize;
            for i in 0..5 {
                v = v * 2 + usize::from(chunk.get(i).copied().unwrap_or(0));
            }
            char::from(b"abcdefghijklmnopqrstuvwxyz234567"[v])
        })
        .collect()
}

/// A contact link (`spec/contacts.md#links`) of a link public key, with a given version.
pub fn link(version: u8, key: &[u8; 32]) -> String {
    let checksum = hash("thicket/contact/link-checksum", &[&[version], key]);
    let body = [&[version][..], key, &checksum[..2]].concat();
    format!("thicket://{}", base32(&body))
}

/// X25519 public key of a secret.
pub fn x25519_public(secret: &[u8; 32]) -> [u8; 32] {
    x25519_dalek::x25519(*secret, x25519_dalek::X25519_BASEPOINT_BYTES)
}

/// `(we are Alice, rendezvous key)` (`spec/contacts.md#rendezvous`).
pub fn rendezvous(our_secret: &[u8; 32], their_public: &[u8; 32]) -> (bool, [u8; 32]) {
    let ours = x25519_public(our_secret);
    let alice = ours < *their_public;
    let (a, b) = if alice {
        (ours, *their_public)
    } else {
        (*their_public, ours)
    };
    let shared = x25519_dalek::x25519(*our_secret, *their_public);
    (
        alice,
        mac("thicket/contact/rendezvous-key", &shared, &[&a, &b]),
    )
}

/// The tag of handshake stream `n` written by `alice` (or Bob) on `transport`: keys of
/// period 1 of the chain from `KDF(handshake-root, RK, transport)`.
pub fn handshake_tag(rk: &[u8; 32], alice: bool, transport: &str, n: u64) -> [u8; 16] {
    let root = mac(
        "thicket/contact/handshake-root",
        rk,
        &[transport.as_bytes()],
    );
    let secret = next_secret(&initial_secret(&root, alice, transport, 0), 1);
    tag(&tag_key(&secret), n)
}

/// A side's rendezvous onion seed.
pub fn tor_seed(rk: &[u8; 32], alice: bool) -> [u8; 32] {
    mac(
        "thicket/contact/tor-seed",
        rk,
        &[role_name(alice).as_bytes()],
    )
}

/// The v3 onion address of the service whose Ed25519 seed is `seed`
/// (`spec/tor.md#onion-addresses`).
pub fn onion_address(seed: &[u8; 32]) -> String {
    use sha3::Digest as _;
    let public = ed25519_dalek::SigningKey::from_bytes(seed)
        .verifying_key()
        .to_bytes();
    let mut hasher = sha3::Sha3_256::new();
    hasher.update(b".onion checksum");
    hasher.update(public);
    hasher.update([3u8]);
    let checksum = hasher.finalize();
    let mut raw = public.to_vec();
    raw.extend_from_slice(&checksum[..2]);
    raw.push(3);
    format!("{}.onion", base32(&raw))
}

/// The beacon of a period secret (`spec/stream.md#beacons`).
pub fn beacon(secret: &[u8; 32]) -> [u8; 16] {
    mac("thicket/stream/beacon", secret, &[])[..16]
        .try_into()
        .expect("16 bytes")
}

/// The LAN port key from the LAN transport secret (`spec/lan.md#ports`).
pub fn lan_port_key(secret: &[u8; 32]) -> [u8; 32] {
    mac("thicket/lan/port-key", secret, &[])
}

/// The LAN listening port of a period.
pub fn lan_port(port_key: &[u8; 32], period: u64) -> u16 {
    let m = mac("thicket/lan/port", port_key, &[&period.to_be_bytes()]);
    let n = (u32::from(m[0]) << 8) | u32::from(m[1]);
    u16::try_from(49_152 + n % 16_384).expect("in range")
}

/// The advertised Bluetooth LE UUID announcing `value` with `salt` (`spec/ble.md#advertisements`).
pub fn ble_advertised_uuid(value: &[u8; 16], salt: &[u8; 8]) -> [u8; 16] {
    let mut salt = *salt;
    salt[6] = (salt[6] & 0x0f) | 0x40;
    let digest = hash("thicket/ble/advert", &[value, &salt]);
    let mut uuid = [0u8; 16];
    uuid[..8].copy_from_slice(&salt);
    uuid[8..].copy_from_slice(&digest[..8]);
    uuid[8] = (uuid[8] & 0x3f) | 0x80;
    uuid
}

/// A broadcast rendezvous label.
pub fn rendezvous_label(rk: &[u8; 32], transport: &str, period: u64) -> [u8; 16] {
    let full = mac(
        "thicket/contact/rendezvous-label",
        rk,
        &[transport.as_bytes(), &period.to_be_bytes()],
    );
    full[..16].try_into().expect("16 bytes")
}

/// The handshake master key from Alice's and Bob's link and ephemeral secrets
/// (`spec/contacts.md#handshake`), computed as Alice would.
pub fn master_key(sa: &[u8; 32], ea: &[u8; 32], sb_pub: &[u8; 32], eb_pub: &[u8; 32]) -> [u8; 32] {
    let dh = |x: &[u8; 32], y: &[u8; 32]| x25519_dalek::x25519(*x, *y);
    mac(
        "thicket/contact/master-key",
        &dh(ea, eb_pub),
        &[
            &dh(sa, eb_pub),
            &dh(ea, sb_pub),
            &x25519_public(sa),
            sb_pub,
            &x25519_public(ea),
            eb_pub,
        ],
    )
}

/// `(info key, nonce)` of a role.
pub fn info_keys(master: &[u8; 32], alice: bool) -> ([u8; 32], [u8; 32]) {
    let role = role_name(alice).as_bytes();
    (
        mac("thicket/contact/info-key", master, &[role]),
        mac("thicket/contact/info-nonce", master, &[role]),
    )
}

/// The signed fields of contact info: `encode([1, raw(identity), nickname, timestamp,
/// properties])`, with `properties` already sorted.
pub fn info_fields(
    identity: &[u8; 32],
    nickname: &str,
    timestamp: u64,
    properties: &[(&str, Vec<(&str, &str)>)],
) -> Vec<u8> {
    let mut out = vec![0x60];
    out.extend(encode_int(1));
    out.extend(encode_raw(identity));
    out.extend(encode_str(nickname));
    out.extend(encode_int(i64::try_from(timestamp).expect("fits")));
    out.push(0x70);
    for (transport, props) in properties {
        out.extend(encode_str(transport));
        out.push(0x70);
        for (k, v) in props {
            out.extend(encode_str(k));
            out.extend(encode_str(v));
        }
        out.push(0x80);
    }
    out.push(0x80);
    out.push(0x80);
    out
}

/// The safety number of two accounts `(identity, link)`.
pub fn safety_number(a: ([u8; 32], [u8; 32]), b: ([u8; 32], [u8; 32])) -> String {
    let (first, second) = if a.0 <= b.0 { (a, b) } else { (b, a) };
    let digest = hash(
        "thicket/contact/safety-number",
        &[&first.0, &first.1, &second.0, &second.1],
    );
    digest[..24]
        .chunks(2)
        .map(|c| format!("{:05}", u16::from_be_bytes([c[0], c[1]])))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_match_published_vectors() {
        // BLAKE3 of the empty input.
        assert_eq!(
            hex::encode(blake3::hash(b"").as_bytes()),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
        // RFC 7748 §6.1.
        let a = hex::decode("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
            .unwrap();
        let b_pub = hex::decode("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
            .unwrap();
        let shared = x25519_dalek::x25519(a.try_into().unwrap(), b_pub.try_into().unwrap());
        assert_eq!(
            hex::encode(shared),
            "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
        );
    }

    #[test]
    fn writer_model_splits_full_frames() {
        let mut f = Frames::new(&[1; 32]);
        let out = write_frames(&mut f, &[Op::Write(vec![0; MAX_FRAME_BODY + 1])], None);
        assert_eq!(out.len(), 2 * 20 + MAX_FRAME_BODY + 1);
    }
}
