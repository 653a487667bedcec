//! Cryptographic primitives with labelled domain separation (`spec/crypto.md`).
//!
//! - [`hash`], [`mac`] and [`kdf`]: BLAKE3 over a length-framed encoding of an ASCII
//!   label and a list of inputs, so that no two uses can collide
//!   (`spec/crypto.md#labelled-functions`).
//! - [`AgreementSecretKey`]/[`AgreementPublicKey`]: X25519, refusing non-contributory
//!   results.
//! - [`SigningKey`]/[`VerifyingKey`]: Ed25519 over labelled messages, strict verification.
//! - [`aead`]: XChaCha20-Poly1305 for sealing small values under a key.
//! - [`label`]: every label the protocol uses.
//!
//! All secret types zeroize on drop and redact themselves in `Debug`.

pub mod aead;
mod agreement;
pub mod label;
mod labelled;
mod secret;
mod signature;

pub use agreement::{AgreementPublicKey, AgreementSecretKey, SharedSecret};
pub use labelled::{Digest, Mac, hash, kdf, mac};
pub use secret::SecretKey;
pub use signature::{Signature, SigningKey, VerifyingKey};

/// Errors from cryptographic operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// X25519 produced the all-zero output: the peer's public key has small order.
    #[error("key agreement produced a non-contributory result")]
    NonContributory,
    /// A public key is not a valid curve point.
    #[error("invalid public key")]
    InvalidPublicKey,
    /// A signature did not verify.
    #[error("bad signature")]
    BadSignature,
    /// A sealed value failed authentication or is malformed (`open-failed`).
    #[error("sealed value could not be opened")]
    OpenFailed,
    /// A value is too long to seal.
    #[error("value too long to seal")]
    TooLong,
}
