//! The HTTP client the `http` and `otlp_http` sinks share: URL checks,
//! timeouts, TLS, authentication, extra headers, and one POST.

use super::{classify, Outcome};
use crate::config::ComponentConfig;
use crate::error::Result;
use crate::units::Span;
use base64::Engine;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

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

/// Connection settings common to HTTP sinks.
pub struct ClientOptions<'a> {
    /// Where batches are POSTed.
    pub url: &'a str,
    /// Extra request headers.
    pub headers: &'a BTreeMap<String, String>,
    /// Authentication.
    pub auth: Option<&'a Auth>,
    /// Connect timeout (default 5s).
    pub connect_timeout: Option<Span>,
    /// Whole-request timeout (default 30s).
    pub request_timeout: Option<Span>,
    /// TLS settings.
    pub tls: &'a TlsOptions,
}

/// A configured client for one URL.
pub struct Client {
    agent: ureq::Agent,
    url: String,
    headers: Vec<(String, String)>,
}

/// What came back from a POST.
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// `Retry-After`, if any.
    pub retry_after: Option<String>,
    /// The body (up to 16 KiB): on errors always, on success when asked for.
    pub body: String,
}

/// Most of a reply kept (for quarantine reasons and partial-success answers).
const REPLY_LIMIT: u64 = 16 * 1024;

impl Client {
    /// Checks the options and builds the client (no connection is made).
    ///
    /// # Errors
    /// Bad URL, unreadable CA file, https without TLS support compiled in.
    pub fn new(o: &ClientOptions<'_>, c: &ComponentConfig) -> Result<Client> {
        let scheme = o.url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("http") => {}
            Some("https") if cfg!(feature = "tls") => {}
            Some("https") => return Err(c.error("url", "https needs a build with the `tls` feature")),
            _ => return Err(c.error("url", format!("{:?} is not an http:// or https:// URL", o.url))),
        }
        if o.url.split_once("://").is_some_and(|(_, rest)| rest.is_empty() || rest.starts_with('/')) {
            return Err(c.error("url", format!("{:?} has no host", o.url)));
        }
        let builder = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(format!("sluice/{}", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(o.connect_timeout.map_or(Duration::from_secs(5), |s| s.0)))
            .timeout_global(Some(o.request_timeout.map_or(Duration::from_secs(30), |s| s.0)))
            .max_redirects(0);
        #[cfg(feature = "tls")]
        let builder = builder.tls_config(tls_config(o.tls, c)?);
        #[cfg(not(feature = "tls"))]
        if o.tls.ca_file.is_some() || o.tls.verify.is_some() {
            return Err(c.error("tls", "this build has no TLS support (feature `tls`)"));
        }
        let mut headers: Vec<(String, String)> = o.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        match o.auth {
            Some(Auth::Bearer { bearer }) => headers.push(("Authorization".into(), format!("Bearer {bearer}"))),
            Some(Auth::Basic { username, password }) => {
                let token = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
                headers.push(("Authorization".into(), format!("Basic {token}")));
            }
            None => {}
        }
        Ok(Client { agent: builder.build().into(), url: o.url.to_string(), headers })
    }

    /// POSTs `body`; `Err` is a network-level failure, already a retry outcome.
    ///
    /// # Errors
    /// Connection, TLS, timeout: as [`Outcome::Retry`].
    pub fn post(
        &self,
        body: &[u8],
        content_type: &str,
        gzipped: bool,
        batch_id: &str,
        read_success_body: bool,
    ) -> std::result::Result<Reply, Outcome> {
        let mut request =
            self.agent.post(&self.url).header("Content-Type", content_type).header("X-Sluice-Batch", batch_id);
        if gzipped {
            request = request.header("Content-Encoding", "gzip");
        }
        for (k, v) in &self.headers {
            request = request.header(k.as_str(), v.as_str());
        }
        match request.send(body) {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let retry_after =
                    response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
                let body = if (200..300).contains(&status) && !read_success_body {
                    String::new()
                } else {
                    response.body_mut().with_config().limit(REPLY_LIMIT).read_to_string().unwrap_or_default()
                };
                Ok(Reply { status, retry_after, body })
            }
            Err(e) => Err(Outcome::Retry { after: None, reason: format!("{}: {e}", self.url) }),
        }
    }

    /// POSTs and classifies the status (2xx delivered, 408/429/5xx retry, 413 split, 4xx quarantine).
    pub fn ship(&self, body: &[u8], content_type: &str, gzipped: bool, batch_id: &str) -> Outcome {
        match self.post(body, content_type, gzipped, batch_id, false) {
            Ok(reply) => classify(reply.status, reply.retry_after.as_deref(), &reply.body),
            Err(outcome) => outcome,
        }
    }
}

/// Fast gzip: level 1 halves the CPU of the default for ~10 % larger output on logs.
pub fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 4), flate2::Compression::fast());
    encoder.write_all(body)?;
    encoder.finish()
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
