//! An RNG that replays given bytes, for reproducing vectors that fix the "random"
//! inputs.

use core::convert::Infallible;
use std::collections::VecDeque;

use rand_core::{TryCryptoRng, TryRng};

/// Hands out exactly the bytes it was given, in order, and panics when they run out or
/// when bytes are left over at drop (the code under test drew less than the spec says).
#[derive(Debug)]
pub struct ReplayRng(VecDeque<u8>);

impl ReplayRng {
    /// An RNG that will produce `bytes`.
    pub fn new(bytes: &[u8]) -> Self {
        ReplayRng(bytes.iter().copied().collect())
    }

    /// Bytes not yet drawn.
    pub fn remaining(&self) -> usize {
        self.0.len()
    }
}

impl TryRng for ReplayRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for d in dst {
            *d = self.0.pop_front().expect("replay RNG ran out of bytes");
        }
        Ok(())
    }
}

impl TryCryptoRng for ReplayRng {}
