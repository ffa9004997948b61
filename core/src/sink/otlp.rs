//! The `otlp_http` sink: OTLP/HTTP logs (`ExportLogsServiceRequest`, JSON
//! encoding) to an OpenTelemetry Collector's `/v1/logs`.
//!
//! JSON, not protobuf: the collector takes both, and JSON reuses the encoder
//! and gzip we already ship instead of adding a protobuf runtime. Each event is
//! one log record: body as `stringValue` (or `bytesValue` when not UTF-8),
//! headers as string attributes, the event id as `log.record.uid` (the OTel
//! semantic convention for a ULID-style record id), the ingest time as
//! `observedTimeUnixNano`. A `partialSuccess` naming rejected records is
//! delivered-but-counted: OTLP says those must not be retried.

use super::client::{gzip, Auth, Client, ClientOptions, TlsOptions, TransportKind};
use super::format::{write_str, write_u64};
use super::platform::PlatformUploads;
use super::{classify, Batch, Outcome, Sink};
use crate::config::ComponentConfig;
use crate::error::Result;
use crate::event::Event;
use crate::units::{ByteSize, Span};
use base64::Engine;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// `[sinks.NAME]` keys of `type = "otlp_http"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpHttpConfig {
    /// The collector's base URL (`/v1/logs` is appended unless the URL ends with it).
    pub url: String,
    /// Resource attributes; `service.name` defaults to `sluice`, `host.name` to this host's name.
    #[serde(default)]
    pub resource: BTreeMap<String, String>,
    /// Header whose value becomes the record's time (ms since the epoch; default `timestamp`,
    /// Flume's convention); without it only `observedTimeUnixNano` is set.
    pub time_header: Option<String>,
    /// Attribute that carries the event id (default `log.record.uid`; empty: none).
    pub id_attribute: Option<String>,
    /// `gzip` (default) or `none`.
    #[serde(default)]
    pub compression: super::http::Compression,
    /// Requests smaller than this are sent plain (default 1KiB).
    pub compression_min_bytes: Option<ByteSize>,
    /// Extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// `{ bearer = "…" }` or `{ username = "…", password = "…" }`.
    pub auth: Option<Auth>,
    /// Connect timeout (default 5s).
    pub connect_timeout: Option<Span>,
    /// Whole-request timeout (default 30s).
    pub request_timeout: Option<Span>,
    /// TLS settings (built-in transport only).
    #[serde(default)]
    pub tls: TlsOptions,
    /// `builtin` (Sluice's client; the CLI's only choice) or `platform` (the app's
    /// uploader; the mobile SDK's default).
    pub transport: Option<TransportKind>,
}

/// The `otlp_http` sink.
pub struct OtlpHttpSink {
    client: Client,
    /// `{"resourceLogs":[{"resource":{…},"scopeLogs":[{"scope":{…},"logRecords":[`
    prefix: Vec<u8>,
    time_header: String,
    id_attribute: String,
    gzip_above: Option<usize>,
}

