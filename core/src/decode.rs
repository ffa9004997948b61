//! Request bodies of the `http` source decoded into events: flume_json or ndjson, maybe gzipped.
//!
//! A request is all or nothing: [`decode_request`] returns every event of the body, or
//! an error naming the first bad event by its 0-based index (for ndjson also its
//! line), so the client can fix and resend the whole request without duplicating a
//! half-accepted one. The format follows the `Content-Type`:
//!
//! | Content-Type | Body |
//! |---|---|
//! | `application/json`, `text/plain`, none | flume_json: `[{"headers":{…},"body":"…"}, …]` |
//! | `application/x-ndjson` | `{"id":…,"timestamp":…,"headers":{…},"body":…}` a line |
//!
//! `text/plain` is what `navigator.sendBeacon` sends for a string. A charset, if given,
//! must be UTF-8, UTF-16 or UTF-32 (Flume's three). In flume_json, `headers` and
//! `body` may be left out (no body: an empty one, as in Flume), `body` is a string,
//! base64 when header `sluice.body-encoding: base64` says so (the header is removed).
//! In ndjson, `id`, `timestamp` and `headers` are optional, and exactly one of `body`
//! and `body_base64` is required; blank lines are skipped. In both, an event without an
//! `id` field whose header `id` holds an event id takes that id (the header stays), so
//! tiers can de-duplicate.
//!
//! This is stricter than Flume's JSONHandler, which turns numbers into strings and
//! ignores unknown keys: here header values must be strings, unknown keys and
//! duplicate header names are errors, so that a typo fails loudly instead of losing data.
//!
//! # Examples
//!
//! ```
//! use sluice::decode::{decode_request, DecodeLimits};
//!
//! let body = br#"[{"headers":{"host":"gw"},"body":"hi"}]"#;
//! let limits = DecodeLimits::default();
//! let events = decode_request(Some("application/json; charset=utf-8"), None, body, &limits)?;
//! assert_eq!((events[0].header("host"), events[0].body.as_slice()), (Some("gw"), &b"hi"[..]));
//!
//! let bad = br#"[{"body":"a"},{"headers":{"n":1},"body":"b"}]"#;
//! let err = decode_request(None, None, bad, &limits);
//! assert!(err.is_err_and(|e| e.message().starts_with("event 1: header \"n\" must be a string")));
//! # Ok::<(), sluice::Error>(())
//! ```

pub mod plain_json;
#[cfg(test)]
mod tests;
mod wire;

use crate::{Error, Event, Result};
use flate2::read::MultiGzDecoder;
use serde::de::DeserializeSeed as _;
use std::borrow::Cow;
use std::io::Read as _;
use wire::{FlumeBatch, NdjsonEvent, Object, Progress};

/// Default [`DecodeLimits::max_inflated`]: four times the default 16 MiB body limit, as
/// JSON events typically compress 5–10×; a bomb stops here instead of filling memory.
pub const DEFAULT_MAX_INFLATED: usize = 64 << 20;
/// Default [`DecodeLimits::max_events`]: 100k events of ~200 bytes fill 20 MiB,
/// about what one request may carry after inflating.
pub const DEFAULT_MAX_EVENTS: usize = 100_000;

/// What one request body may cost after it was received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest body after gunzip, in bytes, and most memory its decoded events
    /// may take (headers cost more decoded than as text); more is an error.
    /// Default 64 MiB.
    pub max_inflated: usize,
    /// Most events in one request; more is an error. Default 100,000.
    pub max_events: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits { max_inflated: DEFAULT_MAX_INFLATED, max_events: DEFAULT_MAX_EVENTS }
    }
}

/// Decodes a request body into events, all or none.
///
/// `content_type` and `content_encoding` are the request's header values, if any.
///
/// # Errors
/// [`crate::ErrorKind::Decode`] with an operator-facing reason: an unsupported content
/// type, charset or encoding; broken or oversized gzip; a body that is not UTF-8 or
/// not JSON of the expected shape; an event that breaks the rules above (named by
/// index); more than [`DecodeLimits::max_events`] events.
pub fn decode_request(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    body: &[u8],
    limits: &DecodeLimits,
) -> Result<Vec<Event>> {
    let (format, charset) = Format::of(content_type)?;
    let body = inflate(content_encoding, body, limits.max_inflated)?;
    let text = charset.decode(&body)?;
    match format {
        Format::FlumeJson => flume_json(&text, limits),
        Format::Ndjson => ndjson(&text, limits),
    }
}

