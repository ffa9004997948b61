//! Syslog message parsing: RFC 5424 and RFC 3164 (BSD), into the headers Flume's
//! syslog sources set (`Facility`, `Severity`, `timestamp` in ms, `host`, and
//! `flume.syslog.status` = `Invalid` | `Incomplete` when it applies).
//!
//! As Flume does (with `keepFields` off), the body is what follows the header
//! fields: for RFC 3164 the tag and message, for RFC 5424 app-name, procid,
//! msgid, structured data and message. A message that does not parse is kept
//! whole as the body with status `Invalid`: counted, never dropped.

/// What a message parsed into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// (name, value) pairs for the event's headers.
    pub headers: Vec<(&'static str, String)>,
    /// Where the body is in the message given to [`parse`] (no copy: the caller cuts it out).
    pub body: std::ops::Range<usize>,
    /// Whether the message was malformed (status `Invalid`).
    pub invalid: bool,
}

/// Parses one message; `incomplete` marks a message cut to the size limit.
pub fn parse(original: &[u8], incomplete: bool) -> Parsed {
    let message = trim_end(original);
    // The body is a subslice of `original`: its place, from the addresses.
    let range = |part: &[u8]| {
        let start = (part.as_ptr() as usize).saturating_sub(original.as_ptr() as usize);
        start..start + part.len()
    };
    let mut parsed = match parse_pri(message) {
        Some((pri, rest)) => {
            let fields = if rest.starts_with(b"1 ") { parse_5424(&rest[2..]) } else { parse_3164(rest) };
            match fields {
                Some((timestamp, host, body)) => {
                    let mut headers = vec![("Facility", (pri >> 3).to_string()), ("Severity", (pri & 7).to_string())];
                    if let Some(ms) = timestamp {
                        headers.push(("timestamp", ms.to_string()));
                    }
                    if let Some(host) = host {
                        headers.push(("host", host));
                    }
                    Parsed { headers, body: range(body), invalid: false }
                }
                None => invalid(range(message)),
            }
        }
        None => invalid(range(message)),
    };
    if incomplete && !parsed.invalid {
        parsed.headers.push(("flume.syslog.status", "Incomplete".into()));
    }
    parsed
}

fn invalid(body: std::ops::Range<usize>) -> Parsed {
    Parsed { headers: vec![("flume.syslog.status", "Invalid".into())], body, invalid: true }
}

fn trim_end(mut m: &[u8]) -> &[u8] {
    while let Some((last, rest)) = m.split_last() {
        if matches!(last, b'\n' | b'\r' | b'\0') {
            m = rest;
        } else {
            break;
        }
    }
    m
}

/// `<PRI>` with PRI 0..=191.
fn parse_pri(m: &[u8]) -> Option<(u8, &[u8])> {
    let rest = m.strip_prefix(b"<")?;
    let end = rest.iter().take(4).position(|b| *b == b'>')?;
    let digits = &rest[..end];
    if digits.is_empty() || digits.len() > 3 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let pri: u16 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    (pri <= 191).then_some((pri as u8, &rest[end + 1..]))
}

type Fields<'a> = (Option<u64>, Option<String>, &'a [u8]);

/// `TIMESTAMP SP HOSTNAME SP rest` (RFC 5424 after `1 `); `-` is a nil value.
fn parse_5424(m: &[u8]) -> Option<Fields<'_>> {
    let (timestamp, rest) = split_word(m)?;
    let (host, body) = split_word(rest)?;
    let ms = if timestamp == b"-" { None } else { Some(rfc3339_ms(std::str::from_utf8(timestamp).ok()?)?) };
    let host = (host != b"-").then(|| String::from_utf8_lossy(host).into_owned());
    Some((ms, host, body))
}

/// `Mmm dd hh:mm:ss SP HOSTNAME SP rest`; a message without a timestamp keeps
/// everything as the body (RFC 3164 §4.3.3: a relay would add its own).
fn parse_3164(m: &[u8]) -> Option<Fields<'_>> {
    if m.len() < 16 || m[15] != b' ' {
        return Some((None, None, m));
    }
    let Some(ms) = bsd_timestamp_ms(std::str::from_utf8(&m[..15]).ok()?, crate::event::now_ms()) else {
        return Some((None, None, m));
    };
    let rest = &m[16..];
    match split_word(rest) {
        // A word ending in ':' or holding '[' is the tag, not a host: no host was sent.
        Some((word, _)) if word.ends_with(b":") || word.contains(&b'[') => Some((Some(ms), None, rest)),
        Some((host, body)) => Some((Some(ms), Some(String::from_utf8_lossy(host).into_owned()), body)),
        None => Some((Some(ms), None, rest)),
    }
}

fn split_word(m: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = m.iter().position(|b| *b == b' ');
    match at {
        Some(0) => None,
        Some(at) => Some((&m[..at], &m[at + 1..])),
        None if !m.is_empty() => Some((m, &[])),
        None => None,
    }
}

