//! Ed25519 signatures over labelled messages (`spec/crypto.md#signatures`).

use core::fmt;

use ed25519_dalek::Signer;
use rand_core::CryptoRng;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::CryptoError;
use super::labelled::framed;

/// An Ed25519 private key: an account's identity key.
///
/// Zeroized on drop; `Debug` redacts it.
pub struct SigningKey(ed25519_dalek::SigningKey);

impl SigningKey {
    /// A fresh signing key.
    pub fn generate(rng: &mut impl CryptoRng) -> Self {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let key = Self::from_seed(seed);
        seed.zeroize();
        key
    }

    /// A key from its 32-byte seed, as kept in the encrypted store.
    ///
    /// The caller's copy of `seed` is not erased by this call.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// The seed, for persisting in the encrypted store. Never log it.
    pub fn expose_secret(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// The matching public key.
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey(self.0.verifying_key())
    }

    /// Signs `frame(label, message)`, so a signature made for one purpose never
    /// verifies for another.
    pub fn sign(&self, label: &str, message: &[u8]) -> Signature {
        Signature(self.0.sign(&framed(label, &[message])).to_bytes())
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

impl ZeroizeOnDrop for SigningKey {}

/// An Ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct VerifyingKey(ed25519_dalek::VerifyingKey);

impl VerifyingKey {
    /// A public key from its 32-byte encoding (`spec/crypto.md#signatures`).
    ///
    /// # Errors
    /// [`CryptoError::InvalidPublicKey`] if the bytes do not decode to a curve point, are
    /// not the canonical encoding of that point, or the point has small order.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, CryptoError> {
        let key = ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .map_err(|_| CryptoError::InvalidPublicKey)?;
        // Decoding accepts a y coordinate >= p; re-encoding shows whether it was canonical.
        let canonical = key.to_edwards().compress().to_bytes() == *bytes;
        if !canonical || key.is_weak() {
            return Err(CryptoError::InvalidPublicKey);
        }
        Ok(VerifyingKey(key))
    }

    /// The 32-byte encoding.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// Checks `signature` over `frame(label, message)` with strict (non-malleable)
    /// verification.
    ///
    /// # Errors
    /// [`CryptoError::BadSignature`] if it does not verify.
    pub fn verify(
        &self,
        label: &str,
        message: &[u8],
        signature: &Signature,
    ) -> Result<(), CryptoError> {
        let sig = ed25519_dalek::Signature::from_bytes(&signature.0);
        self.0
            .verify_strict(&framed(label, &[message]), &sig)
            .map_err(|_| CryptoError::BadSignature)
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyingKey(")?;
        for b in &self.0.as_bytes()[..4] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
}

/// An Ed25519 signature.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 64]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signature(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_separate_signatures() {
        let key = SigningKey::from_seed([7; 32]);
        let public = key.verifying_key();
        let sig = key.sign("thicket/test/a", b"hello");
        public.verify("thicket/test/a", b"hello", &sig).unwrap();
        assert_eq!(
            public.verify("thicket/test/b", b"hello", &sig),
            Err(CryptoError::BadSignature)
        );
        assert_eq!(
            public.verify("thicket/test/a", b"hellp", &sig),
            Err(CryptoError::BadSignature)
        );
    }

    #[test]
    fn rejects_weak_keys() {
        // The all-zero encoding and the identity both have small order.
        assert!(VerifyingKey::from_bytes(&[0; 32]).is_err());
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            VerifyingKey::from_bytes(&identity).unwrap_err(),
            CryptoError::InvalidPublicKey
        );
        // y = p + 3: a non-canonical encoding of a point of large order.
        let mut non_canonical = [0xff; 32];
        non_canonical[0] = 0xf0;
        non_canonical[31] = 0x7f;
        assert!(VerifyingKey::from_bytes(&non_canonical).is_err());
        let mut canonical = [0u8; 32];
        canonical[0] = 3;
        assert!(VerifyingKey::from_bytes(&canonical).is_ok());

        // A real key decodes.
        let public = SigningKey::from_seed([1; 32]).verifying_key().to_bytes();
        assert!(VerifyingKey::from_bytes(&public).is_ok());
    }
}
