//! The HTTP client the `http` and `otlp_http` sinks share: URL checks,
//! timeouts, TLS, authentication, extra headers, and one POST, sent by the
//! built-in client (ureq) or handed to the app's uploader ([`super::platform`]).

use super::platform::PlatformUploads;
use super::{classify, Outcome};
use crate::config::ComponentConfig;
use crate::error::Result;
use crate::units::Span;
use base64::Engine;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// `transport = "builtin" | "platform"`: who sends a sink's requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportKind {
    /// Sluice's own HTTP client (builds with the `http-client` feature; the CLI's only choice).
    Builtin,
    /// The app's HTTP stack through the SDK's uploader loop (the mobile SDK's default).
    Platform,
}

crate::key_choices!(TransportKind);
crate::key_table!(TlsOptions);

impl crate::config::keys::KeyValue for Auth {
    fn kind() -> String {
        "table { bearer } or { username, password }".into()
    }
    fn show(&self) -> String {
        "{}".into()
    }
}

/// Default connect timeout of the HTTP sinks.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default whole-request timeout of the HTTP sinks.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default size below which the HTTP sinks send plain: gzip grows tiny payloads.
pub const COMPRESSION_MIN_BYTES: u64 = 1 << 10;

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
    /// Connect timeout.
    pub connect_timeout: Span,
    /// Whole-request timeout.
    pub request_timeout: Span,
    /// TLS settings.
    pub tls: &'a TlsOptions,
    /// The `transport` key, if set.
    pub transport: Option<TransportKind>,
    /// The SDK's uploader queue; `None` outside the mobile SDK.
    pub platform: Option<&'a Arc<PlatformUploads>>,
}

/// Who sends the requests.
enum Transport {
    #[cfg(feature = "http-client")]
    Builtin(ureq::Agent),
    Platform {
        uploads: Arc<PlatformUploads>,
        timeout: Duration,
    },
}

/// A configured client for one URL.
pub struct Client {
    transport: Transport,
    url: String,
    /// Auth and the sink's extra headers.
    headers: Vec<(String, String)>,
}

/// `User-Agent` of every request.
const USER_AGENT: &str = concat!("sluice/", env!("CARGO_PKG_VERSION"));

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
#[cfg(feature = "http-client")]
const REPLY_LIMIT: u64 = super::platform::BODY_LIMIT as u64;

impl Client {
    /// Checks the options and builds the client (no connection is made).
    ///
    /// # Errors
    /// Bad URL, unreadable CA file, https without TLS support compiled in.
    pub fn new(o: &ClientOptions<'_>, c: &ComponentConfig) -> Result<Client> {
        let scheme = o.url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        if !matches!(scheme.as_deref(), Some("http" | "https")) {
            return Err(c.error("url", format!("{:?} is not an http:// or https:// URL", o.url)));
        }
        if o.url.split_once("://").is_some_and(|(_, rest)| rest.is_empty() || rest.starts_with('/')) {
            return Err(c.error("url", format!("{:?} has no host", o.url)));
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
        let request_timeout = o.request_timeout.0;
        let transport = match (o.transport, o.platform) {
            (Some(TransportKind::Platform) | None, Some(uploads)) => {
                if o.tls.ca_file.is_some() || o.tls.verify.is_some() {
                    return Err(c.error(
                        "tls",
                        "the app's uploader (transport = \"platform\") uses the system's trust store; \
                         tls settings apply to transport = \"builtin\"",
                    ));
                }
                Transport::Platform { uploads: uploads.clone(), timeout: request_timeout }
            }
            (Some(TransportKind::Platform), None) => {
                return Err(c.error(
                    "transport",
                    "\"platform\" is for the mobile SDK, where the app sends the requests; use \"builtin\"",
                ))
            }
            (Some(TransportKind::Builtin), _) | (None, None) => builtin(o, c, request_timeout, scheme.as_deref())?,
        };
        Ok(Client { transport, url: o.url.to_string(), headers })
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
        // The app's uploader always hands the body back.
        #[cfg_attr(not(feature = "http-client"), allow(unused_variables))] read_success_body: bool,
    ) -> std::result::Result<Reply, Outcome> {
        match &self.transport {
            #[cfg(feature = "http-client")]
            Transport::Builtin(agent) => {
                self.post_builtin(agent, body, content_type, gzipped, batch_id, read_success_body)
            }
            Transport::Platform { uploads, timeout } => {
                let mut headers = Vec::with_capacity(self.headers.len() + 4);
                headers.push(("Content-Type".to_string(), content_type.to_string()));
                headers.push(("X-Sluice-Batch".to_string(), batch_id.to_string()));
                headers.push(("User-Agent".to_string(), USER_AGENT.to_string()));
                if gzipped {
                    headers.push(("Content-Encoding".to_string(), "gzip".to_string()));
                }
                headers.extend(self.headers.iter().cloned());
                uploads.send(&self.url, headers, body, *timeout)
            }
        }
    }

    #[cfg(feature = "http-client")]
    fn post_builtin(
        &self,
        agent: &ureq::Agent,
        body: &[u8],
        content_type: &str,
        gzipped: bool,
        batch_id: &str,
        read_success_body: bool,
    ) -> std::result::Result<Reply, Outcome> {
        let mut request = agent.post(&self.url).header("Content-Type", content_type).header("X-Sluice-Batch", batch_id);
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

/// The built-in client (ureq), with TLS when the build has it.
#[cfg(feature = "http-client")]
fn builtin(
    o: &ClientOptions<'_>,
    c: &ComponentConfig,
    request_timeout: Duration,
    scheme: Option<&str>,
) -> Result<Transport> {
    if scheme == Some("https") && !cfg!(feature = "tls") {
        return Err(c.error("url", "https needs a build with the `tls` feature"));
    }
    let builder = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .user_agent(USER_AGENT)
        .timeout_connect(Some(o.connect_timeout.0))
        .timeout_global(Some(request_timeout))
        .max_redirects(0);
    #[cfg(feature = "tls")]
    let builder = builder.tls_config(tls_config(o.tls, c)?);
    #[cfg(not(feature = "tls"))]
    if o.tls.ca_file.is_some() || o.tls.verify.is_some() {
        return Err(c.error("tls", "this build has no TLS support (feature `tls`)"));
    }
    Ok(Transport::Builtin(builder.build().into()))
}

/// Without the `http-client` feature only the app's uploader can send.
#[cfg(not(feature = "http-client"))]
fn builtin(_: &ClientOptions<'_>, c: &ComponentConfig, _: Duration, _: Option<&str>) -> Result<Transport> {
    Err(c.error(
        "transport",
        "this build has no built-in HTTP client (feature `http-client`); use transport = \"platform\"",
    ))
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
