//! The `http` source: Flume HTTPSource-compatible intake (DESIGN §5).
//!
//! `POST` a flume_json array (`application/json`, also `text/plain` from
//! `navigator.sendBeacon`) or NDJSON (`application/x-ndjson`), optionally gzip.
//! The reply is 200 only after the channel committed; 400 with a reason for
//! malformed input (nothing of that request is accepted); 413 over `max_body`;
//! 503 when the channel is full; 401 without the configured bearer token.

use super::{Source, SourceContext};
use crate::channel::Wait;
use crate::config::ComponentConfig;
use crate::decode::{decode_request, DecodeLimits};
use crate::error::{Error, ErrorKind, Result};
use crate::http_server::{serve, Admit, Handler, Limits, Request, Response, Service};
use crate::registry::Registry;
use crate::units::{ByteSize, Span};
use crate::workers::Workers;
use serde::Deserialize;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

/// `[sources.NAME]` keys of `type = "http"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSourceConfig {
    /// Address to bind (default `127.0.0.1:5140`: loopback unless told otherwise).
    pub listen: Option<String>,
    /// Largest request body accepted (default 16MiB).
    pub max_body: Option<ByteSize>,
    /// Largest body after gunzip (default 64MiB).
    pub max_inflated: Option<ByteSize>,
    /// Most events in one request (default 100000).
    pub max_events: Option<usize>,
    /// Require `Authorization: Bearer <token>`.
    pub bearer_token: Option<String>,
    /// Browser origins allowed to send (CORS), like `"https://shop.example"`; `"*"` allows any.
    /// Requests carrying another `Origin` are refused with 403.
    pub cors_origins: Option<Vec<String>>,
    /// Open connections at most (default 1024); at the limit an idle one is closed for a new client.
    pub max_connections: Option<usize>,
    /// Time for a request's head to arrive (default 10s).
    pub header_timeout: Option<Span>,
    /// Time for a whole request to arrive (default 30s).
    pub read_timeout: Option<Span>,
    /// Time a kept-alive connection may wait for its next request (default 30s).
    pub idle_timeout: Option<Span>,
    /// Bytes of request bodies held at once across all connections (default 32MiB).
    pub max_inflight: Option<ByteSize>,
}

/// The `http` source.
pub struct HttpSource {
    addr: SocketAddr,
    listener: Option<TcpListener>,
    limits: Limits,
    decode: DecodeLimits,
    bearer: Option<String>,
    cors: Option<Vec<String>>,
}

/// Registers `type = "http"`.
pub(crate) fn register(r: &mut Registry) {
    r.register_source("http", |c| Ok(Box::new(c.parse::<HttpSourceConfig>()?.build(c)?)));
}

impl HttpSourceConfig {
    /// Checks the config and builds the source (nothing is bound yet).
    ///
    /// # Errors
    /// An address that does not parse.
    pub fn build(&self, c: &ComponentConfig) -> Result<HttpSource> {
        let addr = super::tcp::parse_listen(c, self.listen.as_deref(), "127.0.0.1:5140")?;
        let d = Limits::default();
        let limits = Limits {
            max_body: self.max_body.map_or(d.max_body, |b| b.0 as usize),
            header_timeout: self.header_timeout.map_or(d.header_timeout, |s| s.0),
            read_timeout: self.read_timeout.map_or(d.read_timeout, |s| s.0),
            idle_timeout: self.idle_timeout.map_or(d.idle_timeout, |s| s.0),
            max_connections: self.max_connections.map_or(d.max_connections, |n| n.max(1)),
            max_inflight_bytes: self.max_inflight.map_or(d.max_inflight_bytes, |b| b.0 as usize),
            ..d
        };
        if limits.max_inflight_bytes / 8 * 7 < limits.max_body {
            let least = (limits.max_body as u64).div_ceil(7) * 8;
            return Err(c.error(
                "max_inflight",
                format!("must be at least {least} bytes, 8/7 of max_body (an eighth is kept for small requests)"),
            ));
        }
        let mut decode = DecodeLimits::default();
        if let Some(b) = self.max_inflated {
            decode.max_inflated = b.0 as usize;
        }
        if let Some(n) = self.max_events {
            decode.max_events = n;
        }
        if let Some(origins) = &self.cors_origins {
            if let Some(bad) =
                origins.iter().find(|o| *o != "*" && !(o.starts_with("http://") || o.starts_with("https://")))
            {
                return Err(c.error(
                    "cors_origins",
                    format!("{bad:?} is not an origin like \"https://shop.example\" or \"*\""),
                ));
            }
        }
        let (bearer, cors) = (self.bearer_token.clone(), self.cors_origins.clone());
        Ok(HttpSource { addr, listener: None, limits, decode, bearer, cors })
    }
}