/// Milliseconds since the epoch of an RFC 3339 timestamp (`2026-11-25T18:10:47.123+01:00`, `...Z`).
pub fn rfc3339_ms(t: &str) -> Option<u64> {
    let b = t.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
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
        if frac.is_empty() {
            return None;
        }
        let first3: String = frac.chars().chain("000".chars()).take(3).collect();
        millis = first3.parse().ok()?;
    }
    let offset_min = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
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

/// Milliseconds of an RFC 3164 timestamp (`Nov 25 18:10:47`, day space-padded), read as UTC.
/// It has no year: the year that puts it nearest to `now_ms` (a message from Dec 31 read on Jan 1).
pub fn bsd_timestamp_ms(t: &str, now_ms: u64) -> Option<u64> {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = MONTHS.iter().position(|m| t.get(0..3) == Some(*m))? as i64 + 1;
    let b = t.as_bytes();
    if b.len() != 15 || b[3] != b' ' || b[6] != b' ' || b[9] != b':' || b[12] != b':' {
        return None;
    }
    let day: i64 = t.get(4..6)?.trim_start().parse().ok()?;
    let num = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let (hour, minute, second) = (num(7..9)?, num(10..12)?, num(13..15)?);
    if !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let now_year = civil_year(now_ms as i64 / 86_400_000);
    let at = |year: i64| (days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second) * 1000;
    let now = now_ms as i64;
    let best = [now_year - 1, now_year, now_year + 1].into_iter().map(at).min_by_key(|ms| (ms - now).abs())?;
    u64::try_from(best).ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The year of a day count since 1970-01-01.
fn civil_year(days: i64) -> i64 {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i64::from(month <= 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(p: &'a Parsed, name: &str) -> Option<&'a str> {
        p.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn rfc5424_sets_flume_headers_and_keeps_the_rest_as_body() {
        let m = b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [x@1 a=\"b\"] hello\n";
        let p = parse(m, false);
        assert!(!p.invalid);
        assert_eq!(header(&p, "Facility"), Some("20"));
        assert_eq!(header(&p, "Severity"), Some("5"));
        assert_eq!(header(&p, "timestamp"), Some("1065910455003"));
        assert_eq!(header(&p, "host"), Some("mymachine.example.com"));
        assert_eq!(&m[p.body.clone()], b"evntslog - ID47 [x@1 a=\"b\"] hello");
        let offset = parse(b"<13>1 2003-08-24T05:14:15.000003-07:00 h app - - - m", false);
        assert_eq!(header(&offset, "timestamp"), Some("1061727255000"));
        let nil = parse(b"<13>1 - - app - - - m", false);
        assert_eq!((header(&nil, "timestamp"), header(&nil, "host")), (None, None));
    }

    #[test]
    fn rfc3164_with_and_without_a_host() {
        let now = rfc3339_ms("2026-11-25T18:00:00Z").unwrap_or_default();
        assert_eq!(bsd_timestamp_ms("Nov 25 18:10:47", now), rfc3339_ms("2026-11-25T18:10:47Z"));
        assert_eq!(
            bsd_timestamp_ms("Dec 31 23:59:59", rfc3339_ms("2027-01-01T00:00:05Z").unwrap_or_default()),
            rfc3339_ms("2026-12-31T23:59:59Z"),
            "late December read in January is last year"
        );
        assert_eq!(bsd_timestamp_ms("Nov  5 01:02:03", now), rfc3339_ms("2026-11-05T01:02:03Z"));
        let m = b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed";
        let p = parse(m, false);
        assert_eq!(header(&p, "Facility"), Some("4"));
        assert_eq!(header(&p, "Severity"), Some("2"));
        assert_eq!(header(&p, "host"), Some("mymachine"));
        assert_eq!(&m[p.body.clone()], b"su: 'su root' failed");
        let m = b"<13>Nov 25 18:10:47 app[42]: hi";
        let no_host = parse(m, false);
        assert_eq!(header(&no_host, "host"), None);
        assert_eq!(&m[no_host.body.clone()], b"app[42]: hi");
    }

    #[test]
    fn malformed_messages_are_kept_whole_and_marked() {
        for bad in [&b"no pri at all"[..], b"<999>1 x", b"<1a>x", b"<>x", b"<13>1 not-a-time host x", b""] {
            let p = parse(bad, false);
            assert!(p.invalid, "{:?}", String::from_utf8_lossy(bad));
            assert_eq!(header(&p, "flume.syslog.status"), Some("Invalid"));
            assert_eq!(&bad[p.body.clone()], bad);
        }
        let cut = parse(b"<13>1 - host app - - - trunc", true);
        assert_eq!(header(&cut, "flume.syslog.status"), Some("Incomplete"));
    }
}