/// The two body formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    FlumeJson,
    Ndjson,
}

impl Format {
    /// The format a `Content-Type` value names, and its charset.
    fn of(content_type: Option<&str>) -> Result<(Format, Charset)> {
        let mut parts = content_type.unwrap_or_default().split(';');
        let media = parts.next().unwrap_or_default().trim();
        let mut charset = Charset::Utf8;
        for parameter in parts {
            if let Some(named) = Charset::of_parameter(parameter)? {
                charset = named;
            }
        }
        let is = |name: &str| media.eq_ignore_ascii_case(name);
        if media.is_empty() || is("application/json") || is("text/plain") {
            Ok((Format::FlumeJson, charset))
        } else if is("application/x-ndjson") {
            Ok((Format::Ndjson, charset))
        } else {
            Err(Error::decode(format!(
                "unsupported content-type {media:?}: expected application/json or application/x-ndjson"
            )))
        }
    }
}

/// The charsets a request may name: those Flume's JSONHandler takes. A byte
/// order mark picks the byte order of UTF-16 and UTF-32; without one they are
/// big-endian, as in Java. Bodies are stored as UTF-8 (Flume re-encodes them in
/// the request's charset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Charset {
    Utf8,
    Utf16,
    Utf32,
}

impl Charset {
    /// The charset a `Content-Type` parameter names; other parameters pass.
    fn of_parameter(parameter: &str) -> Result<Option<Charset>> {
        let Some((name, value)) = parameter.split_once('=') else { return Ok(None) };
        if !name.trim().eq_ignore_ascii_case("charset") {
            return Ok(None);
        }
        let value = value.trim().trim_matches('"');
        match value.to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Ok(Some(Charset::Utf8)),
            "utf-16" => Ok(Some(Charset::Utf16)),
            "utf-32" => Ok(Some(Charset::Utf32)),
            _ => Err(Error::decode(format!("unsupported charset {value:?}: expected utf-8, utf-16 or utf-32"))),
        }
    }

    /// The body as text.
    fn decode(self, body: &[u8]) -> Result<Cow<'_, str>> {
        match self {
            Charset::Utf8 => std::str::from_utf8(body)
                .map(Cow::Borrowed)
                .map_err(|e| Error::decode(format!("body is not valid utf-8 (at byte {})", e.valid_up_to()))),
            Charset::Utf16 => {
                let (little, rest) = match body {
                    [0xff, 0xfe, rest @ ..] => (true, rest),
                    [0xfe, 0xff, rest @ ..] => (false, rest),
                    _ => (false, body),
                };
                if rest.len() % 2 != 0 {
                    return Err(Error::decode("body is not valid utf-16: an odd number of bytes"));
                }
                let units = rest.chunks_exact(2).map(|u| {
                    let pair = [u[0], u[1]];
                    if little {
                        u16::from_le_bytes(pair)
                    } else {
                        u16::from_be_bytes(pair)
                    }
                });
                char::decode_utf16(units)
                    .collect::<Result<String, _>>()
                    .map(Cow::Owned)
                    .map_err(|e| Error::decode(format!("body is not valid utf-16: {e}")))
            }
            Charset::Utf32 => {
                let (little, rest) = match body {
                    [0xff, 0xfe, 0, 0, rest @ ..] => (true, rest),
                    [0, 0, 0xfe, 0xff, rest @ ..] => (false, rest),
                    _ => (false, body),
                };
                if rest.len() % 4 != 0 {
                    return Err(Error::decode("body is not valid utf-32: its length is not a multiple of 4"));
                }
                rest.chunks_exact(4)
                    .map(|u| {
                        let word = [u[0], u[1], u[2], u[3]];
                        let n = if little { u32::from_le_bytes(word) } else { u32::from_be_bytes(word) };
                        char::from_u32(n).ok_or_else(|| Error::decode(format!("body is not valid utf-32: {n:#x}")))
                    })
                    .collect::<Result<String>>()
                    .map(Cow::Owned)
            }
        }
    }
}

