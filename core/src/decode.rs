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
//! must be UTF-8. In flume_json, `headers` may be left out and `body` is a string,
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
    let format = Format::of(content_type)?;
    let body = inflate(content_encoding, body, limits.max_inflated)?;
    let text = std::str::from_utf8(&body)
        .map_err(|e| Error::decode(format!("body is not valid utf-8 (at byte {})", e.valid_up_to())))?;
    match format {
        Format::FlumeJson => flume_json(text, limits),
        Format::Ndjson => ndjson(text, limits),
    }
}

/// The two body formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    FlumeJson,
    Ndjson,
}

impl Format {
    /// The format a `Content-Type` value names; its charset must be UTF-8.
    fn of(content_type: Option<&str>) -> Result<Format> {
        let mut parts = content_type.unwrap_or_default().split(';');
        let media = parts.next().unwrap_or_default().trim();
        parts.try_for_each(check_charset)?;
        let is = |name: &str| media.eq_ignore_ascii_case(name);
        if media.is_empty() || is("application/json") || is("text/plain") {
            Ok(Format::FlumeJson)
        } else if is("application/x-ndjson") {
            Ok(Format::Ndjson)
        } else {
            Err(Error::decode(format!(
                "unsupported content-type {media:?}: expected application/json or application/x-ndjson"
            )))
        }
    }
}

/// Refuses a `charset` parameter other than UTF-8; other parameters pass.
fn check_charset(parameter: &str) -> Result<()> {
    match parameter.split_once('=') {
        Some((name, value)) if name.trim().eq_ignore_ascii_case("charset") => {
            let value = value.trim().trim_matches('"');
            if value.eq_ignore_ascii_case("utf-8") || value.eq_ignore_ascii_case("utf8") {
                Ok(())
            } else {
                Err(Error::decode(format!("unsupported charset {value:?}: expected utf-8")))
            }
        }
        _ => Ok(()),
    }
}

/// The body with its `Content-Encoding` undone.
fn inflate<'a>(encoding: Option<&str>, body: &'a [u8], max: usize) -> Result<Cow<'a, [u8]>> {
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
