//! Syslog message parsing as Flume's `syslogtcp`/`syslogudp` sources do it
//! (`SyslogUtils`): the headers `Facility`, `Severity`, `priority`, `version`,
//! `timestamp` (ms) and `host`, and `flume.syslog.status` = `Invalid` |
//! `Incomplete` when it applies.
//!
//! - A message whose `<PRI>` is missing or not 1–3 digits, or whose bytes are
//!   not valid in the source's [`Charset`], is *Invalid*: `Facility` and `Severity` 0, the raw message kept.
//! - Otherwise the rest is matched against Flume's two patterns, RFC 5424 first
//!   (version digit optional, so `<10>2012-04-13T11:11:11+08:00 host msg`
//!   parses), then RFC 3164 (`<34>1 Oct 11 22:14:15 host msg`, `<167> Mar  7 …`
//!   too). When neither matches, the whole message, `<PRI>` included, is the
//!   body, with `Facility` and `Severity` and no status: Flume's leniency.
//!
//! Two departures from Flume, both where it cannot see what we see: a message
//! may hold newlines (an octet-counted frame; Flume's sources split on them),
//! and timestamps follow [`super::time`].

use super::keep::KeepFields;
use super::time;
use std::ops::Range;

/// What a message parsed into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// (name, value) pairs for the event's headers.
    pub headers: Vec<(&'static str, String)>,
    /// The message's parts, when it matched a pattern.
    pub fields: Option<Fields>,
    /// The message without its trailing newline: the body when nothing matched.
    pub message: Range<usize>,
    /// Whether the message was malformed (status `Invalid`).
    pub invalid: bool,
}

/// Where each part is in the message (no copies: the caller cuts them out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    /// `<PRI>`, brackets included.
    pub priority: Range<usize>,
    /// The version digit, when sent.
    pub version: Option<Range<usize>>,
    /// The timestamp as sent, or `-`.
    pub timestamp: Range<usize>,
    /// The host as sent, or `-`.
    pub host: Range<usize>,
    /// The rest: the body.
    pub body: Range<usize>,
}

/// An event's body: a part of the message, or parts joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// This range of the message.
    Part(Range<usize>),
    /// Kept fields in front of the body (`keep_fields` naming some).
    Joined(Vec<u8>),
}

impl Parsed {
    /// The body, keeping `keep` in front of it as Flume does
    /// (`<PRI>version timestamp host body`).
    pub fn body(&self, message: &[u8], keep: KeepFields) -> Body {
        let Some(f) = self.fields.as_ref().filter(|f| !keep.all && !f.body.is_empty()) else {
            return Body::Part(self.message.clone());
        };
        if !keep.any() {
            return Body::Part(f.body.clone());
        }
        let part = |r: &Range<usize>| message.get(r.clone()).unwrap_or_default();
        let mut out = Vec::with_capacity(self.message.len());
        if keep.priority {
            out.extend_from_slice(part(&f.priority));
        }
        let spaced =
            [(keep.version, f.version.as_ref()), (keep.timestamp, Some(&f.timestamp)), (keep.hostname, Some(&f.host))];
        for r in spaced.into_iter().filter_map(|(on, r)| r.filter(|_| on)) {
            out.extend_from_slice(part(r));
            out.push(b' ');
        }
        out.extend_from_slice(part(&f.body));
        Body::Joined(out)
    }
}

/// The character set messages are sent in (Flume's multiport `charset.default`;
/// `convert-flume` maps `UTF-8` and `ISO-8859-1`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Charset {
    /// UTF-8: a message that is not valid UTF-8 is Invalid, kept raw.
    #[default]
    Utf8,
    /// ISO-8859-1: every byte is a character; bodies are kept as sent.
    Latin1,
}

crate::key_choices!(Charset);

/// Parses one message in `charset`; `incomplete` marks a message cut to the
/// size limit. A year-less RFC 3164 date is placed relative to `now_ms`.
pub fn parse_at(original: &[u8], incomplete: bool, charset: Charset, now_ms: u64) -> Parsed {
    let message = trim_end(original);
    let whole = 0..message.len();
    let decodes = charset == Charset::Latin1 || std::str::from_utf8(message).is_ok();
    let Some((pri, after)) = lex_pri(message).filter(|_| decodes) else {
        let headers =
            vec![("Facility", "0".into()), ("Severity", "0".into()), ("flume.syslog.status", "Invalid".into())];
        return Parsed { headers, fields: None, message: whole, invalid: true };
    };
    let mut headers = vec![("Facility", (pri / 8).to_string()), ("Severity", (pri % 8).to_string())];
    let (fields, bsd) = match match_5424(message, after) {
        Some(f) => (Some(f), false),
        None => (match_3164(message, after), true),
    };
    if let Some(f) = &fields {
        // Every part but the body is ASCII, by the patterns.
        let part =
            |r: &Range<usize>| message.get(r.clone()).and_then(|p| std::str::from_utf8(p).ok()).unwrap_or_default();
        headers.push(("priority", part(&(1..f.priority.end - 1)).to_string()));
        if let Some(v) = &f.version {
            headers.push(("version", part(v).to_string()));
        }
        let stamp = part(&f.timestamp);
        let ms = if bsd { time::bsd_timestamp_ms(stamp, now_ms) } else { time::rfc3339_ms(stamp) };
        if let Some(ms) = ms {
            headers.push(("timestamp", ms.to_string()));
        }
        if part(&f.host) != "-" {
            headers.push(("host", part(&f.host).to_string()));
        }
    }
    if incomplete {
        headers.push(("flume.syslog.status", "Incomplete".into()));
    }
    Parsed { headers, fields, message: whole, invalid: false }
}

