//! X25519 key agreement (`spec/crypto.md#key-agreement`).

use core::fmt;

use rand_core::CryptoRng;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::{CryptoError, SecretKey};

/// An X25519 private key: a contact-link handshake key or an ephemeral key.
///
/// Zeroized on drop; `Debug` redacts it.
pub struct AgreementSecretKey(x25519_dalek::StaticSecret);

impl AgreementSecretKey {
    /// A fresh key pair's private half.
    pub fn generate(rng: &mut impl CryptoRng) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        let key = Self::from_bytes(bytes);
        bytes.zeroize();
        key
    }

    /// A key from its 32 bytes, as kept in the encrypted store.
    ///
    /// The caller's copy of `bytes` is not erased by this call.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        AgreementSecretKey(x25519_dalek::StaticSecret::from(bytes))
    }

    /// The key bytes, for persisting in the encrypted store. Never log them.
    pub fn expose_secret(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// The matching public key.
    pub fn public_key(&self) -> AgreementPublicKey {
        AgreementPublicKey(x25519_dalek::PublicKey::from(&self.0).to_bytes())
    }

    /// The raw X25519 shared secret with `theirs`.
    ///
    /// # Errors
    /// [`CryptoError::NonContributory`] if the result is all zeros, which happens when
    /// `theirs` is a low-order point chosen to force a known secret.
    pub fn agree(&self, theirs: &AgreementPublicKey) -> Result<SharedSecret, CryptoError> {
        let shared = self
            .0
            .diffie_hellman(&x25519_dalek::PublicKey::from(theirs.0));
        if !shared.was_contributory() {
            return Err(CryptoError::NonContributory);
        }
        Ok(SharedSecret(SecretKey::from_bytes(shared.to_bytes())))
    }
}

impl fmt::Debug for AgreementSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AgreementSecretKey(<redacted>)")
    }
}

impl ZeroizeOnDrop for AgreementSecretKey {}

/// An X25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AgreementPublicKey(pub [u8; 32]);

impl fmt::Debug for AgreementPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AgreementPublicKey(")?;
        for b in &self.0[..4] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
}

/// The raw output of X25519, to be fed into [`kdf`](super::kdf) or
/// [`hash`](super::hash) and never used as a key directly.
#[derive(Debug, Zeroize, ZeroizeOnDrop)]
pub struct SharedSecret(SecretKey);

impl SharedSecret {
    /// The 32 raw bytes, as input to a labelled function.
    pub fn expose_secret(&self) -> &[u8; 32] {
        self.0.expose_secret()
    }

    /// The shared secret as the key of a labelled [`kdf`](super::kdf).
    pub fn as_key(&self) -> &SecretKey {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_agree() {
        let a = AgreementSecretKey::from_bytes([1; 32]);
        let b = AgreementSecretKey::from_bytes([2; 32]);
        let ab = a.agree(&b.public_key()).unwrap();
        let ba = b.agree(&a.public_key()).unwrap();
        assert_eq!(ab.expose_secret(), ba.expose_secret());
    }

    #[test]
    fn rejects_low_order_points() {
        let a = AgreementSecretKey::from_bytes([1; 32]);
        // The identity and a point of order 8 on Curve25519.
        for point in [[0u8; 32], {
            let mut p = [0u8; 32];
            p[0] = 1;
            p
        }] {
            assert_eq!(
                a.agree(&AgreementPublicKey(point)).unwrap_err(),
                CryptoError::NonContributory
            );
        }
    }
}