impl OtlpHttpConfig {
    /// Checks the config and builds the sink (no connection is made).
    ///
    /// # Errors
    /// As the http sink's: URL, TLS, auth.
    pub fn build(&self, c: &ComponentConfig, platform: Option<&Arc<PlatformUploads>>) -> Result<OtlpHttpSink> {
        let url = logs_url(&self.url);
        let client = Client::new(
            &ClientOptions {
                url: &url,
                headers: &self.headers,
                auth: self.auth.as_ref(),
                connect_timeout: self.connect_timeout,
                request_timeout: self.request_timeout,
                tls: &self.tls,
                transport: self.transport,
                platform,
            },
            c,
        )?;
        let mut resource = self.resource.clone();
        resource.entry("service.name".into()).or_insert_with(|| "sluice".into());
        if !resource.contains_key("host.name") {
            resource.insert("host.name".into(), crate::interceptor::hostname());
        }
        let mut prefix = b"{\"resourceLogs\":[{\"resource\":{\"attributes\":".to_vec();
        write_attributes(&mut prefix, resource.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        prefix.extend_from_slice(b"},\"scopeLogs\":[{\"scope\":{\"name\":\"sluice\",\"version\":");
        write_str(&mut prefix, env!("CARGO_PKG_VERSION"));
        prefix.extend_from_slice(b"},\"logRecords\":[");
        Ok(OtlpHttpSink {
            client,
            prefix,
            time_header: self.time_header.clone().unwrap_or_else(|| "timestamp".into()),
            id_attribute: self.id_attribute.clone().unwrap_or_else(|| "log.record.uid".into()),
            gzip_above: (self.compression == super::http::Compression::Gzip)
                .then(|| self.compression_min_bytes.map_or(1024, |b| b.0 as usize)),
        })
    }
}

/// The collector's logs endpoint: `/v1/logs` appended unless the URL ends with it.
fn logs_url(url: &str) -> String {
    if url.trim_end_matches('/').ends_with("/v1/logs") {
        url.to_string()
    } else {
        format!("{}/v1/logs", url.trim_end_matches('/'))
    }
}

/// `[{"key":…,"value":{"stringValue":…}},…]`
fn write_attributes<'a>(out: &mut Vec<u8>, pairs: impl Iterator<Item = (&'a str, &'a str)>) {
    out.push(b'[');
    for (i, (k, v)) in pairs.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"key\":");
        write_str(out, k);
        out.extend_from_slice(b",\"value\":{\"stringValue\":");
        write_str(out, v);
        out.extend_from_slice(b"}}");
    }
    out.push(b']');
}

/// `ms` milliseconds as nanoseconds in decimal, without a `String` or `u128`
/// arithmetic: the digits of `ms` and six zeros (exact for every `u64`, where
/// the product would overflow one).
fn write_nanos_of_millis(out: &mut Vec<u8>, ms: u64) {
    write_u64(out, ms);
    if ms != 0 {
        out.extend_from_slice(b"000000");
    }
}

impl OtlpHttpSink {
    /// The request body for `events`.
    pub fn encode(&self, events: &[Event]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.prefix.len() + events.iter().map(|e| e.size() + 160).sum::<usize>());
        out.extend_from_slice(&self.prefix);
        for (i, e) in events.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'{');
            let event_ms = e.header(&self.time_header).and_then(|t| t.trim().parse::<u64>().ok());
            if let Some(ms) = event_ms {
                out.extend_from_slice(b"\"timeUnixNano\":\"");
                write_nanos_of_millis(&mut out, ms);
                out.extend_from_slice(b"\",");
            }
            out.extend_from_slice(b"\"observedTimeUnixNano\":\"");
            write_nanos_of_millis(&mut out, e.timestamp_ms);
            out.extend_from_slice(b"\",");
            out.extend_from_slice(b"\"body\":{");
            match std::str::from_utf8(&e.body) {
                Ok(text) => {
                    out.extend_from_slice(b"\"stringValue\":");
                    write_str(&mut out, text);
                }
                Err(_) => {
                    out.extend_from_slice(b"\"bytesValue\":\"");
                    out.extend_from_slice(base64::engine::general_purpose::STANDARD.encode(&e.body).as_bytes());
                    out.push(b'"');
                }
            }
            out.extend_from_slice(b"},\"attributes\":");
            let id = e.id.encode();
            let with_id = !self.id_attribute.is_empty() && e.header(&self.id_attribute).is_none();
            // The id alphabet is ASCII, so the fallback is never taken.
            let id_pair = with_id.then(|| (self.id_attribute.as_str(), std::str::from_utf8(&id).unwrap_or("?")));
            write_attributes(&mut out, e.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).chain(id_pair));
            out.push(b'}');
        }
        out.extend_from_slice(b"]}]}]}");
        out
    }
}

/// `{"partialSuccess":{"rejectedLogRecords":"3","errorMessage":"…"}}` (int64 as a string or a number).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExportReply {
    #[serde(default)]
    partial_success: Option<PartialSuccess>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PartialSuccess {
    #[serde(default)]
    rejected_log_records: Option<serde_json::Value>,
    #[serde(default)]
    error_message: Option<String>,
}

