//! TLS for the Avro connection (Flume's `ssl = true`), through rustls.
//!
//! Flume 1.10+ puts its zlib stage outside TLS (`zlib(TLS(frames))`), so with
//! both options the TLS stream runs over the zlib stream, not the socket.

use super::framing::Stream;
use crate::config::ComponentConfig;
use crate::error::Result;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};
use std::sync::Arc;

/// A client config and the name to verify the server by.
#[derive(Clone)]
pub struct Tls {
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tls({:?})", self.server_name)
    }
}

impl Tls {
    /// Builds the config: the CA file's certificates, or the platform's roots;
    /// `verify = false` accepts any certificate (and says so in the log).
    ///
    /// # Errors
    /// Unreadable or empty CA file, an invalid server name.
    pub fn new(options: &super::TlsOptions, host: &str, c: &ComponentConfig) -> Result<Tls> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| c.error("tls", e))?;
        let config = if options.verify == Some(false) {
            log::warn!("{}.{}: TLS certificate verification is OFF", c.section, c.name);
            builder.dangerous().with_custom_certificate_verifier(Arc::new(AcceptAny(provider))).with_no_client_auth()
        } else if let Some(path) = &options.ca_file {
            let pem = std::fs::read(path).map_err(|e| c.error("tls", format!("ca_file {}: {e}", path.display())))?;
            let mut roots = rustls::RootCertStore::empty();
            for item in ureq::tls::parse_pem(&pem) {
                match item {
                    Ok(ureq::tls::PemItem::Certificate(cert)) => {
                        roots
                            .add(CertificateDer::from(cert.der().to_vec()))
                            .map_err(|e| c.error("tls", format!("ca_file {}: {e}", path.display())))?
                    }
                    Ok(_) => {}
                    Err(e) => return Err(c.error("tls", format!("ca_file {}: {e}", path.display()))),
                }
            }
            if roots.is_empty() {
                return Err(c.error("tls", format!("ca_file {} holds no PEM certificate", path.display())));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        } else {
            let verifier = rustls_platform_verifier::Verifier::new(provider).map_err(|e| c.error("tls", e))?;
            builder.dangerous().with_custom_certificate_verifier(Arc::new(verifier)).with_no_client_auth()
        };
        let name = options.server_name.as_deref().unwrap_or(host).to_string();
        let server_name =
            ServerName::try_from(name.clone()).map_err(|e| c.error("tls", format!("server name {name:?}: {e}")))?;
        Ok(Tls { config: Arc::new(config), server_name })
    }

    /// Wraps `inner`; the handshake happens on the first write or read.
    ///
    /// # Errors
    /// rustls refusing the config (not expected after `new`).
    pub fn wrap(&self, inner: Box<dyn Stream>) -> std::io::Result<Box<dyn Stream>> {
        let conn = ClientConnection::new(self.config.clone(), self.server_name.clone())
            .map_err(|e| std::io::Error::other(format!("tls: {e}")))?;
        Ok(Box::new(StreamOwned::new(conn, inner)))
    }
}

/// `verify = false`: any certificate, but signatures are still checked.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
