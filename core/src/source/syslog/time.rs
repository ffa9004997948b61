//! Syslog timestamps into milliseconds since the epoch: RFC 3339 (RFC 5424's
//! stamp, also sent without the version digit) and RFC 3164's year-less
//! `Mmm dd hh:mm:ss`.
//!
//! Where Flume's two parsers differ, this follows the multiport one
//! (`SyslogParser`): the zone offset counts even when the stamp has a fraction,
//! a fraction is a fraction (`.52` is 520 ms), and a stamp without a zone is UTC.
//! (`SyslogUtils`, behind `syslogtcp`/`syslogudp`, reads a zone-less stamp in the
//! JVM's zone, which is UTC on the servers Flume usually runs on, and drops the
//! offset of a stamp with a fraction: a `SimpleDateFormat` prefix parse.)

use crate::calendar::{civil_from_days, days_from_civil, month_length};

/// Milliseconds since the epoch of an RFC 3339 timestamp (`2026-11-25T18:10:47.123+01:00`,
/// `...Z`, or without a zone: UTC). Up to 6 fraction digits, as Flume's pattern allows.
pub fn rfc3339_ms(t: &str) -> Option<u64> {
    let b = t.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = t.get(r)?;
        s.bytes().all(|c| c.is_ascii_digit()).then(|| s.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    let mut millis = 0i64;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let frac = t.get(start..i)?;
        if frac.is_empty() || frac.len() > 6 {
            return None;
        }
        let first3: String = frac.chars().chain("000".chars()).take(3).collect();
        millis = first3.parse().ok()?;
    }
    let offset_min = match b.get(i) {
        None => 0,
        Some(b'Z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if b.len() == i + 6 && b[i + 3] == b':' => {
            let m = num(i + 1..i + 3)? * 60 + num(i + 4..i + 6)?;
            if *sign == b'+' {
                m
            } else {
                -m
            }
        }
        _ => return None,
    };
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset_min * 60;
    u64::try_from(secs * 1000 + millis).ok()
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Milliseconds of an RFC 3164 timestamp (`Nov 25 18:10:47`; the day padded
/// with a space or not), read as UTC.
///
/// It has no year. As Flume: this year, unless that puts it more than a month
/// ahead of `now_ms` (then last year: a December message read in January) or
/// more than eleven months behind (then next year: a January message read by a
/// clock still in December). So a date from 11 months ago to 1 month ahead.
pub fn bsd_timestamp_ms(t: &str, now_ms: u64) -> Option<u64> {
    let (month_name, rest) = t.split_at_checked(3)?;
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month_name))? as i64 + 1;
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let (day, clock) = rest.split_once(|c: char| c.is_ascii_whitespace())?;
    let day: i64 = digits(day, 1..=2)?;
    let mut hms = clock.split(':');
    let mut next = || digits(hms.next()?, 2..=2);
    let (hour, minute, second) = (next()?, next()?, next()?);
    if hms.next().is_some() || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let now = i64::try_from(now_ms).ok()?;
    let (year, _, _) = civil_from_days(now.div_euclid(86_400_000));
    let time_of_day = (hour * 3600 + minute * 60 + second) * 1000;
    let at = |months_from_this_year: i64| {
        let (y, m) = shift_month(year, month, months_from_this_year);
        days_from_civil(y, m, day.min(month_length(y, m))) * 86_400_000 + time_of_day
    };
    let this_year = at(0);
    let chosen = if this_year > now && at(-1) > now {
        at(-12)
    } else if this_year < now && at(11) < now {
        at(12)
    } else {
        this_year
    };
    u64::try_from(chosen).ok()
}

/// A number of `len` ASCII digits.
fn digits(s: &str, len: std::ops::RangeInclusive<usize>) -> Option<i64> {
    (len.contains(&s.len()) && s.bytes().all(|c| c.is_ascii_digit())).then(|| s.parse().ok())?
}

