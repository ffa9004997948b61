//! The `http` sink: batches as `flume_json` or `ndjson`, gzip above a threshold.
//!
//! Every request carries `User-Agent: sluice/<version>` and `X-Sluice-Batch`,
//! stable across retries of the same events, so a receiver can de-duplicate.

use super::client::{gzip, Client, ClientOptions, TransportKind};
pub use super::client::{Auth, TlsOptions};
use super::format;
use super::platform::PlatformUploads;
use super::{Batch, Outcome, Sink};
use crate::config::ComponentConfig;
use crate::error::Result;
use crate::units::{ByteSize, Span};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// `[sinks.NAME]` keys of `type = "http"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSinkConfig {
    /// Where batches are POSTed.
    pub url: String,
    /// `flume_json` (default) or `ndjson`.
    #[serde(default)]
    pub format: Format,
    /// `gzip` (default) or `none`.
    #[serde(default)]
    pub compression: Compression,
    /// Batches smaller than this are sent plain (default 1KiB: gzip grows tiny payloads).
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
    /// Header that carries the event id in `flume_json` (default `id`; empty: none).
    pub id_header: Option<String>,
}

/// Body format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Flume HTTPSource JSON array.
    #[default]
    FlumeJson,
    /// Newline-delimited JSON objects.
    Ndjson,
}

/// Body compression.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// `Content-Encoding: gzip` above `compression_min_bytes`.
    #[default]
    Gzip,
    /// Never compress.
    None,
}

/// The `http` sink.
pub struct HttpSink {
    client: Client,
    format: Format,
    gzip_above: Option<usize>,
    id_header: String,
}

impl HttpSinkConfig {
    /// Checks the config and builds the sink (no connection is made).
    ///
    /// # Errors
    /// Bad URL, unreadable CA file, https without TLS support compiled in.
    pub fn build(&self, c: &ComponentConfig, platform: Option<&Arc<PlatformUploads>>) -> Result<HttpSink> {
        let client = Client::new(
            &ClientOptions {
                url: &self.url,
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
        Ok(HttpSink {
            client,
            format: self.format,
            gzip_above: (self.compression == Compression::Gzip)
                .then(|| self.compression_min_bytes.map_or(1024, |b| b.0 as usize)),
            id_header: self.id_header.clone().unwrap_or_else(|| "id".into()),
        })
    }
}

impl HttpSink {
    fn encode(&self, batch: &Batch<'_>) -> (Vec<u8>, &'static str, bool) {
        let (body, content_type) = match self.format {
            Format::FlumeJson => (format::flume_json(batch.events, &self.id_header), "application/json; charset=utf-8"),
            Format::Ndjson => (format::ndjson(batch.events), "application/x-ndjson"),
        };
        match self.gzip_above {
            Some(min) if body.len() >= min => match gzip(&body) {
                Ok(zipped) => (zipped, content_type, true),
                Err(_) => (body, content_type, false),
            },
            _ => (body, content_type, false),
        }
    }
}

impl Sink for HttpSink {
    fn ship(&mut self, batch: &Batch<'_>) -> Outcome {
        let (body, content_type, gzipped) = self.encode(batch);
        self.client.ship(&body, content_type, gzipped, batch.id)
    }
}
