//! The `http` source: Flume HTTPSource-compatible intake.
//!
//! `POST` a flume_json array (`application/json`, also `text/plain` from
//! `navigator.sendBeacon`) or NDJSON (`application/x-ndjson`), optionally gzip.
//! The reply is 200 only after the channel committed; 400 with a reason for
//! malformed input (nothing of that request is accepted); 413 over `max_body`;
//! 503 when the channel is full; 401 without the configured bearer token.

use super::dedup::{Dedup, DedupConfig};
use super::{Source, SourceContext};
use crate::channel::Wait;
use crate::config::ComponentConfig;
use crate::decode::{self, decode_request, DecodeLimits};
use crate::error::{Error, ErrorKind, Result};
use crate::http_server::{self as server, serve, Admit, Handler, Limits, Request, Response, Service};
use crate::registry::SourceSettings;
use crate::units::{ByteSize, Span};
use crate::workers::Workers;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

crate::settings! {
    /// `[sources.NAME]` keys of `type = "http"`.
    pub struct HttpSourceConfig {
        listen: String = "127.0.0.1:5140".into(), "Address to bind (loopback unless told otherwise).";
        max_body: ByteSize = ByteSize(server::DEFAULT_MAX_BODY as u64), "Largest request body accepted (413 above).";
        max_inflated: ByteSize = ByteSize(decode::DEFAULT_MAX_INFLATED as u64),
            "Largest body after gunzip, and most memory its decoded events may take.";
        max_events: usize = decode::DEFAULT_MAX_EVENTS, "Most events in one request.";
        bearer_token: Option<String> = None, "Require `Authorization: Bearer <token>`; checked before the body is read.";
        cors_origins: Option<Vec<String>> = None,
            "Browser origins allowed to send (CORS), like `\"https://shop.example\"`; `\"*\"` allows any; others get 403.";
        max_connections: usize = server::DEFAULT_MAX_CONNECTIONS,
            "Open connections at most; at the limit an idle one is closed for a new client.";
        header_timeout: Span = Span(server::DEFAULT_HEADER_TIMEOUT), "Time for a request's head to arrive.";
        read_timeout: Span = Span(server::DEFAULT_READ_TIMEOUT), "Time for a whole request to arrive.";
        idle_timeout: Span = Span(server::DEFAULT_IDLE_TIMEOUT), "Time a kept-alive connection may wait for its next request.";
        max_inflight: ByteSize = ByteSize(server::DEFAULT_MAX_INFLIGHT as u64),
            "Bytes of request bodies held at once across all connections (at least 8/7 of `max_body`).";
        dedup: Option<DedupConfig> = None,
            "`window` (\"10m\"), `max_ids` (1000000): events whose `id` header was stored within the window are not stored again (off by default).";
    }
}

/// The `http` source.
pub struct HttpSource {
    addr: SocketAddr,
    listener: Option<TcpListener>,
    limits: Limits,
    decode: DecodeLimits,
    bearer: Option<String>,
    cors: Option<Vec<String>>,
    dedup: Option<DedupConfig>,
}

impl HttpSourceConfig {
    fn limits(&self) -> Limits {
        Limits {
            max_body: self.max_body.0 as usize,
            header_timeout: self.header_timeout.0,
            read_timeout: self.read_timeout.0,
            idle_timeout: self.idle_timeout.0,
            max_connections: self.max_connections,
            max_inflight_bytes: self.max_inflight.0 as usize,
            ..Limits::default()
        }
    }
}

impl SourceSettings for HttpSourceConfig {
    fn check(&self, c: &ComponentConfig) -> Result<()> {
        super::tcp::parse_listen(c, &self.listen)?;
        super::tcp::check_connections(c, self.max_connections)?;
        let limits = self.limits();
        if limits.max_inflight_bytes / 8 * 7 < limits.max_body {
            let least = ByteSize((limits.max_body as u64).div_ceil(7) * 8);
            return Err(c.error(
                "max_inflight",
                format!("must be at least {least}, 8/7 of max_body (an eighth is kept for small requests)"),
            ));
        }
        if let Some(d) = &self.dedup {
            if d.max_ids == 0 || d.window.0.is_zero() {
                return Err(c.error("dedup", "window and max_ids must be above 0 (leave dedup out to turn it off)"));
            }
        }
        if let Some(bad) = self
            .cors_origins
            .iter()
            .flatten()
            .find(|o| *o != "*" && !(o.starts_with("http://") || o.starts_with("https://")))
        {
            return Err(
                c.error("cors_origins", format!("{bad:?} is not an origin like \"https://shop.example\" or \"*\""))
            );
        }
        Ok(())
    }

