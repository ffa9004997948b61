//! OTLP/HTTP logs intake: `ExportLogsServiceRequest` bodies (protobuf or the
//! OTLP JSON mapping) decoded into events, and the replies OTLP clients expect.
//!
//! Both encodings decode into the same [`Record`]s, which become events by one
//! mapping ([`Mapping::event`]):
//!
//! | OTLP | Event |
//! |---|---|
//! | `body` | the body: a string as UTF-8, bytes as they are, anything else as JSON text |
//! | `attributes` | headers, values as text (arrays and maps as JSON, bytes as base64) |
//! | resource `attributes` | headers named with a prefix (`resource_prefix`, default `resource.`) |
//! | scope `name`, `version` | headers `otel.scope.name`, `otel.scope.version` |
//! | `severityText`, `severityNumber` | headers `severity`, `severity_number` |
//! | `traceId`, `spanId`, `flags` | headers `trace_id`, `span_id` (lower-case hex), `trace_flags` |
//! | `eventName` | header `event_name` |
//! | `timeUnixNano` | header `timestamp`, in milliseconds (the Flume convention) |
//! | `observedTimeUnixNano` | the event's ingest time (else now) |
//! | attribute `log.record.uid` | the event id, when it is one (so ids survive a round trip), also as header `id` (for `dedup`) |
//!
//! Empty fields become no header; a record's own attributes win over the
//! derived headers of the same name. A body that cannot be decoded at all is
//! an error ([`crate::ErrorKind::Decode`], nothing accepted); a record that
//! decodes but breaks a rule (a trace id not 16 bytes, more than
//! [`MAX_HEADERS`] headers) is rejected alone and counted in the reply's
//! `partialSuccess`, as OTLP asks.

mod json;
mod proto;
pub mod reply;
mod wire;

use crate::decode::{self, DecodeLimits};
use crate::event::{Event, EventId, MAX_HEADERS};
use crate::sink::format::write_str;
use crate::{Error, Result};
use base64::Engine as _;
use std::rc::Rc;

/// The attribute that carries an event id (the OTel semantic convention).
pub const ID_ATTRIBUTE: &str = "log.record.uid";
/// The header that carries a given event id, as in flume_json.
const ID_HEADER: &str = "id";
/// Default prefix of headers made from resource attributes.
pub const DEFAULT_RESOURCE_PREFIX: &str = "resource.";
/// Headers a record may derive besides its attributes: scope name and version,
/// severity and its number, event name, trace and span id, flags, timestamp, id.
const DERIVED_HEADERS: usize = 10;
/// AnyValues nested deeper than this make the body malformed.
const MAX_DEPTH: usize = 32;
/// Bytes each decoded value, attribute or record is charged besides its text.
const NODE_COST: usize = 48;

/// The two encodings of an OTLP/HTTP body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/x-protobuf`.
    Protobuf,
    /// `application/json`.
    Json,
}

impl Encoding {
    /// The encoding a `Content-Type` names; `None` for any other media type.
    pub fn of(content_type: Option<&str>) -> Option<Encoding> {
        let media = content_type.unwrap_or_default().split(';').next().unwrap_or_default().trim();
        if media.eq_ignore_ascii_case("application/x-protobuf") {
            Some(Encoding::Protobuf)
        } else if media.eq_ignore_ascii_case("application/json") {
            Some(Encoding::Json)
        } else {
            None
        }
    }

    /// The `Content-Type` of replies in this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// An OTLP `AnyValue`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// No value set.
    Empty,
    Str(String),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(Vec<u8>),
    Array(Vec<Value>),
    Map(Vec<(String, Value)>),
}

/// One log record as decoded, before it becomes an event.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Record {
    pub time_unix_nano: u64,
    pub observed_time_unix_nano: u64,
    pub severity_number: i64,
    pub severity_text: String,
    pub body: Option<Value>,
    pub attributes: Vec<(String, Value)>,
    pub flags: u32,
    pub trace_id: Vec<u8>,
    pub span_id: Vec<u8>,
    pub event_name: String,
    /// Why this record alone is refused, found while decoding it.
    pub problem: Option<String>,
}

