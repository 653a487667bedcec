//! Password-based key derivation: Argon2id, calibrated to the machine
//! (`spec/store.md#password`).

use std::time::Duration;

use zeroize::Zeroizing;

use crate::error::{Result, StoreError};

/// Argon2id parameters, stored in the key file beside the salt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
}

impl KdfParams {
    /// The least memory calibration ever chooses: 64 MiB.
    pub const MIN_MEMORY_KIB: u32 = 64 * 1024;
    /// The most memory calibration chooses before it adds iterations instead: 256 MiB.
    pub const CALIBRATION_MAX_MEMORY_KIB: u32 = 256 * 1024;
    /// The most memory a key file may ask for: 4 GiB. More is treated as corruption.
    pub const MAX_MEMORY_KIB: u32 = 4 * 1024 * 1024;
    /// The most iterations a key file may ask for.
    pub const MAX_ITERATIONS: u32 = 10_000;
    /// The most lanes a key file may ask for.
    pub const MAX_PARALLELISM: u32 = 64;
    /// Calibration aims for a derivation time within this range.
    pub const TARGET: (Duration, Duration) = (Duration::from_millis(500), Duration::from_secs(1));

    /// Parameters as given. Accepts memory below [`KdfParams::MIN_MEMORY_KIB`] (for tests);
    /// accounts made by Thicket itself use [`KdfParams::calibrated`].
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] outside Argon2's ranges or this store's maxima.
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<Self> {
        let params = KdfParams {
            memory_kib,
            iterations,
            parallelism,
        };
        params.argon2()?;
        if memory_kib > Self::MAX_MEMORY_KIB
            || iterations > Self::MAX_ITERATIONS
            || parallelism > Self::MAX_PARALLELISM
        {
            return Err(StoreError::InvalidInput(
                "key derivation parameters out of range",
            ));
        }
        Ok(params)
    }

    /// Memory in KiB.
    pub fn memory_kib(&self) -> u32 {
        self.memory_kib
    }

    /// Passes over memory.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// Lanes.
    pub fn parallelism(&self) -> u32 {
        self.parallelism
    }

    fn argon2(&self) -> Result<argon2::Argon2<'static>> {
        let params =
            argon2::Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
                .map_err(|_| StoreError::InvalidInput("key derivation parameters out of range"))?;
        Ok(argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            params,
        ))
    }

    /// `Argon2id(password, salt)` with these parameters: 32 bytes.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] if Argon2 refuses the inputs.
    pub fn derive(&self, password: &[u8], salt: &[u8; 32]) -> Result<Zeroizing<[u8; 32]>> {
        let mut out = Zeroizing::new([0u8; 32]);
        self.argon2()?
            .hash_password_into(password, salt, out.as_mut_slice())
            .map_err(|_| StoreError::InvalidInput("key derivation refused its inputs"))?;
        Ok(out)
    }

    /// Chooses parameters for this machine: at least 64 MiB, and a derivation time of
    /// about 0.5–1 s, measured with `measure`. Memory grows first (to 256 MiB), then
    /// iterations. It aims for the middle of the range (accepting 0.6–0.9 s) so that a
    /// noisy measurement near an edge cannot carry it outside; if no setting falls in
    /// that band (iterations are whole numbers), the one closest to 0.75 s is chosen.
    ///
    /// # Errors
    /// Whatever `measure` returns.
    pub fn calibrate(mut measure: impl FnMut(&KdfParams) -> Result<Duration>) -> Result<Self> {
        const AIM: u128 = 750;
        let accept = (Duration::from_millis(600), Duration::from_millis(900));
        let mut p = KdfParams {
            memory_kib: Self::MIN_MEMORY_KIB,
            iterations: 2,
            parallelism: 1,
        };
        let mut best: Option<(u128, KdfParams)> = None;
        for _ in 0..24 {
            let took = measure(&p)?;
            let distance = took.as_millis().abs_diff(AIM);
            if best.is_none_or(|(d, _)| distance < d) {
                best = Some((distance, p));
            }
            let per_pass = took.as_millis().max(1) / u128::from(p.iterations).max(1);
            if took < accept.0 {
                if p.memory_kib < Self::CALIBRATION_MAX_MEMORY_KIB {
                    p.memory_kib *= 2;
                } else {
                    let aim = u32::try_from((AIM / per_pass.max(1)).max(1))
                        .unwrap_or(Self::MAX_ITERATIONS);
                    p.iterations = aim.clamp(p.iterations + 1, Self::MAX_ITERATIONS);
                }
            } else if took > accept.1 {
                if p.iterations == 1 {
                    break;
                }
                let aim = u32::try_from((AIM / per_pass.max(1)).max(1)).unwrap_or(1);
                p.iterations = aim.clamp(1, p.iterations - 1);
            } else {
                return Ok(p);
            }
        }
        Ok(best.map_or(p, |(_, best)| best))
    }

    /// [`KdfParams::calibrate`] against the real clock: runs Argon2id a few times, which
    /// takes one to a few seconds.
    ///
    /// # Errors
    /// If Argon2 fails to run.
    pub fn calibrated() -> Result<Self> {
        Self::calibrate(|p| {
            let start = std::time::Instant::now();
            p.derive(b"calibration", &[0u8; 32])?;
            Ok(start.elapsed())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A machine where a pass over 1 MiB takes `ns_per_mib_pass` nanoseconds.
    fn machine(ns_per_mib_pass: u64) -> impl FnMut(&KdfParams) -> Result<Duration> {
        move |p| {
            let mib = u64::from(p.memory_kib) / 1024;
            Ok(Duration::from_nanos(
                mib * u64::from(p.iterations) * ns_per_mib_pass,
            ))
        }
    }

    #[test]
    fn calibration_lands_in_the_target_range() {
        // From very fast to slow machines.
        for ns in [20_000, 100_000, 300_000, 700_000, 1_500_000, 3_000_000] {
            let p = KdfParams::calibrate(machine(ns)).unwrap();
            let took = machine(ns)(&p).unwrap();
            assert!(p.memory_kib >= KdfParams::MIN_MEMORY_KIB, "{ns}: {p:?}");
            assert!(
                p.memory_kib <= KdfParams::CALIBRATION_MAX_MEMORY_KIB,
                "{ns}: {p:?}"
            );
            assert!(
                took >= KdfParams::TARGET.0 && took <= KdfParams::TARGET.1,
                "{ns}: {p:?} takes {took:?}"
            );
        }
    }

    #[test]
    fn noisy_measurements_still_land_in_the_range() {
        // Each measurement off by up to ±15 %, deterministically varied.
        for ns in [20_000u64, 80_000, 250_000, 600_000, 1_100_000, 2_500_000] {
            let mut k = 0u64;
            let noisy = |p: &KdfParams| {
                k += 1;
                let exact = machine(ns)(p)?;
                let factor = 85 + (k * 37 % 31);
                Ok(exact * u32::try_from(factor).unwrap() / 100)
            };
            let p = KdfParams::calibrate(noisy).unwrap();
            let took = machine(ns)(&p).unwrap();
            assert!(
                took >= KdfParams::TARGET.0 && took <= KdfParams::TARGET.1,
                "{ns}: {p:?} takes {took:?}"
            );
        }
    }

    #[test]
    fn a_very_slow_machine_still_gets_the_minimum() {
        let p = KdfParams::calibrate(machine(50_000_000)).unwrap();
        assert_eq!(p.memory_kib, KdfParams::MIN_MEMORY_KIB);
        assert_eq!(p.iterations, 1);
    }

    #[test]
    fn derivation_depends_on_every_input() {
        let p = KdfParams::new(64, 1, 1).unwrap();
        let a = p.derive(b"password", &[1; 32]).unwrap();
        assert_ne!(*a, *p.derive(b"passwore", &[1; 32]).unwrap());
        assert_ne!(*a, *p.derive(b"password", &[2; 32]).unwrap());
        assert_ne!(
            *a,
            *KdfParams::new(64, 2, 1)
                .unwrap()
                .derive(b"password", &[1; 32])
                .unwrap()
        );
        assert_eq!(*a, *p.derive(b"password", &[1; 32]).unwrap());
    }

    #[test]
    fn out_of_range_parameters_are_refused() {
        assert!(KdfParams::new(0, 1, 1).is_err());
        assert!(KdfParams::new(64, 0, 1).is_err());
        assert!(KdfParams::new(KdfParams::MAX_MEMORY_KIB + 1, 1, 1).is_err());
        assert!(KdfParams::new(64, KdfParams::MAX_ITERATIONS + 1, 1).is_err());
    }
}
