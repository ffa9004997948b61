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

use super::client::{self, gzip, Auth, Client, ClientOptions, TlsOptions, TransportKind};
use super::format::{write_str, write_u64};
use super::http::Compression;
use super::{classify, Batch, Outcome, Sink};
use crate::config::keys::Required;
use crate::config::ComponentConfig;
use crate::error::Result;
use crate::event::Event;
use crate::registry::{Host, SinkSettings};
use crate::units::{ByteSize, Span};
use base64::Engine;
use serde::Deserialize;
use std::collections::BTreeMap;

crate::settings! {
    /// `[sinks.NAME]` keys of `type = "otlp_http"`.
    pub struct OtlpHttpConfig {
        url: Required<String> = Required::default(),
            "The collector's base URL (`/v1/logs` is appended unless the URL ends with it).";
        resource: BTreeMap<String, String> = BTreeMap::new(),
            "Resource attributes; `service.name` defaults to `sluice`, `host.name` to this host's name.";
        time_header: String = "timestamp".into(),
            "Header whose value (ms since the epoch) becomes the record's time; without it only the observed time is set.";
        id_attribute: String = "log.record.uid".into(), "Attribute that carries the event id (empty: none).";
        compression: Compression = Compression::Gzip, "Body compression.";
        compression_min_bytes: ByteSize = ByteSize(client::COMPRESSION_MIN_BYTES), "Requests smaller than this are sent plain.";
        headers: BTreeMap<String, String> = BTreeMap::new(), "Extra request headers.";
        auth: Option<Auth> = None, "`{ bearer = \"…\" }` or `{ username = \"…\", password = \"…\" }`.";
        connect_timeout: Span = Span(client::CONNECT_TIMEOUT), "Connect timeout.";
        request_timeout: Span = Span(client::REQUEST_TIMEOUT), "Whole-request timeout.";
        tls: TlsOptions = TlsOptions::default(),
            "`ca_file` (PEM CAs to trust instead of the system's), `verify` (default true); built-in transport only.";
        transport: Option<TransportKind> = None,
            "`builtin` (Sluice's client; the agent's only choice) or `platform` (the app's uploader; the mobile SDK's default).";
    }
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
    fn client(&self, c: &ComponentConfig, host: &Host) -> Result<Client> {
        let url = logs_url(self.url.get().map_err(|m| c.error("url", m))?);
        Client::new(
            &ClientOptions {
                url: &url,
                headers: &self.headers,
                auth: self.auth.as_ref(),
                connect_timeout: self.connect_timeout,
                request_timeout: self.request_timeout,
                tls: &self.tls,
                transport: self.transport,
                platform: host.platform.as_ref(),
            },
            c,
        )
    }

    /// The sink itself (for tests that look at its encoding).
    fn sink(&self, c: &ComponentConfig, host: &Host) -> Result<OtlpHttpSink> {
        let client = self.client(c, host)?;
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
            time_header: self.time_header.clone(),
            id_attribute: self.id_attribute.clone(),
            gzip_above: (self.compression == Compression::Gzip).then_some(self.compression_min_bytes.0 as usize),
        })
    }
}

impl SinkSettings for OtlpHttpConfig {
    fn check(&self, c: &ComponentConfig, host: &Host) -> Result<()> {
        self.client(c, host).map(drop)
    }

    fn build(&self, c: &ComponentConfig, host: &Host) -> Result<Box<dyn Sink>> {
        Ok(Box::new(self.sink(c, host)?))
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
        c.parse::<OtlpHttpConfig>().unwrap().sink(&c, &Host::default()).unwrap()
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
