//! Contact links (`spec/contacts.md#links`): `thicket://` followed by the lowercase,
//! unpadded RFC 4648 base32 of `version ‖ link key ‖ checksum`.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::crypto::{AgreementPublicKey, hash, label};

/// The link format this code writes and reads.
pub const LINK_VERSION: u8 = 1;
/// The scheme every link starts with.
pub const LINK_PREFIX: &str = "thicket://";
/// Bytes of checksum at the end of a link.
pub(crate) const CHECKSUM_LEN: usize = 2;
/// Bytes a link encodes: version, key, checksum.
pub(crate) const LINK_BYTES: usize = 1 + 32 + CHECKSUM_LEN;
/// Characters of base32 after the prefix.
pub const LINK_CHARS: usize = LINK_BYTES * 8 / 5;

const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// An account's link: the public half of its static X25519 link key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Link {
    key: AgreementPublicKey,
}

/// Why a text is not a usable link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// Not `thicket://` and 56 base32 characters of a canonical key.
    #[error(
        "not a Thicket link (expected thicket:// followed by {LINK_CHARS} letters and digits 2-7)"
    )]
    Malformed,
    /// The checksum does not match: a character was mistyped or lost.
    #[error("the link has a typo: its checksum does not match")]
    Checksum,
    /// A link of a version this program does not read.
    #[error("the link is of version {0}, which this version of Thicket cannot use")]
    UnsupportedVersion(u8),
}

fn checksum(version: u8, key: &[u8; 32]) -> [u8; CHECKSUM_LEN] {
    let digest = hash(label::CONTACT_LINK_CHECKSUM, &[&[version], key]);
    [digest.0[0], digest.0[1]]
}

impl Link {
    /// The link of a link key.
    pub fn new(key: AgreementPublicKey) -> Self {
        Link { key }
    }

    /// The link key it carries.
    pub fn key(&self) -> &AgreementPublicKey {
        &self.key
    }

    /// Reads a link as a person pasted or typed it: surrounding white space is ignored,
    /// the prefix is optional, and letters may be in either case.
    ///
    /// # Errors
    /// [`LinkError::Malformed`], [`LinkError::Checksum`] or
    /// [`LinkError::UnsupportedVersion`].
    pub fn parse(text: &str) -> Result<Self, LinkError> {
        let text = text.trim();
        let body = match text.get(..LINK_PREFIX.len()) {
            Some(p) if p.eq_ignore_ascii_case(LINK_PREFIX) => &text[LINK_PREFIX.len()..],
            _ => text,
        };
        let bytes = base32_decode(body).ok_or(LinkError::Malformed)?;
        if bytes.len() != LINK_BYTES {
            return match bytes.first() {
                Some(&v) if v != LINK_VERSION && bytes.len() > LINK_BYTES => {
                    Err(LinkError::UnsupportedVersion(v))
                }
                _ => Err(LinkError::Malformed),
            };
        }
        let version = bytes[0];
        let mut key = [0u8; 32];
        key.copy_from_slice(&bytes[1..33]);
        if checksum(version, &key) != bytes[33..] {
            return Err(LinkError::Checksum);
        }
        if version != LINK_VERSION {
            return Err(LinkError::UnsupportedVersion(version));
        }
        // X25519 ignores the top bit: a key with it set is another spelling of a key
        // without, which would slip past "own link" and "already added" checks.
        if key[31] & 0x80 != 0 {
            return Err(LinkError::Malformed);
        }
        Ok(Link {
            key: AgreementPublicKey(key),
        })
    }
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bytes = Vec::with_capacity(LINK_BYTES);
        bytes.push(LINK_VERSION);
        bytes.extend_from_slice(&self.key.0);
        bytes.extend_from_slice(&checksum(LINK_VERSION, &self.key.0));
        f.write_str(LINK_PREFIX)?;
        f.write_str(&base32_encode(&bytes))
    }
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Link({self})")
    }
}