impl Source for HttpSource {
    fn prepare(&mut self) -> Result<()> {
        let listener = super::tcp::bind("http", self.addr)?;
        listener.set_nonblocking(true)?;
        self.listener = Some(listener);
        Ok(())
    }

    fn run(mut self: Box<Self>, ctx: SourceContext) -> Result<()> {
        if self.listener.is_none() {
            self.prepare()?;
        }
        let listener = self.listener.take().ok_or_else(|| Error::new(ErrorKind::Io, "http source: not bound"))?;
        let listener = smol::net::TcpListener::try_from(listener)?;
        log::info!("source {}: listening on http://{}", ctx.name, self.addr);
        let stop_rx = ctx.stop.closed_signal()?;
        let policy = Policy { decode: self.decode.clone(), bearer: self.bearer.clone(), cors: self.cors.clone() };
        let service = service(ctx.clone(), policy)?;
        smol::block_on(serve(ctx.executor.clone(), listener, self.limits.clone(), service, stop_rx));
        Ok(())
    }
}

/// Threads that decode and put requests: CPU and storage work stays off the I/O thread.
const WORKERS: usize = 2;

/// What a request must satisfy.
struct Policy {
    decode: DecodeLimits,
    bearer: Option<String>,
    cors: Option<Vec<String>>,
}

fn service(ctx: SourceContext, policy: Policy) -> Result<Service> {
    let workers = Workers::new(&format!("http-{}", ctx.name), WORKERS)?;
    let policy = Arc::new(policy);
    let admit: Admit = {
        let (ctx, policy) = (ctx.clone(), policy.clone());
        Arc::new(move |request: &Request| {
            let refusal = admit(&policy, request)?;
            ctx.output.metrics().rejected.add(1);
            log::warn!("source {}: refused a request from {}: {}", ctx.name, request.peer, refusal.status);
            Some(refusal)
        })
    };
    let shared = Arc::new((ctx, workers, policy));
    let handle: Handler = Arc::new(move |request: Request| {
        let shared = shared.clone();
        Box::pin(async move {
            let (ctx, workers, policy) = &*shared;
            let origin = request.header("origin").map(str::to_string);
            let reply = if request.method == "OPTIONS" {
                preflight(&request)
            } else {
                handle(ctx, workers, &policy.decode, request).await
            };
            // An origin that got this far is allowed: it gets the CORS headers on every reply.
            match origin {
                Some(origin) => reply.with_header("Access-Control-Allow-Origin", origin).with_header("Vary", "Origin"),
                None => reply,
            }
        })
    });
    Ok(Service { admit: Some(admit), handle })
}