/// Bytes a decoded event takes in memory, as request limits count them.
pub(crate) fn event_memory(event: &Event) -> usize {
    wire::memory(event)
}

/// The body with its `Content-Encoding` undone.
pub(crate) fn inflate<'a>(encoding: Option<&str>, body: &'a [u8], max: usize) -> Result<Cow<'a, [u8]>> {
    let encoding = encoding.unwrap_or_default().trim();
    if encoding.is_empty() || encoding.eq_ignore_ascii_case("identity") {
        Ok(Cow::Borrowed(body))
    } else if encoding.eq_ignore_ascii_case("gzip") || encoding.eq_ignore_ascii_case("x-gzip") {
        gunzip(body, max).map(Cow::Owned)
    } else {
        Err(Error::decode(format!("unsupported content-encoding {encoding:?}: expected gzip or identity")))
    }
}

/// Inflates gzip (one or more members), refusing to produce more than `max` bytes.
fn gunzip(body: &[u8], max: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    // One byte past the limit tells "exactly max" from "more".
    let cap = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    MultiGzDecoder::new(body)
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| Error::decode(format!("invalid gzip body: {e}")))?;
    if out.len() > max {
        return Err(Error::decode(format!("inflated body exceeds {max} bytes")));
    }
    Ok(out)
}

/// Decodes a flume_json array.
fn flume_json(text: &str, limits: &DecodeLimits) -> Result<Vec<Event>> {
    if text.trim_ascii().is_empty() {
        return Err(Error::decode("empty body: expected a json array of events"));
    }
    let mut progress = Progress::default();
    let mut json = serde_json::Deserializer::from_str(text);
    let batch = FlumeBatch { max_events: limits.max_events, max_memory: limits.max_inflated, progress: &mut progress };
    let decoded = batch.deserialize(&mut json).and_then(|events| json.end().map(|()| events));
    decoded.map_err(|e| flume_error(&e, progress))
}

/// The error for a flume_json body serde_json stopped on, naming the event if in one.
fn flume_error(e: &serde_json::Error, progress: Progress) -> Error {
    if let Some(reason) = progress.reason {
        return Error::decode(reason);
    }
    let (message, line, column) = split_json_error(e);
    let at = match progress.event {
        Some(index) => format!("event {index}"),
        None => "invalid flume_json body".to_owned(),
    };
    Error::decode(format!("{at}: {message} (line {line}, column {column})"))
}

/// Decodes ndjson, one event a non-blank line.
fn ndjson(text: &str, limits: &DecodeLimits) -> Result<Vec<Event>> {
    let max_events = limits.max_events;
    let mut events = Vec::new();
    let mut used = 0usize;
    for (number, line) in (1usize..).zip(text.split('\n')) {
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let index = events.len();
        if index == max_events {
            return Err(Error::decode(too_many(max_events)));
        }
        let fail = |message: String| Error::decode(format!("event {index} (line {number}): {message}"));
        let raw: Object<NdjsonEvent> = serde_json::from_str(line).map_err(|e| {
            let (message, _, column) = split_json_error(&e);
            fail(format!("{message} (column {column})"))
        })?;
        let event = raw.0.into_event().map_err(fail)?;
        used += wire::memory(&event);
        if used > limits.max_inflated {
            return Err(Error::decode(too_much(limits.max_inflated)));
        }
        events.push(event);
    }
    Ok(events)
}

/// The message for a request over [`DecodeLimits::max_events`].
fn too_many(max_events: usize) -> String {
    format!("more than {max_events} events in one request")
}

/// The message for a request whose decoded events would take more than `max` bytes.
fn too_much(max: usize) -> String {
    format!("the decoded events would take more than {max} bytes of memory")
}

/// serde_json's message without the position it appends, and the position.
fn split_json_error(e: &serde_json::Error) -> (String, usize, usize) {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = text.strip_suffix(&suffix).map(str::to_owned).unwrap_or(text);
    (message, e.line(), e.column())
}