/// Lowercase, unpadded RFC 4648 base32.
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((acc >> bits) & 31) as usize]));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Decodes [`base32_encode`]'s output, either case. `None` for a character outside the
/// alphabet, an impossible length, or non-zero unused bits (so each byte string has one
/// encoding).
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    if matches!(text.len() % 8, 1 | 3 | 6) {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = match c.to_ascii_lowercase() {
            c @ b'a'..=b'z' => c - b'a',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        acc = (acc << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    (acc == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc4648() {
        // RFC 4648 §10, lowercased and unpadded.
        for (plain, enc) in [
            ("", ""),
            ("f", "my"),
            ("fo", "mzxq"),
            ("foo", "mzxw6"),
            ("foob", "mzxw6yq"),
            ("fooba", "mzxw6ytb"),
            ("foobar", "mzxw6ytboi"),
        ] {
            assert_eq!(base32_encode(plain.as_bytes()), enc);
            assert_eq!(base32_decode(enc).unwrap(), plain.as_bytes());
            assert_eq!(
                base32_decode(&enc.to_uppercase()).unwrap(),
                plain.as_bytes()
            );
        }
        assert_eq!(base32_decode("mz"), None, "unused bits set");
        assert_eq!(base32_decode("m"), None, "impossible length");
        assert_eq!(base32_decode("mzxw1"), None, "not in the alphabet");
    }

    #[test]
    fn links_round_trip_and_catch_typos() {
        let link = Link::new(AgreementPublicKey([7; 32]));
        let text = alloc::format!("{link}");
        assert!(text.starts_with("thicket://"));
        assert_eq!(text.len(), LINK_PREFIX.len() + LINK_CHARS);
        assert_eq!(Link::parse(&text), Ok(link));
        assert_eq!(Link::parse(&text[LINK_PREFIX.len()..]), Ok(link));
        assert_eq!(
            Link::parse(&alloc::format!("  {}\n", text.to_uppercase())),
            Ok(link)
        );

        // Every single-character substitution is caught by the checksum or the format.
        let body: Vec<u8> = text[LINK_PREFIX.len()..].bytes().collect();
        let mut missed = 0;
        for i in 0..body.len() {
            for &c in ALPHABET {
                if c == body[i] {
                    continue;
                }
                let mut typo = body.clone();
                typo[i] = c;
                let typo = String::from_utf8(typo).unwrap();
                match Link::parse(&typo) {
                    Err(LinkError::Checksum | LinkError::Malformed) => {}
                    Err(LinkError::UnsupportedVersion(_)) if i < 2 => {}
                    Ok(_) => missed += 1,
                    other => panic!("{typo}: {other:?}"),
                }
            }
        }
        // A 16-bit checksum lets through about 1 in 65,536 random changes.
        assert!(missed <= 1, "{missed} typos accepted");
        assert_eq!(
            Link::parse(&text[..text.len() - 1]),
            Err(LinkError::Malformed)
        );
        assert_eq!(Link::parse("thicket://"), Err(LinkError::Malformed));
        assert_eq!(Link::parse("briar://aaaa"), Err(LinkError::Malformed));
    }

    #[test]
    fn a_second_spelling_of_a_key_is_refused() {
        let mut key = [7u8; 32];
        key[31] |= 0x80;
        let mut bytes = alloc::vec![LINK_VERSION];
        bytes.extend_from_slice(&key);
        bytes.extend_from_slice(&checksum(LINK_VERSION, &key));
        assert_eq!(
            Link::parse(&base32_encode(&bytes)),
            Err(LinkError::Malformed)
        );
    }

    #[test]
    fn other_versions_are_named() {
        let key = [7u8; 32];
        let mut bytes = alloc::vec![2u8];
        bytes.extend_from_slice(&key);
        bytes.extend_from_slice(&checksum(2, &key));
        let text = base32_encode(&bytes);
        assert_eq!(Link::parse(&text), Err(LinkError::UnsupportedVersion(2)));
        // A longer link of a later version.
        bytes.extend_from_slice(&[0; 5]);
        assert_eq!(
            Link::parse(&base32_encode(&bytes)),
            Err(LinkError::UnsupportedVersion(2))
        );
    }
}
