//! The stream header (`spec/stream.md#stream-header`).
//!
//! ```text
//! header = nonce (24) ‖ XChaCha20-Poly1305(header_key, nonce, aad = tag,
//!                          u16be(version) ‖ u64be(stream_number) ‖ stream_secret (32))
//! ```

use alloc::vec::Vec;

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{KeyInit, Tag, XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use super::{PROTOCOL_VERSION, StreamError, StreamTag, TAG_LEN};
use crate::crypto::SecretKey;

pub(crate) const NONCE_LEN: usize = 24;
const PLAINTEXT_LEN: usize = 2 + 8 + SecretKey::LEN;
const AEAD_TAG_LEN: usize = 16;
/// Bytes of the stream header that follows the tag.
pub const STREAM_HEADER_LEN: usize = NONCE_LEN + PLAINTEXT_LEN + AEAD_TAG_LEN;
/// Bytes before the first frame: tag and stream header.
pub const STREAM_PREFIX_LEN: usize = TAG_LEN + STREAM_HEADER_LEN;

/// Appends the stream header to `out`.
pub(crate) fn seal(
    header_key: &SecretKey,
    tag: &StreamTag,
    stream_number: u64,
    nonce: &[u8; NONCE_LEN],
    stream_secret: &SecretKey,
    out: &mut Vec<u8>,
) -> Result<(), StreamError> {
    let start = out.len();
    out.extend_from_slice(nonce);
    out.extend_from_slice(&PROTOCOL_VERSION.to_be_bytes());
    out.extend_from_slice(&stream_number.to_be_bytes());
    out.extend_from_slice(stream_secret.expose_secret());
    let cipher = XChaCha20Poly1305::new(header_key.expose_secret().into());
    let sealed = cipher.encrypt_inout_detached(
        &XNonce::from(*nonce),
        &tag.0,
        (&mut out[start + NONCE_LEN..]).into(),
    );
    match sealed {
        Ok(aead_tag) => {
            out.extend_from_slice(&aead_tag);
            Ok(())
        }
        Err(_) => {
            // Unreachable for 42 bytes; never leave the secret in the clear.
            zeroize::Zeroize::zeroize(&mut out[start..]);
            out.truncate(start);
            Err(StreamError::HeaderAuthentication)
        }
    }
}

/// Opens a stream header and returns the stream secret.
pub(crate) fn open(
    header_key: &SecretKey,
    tag: &StreamTag,
    expected_stream_number: u64,
    header: &[u8; STREAM_HEADER_LEN],
) -> Result<SecretKey, StreamError> {
    let (nonce, rest) = header.split_at(NONCE_LEN);
    let (ciphertext, aead_tag) = rest.split_at(PLAINTEXT_LEN);
    let nonce = XNonce::try_from(nonce).map_err(|_| StreamError::HeaderAuthentication)?;
    let aead_tag = Tag::try_from(aead_tag).map_err(|_| StreamError::HeaderAuthentication)?;
    let mut plaintext = Zeroizing::new([0u8; PLAINTEXT_LEN]);
    plaintext.copy_from_slice(ciphertext);
    let cipher = XChaCha20Poly1305::new(header_key.expose_secret().into());
    cipher
        .decrypt_inout_detached(&nonce, &tag.0, (&mut plaintext[..]).into(), &aead_tag)
        .map_err(|_| StreamError::HeaderAuthentication)?;
    let version = u16::from_be_bytes([plaintext[0], plaintext[1]]);
    if version != PROTOCOL_VERSION {
        return Err(StreamError::UnsupportedVersion);
    }
    let mut number = [0u8; 8];
    number.copy_from_slice(&plaintext[2..10]);
    if u64::from_be_bytes(number) != expected_stream_number {
        return Err(StreamError::StreamNumberMismatch);
    }
    let mut secret = [0u8; SecretKey::LEN];
    secret.copy_from_slice(&plaintext[10..]);
    let key = SecretKey::from_bytes(secret);
    zeroize::Zeroize::zeroize(&mut secret);
    Ok(key)
}
