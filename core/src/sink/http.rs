//! The `http` sink: batches as `flume_json` or `ndjson`, gzip above a threshold.
//!
//! Every request carries `User-Agent: sluice/<version>` and `X-Sluice-Batch`,
//! stable across retries of the same events, so a receiver can de-duplicate.

use super::format;
use super::{classify, Batch, Outcome, Sink};
use crate::config::ComponentConfig;
use crate::error::Result;
use crate::units::{ByteSize, Span};
use base64::Engine;
use flate2::write::GzEncoder;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

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
    /// TLS settings.
    #[serde(default)]
    pub tls: TlsOptions,
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

/// Authentication.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, untagged)]
pub enum Auth {
    /// `Authorization: Bearer …`
    Bearer {
        /// The token.
        bearer: String,
    },
    /// `Authorization: Basic …`
    Basic {
        /// User.
        username: String,
        /// Password.
        password: String,
    },
}

/// `tls = { ca_file = "/etc/ssl/my-ca.pem", verify = true }`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsOptions {
    /// PEM file of CA certificates to trust instead of the system's.
    pub ca_file: Option<std::path::PathBuf>,
    /// Verify the server certificate (default true). Turning it off is logged loudly.
    pub verify: Option<bool>,
}

/// The `http` sink.
pub struct HttpSink {
    agent: ureq::Agent,
    url: String,
    format: Format,
    gzip_above: Option<usize>,
    headers: Vec<(String, String)>,
    id_header: String,
}

impl HttpSinkConfig {
    /// Checks the config and builds the sink (no connection is made).
    ///
    /// # Errors
    /// Bad URL, unreadable CA file, https without TLS support compiled in.
    pub fn build(&self, c: &ComponentConfig) -> Result<HttpSink> {
        let scheme = self.url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("http") => {}
            Some("https") if cfg!(feature = "tls") => {}
            Some("https") => return Err(c.error("url", "https needs a build with the `tls` feature")),
            _ => return Err(c.error("url", format!("{:?} is not an http:// or https:// URL", self.url))),
        }
        if self.url.split_once("://").is_some_and(|(_, rest)| rest.is_empty() || rest.starts_with('/')) {
            return Err(c.error("url", format!("{:?} has no host", self.url)));
        }
        let builder = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(format!("sluice/{}", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(self.connect_timeout.map_or(Duration::from_secs(5), |s| s.0)))
            .timeout_global(Some(self.request_timeout.map_or(Duration::from_secs(30), |s| s.0)))
            .max_redirects(0);
        #[cfg(feature = "tls")]
        let builder = builder.tls_config(tls_config(&self.tls, c)?);
        #[cfg(not(feature = "tls"))]
        if self.tls.ca_file.is_some() || self.tls.verify.is_some() {
            return Err(c.error("tls", "this build has no TLS support (feature `tls`)"));
        }
        let mut headers: Vec<(String, String)> = self.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        match &self.auth {
            Some(Auth::Bearer { bearer }) => headers.push(("Authorization".into(), format!("Bearer {bearer}"))),
            Some(Auth::Basic { username, password }) => {
                let token = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
                headers.push(("Authorization".into(), format!("Basic {token}")));
            }
            None => {}
        }
        Ok(HttpSink {
            agent: builder.build().into(),
            url: self.url.clone(),
            format: self.format,
            gzip_above: (self.compression == Compression::Gzip)
                .then(|| self.compression_min_bytes.map_or(1024, |b| b.0 as usize)),
            headers,
            id_header: self.id_header.clone().unwrap_or_else(|| "id".into()),
        })
    }
}

#[cfg(feature = "tls")]
fn tls_config(options: &TlsOptions, c: &ComponentConfig) -> Result<ureq::tls::TlsConfig> {
    let mut tls = ureq::tls::TlsConfig::builder();
    if let Some(path) = &options.ca_file {
        let pem = std::fs::read(path).map_err(|e| c.error("tls", format!("ca_file {}: {e}", path.display())))?;
        let certs: Vec<_> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(cert)) => Some(Ok(cert)),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            })
            .collect::<Result<_, _>>()
            .map_err(|e| c.error("tls", format!("ca_file {}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(c.error("tls", format!("ca_file {} holds no PEM certificate", path.display())));
        }
        tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
    } else {
        tls = tls.root_certs(ureq::tls::RootCerts::PlatformVerifier);
    }
    if options.verify == Some(false) {
        log::warn!("{}.{}: TLS certificate verification is OFF", c.section, c.name);
        tls = tls.disable_verification(true);
    }
    Ok(tls.build())
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

/// Fast gzip: level 1 halves the CPU of the default for ~10 % larger output on logs.
fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(body.len() / 4), flate2::Compression::fast());
    encoder.write_all(body)?;
    encoder.finish()
}

/// Most of an error reply kept for the quarantine reason.
const REPLY_LIMIT: u64 = 16 * 1024;

impl Sink for HttpSink {
    fn ship(&mut self, batch: &Batch<'_>) -> Outcome {
        let (body, content_type, gzipped) = self.encode(batch);
        let mut request =
            self.agent.post(&self.url).header("Content-Type", content_type).header("X-Sluice-Batch", batch.id);
        if gzipped {
            request = request.header("Content-Encoding", "gzip");
        }
        for (k, v) in &self.headers {
            request = request.header(k.as_str(), v.as_str());
        }
        match request.send(&body[..]) {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let retry_after =
                    response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
                let reply = if (200..300).contains(&status) {
                    String::new()
                } else {
                    response.body_mut().with_config().limit(REPLY_LIMIT).read_to_string().unwrap_or_default()
                };
                classify(status, retry_after.as_deref(), &reply)
            }
            Err(e) => Outcome::Retry { after: None, reason: format!("{}: {e}", self.url) },
        }
    }
}
