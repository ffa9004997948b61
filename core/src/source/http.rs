//! The `http` source: Flume HTTPSource-compatible intake.
//!
//! With `format = "flume_json"` (the default), `POST` a flume_json array
//! (`application/json`, also `text/plain` from `navigator.sendBeacon`) or NDJSON
//! (`application/x-ndjson`); with `format = "json"`, any JSON object, array of
//! objects or newline-delimited objects (see [`crate::decode::plain_json`]).
//! Optionally gzip. The reply is 200 only after the channel committed; 400 with
//! a reason for malformed input (nothing of that request is accepted); 413 over
//! `max_body`; 503 when the channel is full; 401 without the configured bearer token.

use super::dedup::DedupConfig;
use super::intake::{Answer, Intake, IntakeSource, RequestHead, ServerSettings};
use super::{Source, SourceContext};
use crate::config::ComponentConfig;
use crate::decode::plain_json::PlainJson;
use crate::decode::{self, decode_request, DecodeLimits};
use crate::error::Result;
use crate::http_server::{self as server, Limits, Request, Response};
use crate::otlp::Decoded;
use crate::registry::SourceSettings;
use crate::units::{ByteSize, Span};
use serde::Deserialize;
use std::sync::Arc;

crate::settings! {
    /// `[sources.NAME]` keys of `type = "http"`.
    pub struct HttpSourceConfig {
        listen: String = "127.0.0.1:5140".into(), "Address to bind (loopback unless told otherwise).";
        max_body: ByteSize = ByteSize(server::DEFAULT_MAX_BODY as u64), "Largest request body accepted (413 above).";
        max_inflated: ByteSize = ByteSize(decode::DEFAULT_MAX_INFLATED as u64),
            "Largest body after gunzip, and most memory its decoded events may take.";
        max_events: usize = decode::DEFAULT_MAX_EVENTS, "Most events in one request.";
        bearer_token: Option<String> = None, "Require `Authorization: Bearer <token>`; checked before the body is read.";
        cors_origins: Option<Vec<String>> = None,
            "Browser origins allowed to send (CORS), like `\"https://shop.example\"`; `\"*\"` allows any; others get 403.";
        max_connections: usize = server::DEFAULT_MAX_CONNECTIONS,
            "Open connections at most; at the limit an idle one is closed for a new client.";
        header_timeout: Span = Span(server::DEFAULT_HEADER_TIMEOUT), "Time for a request's head to arrive.";
        read_timeout: Span = Span(server::DEFAULT_READ_TIMEOUT), "Time for a whole request to arrive.";
        idle_timeout: Span = Span(server::DEFAULT_IDLE_TIMEOUT), "Time a kept-alive connection may wait for its next request.";
        max_inflight: ByteSize = ByteSize(server::DEFAULT_MAX_INFLIGHT as u64),
            "Bytes of request bodies held at once across all connections (at least 8/7 of `max_body`).";
        dedup: Option<DedupConfig> = None,
            "`window` (\"10m\"), `max_ids` (1000000): events whose `id` header was stored within the window are not stored again (off by default).";
        format: BodyFormat = BodyFormat::FlumeJson,
            "`flume_json` (Flume's JSON array, or ndjson by content type) or `json` (any JSON objects: an object, an array of them, or one a line).";
        body_field: Option<String> = None,
            "With `format = \"json\"`: the top-level field whose value is the body (a string as its text, else as JSON); unset: the whole object.";
        header_fields: Vec<String> = Vec::new(),
            "With `format = \"json\"`: top-level fields copied into headers of the same name (strings as they are, else as JSON).";
        timestamp_field: Option<String> = None,
            "With `format = \"json\"`: the top-level field holding the event's time (seconds since the epoch, or RFC 3339), stored as header `timestamp` in ms.";
    }
}

/// The body formats of the `http` source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyFormat {
    /// Flume's JSON array, or ndjson when the content type says so.
    FlumeJson,
    /// Any JSON objects.
    Json,
}

crate::key_choices!(BodyFormat);

/// The `http` source.
pub struct HttpSource(IntakeSource);

impl HttpSourceConfig {
    fn limits(&self) -> Limits {
        Limits {
            max_body: self.max_body.0 as usize,
            header_timeout: self.header_timeout.0,
            read_timeout: self.read_timeout.0,
            idle_timeout: self.idle_timeout.0,
            max_connections: self.max_connections,
            max_inflight_bytes: self.max_inflight.0 as usize,
            ..Limits::default()
        }
    }

    fn server(&self) -> ServerSettings {
        ServerSettings {
            listen: self.listen.clone(),
            limits: self.limits(),
            decode: DecodeLimits { max_inflated: self.max_inflated.0 as usize, max_events: self.max_events },
            bearer: self.bearer_token.clone(),
            cors: self.cors_origins.clone(),
            dedup: self.dedup.clone(),
        }
    }

    fn intake(&self, c: &ComponentConfig) -> Result<EventsIntake> {
        let plain = PlainJson {
            body_field: self.body_field.clone(),
            header_fields: self.header_fields.clone(),
            timestamp_field: self.timestamp_field.clone(),
        };
        match self.format {
            BodyFormat::Json => Ok(EventsIntake(Some(plain))),
            BodyFormat::FlumeJson => {
                let set = [
                    ("body_field", plain.body_field.is_some()),
                    ("header_fields", !plain.header_fields.is_empty()),
                    ("timestamp_field", plain.timestamp_field.is_some()),
                ];
                match set.iter().find(|(_, set)| *set) {
                    Some((key, _)) => Err(c.error(key, "applies to format = \"json\" only")),
                    None => Ok(EventsIntake(None)),
                }
            }
        }
    }
}

impl SourceSettings for HttpSourceConfig {
    fn check(&self, c: &ComponentConfig) -> Result<()> {
        self.intake(c)?;
        self.server().check(c).map(drop)
    }

    fn build(&self, c: &ComponentConfig) -> Result<Box<dyn Source>> {
        let settings = self.server();
        let addr = settings.check(c)?;
        let intake = Arc::new(self.intake(c)?);
        Ok(Box::new(HttpSource(IntakeSource { kind: "http", addr, listener: None, settings, intake })))
    }
}

impl Source for HttpSource {
    fn prepare(&mut self) -> Result<()> {
        self.0.prepare()
    }

    fn run(self: Box<Self>, ctx: SourceContext) -> Result<()> {
        self.0.run(ctx)
    }
}

/// Flume's JSON and ndjson (`None`), or plain JSON objects.
struct EventsIntake(Option<PlainJson>);

impl Intake for EventsIntake {
    fn route(&self, _request: &Request) -> Option<Response> {
        None
    }

    fn decode(&self, request: &Request, limits: &DecodeLimits) -> Result<Decoded> {
        let (content_type, encoding) = (request.header("content-type"), request.header("content-encoding"));
        let events = match &self.0 {
            None => decode_request(content_type, encoding, &request.body, limits)?,
            Some(plain) => plain.decode_request(content_type, encoding, &request.body, limits)?,
        };
        Ok(Decoded { events, rejected: 0, reason: None })
    }

    fn reply(&self, _request: &RequestHead, answer: Answer) -> Response {
        match answer {
            Answer::Accepted { events, .. } => Response::text(200, format!("accepted {events} events\n")),
            Answer::Refused { status, retry_after, message } => {
                let reply = Response::text(status, message);
                match retry_after {
                    Some(after) => reply.with_header("Retry-After", after),
                    None => reply,
                }
            }
        }
    }
}
