//! Timestamps as people read them: `YYYY-MM-DD HH:MM` in UTC.

use bramble_proto::time::Timestamp;

/// The civil date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

/// The day since 1970 (UTC) a timestamp falls on.
pub(crate) fn day(t: Timestamp) -> i64 {
    i64::try_from(t.as_millis() / 86_400_000).unwrap_or(i64::MAX)
}

/// `YYYY-MM-DD` of a day since 1970.
pub(crate) fn date(day: i64) -> String {
    let (y, m, d) = civil(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `HH:MM` (UTC).
pub(crate) fn clock(t: Timestamp) -> String {
    let secs = t.as_millis() / 1000 % 86_400;
    format!("{:02}:{:02}", secs / 3600, secs % 3600 / 60)
}

/// A short time for lists, at most six characters: `HH:MM` on the day (UTC) of `now`,
/// `D Mon` earlier (or later) in its year, the year otherwise.
pub(crate) fn short(t: Timestamp, now: Timestamp) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    if day(t) == day(now) {
        return clock(t);
    }
    let (year, month, d) = civil(day(t));
    if year != civil(day(now)).0 {
        return year.to_string();
    }
    let name = usize::try_from(month)
        .ok()
        .and_then(|m| MONTHS.get(m.wrapping_sub(1)))
        .unwrap_or(&"?");
    format!("{d} {name}")
}

/// `YYYY-MM-DD HH:MM UTC`.
pub(crate) fn format(t: Timestamp) -> String {
    let secs = i64::try_from(t.as_millis() / 1000).unwrap_or(i64::MAX);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let t = |ms| format(Timestamp::from_millis(ms).unwrap());
        assert_eq!(t(0), "1970-01-01 00:00 UTC");
        assert_eq!(t(951_782_400_000), "2000-02-29 00:00 UTC");
        assert_eq!(t(1_764_625_800_000), "2025-12-01 21:50 UTC");
        let ts = Timestamp::from_millis(1_764_625_800_000).unwrap();
        assert_eq!(date(day(ts)), "2025-12-01");
        assert_eq!(clock(ts), "21:50");
    }

    #[test]
    fn short_times() {
        let t = |ms| Timestamp::from_millis(ms).unwrap();
        // 2025-12-01 21:50 UTC.
        let now = t(1_764_625_800_000);
        assert_eq!(
            short(t(1_764_547_200_000), now),
            "00:00",
            "midnight that day"
        );
        assert_eq!(
            short(t(1_764_547_199_999), now),
            "30 Nov",
            "a millisecond before"
        );
        assert_eq!(short(t(1_735_689_600_000), now), "1 Jan", "new year's day");
        assert_eq!(short(t(1_735_689_599_999), now), "2024", "the year before");
        assert_eq!(
            short(t(1_767_225_599_999), now),
            "31 Dec",
            "later that year"
        );
        assert_eq!(short(t(1_767_225_600_000), now), "2026", "next year");
    }
}