/// The resource and scope of a run of records.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Origin {
    /// Shared by every run of records of one resource: never copied per run.
    pub resource: Rc<[(String, Value)]>,
    pub scope_name: String,
    pub scope_version: String,
}

/// What decoding a request gives: events to store and records refused.
#[derive(Debug, Default)]
pub struct Decoded {
    /// The events, in the request's order.
    pub events: Vec<Event>,
    /// Records refused one by one (not stored), reported in `partialSuccess`.
    pub rejected: u64,
    /// The first refused record's reason.
    pub reason: Option<String>,
}

/// How records become events: the one option an operator has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// Prefix of headers made from resource attributes.
    pub resource_prefix: String,
}

impl Default for Mapping {
    fn default() -> Self {
        Mapping { resource_prefix: DEFAULT_RESOURCE_PREFIX.to_owned() }
    }
}

/// Decodes an `ExportLogsServiceRequest` (already gunzipped) into events.
///
/// # Errors
/// [`crate::ErrorKind::Decode`] naming what is malformed, or a limit passed.
pub fn decode_logs(encoding: Encoding, body: &[u8], limits: &DecodeLimits, mapping: &Mapping) -> Result<Decoded> {
    let mut budget = Budget { used: 0, max: limits.max_inflated, records: 0, max_records: limits.max_events };
    let mut decoded = Decoded::default();
    // The events copy the resource into each: their memory is counted too.
    let mut used = 0usize;
    let mut take = |origin: &Origin, record: Record| -> std::result::Result<(), String> {
        match mapping.event(origin, record) {
            Ok(event) => {
                used += decode::event_memory(&event);
                if used > limits.max_inflated {
                    return Err(format!(
                        "the decoded events would take more than {} bytes of memory",
                        limits.max_inflated
                    ));
                }
                decoded.events.push(event);
            }
            Err(reason) => {
                decoded.rejected += 1;
                decoded.reason.get_or_insert(reason);
            }
        }
        Ok(())
    };
    match encoding {
        // Records become events as they are read: no list of records in between.
        Encoding::Protobuf => proto::decode(body, &mut budget, &mut take),
        Encoding::Json => json::decode(body, &mut budget).and_then(|batches| {
            batches.into_iter().try_for_each(|(origin, records)| records.into_iter().try_for_each(|r| take(&origin, r)))
        }),
    }
    .map_err(Error::decode)?;
    Ok(decoded)
}

/// Decodes a body as sent, gunzipping it first when `content_encoding` says so.
///
/// # Errors
/// As [`decode_logs`], and for an unsupported encoding or broken gzip.
pub fn decode_request(
    encoding: Encoding,
    content_encoding: Option<&str>,
    body: &[u8],
    limits: &DecodeLimits,
    mapping: &Mapping,
) -> Result<Decoded> {
    let body = decode::inflate(content_encoding, body, limits.max_inflated)?;
    decode_logs(encoding, &body, limits, mapping)
}

/// What a request may still cost while it is decoded.
pub(crate) struct Budget {
    pub used: usize,
    max: usize,
    records: usize,
    max_records: usize,
}

impl Budget {
    /// Charges `bytes` of text plus one node; an error once over the limit.
    pub fn charge(&mut self, bytes: usize) -> std::result::Result<(), String> {
        self.used = self.used.saturating_add(bytes + NODE_COST);
        if self.used > self.max {
            return Err(format!("the decoded records would take more than {} bytes of memory", self.max));
        }
        Ok(())
    }

    /// Counts one more record; an error past the limit.
    pub fn record(&mut self) -> std::result::Result<(), String> {
        self.records += 1;
        if self.records > self.max_records {
            return Err(format!("more than {} log records in one request", self.max_records));
        }
        self.charge(0)
    }
}

