//! Sealing small values under a symmetric key (`spec/crypto.md#sealed-values`).
//!
//! XChaCha20-Poly1305 with a random 24-byte nonce: `sealed = nonce ‖ ciphertext ‖ tag`.
//! Random nonces of this size never repeat in practice, so one key may seal any number
//! of values. The stream layer uses its own framing (`spec/stream.md`), not this.

use alloc::vec::Vec;

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::{CryptoError, SecretKey};

/// Bytes of nonce before the ciphertext.
pub const NONCE_LEN: usize = 24;
/// Bytes of authentication tag after the ciphertext.
pub const TAG_LEN: usize = 16;
/// Bytes a sealed value is longer than its plaintext.
pub const OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// Encrypts and authenticates `plaintext`, binding `associated_data`.
///
/// # Errors
/// [`CryptoError::TooLong`] if `plaintext` exceeds 256 GiB.
pub fn seal(
    key: &SecretKey,
    rng: &mut impl CryptoRng,
    associated_data: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    seal_with_nonce(key, &nonce, associated_data, plaintext)
}

/// [`seal`] with a caller-chosen nonce, for test vectors. The nonce must never repeat
/// under one key.
///
/// # Errors
/// [`CryptoError::TooLong`] if `plaintext` exceeds 256 GiB.
pub fn seal_with_nonce(
    key: &SecretKey,
    nonce: &[u8; NONCE_LEN],
    associated_data: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let cipher = XChaCha20Poly1305::new(key.expose_secret().into());
    let mut out = Vec::with_capacity(plaintext.len() + OVERHEAD);
    out.extend_from_slice(nonce);
    out.extend_from_slice(plaintext);
    let tag = cipher
        .encrypt_inout_detached(
            &XNonce::from(*nonce),
            associated_data,
            (&mut out[NONCE_LEN..]).into(),
        )
        .map_err(|_| CryptoError::TooLong)?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Checks and decrypts a value made by [`seal`].
///
/// # Errors
/// [`CryptoError::OpenFailed`] if `sealed` is too short, was made with another key or
/// associated data, or was altered.
pub fn open(
    key: &SecretKey,
    associated_data: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if sealed.len() < OVERHEAD {
        return Err(CryptoError::OpenFailed);
    }
    let (nonce, rest) = sealed.split_at(NONCE_LEN);
    let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
    let nonce = XNonce::try_from(nonce).map_err(|_| CryptoError::OpenFailed)?;
    let tag = chacha20poly1305::Tag::try_from(tag).map_err(|_| CryptoError::OpenFailed)?;
    let cipher = XChaCha20Poly1305::new(key.expose_secret().into());
    let mut plaintext = Zeroizing::new(ciphertext.to_vec());
    cipher
        .decrypt_inout_detached(
            &nonce,
            associated_data,
            plaintext.as_mut_slice().into(),
            &tag,
        )
        .map_err(|_| CryptoError::OpenFailed)?;
    Ok(plaintext)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let key = SecretKey::from_bytes([9; 32]);
        let sealed = seal_with_nonce(&key, &[3; NONCE_LEN], b"ad", b"secret").unwrap();
        assert_eq!(sealed.len(), 6 + OVERHEAD);
        assert_eq!(open(&key, b"ad", &sealed).unwrap().as_slice(), b"secret");
        assert!(open(&key, b"other", &sealed).is_err());
        assert!(open(&SecretKey::from_bytes([8; 32]), b"ad", &sealed).is_err());
        for i in 0..sealed.len() * 8 {
            let mut bad = sealed.clone();
            bad[i / 8] ^= 1 << (i % 8);
            assert!(open(&key, b"ad", &bad).is_err(), "bit {i}");
        }
        assert!(open(&key, b"ad", &sealed[..OVERHEAD - 1]).is_err());
    }
}