/// `(year, month)` moved by `months`.
fn shift_month(year: i64, month: i64, months: i64) -> (i64, i64) {
    let index = year * 12 + (month - 1) + months;
    (index.div_euclid(12), index.rem_euclid(12) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(t: &str) -> u64 {
        rfc3339_ms(t).unwrap_or_else(|| panic!("test stamp {t}"))
    }

    #[test]
    fn rfc3339_stamps() {
        // (stamp, the instant it names; None: not a stamp)
        let table: &[(&str, Option<&str>)] = &[
            ("2003-10-11T22:14:15.003Z", Some("2003-10-11T22:14:15.003+00:00")),
            ("1985-04-12T23:20:50.52Z", Some("1985-04-12T23:20:50.520Z")),
            ("1985-04-12T19:20:50.52-04:00", Some("1985-04-12T23:20:50.520Z")),
            ("2003-08-24T05:14:15.000003-07:00", Some("2003-08-24T12:14:15Z")),
            ("2012-04-13T08:08:08.0001+00:00", Some("2012-04-13T08:08:08Z")),
            ("2012-04-13T11:11:11", Some("2012-04-13T11:11:11Z")),
            ("2012-04-13T11:11:11.999", Some("2012-04-13T11:11:11.999Z")),
            ("2012-04-13T11:11:11.1234567Z", None),
            ("2012-04-13T11:11:11+0800", None),
            ("2012-13-13T11:11:11Z", None),
            ("2012-04-13 11:11:11Z", None),
            ("2012-04-13T1a:11:11Z", None),
        ];
        for (stamp, want) in table {
            assert_eq!(rfc3339_ms(stamp), want.map(utc), "{stamp}");
        }
        assert_eq!(utc("2012-04-13T11:11:11+08:00"), utc("2012-04-13T03:11:11Z"));
    }

    /// Flume's `TestRfc3164Dates`: for a clock in each of 14 consecutive months,
    /// dates from 10 months back to (a day short of) 1 month ahead keep their year.
    #[test]
    fn rfc3164_year_is_within_eleven_months_back_and_one_ahead() {
        let start = utc("2026-12-02T10:20:30Z");
        for clock_month in 0..=13 {
            let (y, m) = shift_month(2026, 12, clock_month);
            let now = (days_from_civil(y, m, 2) * 86_400_000 + 37_230_000) as u64;
            assert!(now >= start);
            for offset in -10..=1i64 {
                let (dy, dm) = shift_month(y, m, offset);
                let day = if offset == 1 { 1 } else { 2 };
                let stamp = format!("{} {:>2} 10:20:30", MONTHS[(dm - 1) as usize], day);
                let want = days_from_civil(dy, dm, day) * 86_400_000 + 37_230_000;
                assert_eq!(bsd_timestamp_ms(&stamp, now), Some(want as u64), "{stamp} read at {y}-{m}-02");
            }
        }
    }

    #[test]
    fn rfc3164_stamps() {
        let now = utc("2026-11-25T18:00:00Z");
        let table: &[(&str, Option<&str>)] = &[
            ("Nov 25 18:10:47", Some("2026-11-25T18:10:47Z")),
            ("Nov  5 01:02:03", Some("2026-11-05T01:02:03Z")),
            ("Nov 5 01:02:03", Some("2026-11-05T01:02:03Z")),
            ("Dec 24 00:00:00", Some("2026-12-24T00:00:00Z")),
            ("Jan  2 00:00:00", Some("2026-01-02T00:00:00Z")),
            ("Foo 25 18:10:47", None),
            ("Nov 32 18:10:47", None),
            ("Nov 25 24:10:47", None),
            ("Nov 25 18:10", None),
        ];
        for (stamp, want) in table {
            assert_eq!(bsd_timestamp_ms(stamp, now), want.map(utc), "{stamp}");
        }
        // 2026 has no Feb 29: the day is clamped to the 28th (Flume's lenient parse says Mar 1).
        assert_eq!(bsd_timestamp_ms("Feb 29 12:00:00", now), Some(utc("2026-02-28T12:00:00Z")));
        let new_year = utc("2027-01-01T00:00:05Z");
        assert_eq!(bsd_timestamp_ms("Dec 31 23:59:59", new_year), Some(utc("2026-12-31T23:59:59Z")));
    }
}