impl Mapping {
    /// The event for `record`, or why the record is refused.
    fn event(&self, origin: &Origin, record: Record) -> std::result::Result<Event, String> {
        // Every reason to refuse is found before anything is built: a refused
        // record costs no copies of its resource.
        if let Some(problem) = record.problem {
            return Err(problem);
        }
        let attributes = origin.resource.len() + record.attributes.len();
        if attributes + DERIVED_HEADERS > MAX_HEADERS {
            return Err(format!(
                "{attributes} resource and record attributes (at most {})",
                MAX_HEADERS - DERIVED_HEADERS
            ));
        }
        if record.attributes.iter().any(|(key, _)| key.is_empty()) {
            return Err("an attribute without a key".into());
        }
        match (record.trace_id.len(), record.span_id.len()) {
            (0 | 16, 0 | 8) => {}
            (0 | 16, n) => return Err(format!("a span id of {n} bytes (8 expected)")),
            (n, _) => return Err(format!("a trace id of {n} bytes (16 expected)")),
        }
        let body = match record.body {
            None | Some(Value::Empty) => Vec::new(),
            Some(Value::Str(text)) => text.into_bytes(),
            Some(Value::Bytes(bytes)) => bytes,
            Some(other) => text_of(&other).into_bytes(),
        };
        let mut event = Event::new(body);
        event.headers.reserve(attributes + 4);
        // At most MAX_HEADERS headers: set_header's scan stays short.
        let mut set = |key: String, value: String| event.set_header(key, value);
        for (key, value) in origin.resource.iter() {
            set(format!("{}{key}", self.resource_prefix), text_of(value));
        }
        let texts = [
            ("otel.scope.name", origin.scope_name.as_str()),
            ("otel.scope.version", origin.scope_version.as_str()),
            ("severity", record.severity_text.as_str()),
            ("event_name", record.event_name.as_str()),
        ];
        for (key, value) in texts.into_iter().filter(|(_, v)| !v.is_empty()) {
            set(key.to_owned(), value.to_owned());
        }
        if record.severity_number != 0 {
            set("severity_number".into(), record.severity_number.to_string());
        }
        if !record.trace_id.is_empty() {
            set("trace_id".into(), hex(&record.trace_id));
        }
        if !record.span_id.is_empty() {
            set("span_id".into(), hex(&record.span_id));
        }
        if record.flags != 0 {
            set("trace_flags".into(), record.flags.to_string());
        }
        if record.time_unix_nano != 0 {
            set("timestamp".into(), (record.time_unix_nano / 1_000_000).to_string());
        }
        // The record's own strings move into the event: no copy.
        for (key, value) in record.attributes {
            let text = match value {
                Value::Str(text) => text,
                other => text_of(&other),
            };
            set(key, text);
        }
        if record.observed_time_unix_nano != 0 {
            event.timestamp_ms = record.observed_time_unix_nano / 1_000_000;
        }
        if let Some(id) = event.header(ID_ATTRIBUTE).and_then(EventId::parse) {
            event.id = id;
            // As flume_json carries a given id: `dedup` knows it was given, not made here.
            if event.header(ID_HEADER).is_none() {
                event.headers.push((ID_HEADER.to_owned(), id.to_string()));
            }
        }
        Ok(event)
    }
}

/// Lower-case hex, as OTLP JSON writes ids.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// A value as header text: scalars as themselves, bytes as base64, arrays and maps as JSON.
fn text_of(value: &Value) -> String {
    match value {
        Value::Empty => String::new(),
        Value::Str(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Double(d) => d.to_string(),
        Value::Bytes(b) => base64::engine::general_purpose::STANDARD.encode(b),
        Value::Array(_) | Value::Map(_) => {
            let mut out = Vec::new();
            write_json(&mut out, value);
            String::from_utf8(out).unwrap_or_default()
        }
    }
}

/// A value as JSON (non-finite doubles and bytes as strings).
fn write_json(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Empty => out.extend_from_slice(b"null"),
        Value::Str(s) => write_str(out, s),
        Value::Double(d) if !d.is_finite() => write_str(out, &d.to_string()),
        Value::Bytes(_) => write_str(out, &text_of(value)),
        Value::Bool(_) | Value::Int(_) | Value::Double(_) => out.extend_from_slice(text_of(value).as_bytes()),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(out, item);
            }
            out.push(b']');
        }
        Value::Map(pairs) => {
            out.push(b'{');
            for (i, (key, item)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, key);
                out.push(b':');
                write_json(out, item);
            }
            out.push(b'}');
        }
    }
}

#[cfg(test)]
mod tests;