    fn build(&self, c: &ComponentConfig) -> Result<Box<dyn Source>> {
        let addr = super::tcp::parse_listen(c, &self.listen)?;
        let decode = DecodeLimits { max_inflated: self.max_inflated.0 as usize, max_events: self.max_events };
        let (bearer, cors) = (self.bearer_token.clone(), self.cors_origins.clone());
        let dedup = self.dedup.clone();
        Ok(Box::new(HttpSource { addr, listener: None, limits: self.limits(), decode, bearer, cors, dedup }))
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
        let dedup = self.dedup.as_ref().map(|d| Dedup::new(&ctx.name, d));
        if dedup.is_some() && ctx.output.state().is_none() {
            return Err(Error::new(ErrorKind::Config, format!("source {}: dedup needs the agent's store", ctx.name)));
        }
        let policy =
            Policy { decode: self.decode.clone(), bearer: self.bearer.clone(), cors: self.cors.clone(), dedup };
        let service = service(ctx.clone(), policy)?;
        smol::block_on(serve(ctx.executor.clone(), listener, self.limits.clone(), service, stop_rx));
        Ok(())
    }
}

/// Threads that decode and put requests: CPU and storage work stays off the I/O thread.
const WORKERS: usize = 2;

/// What a request must satisfy, and how its events are stored.
struct Policy {
    decode: DecodeLimits,
    bearer: Option<String>,
    cors: Option<Vec<String>>,
    dedup: Option<Dedup>,
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
                handle(ctx, workers, policy, request).await
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

/// Times a de-duplicating put is asked again after another request stored some of its ids meanwhile.
const DUPLICATE_RETRIES: usize = 3;

/// Puts a request's events; with `dedup`, only those not stored before, their
/// ids remembered in the same transaction.
fn store(
    output: &super::Output,
    dedup: Option<&Dedup>,
    mut events: Vec<crate::event::Event>,
    wait: &Wait,
) -> std::result::Result<(), crate::channel::PutError> {
    let (Some(dedup), Some(store)) = (dedup, output.state()) else {
        return output.deliver_waiting(events, &[], wait);
    };
    let mut tries = 0;
    loop {
        let fresh = match dedup.fresh(store, events) {
            Ok(fresh) => fresh,
            Err(e) => return Err(crate::channel::PutError::new(e, Vec::new())),
        };
        // Duplicates arrived too: received counts them, accepted does not.
        let held_back = |n: u64| {
            output.metrics().received.add(n);
            output.metrics().duplicates.add(n);
        };
        if fresh.events.is_empty() {
            held_back(fresh.duplicates);
            return Ok(());
        }
        match output.deliver_waiting(fresh.events, std::slice::from_ref(&fresh.mark), wait) {
            Ok(()) => {
                held_back(fresh.duplicates);
                return Ok(());
            }
            Err(refused) if refused.error.kind() == ErrorKind::Duplicate && tries < DUPLICATE_RETRIES => {
                tries += 1;
                events = refused.events;
            }
            Err(refused) => {
                if refused.error.kind() == ErrorKind::Duplicate {
                    // Output leaves a lost race uncounted for the next try; there is none.
                    let n = refused.events.len() as u64;
                    output.metrics().received.add(n);
                    output.metrics().rejected.add(n);
                }
                return Err(refused);
            }
        }
    }
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

async fn handle(ctx: &SourceContext, workers: &Workers, policy: &Arc<Policy>, request: Request) -> Response {
    if request.method == "GET" {
        return Response::text(200, "ok\n");
    }
    // It waits for room at most block_timeout from its arrival, and not once its client left.
    let wait = Wait { since: request.received_at, cancelled: Some(request.cancelled.clone()) };
    // Decoding is CPU work: it runs on a blocking thread with the put, not on the I/O thread.
    let output = ctx.output.clone();
    let policy = policy.clone();
    let Some(outcome) = workers
        .run(move || {
            if wait.is_cancelled() {
                return Ok(Err(None));
            }
            let content_type = request.header("content-type");
            let events =
                decode_request(content_type, request.header("content-encoding"), &request.body, &policy.decode)
                    .map_err(|e| (e, request.peer))?;
            let n = events.len();
            if n == 0 {
                return Ok(Ok(0));
            }
            Ok(store(&output, policy.dedup.as_ref(), events, &wait).map(|()| n).map_err(Some))
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
