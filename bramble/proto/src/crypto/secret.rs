use core::fmt;

use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A 32-byte symmetric secret: a root key, period secret, tag key, header key or the
/// output of a [`kdf`](super::kdf).
///
/// Zeroized on drop; compared in constant time; `Debug` shows nothing of the value.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey([u8; SecretKey::LEN]);

impl SecretKey {
    /// Length in bytes.
    pub const LEN: usize = 32;

    /// Wraps key bytes, for keys loaded from the encrypted store or test vectors.
    ///
    /// The caller's copy of `bytes` is not erased by this call.
    pub const fn from_bytes(bytes: [u8; Self::LEN]) -> Self {
        SecretKey(bytes)
    }

    /// A fresh random key.
    pub fn random(rng: &mut impl CryptoRng) -> Self {
        let mut key = SecretKey([0; Self::LEN]);
        rng.fill_bytes(&mut key.0);
        key
    }

    /// The key bytes, for persisting in the encrypted store. Never log them.
    pub fn expose_secret(&self) -> &[u8; Self::LEN] {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl ConstantTimeEq for SecretKey {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.ct_eq(&other.0)
    }
}

impl PartialEq for SecretKey {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for SecretKey {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts() {
        let key = SecretKey::from_bytes([0xab; 32]);
        let shown = format!("{key:?}");
        assert!(!shown.contains("ab") && !shown.contains("171"), "{shown}");
    }
}
