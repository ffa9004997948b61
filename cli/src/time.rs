//! Times as people read them: `2026-12-02T13:45:59Z` and `in 4s`.

/// Milliseconds since the Unix epoch as RFC 3339 in UTC, to the second.
pub fn rfc3339_utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = sluice::calendar::civil_from_days(days as i64);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// `95` → `1m35s`, `7300` → `2h01m`.
pub fn human_duration(seconds: f64) -> String {
    let s = seconds.round().max(0.0) as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// `at` relative to `now` (both ms since the epoch): `in 4s`, `now`, `3s ago`.
pub fn relative(at: u64, now: u64) -> String {
    match at.cmp(&now) {
        std::cmp::Ordering::Greater => format!("in {}", human_duration((at - now) as f64 / 1000.0)),
        _ if now - at < 1000 => "now".into(),
        _ => format!("{} ago", human_duration((now - at) as f64 / 1000.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times() {
        for (ms, text) in [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400_000, "2000-02-29T00:00:00Z"),
            (1_796_198_741_282, "2026-12-02T08:05:41Z"),
            (4_102_444_799_000, "2099-12-31T23:59:59Z"),
        ] {
            assert_eq!(rfc3339_utc(ms), text, "{ms}");
        }
    }

    #[test]
    fn relative_times() {
        assert_eq!(relative(5_000, 1_000), "in 4s");
        assert_eq!(relative(1_000, 1_500), "now");
        assert_eq!(relative(1_000, 96_000), "1m35s ago");
        assert_eq!(human_duration(7300.0), "2h01m");
    }
}
