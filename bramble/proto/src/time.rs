//! Timestamps and time periods (`spec/stream.md#time-periods`).
//!
//! The core never reads a clock: callers pass a [`Timestamp`] in.

use core::fmt;
use core::time::Duration;

/// Milliseconds in one hour.
const HOUR_MS: u64 = 3_600_000;

/// A point in time: milliseconds since the Unix epoch, UTC.
///
/// Timestamps are bounded by [`Timestamp::MAX`] (the end of the year 9999) so that a clock
/// set absurdly far ahead is rejected instead of driving key rotation through billions of
/// periods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(0);
    /// The last millisecond of 9999-12-31 UTC.
    pub const MAX: Timestamp = Timestamp(253_402_300_799_999);

    /// A timestamp from milliseconds since the Unix epoch.
    ///
    /// # Errors
    /// [`TimeError::OutOfRange`] beyond [`Timestamp::MAX`].
    pub const fn from_millis(ms: u64) -> Result<Self, TimeError> {
        if ms > Self::MAX.0 {
            Err(TimeError::OutOfRange)
        } else {
            Ok(Timestamp(ms))
        }
    }

    /// Milliseconds since the Unix epoch.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// This timestamp moved `d` later, or `None` past [`Timestamp::MAX`].
    pub fn checked_add(self, d: Duration) -> Option<Timestamp> {
        let ms = u64::try_from(d.as_millis()).ok()?;
        Timestamp::from_millis(self.0.checked_add(ms)?).ok()
    }

    /// This timestamp moved `d` earlier, or `None` before the epoch.
    pub fn checked_sub(self, d: Duration) -> Option<Timestamp> {
        let ms = u64::try_from(d.as_millis()).ok()?;
        Some(Timestamp(self.0.checked_sub(ms)?))
    }
}

/// A time period number: `floor(timestamp / period length)` for some [`PeriodLength`].
///
/// Period numbers are only comparable between timestamps cut with the same length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period(pub u64);

impl Period {
    /// The next period, or `None` on overflow (impossible for periods of real timestamps).
    pub fn next(self) -> Option<Period> {
        self.0.checked_add(1).map(Period)
    }

    /// The previous period, or `None` for period 0.
    pub fn prev(self) -> Option<Period> {
        self.0.checked_sub(1).map(Period)
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The length of a time period for one transport: its maximum latency plus
/// [`PeriodLength::MAX_CLOCK_DIFFERENCE`] (`spec/stream.md#time-periods`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PeriodLength(u64);

impl PeriodLength {
    /// The largest difference between two contacts' clocks that the stream layer
    /// tolerates: 24 hours.
    pub const MAX_CLOCK_DIFFERENCE: Duration = Duration::from_millis(24 * HOUR_MS);

    /// The largest maximum latency a transport may declare: 365 days.
    pub const MAX_LATENCY: Duration = Duration::from_millis(365 * 24 * HOUR_MS);

    /// The period length for a transport with the given maximum latency.
    ///
    /// Latencies are counted in whole milliseconds.
    ///
    /// # Errors
    /// [`TimeError::LatencyOutOfRange`] above [`PeriodLength::MAX_LATENCY`].
    pub fn for_max_latency(max_latency: Duration) -> Result<Self, TimeError> {
        if max_latency > Self::MAX_LATENCY {
            return Err(TimeError::LatencyOutOfRange);
        }
        let latency_ms =
            u64::try_from(max_latency.as_millis()).map_err(|_| TimeError::LatencyOutOfRange)?;
        let skew_ms = 24 * HOUR_MS;
        Ok(PeriodLength(latency_ms + skew_ms))
    }

    /// A period length restored from storage, in milliseconds.
    ///
    /// # Errors
    /// [`TimeError::LatencyOutOfRange`] if `ms` is not the length of a valid latency.
    pub fn from_millis(ms: u64) -> Result<Self, TimeError> {
        let skew_ms = 24 * HOUR_MS;
        let latency = ms
            .checked_sub(skew_ms)
            .ok_or(TimeError::LatencyOutOfRange)?;
        Self::for_max_latency(Duration::from_millis(latency))
    }

    /// The length in milliseconds.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// The period that contains `t`.
    pub const fn period_of(self, t: Timestamp) -> Period {
        // self.0 >= 24 h, never zero.
        Period(t.0 / self.0)
    }

    /// The first millisecond of `period`, or `None` past [`Timestamp::MAX`].
    pub fn start_of(self, period: Period) -> Option<Timestamp> {
        Timestamp::from_millis(period.0.checked_mul(self.0)?).ok()
    }
}

/// Errors from time arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeError {
    /// A timestamp lies beyond the end of the year 9999.
    #[error("timestamp out of range")]
    OutOfRange,
    /// A transport declared a maximum latency above 365 days.
    #[error("transport latency too large")]
    LatencyOutOfRange,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_length_is_latency_plus_a_day() {
        let len = PeriodLength::for_max_latency(Duration::from_secs(30)).unwrap();
        assert_eq!(len.as_millis(), 86_430_000);
        assert_eq!(PeriodLength::from_millis(86_430_000).unwrap(), len);
        assert!(PeriodLength::from_millis(1000).is_err());
    }

    #[test]
    fn periods_cut_time() {
        let len = PeriodLength::for_max_latency(Duration::ZERO).unwrap();
        let day = 86_400_000;
        assert_eq!(
            len.period_of(Timestamp::from_millis(day - 1).unwrap()),
            Period(0)
        );
        assert_eq!(
            len.period_of(Timestamp::from_millis(day).unwrap()),
            Period(1)
        );
        assert_eq!(len.start_of(Period(3)).unwrap().as_millis(), 3 * day);
    }

    #[test]
    fn rejects_far_future() {
        assert!(Timestamp::from_millis(Timestamp::MAX.as_millis() + 1).is_err());
        assert!(
            PeriodLength::for_max_latency(PeriodLength::MAX_LATENCY + Duration::from_millis(1))
                .is_err()
        );
    }
}
