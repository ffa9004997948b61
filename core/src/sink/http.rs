//! The `http` sink: batches as `flume_json` or `ndjson`, gzip above a threshold.
//!
//! Every request carries `User-Agent: sluice/<version>` and `X-Sluice-Batch`,
//! stable across retries of the same events, so a receiver can de-duplicate.

use super::client::{self, gzip, Client, ClientOptions, TransportKind};
pub use super::client::{Auth, TlsOptions};
use super::format;
use super::{Batch, Outcome, Sink};
use crate::config::keys::Required;
use crate::config::ComponentConfig;
use crate::error::Result;
use crate::registry::{Host, SinkSettings};
use crate::units::{ByteSize, Span};
use serde::Deserialize;
use std::collections::BTreeMap;

crate::settings! {
    /// `[sinks.NAME]` keys of `type = "http"`.
    pub struct HttpSinkConfig {
        url: Required<String> = Required::default(), "Where batches are POSTed.";
        format: Format = Format::FlumeJson, "Body format: Flume HTTPSource JSON array, or newline-delimited JSON.";
        compression: Compression = Compression::Gzip, "Body compression.";
        compression_min_bytes: ByteSize = ByteSize(client::COMPRESSION_MIN_BYTES),
            "Batches smaller than this are sent plain (gzip grows tiny payloads).";
        headers: BTreeMap<String, String> = BTreeMap::new(), "Extra request headers.";
        auth: Option<Auth> = None, "`{ bearer = \"…\" }` or `{ username = \"…\", password = \"…\" }`.";
        connect_timeout: Span = Span(client::CONNECT_TIMEOUT), "Connect timeout.";
        request_timeout: Span = Span(client::REQUEST_TIMEOUT), "Whole-request timeout.";
        tls: TlsOptions = TlsOptions::default(),
            "`ca_file` (PEM CAs to trust instead of the system's), `verify` (default true); built-in transport only.";
        transport: Option<TransportKind> = None,
            "`builtin` (Sluice's client; the agent's only choice) or `platform` (the app's uploader; the mobile SDK's default).";
        id_header: String = "id".into(), "Header that carries the event id in `flume_json` (empty: none).";
    }
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

crate::key_choices!(Format, Compression);

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
    fn client(&self, c: &ComponentConfig, host: &Host) -> Result<Client> {
        Client::new(
            &ClientOptions {
                url: self.url.get().map_err(|m| c.error("url", m))?,
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
}

impl SinkSettings for HttpSinkConfig {
    fn check(&self, c: &ComponentConfig, host: &Host) -> Result<()> {
        self.client(c, host).map(drop)
    }

    fn build(&self, c: &ComponentConfig, host: &Host) -> Result<Box<dyn Sink>> {
        Ok(Box::new(HttpSink {
            client: self.client(c, host)?,
            format: self.format,
            gzip_above: (self.compression == Compression::Gzip).then_some(self.compression_min_bytes.0 as usize),
            id_header: self.id_header.clone(),
        }))
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
