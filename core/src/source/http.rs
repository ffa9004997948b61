//! The `http` source: Flume HTTPSource-compatible intake (DESIGN §5).
//!
//! `POST` a flume_json array (`application/json`, also `text/plain` from
//! `navigator.sendBeacon`) or NDJSON (`application/x-ndjson`), optionally gzip.
//! The reply is 200 only after the channel committed; 400 with a reason for
//! malformed input (nothing of that request is accepted); 413 over `max_body`;
//! 503 when the channel is full; 401 without the configured bearer token.

use super::{Source, SourceContext};
use crate::config::ComponentConfig;
use crate::decode::{decode_request, DecodeLimits};
use crate::error::{Error, ErrorKind, Result};
use crate::http_server::{serve, Handler, Limits, Request, Response};
use crate::registry::Registry;
use crate::units::ByteSize;
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
        let mut limits = Limits::default();
        if let Some(b) = self.max_body {
            limits.max_body = b.0 as usize;
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
        let listener = TcpListener::bind(self.addr)
            .map_err(|e| Error::new(ErrorKind::Io, format!("http source: cannot listen on {}: {e}", self.addr)))?;
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
        let handler = handler(ctx.clone(), policy)?;
        smol::block_on(serve(ctx.executor.clone(), listener, self.limits.clone(), handler, stop_rx));
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

fn handler(ctx: SourceContext, policy: Policy) -> Result<Handler> {
    let workers = Workers::new(&format!("http-{}", ctx.name), WORKERS)?;
    let shared = Arc::new((ctx, workers, policy));
    Ok(Arc::new(move |request: Request| {
        let shared = shared.clone();
        Box::pin(async move {
            let (ctx, workers, policy) = &*shared;
            // A browser's Origin: allowed ones get the CORS headers on every reply.
            let origin = request.header("origin").map(str::to_string);
            match (&policy.cors, &origin) {
                (Some(allowed), Some(origin)) if allowed.iter().any(|a| a == "*" || a == origin) => {
                    let reply = if request.method == "OPTIONS" {
                        preflight(&request)
                    } else {
                        handle(ctx, workers, policy, request).await
                    };
                    reply.with_header("Access-Control-Allow-Origin", origin.clone()).with_header("Vary", "Origin")
                }
                // sendBeacon and simple POSTs are not preflighted: the origin is checked here.
                (_, Some(origin)) => {
                    ctx.output.metrics().rejected.add(1);
                    log::warn!("source {}: refused a request from origin {origin}", ctx.name);
                    Response::text(403, format!("origin {origin} is not allowed\n")).with_header("Vary", "Origin")
                }
                (_, None) => handle(ctx, workers, policy, request).await,
            }
        })
    }))
}

/// The answer to a CORS preflight from an allowed origin.
fn preflight(request: &Request) -> Response {
    let headers = request.header("access-control-request-headers").unwrap_or("Content-Type").to_string();
    Response::text(204, "")
        .with_header("Access-Control-Allow-Methods", "POST, OPTIONS")
        .with_header("Access-Control-Allow-Headers", headers)
        .with_header("Access-Control-Max-Age", "86400")
}

async fn handle(ctx: &SourceContext, workers: &Workers, policy: &Policy, request: Request) -> Response {
    let (limits, bearer) = (&policy.decode, policy.bearer.as_deref());
    if request.method == "GET" && request.path == "/health" {
        return Response::text(200, "ok\n");
    }
    if request.method != "POST" {
        return Response::text(405, "only POST is accepted\n").with_header("Allow", "POST");
    }
    if let Some(token) = bearer {
        let given = request.header("authorization").and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(token) {
            return Response::text(401, "missing or wrong bearer token\n").with_header("WWW-Authenticate", "Bearer");
        }
    }
    // Decoding is CPU work: it runs on a blocking thread with the put, not on the I/O thread.
    let output = ctx.output.clone();
    let limits = limits.clone();
    let Some(outcome) = workers
        .run(move || {
            let content_type = request.header("content-type");
            let events = decode_request(content_type, request.header("content-encoding"), &request.body, &limits)
                .map_err(|e| (e, request.peer))?;
            let n = events.len();
            if n == 0 {
                return Ok(Ok(0));
            }
            Ok(output.deliver(events).map(|()| n))
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
        Err(refused) if refused.is_full() => {
            Response::text(503, format!("channel full, retry later: {}\n", refused.error))
                .with_header("Retry-After", "1")
        }
        Err(refused) => {
            log::error!("source {}: put failed: {}", ctx.name, refused.error);
            Response::text(500, format!("storage error: {}\n", refused.error))
        }
    }
}
