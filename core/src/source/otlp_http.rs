//! The `otlp_http` source: OTLP/HTTP logs, as the OpenTelemetry SDKs and the
//! Collector's `otlphttp` exporter send them.
//!
//! `POST /v1/logs` with an `ExportLogsServiceRequest` in `application/x-protobuf`
//! or `application/json`, gzip or not. Each log record becomes an event (see
//! [`crate::otlp`] for the mapping). Replies follow the OTLP/HTTP specification,
//! in the request's encoding: 200 with an `ExportLogsServiceResponse` once the
//! channel committed (with `partialSuccess` counting records refused one by one);
//! 400 with a `google.rpc.Status` for a malformed body (nothing of it stored);
//! 503 with `Retry-After` while the channel or its disk is full; 404 for another
//! path; 415 for another content type. Limits, token and flood handling are the
//! `http` source's.

use super::dedup::DedupConfig;
use super::intake::{Answer, Intake, IntakeSource, RequestHead, ServerSettings};
use super::{Source, SourceContext};
use crate::config::ComponentConfig;
use crate::decode::{self, DecodeLimits};
use crate::error::Result;
use crate::http_server::{self as server, Limits, Request, Response};
use crate::otlp::{self, reply, Decoded, Encoding, Mapping};
use crate::registry::SourceSettings;
use crate::units::{ByteSize, Span};
use std::sync::Arc;

/// The path OTLP/HTTP exporters post logs to.
pub const LOGS_PATH: &str = "/v1/logs";

crate::settings! {
    /// `[sources.NAME]` keys of `type = "otlp_http"`.
    pub struct OtlpHttpSourceConfig {
        listen: String = "127.0.0.1:4318".into(), "Address to bind (OTLP/HTTP's port; loopback unless told otherwise).";
        resource_prefix: String = otlp::DEFAULT_RESOURCE_PREFIX.into(), "Prefix of the headers made from resource attributes.";
        max_body: ByteSize = ByteSize(server::DEFAULT_MAX_BODY as u64), "Largest request body accepted (413 above).";
        max_inflated: ByteSize = ByteSize(decode::DEFAULT_MAX_INFLATED as u64),
            "Largest body after gunzip, and most memory its decoded records may take.";
        max_events: usize = decode::DEFAULT_MAX_EVENTS, "Most log records in one request.";
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
    }
}

impl OtlpHttpSourceConfig {
    fn server(&self) -> ServerSettings {
        ServerSettings {
            listen: self.listen.clone(),
            limits: Limits {
                max_body: self.max_body.0 as usize,
                header_timeout: self.header_timeout.0,
                read_timeout: self.read_timeout.0,
                idle_timeout: self.idle_timeout.0,
                max_connections: self.max_connections,
                max_inflight_bytes: self.max_inflight.0 as usize,
                ..Limits::default()
            },
            decode: DecodeLimits { max_inflated: self.max_inflated.0 as usize, max_events: self.max_events },
            bearer: self.bearer_token.clone(),
            cors: self.cors_origins.clone(),
            dedup: self.dedup.clone(),
        }
    }
}

impl SourceSettings for OtlpHttpSourceConfig {
    fn check(&self, c: &ComponentConfig) -> Result<()> {
        self.server().check(c).map(drop)
    }

    fn build(&self, c: &ComponentConfig) -> Result<Box<dyn Source>> {
        let settings = self.server();
        let addr = settings.check(c)?;
        let intake = Arc::new(OtlpIntake(Mapping { resource_prefix: self.resource_prefix.clone() }));
        Ok(Box::new(OtlpHttpSource(IntakeSource { kind: "otlp_http", addr, listener: None, settings, intake })))
    }
}

/// The `otlp_http` source.
pub struct OtlpHttpSource(IntakeSource);

impl Source for OtlpHttpSource {
    fn prepare(&mut self) -> Result<()> {
        self.0.prepare()
    }

    fn run(self: Box<Self>, ctx: SourceContext) -> Result<()> {
        self.0.run(ctx)
    }
}

struct OtlpIntake(Mapping);

impl Intake for OtlpIntake {
    fn route(&self, request: &Request) -> Option<Response> {
        let path = request.path.split('?').next().unwrap_or_default();
        let encoding = Encoding::of(request.header("content-type"));
        if path != LOGS_PATH {
            let e = encoding.unwrap_or(Encoding::Protobuf);
            let message = format!("this source takes logs only, at {LOGS_PATH}");
            return Some(Response::new(404, e.content_type(), reply::status(e, 404, &message)));
        }
        if encoding.is_none() {
            let message = "content-type must be application/x-protobuf or application/json";
            let e = Encoding::Protobuf;
            return Some(Response::new(415, e.content_type(), reply::status(e, 415, message)));
        }
        None
    }

    fn decode(&self, request: &Request, limits: &DecodeLimits) -> Result<Decoded> {
        let encoding = Encoding::of(request.header("content-type")).unwrap_or(Encoding::Protobuf);
        otlp::decode_request(encoding, request.header("content-encoding"), &request.body, limits, &self.0)
    }

    fn reply(&self, request: &RequestHead, answer: Answer) -> Response {
        let encoding = Encoding::of(request.content_type.as_deref()).unwrap_or(Encoding::Protobuf);
        match answer {
            Answer::Accepted { rejected, reason, .. } => {
                Response::new(200, encoding.content_type(), reply::export_response(encoding, rejected, &reason))
            }
            Answer::Refused { status, retry_after, message } => {
                let body = reply::status(encoding, status, message.trim_end());
                let response = Response::new(status, encoding.content_type(), body);
                match retry_after {
                    Some(after) => response.with_header("Retry-After", after),
                    None => response,
                }
            }
        }
    }
}
