//! The clock and randomness the engine hands its sans-IO protocol code.

use std::io;
use std::time::{SystemTime, UNIX_EPOCH};

use bramble_proto::time::Timestamp;
use chacha20::ChaCha20Rng;
use rand_core::SeedableRng;

use crate::error::EngineError;

/// The current time as a protocol timestamp.
///
/// # Errors
/// [`EngineError::Clock`] for a clock outside the timestamp range.
pub fn now() -> Result<Timestamp, EngineError> {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| EngineError::Clock)?
        .as_millis();
    Timestamp::from_millis(u64::try_from(ms).map_err(|_| EngineError::Clock)?)
        .map_err(|_| EngineError::Clock)
}

pub(crate) fn fresh_rng() -> Result<ChaCha20Rng, EngineError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|_| EngineError::Io(io::Error::other("no system randomness")))?;
    Ok(ChaCha20Rng::from_seed(seed))
}
