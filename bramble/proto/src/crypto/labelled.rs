//! Labelled, length-framed BLAKE3 (`spec/crypto.md#labelled-functions`).

use alloc::vec::Vec;
use core::fmt;

use subtle::ConstantTimeEq;

use super::SecretKey;

/// Feeds `frame(label, inputs)` into `hasher`: every element is preceded by its length
/// as a 64-bit big-endian integer, so boundaries are unambiguous.
fn frame(hasher: &mut blake3::Hasher, label: &str, inputs: &[&[u8]]) {
    put(hasher, label.as_bytes());
    for input in inputs {
        put(hasher, input);
    }
}

fn put(hasher: &mut blake3::Hasher, bytes: &[u8]) {
    // usize always fits in u64 on supported targets.
    let len = bytes.len() as u64;
    hasher.update(&len.to_be_bytes());
    hasher.update(bytes);
}

/// The framed encoding of a label and inputs as one byte string: what [`hash`],
/// [`mac`] and [`kdf`] feed to BLAKE3, and what signatures sign.
pub(crate) fn framed(label: &str, inputs: &[&[u8]]) -> Vec<u8> {
    let len = 8 + label.len() + inputs.iter().map(|i| 8 + i.len()).sum::<usize>();
    let mut out = Vec::with_capacity(len);
    for part in core::iter::once(label.as_bytes()).chain(inputs.iter().copied()) {
        out.extend_from_slice(&(part.len() as u64).to_be_bytes());
        out.extend_from_slice(part);
    }
    out
}

/// A 32-byte public digest from [`hash`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest(pub [u8; 32]);

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest(")?;
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// A 32-byte MAC from [`mac`]. Equality is constant-time.
#[derive(Clone, Copy)]
pub struct Mac(pub [u8; 32]);

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Mac(..)")
    }
}

impl PartialEq for Mac {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for Mac {}

/// `H(label, inputs…)`: unkeyed BLAKE3 of the framed label and inputs.
pub fn hash(label: &str, inputs: &[&[u8]]) -> Digest {
    let mut h = blake3::Hasher::new();
    frame(&mut h, label, inputs);
    Digest(*h.finalize().as_bytes())
}

/// `MAC(label, key, inputs…)`: BLAKE3 keyed with `key` over the framed label and inputs.
pub fn mac(label: &str, key: &SecretKey, inputs: &[&[u8]]) -> Mac {
    let mut h = blake3::Hasher::new_keyed(key.expose_secret());
    frame(&mut h, label, inputs);
    Mac(*h.finalize().as_bytes())
}

/// `KDF(label, key, inputs…)`: the same function as [`mac`], its output used as a key.
///
/// Labels keep MACs and derived keys apart: no label is used for both.
pub fn kdf(label: &str, key: &SecretKey, inputs: &[&[u8]]) -> SecretKey {
    let mut h = blake3::Hasher::new_keyed(key.expose_secret());
    frame(&mut h, label, inputs);
    SecretKey::from_bytes(*h.finalize().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_separates_boundaries() {
        assert_ne!(hash("l", &[b"ab", b"c"]), hash("l", &[b"a", b"bc"]));
        assert_ne!(hash("l", &[b"ab"]), hash("la", &[b"b"]));
        assert_ne!(hash("l", &[]), hash("l", &[b""]));
    }

    #[test]
    fn framed_matches_streaming() {
        let inputs: [&[u8]; 2] = [b"x", b"yz"];
        let direct = blake3::hash(&framed("label", &inputs));
        assert_eq!(direct.as_bytes(), &hash("label", &inputs).0);
    }

    #[test]
    fn mac_and_kdf_depend_on_key_and_label() {
        let k1 = SecretKey::from_bytes([1; 32]);
        let k2 = SecretKey::from_bytes([2; 32]);
        assert_ne!(mac("a", &k1, &[b"m"]), mac("a", &k2, &[b"m"]));
        assert_ne!(mac("a", &k1, &[b"m"]), mac("b", &k1, &[b"m"]));
        assert_eq!(
            kdf("a", &k1, &[b"m"]).expose_secret(),
            &mac("a", &k1, &[b"m"]).0
        );
    }
}