/// What a request's head alone decides, before a byte of its body is read:
/// the origin (403), the method (405) and the bearer token (401).
fn admit(policy: &Policy, request: &Request) -> Option<Response> {
    if let Some(origin) = request.header("origin") {
        // sendBeacon and simple POSTs are not preflighted: the origin is checked here.
        let allowed = policy.cors.as_ref().is_some_and(|a| a.iter().any(|o| o == "*" || o == origin));
        if !allowed {
            return Some(
                Response::text(403, format!("origin {origin} is not allowed\n")).with_header("Vary", "Origin"),
            );
        }
        if request.method == "OPTIONS" {
            return None;
        }
    }
    if request.method == "GET" && request.path == "/health" {
        return None;
    }
    if request.method != "POST" {
        return Some(Response::text(405, "only POST is accepted\n").with_header("Allow", "POST"));
    }
    let token = policy.bearer.as_deref()?;
    let given = request.header("authorization").and_then(|v| v.strip_prefix("Bearer ")).unwrap_or_default();
    if same_secret(given.as_bytes(), token.as_bytes()) {
        return None;
    }
    Some(Response::text(401, "missing or wrong bearer token\n").with_header("WWW-Authenticate", "Bearer"))
}

/// Compares a secret in time that depends on its length only, not on where it differs.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = u8::from(given.len() != expected.len());
    for (i, e) in expected.iter().enumerate() {
        diff |= given.get(i).copied().unwrap_or(0) ^ e;
    }
    diff == 0
}

/// The answer to a CORS preflight from an allowed origin.
fn preflight(request: &Request) -> Response {
    let headers = request.header("access-control-request-headers").unwrap_or("Content-Type").to_string();
    Response::text(204, "")
        .with_header("Access-Control-Allow-Methods", "POST, OPTIONS")
        .with_header("Access-Control-Allow-Headers", headers)
        .with_header("Access-Control-Max-Age", "86400")
}

async fn handle(ctx: &SourceContext, workers: &Workers, limits: &DecodeLimits, request: Request) -> Response {
    if request.method == "GET" {
        return Response::text(200, "ok\n");
    }
    // It waits for room at most block_timeout from its arrival, and not once its client left.
    let wait = Wait { since: request.received_at, cancelled: Some(request.cancelled.clone()) };
    // Decoding is CPU work: it runs on a blocking thread with the put, not on the I/O thread.
    let output = ctx.output.clone();
    let limits = limits.clone();
    let Some(outcome) = workers
        .run(move || {
            if wait.is_cancelled() {
                return Ok(Err(None));
            }
            let content_type = request.header("content-type");
            let events = decode_request(content_type, request.header("content-encoding"), &request.body, &limits)
                .map_err(|e| (e, request.peer))?;
            let n = events.len();
            if n == 0 {
                return Ok(Ok(0));
            }
            Ok(output.deliver_waiting(events, &[], &wait).map(|()| n).map_err(Some))
        })
        .await
    else {
        return Response::text(503, "shutting down\n");
    };
    let delivered = match outcome {
        Ok(delivered) => delivered,
        Err((e, peer)) => {
            ctx.output.metrics().rejected.add(1);
            log::warn!("source {}: bad request from {peer}: {e}", ctx.name);
            return Response::text(400, format!("bad request: {e}\n"));
        }
    };
    match delivered {
        Ok(n) => Response::text(200, format!("accepted {n} events\n")),
        // The client left while it waited: nobody reads this.
        Err(None) => Response::text(503, "the client hung up\n"),
        Err(Some(refused)) if refused.error.kind() == ErrorKind::DiskFull => {
            Response::text(503, format!("disk full, retry later: {}\n", refused.error)).with_header("Retry-After", "5")
        }
        Err(Some(refused)) if refused.is_full() => {
            Response::text(503, format!("channel full, retry later: {}\n", refused.error))
                .with_header("Retry-After", "1")
        }
        Err(Some(refused)) => {
            log::error!("source {}: put failed: {}", ctx.name, refused.error);
            Response::text(500, format!("storage error: {}\n", refused.error))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_equal_only_when_equal() {
        assert!(same_secret(b"s3cret", b"s3cret"));
        assert!(!same_secret(b"s3creT", b"s3cret"));
        assert!(!same_secret(b"s3cre", b"s3cret"), "a prefix is not the secret");
        assert!(!same_secret(b"s3crett", b"s3cret"));
        assert!(!same_secret(b"", b"s3cret"));
    }
}