/// [`parse_at`] in UTF-8 with the clock's time.
pub fn parse(original: &[u8], incomplete: bool) -> Parsed {
    parse_at(original, incomplete, Charset::Utf8, crate::event::now_ms())
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

/// `<PRI>` with 1–3 digits (Flume does not hold PRI to 191): its value and where the rest starts.
fn lex_pri(m: &[u8]) -> Option<(u16, usize)> {
    let rest = m.strip_prefix(b"<")?;
    let digits = rest.iter().take(4).take_while(|b| b.is_ascii_digit()).count();
    if !(1..=3).contains(&digits) || rest.get(digits) != Some(&b'>') {
        return None;
    }
    let pri = rest[..digits].iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    Some((pri, digits + 2))
}

/// Java's `\s`.
fn is_space(b: Option<&u8>) -> bool {
    matches!(b, Some(b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
}

/// Java's `\w`.
fn is_word(b: &u8) -> bool {
    b.is_ascii_alphanumeric() || *b == b'_'
}

fn digits_at(b: &[u8], at: usize, n: usize) -> bool {
    b.get(at..at + n).is_some_and(|d| d.iter().all(u8::is_ascii_digit))
}

/// `VERSION? SP? STAMP SP HOST SP BODY`, the stamp read by `stamp` (its length
/// at a position); a `-` host only where `nil_host`. A leading digit is tried
/// as the version first, as the pattern's greedy `\d?` does.
fn match_header(b: &[u8], at: usize, stamp: fn(&[u8], usize) -> Option<usize>, nil_host: bool) -> Option<Fields> {
    let from = |mut p: usize, version: Option<Range<usize>>| -> Option<Fields> {
        if is_space(b.get(p)) {
            p += 1;
        }
        let timestamp = p..p + stamp(b, p)?;
        p = timestamp.end;
        if !is_space(b.get(p)) {
            return None;
        }
        p += 1;
        let host_len = match b.get(p) {
            Some(first) if is_word(first) => {
                1 + b[p + 1..].iter().take_while(|c| is_word(c) || matches!(c, b'.' | b'@' | b'-')).count()
            }
            Some(b'-') if nil_host => 1,
            _ => return None,
        };
        let host = p..p + host_len;
        if !is_space(b.get(host.end)) {
            return None;
        }
        Some(Fields { priority: 0..at, version, timestamp, body: host.end + 1..b.len(), host })
    };
    let digit_first = b.get(at).is_some_and(u8::is_ascii_digit);
    let with_version = if digit_first { from(at + 1, Some(at..at + 1)) } else { None };
    with_version.or_else(|| from(at, None))
}

/// RFC 5424, the version optional: the stamp is RFC 3339 or `-`, the host may be `-`.
fn match_5424(b: &[u8], at: usize) -> Option<Fields> {
    match_header(b, at, rfc3339_len, true)
}

/// RFC 3164: `Mmm dd hh:mm:ss` and a host, always.
fn match_3164(b: &[u8], at: usize) -> Option<Fields> {
    match_header(b, at, bsd_len, false)
}

/// Length of `-` or an RFC 3339 stamp as Flume's pattern takes it:
/// `yyyy-MM-ddTHH:mm:ss`, up to 6 fraction digits, an optional `Z` or `±hh:mm`.
fn rfc3339_len(b: &[u8], p: usize) -> Option<usize> {
    if b.get(p) == Some(&b'-') {
        return Some(1);
    }
    let shape = digits_at(b, p, 4)
        && b.get(p + 4) == Some(&b'-')
        && digits_at(b, p + 5, 2)
        && b.get(p + 7) == Some(&b'-')
        && digits_at(b, p + 8, 2)
        && b.get(p + 10) == Some(&b'T')
        && digits_at(b, p + 11, 2)
        && b.get(p + 13) == Some(&b':')
        && digits_at(b, p + 14, 2)
        && b.get(p + 16) == Some(&b':')
        && digits_at(b, p + 17, 2);
    if !shape {
        return None;
    }
    let mut end = p + 19;
    if b.get(end) == Some(&b'.') {
        let n = b[end + 1..].iter().take(7).take_while(|c| c.is_ascii_digit()).count();
        if (1..=6).contains(&n) {
            end += 1 + n;
        }
    }
    match b.get(end) {
        Some(b'Z') => end += 1,
        Some(b'+' | b'-') if digits_at(b, end + 1, 2) && b.get(end + 3) == Some(&b':') && digits_at(b, end + 4, 2) => {
            end += 6;
        }
        _ => {}
    }
    Some(end - p)
}

/// Length of `[A-Z][a-z][a-z]\s{1,2}\d{1,2}\s\d{2}:\d{2}:\d{2}`.
fn bsd_len(b: &[u8], p: usize) -> Option<usize> {
    let name = b.get(p..p + 3)?;
    if !(name[0].is_ascii_uppercase() && name[1].is_ascii_lowercase() && name[2].is_ascii_lowercase()) {
        return None;
    }
    let mut q = p + 3;
    let spaces = (0..2).take_while(|i| is_space(b.get(q + i))).count();
    if spaces == 0 {
        return None;
    }
    q += spaces;
    let day = (0..2).take_while(|i| b.get(q + i).is_some_and(u8::is_ascii_digit)).count();
    if day == 0 || !is_space(b.get(q + day)) {
        return None;
    }
    q += day + 1;
    let clock = digits_at(b, q, 2)
        && b.get(q + 2) == Some(&b':')
        && digits_at(b, q + 3, 2)
        && b.get(q + 5) == Some(&b':')
        && digits_at(b, q + 6, 2);
    clock.then_some(q + 8 - p)
}

#[cfg(test)]
mod tests;