/// Rejected records and the collector's message, from a 2xx reply body.
fn partial_success(body: &str) -> Option<(u64, String)> {
    let reply: ExportReply = serde_json::from_str(body).ok()?;
    let partial = reply.partial_success?;
    let rejected = match partial.rejected_log_records? {
        serde_json::Value::String(s) => s.parse().ok()?,
        serde_json::Value::Number(n) => n.as_u64()?,
        _ => return None,
    };
    (rejected > 0).then(|| (rejected, partial.error_message.unwrap_or_default()))
}

impl Sink for OtlpHttpSink {
    fn ship(&mut self, batch: &Batch<'_>) -> Outcome {
        let body = self.encode(batch.events);
        let (body, gzipped) = match self.gzip_above {
            Some(min) if body.len() >= min => match gzip(&body) {
                Ok(zipped) => (zipped, true),
                Err(_) => (body, false),
            },
            _ => (body, false),
        };
        match self.client.post(&body, "application/json", gzipped, batch.id, true) {
            Ok(reply) if (200..300).contains(&reply.status) => match partial_success(&reply.body) {
                Some((rejected, message)) => Outcome::PartlyRejected {
                    rejected: rejected.min(batch.events.len() as u64),
                    reason: format!("collector rejected {rejected} log records: {}", super::snippet(&message)),
                },
                None => Outcome::Delivered,
            },
            Ok(reply) => classify(reply.status, reply.retry_after.as_deref(), &reply.body),
            Err(outcome) => outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink(extra: &str) -> OtlpHttpSink {
        let text = format!("url = \"http://127.0.0.1:4318\"\nresource = {{ \"host.name\" = \"gw-1\" }}\n{extra}");
        let c = ComponentConfig::from_toml("otlp_http", &text).unwrap();
        c.parse::<OtlpHttpConfig>().unwrap().build(&c, None).unwrap()
    }

    #[test]
    fn records_carry_body_attributes_id_and_times() {
        let text = Event::new("héllo \"x\"").with_header("timestamp", "1700000000123").with_header("k", "v");
        let binary = Event::new(vec![0xff, 0x00]);
        let body = sink("").encode(&[text.clone(), binary]);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let resource = &v["resourceLogs"][0]["resource"]["attributes"];
        assert_eq!(resource[0], serde_json::json!({"key": "host.name", "value": {"stringValue": "gw-1"}}));
        assert_eq!(resource[1]["value"]["stringValue"], "sluice");
        let records = &v["resourceLogs"][0]["scopeLogs"][0]["logRecords"];
        assert_eq!(records[0]["body"]["stringValue"], "héllo \"x\"");
        assert_eq!(records[0]["timeUnixNano"], "1700000000123000000");
        assert_eq!(records[0]["observedTimeUnixNano"], format!("{}000000", text.timestamp_ms));
        let attrs = records[0]["attributes"].as_array().unwrap();
        assert!(attrs.contains(&serde_json::json!({"key": "k", "value": {"stringValue": "v"}})));
        assert!(attrs
            .contains(&serde_json::json!({"key": "log.record.uid", "value": {"stringValue": text.id.to_string()}})));
        assert_eq!(records[1]["body"]["bytesValue"], "/wA=");
        assert!(records[1].get("timeUnixNano").is_none());
    }

    #[test]
    fn nanoseconds_are_exact_at_zero_and_beyond_u64() {
        for ms in [0, 1, 1_700_000_000_123, u64::MAX] {
            let mut out = Vec::new();
            write_nanos_of_millis(&mut out, ms);
            assert_eq!(String::from_utf8(out).unwrap(), (u128::from(ms) * 1_000_000).to_string());
        }
    }

    #[test]
    fn partial_success_is_read_in_both_int64_forms() {
        assert_eq!(partial_success(r#"{"partialSuccess":{}}"#), None);
        assert_eq!(partial_success(r#"{}"#), None);
        assert_eq!(
            partial_success(r#"{"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"bad"}}"#),
            Some((2, "bad".into()))
        );
        assert_eq!(partial_success(r#"{"partialSuccess":{"rejectedLogRecords":3}}"#), Some((3, String::new())));
        assert_eq!(partial_success("not json"), None);
    }

    #[test]
    fn the_path_is_added_once() {
        for url in ["http://h:4318", "http://h:4318/", "http://h:4318/v1/logs"] {
            assert_eq!(logs_url(url), "http://h:4318/v1/logs", "{url}");
        }
    }
}
