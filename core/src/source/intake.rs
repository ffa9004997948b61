//! What the HTTP intakes share (the `http` and `otlp_http` sources): the
//! server and its limits, the bearer token and CORS check, decoding off the
//! I/O thread, the put into the channel, and one decision of the status each
//! outcome gets. Each intake only decodes its bodies and writes its replies.

use super::dedup::{Dedup, DedupConfig};
use super::SourceContext;
use crate::channel::Wait;
use crate::config::ComponentConfig;
use crate::decode::DecodeLimits;
use crate::error::{Error, ErrorKind, Result};
use crate::http_server::{serve, Admit, Handler, Limits, Request, Response, Service};
use crate::otlp::Decoded;
use crate::units::ByteSize;
use crate::workers::Workers;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

/// What an intake decodes and how it answers.
pub(super) trait Intake: Send + Sync + 'static {
    /// A refusal decided by the request's head (its path, its content type), before the body is read.
    fn route(&self, request: &Request) -> Option<Response>;
    /// The request's events, and the records refused one by one.
    fn decode(&self, request: &Request, limits: &DecodeLimits) -> Result<Decoded>;
    /// The reply to `request` for `answer`.
    fn reply(&self, request: &RequestHead, answer: Answer) -> Response;
}

/// What a reply needs of its request once the body is gone.
pub(super) struct RequestHead {
    /// The request's `Content-Type`.
    pub content_type: Option<String>,
}

/// The outcome of a request, before an intake writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Answer {
    /// Stored: `events` of them; `rejected` records refused one by one, the first for `reason`.
    Accepted { events: usize, rejected: u64, reason: String },
    /// Nothing stored.
    Refused { status: u16, retry_after: Option<&'static str>, message: String },
}

/// Why nothing of a request was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// The body is malformed or over a limit.
    Malformed,
    /// The channel is full.
    Full,
    /// The disk under the channel is full.
    DiskFull,
    /// The store failed.
    Storage,
    /// The client left, or the agent is stopping.
    Gone,
}

impl Refusal {
    /// The status of this refusal, and the `Retry-After` it carries: one home for both intakes.
    pub fn status(self) -> (u16, Option<&'static str>) {
        match self {
            Refusal::Malformed => (400, None),
            Refusal::Full => (503, Some("1")),
            Refusal::DiskFull => (503, Some("5")),
            Refusal::Storage => (500, None),
            Refusal::Gone => (503, None),
        }
    }

    fn answer(self, message: String) -> Answer {
        let (status, retry_after) = self.status();
        Answer::Refused { status, retry_after, message }
    }
}

/// The server keys both intakes take: where to listen and what a client may cost.
pub(super) struct ServerSettings {
    pub listen: String,
    pub limits: Limits,
    pub decode: DecodeLimits,
    pub bearer: Option<String>,
    pub cors: Option<Vec<String>>,
    pub dedup: Option<DedupConfig>,
}

impl ServerSettings {
    /// Checks the keys' values against each other.
    pub fn check(&self, c: &ComponentConfig) -> Result<SocketAddr> {
        let addr = super::tcp::parse_listen(c, &self.listen)?;
        super::tcp::check_connections(c, self.limits.max_connections)?;
        let limits = &self.limits;
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
        if let Some(bad) =
            self.cors.iter().flatten().find(|o| *o != "*" && !(o.starts_with("http://") || o.starts_with("https://")))
        {
            return Err(
                c.error("cors_origins", format!("{bad:?} is not an origin like \"https://shop.example\" or \"*\""))
            );
        }
        Ok(addr)
    }
}

/// An HTTP intake source: bound in `prepare`, served in `run`.
pub(super) struct IntakeSource {
    pub kind: &'static str,
    pub addr: SocketAddr,
    pub listener: Option<TcpListener>,
    pub settings: ServerSettings,
    pub intake: Arc<dyn Intake>,
}

impl IntakeSource {
    /// Binds the listening socket.
    pub fn prepare(&mut self) -> Result<()> {
        let listener = super::tcp::bind(self.kind, self.addr)?;
        listener.set_nonblocking(true)?;
        self.listener = Some(listener);
        Ok(())
    }

    /// Serves requests until the source is stopped.
    pub fn run(mut self, ctx: SourceContext) -> Result<()> {
        if self.listener.is_none() {
            self.prepare()?;
        }
        let listener = self.listener.take().ok_or_else(|| Error::new(ErrorKind::Io, "http source: not bound"))?;
        let listener = smol::net::TcpListener::try_from(listener)?;
        log::info!("source {}: listening on http://{}", ctx.name, self.addr);
        let stop_rx = ctx.stop.closed_signal()?;
        let s = self.settings;
        let dedup = s.dedup.as_ref().map(|d| Dedup::new(&ctx.name, d));
        if dedup.is_some() && ctx.output.state().is_none() {
            return Err(Error::new(ErrorKind::Config, format!("source {}: dedup needs the agent's store", ctx.name)));
        }
        let policy = Policy { decode: s.decode, bearer: s.bearer, cors: s.cors, dedup, intake: self.intake };
        let service = service(ctx.clone(), policy)?;
        smol::block_on(serve(ctx.executor.clone(), listener, s.limits, service, stop_rx));
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
    intake: Arc<dyn Intake>,
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
            } else if request.method == "GET" {
                Response::text(200, "ok\n")
            } else {
                let head = RequestHead { content_type: request.header("content-type").map(str::to_string) };
                let answer = handle(ctx, workers, policy, request).await;
                policy.intake.reply(&head, answer)
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
/// the origin (403), the method (405), the bearer token (401), then the intake's route.
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
    if let Some(token) = policy.bearer.as_deref() {
        let given = request.header("authorization").and_then(|v| v.strip_prefix("Bearer ")).unwrap_or_default();
        if !same_secret(given.as_bytes(), token.as_bytes()) {
            return Some(
                Response::text(401, "missing or wrong bearer token\n").with_header("WWW-Authenticate", "Bearer"),
            );
        }
    }
    policy.intake.route(request)
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

async fn handle(ctx: &SourceContext, workers: &Workers, policy: &Arc<Policy>, request: Request) -> Answer {
    // It waits for room at most block_timeout from its arrival, and not once its client left.
    let wait = Wait { since: request.received_at, cancelled: Some(request.cancelled.clone()) };
    // Decoding is CPU work: it runs on a blocking thread with the put, not on the I/O thread.
    let output = ctx.output.clone();
    let policy = policy.clone();
    let name = ctx.name.clone();
    let answer = workers
        .run(move || {
            if wait.is_cancelled() {
                return Refusal::Gone.answer("the client hung up\n".into());
            }
            let decoded = match policy.intake.decode(&request, &policy.decode) {
                Ok(decoded) => decoded,
                Err(e) => {
                    output.metrics().rejected.add(1);
                    log::warn!("source {name}: bad request from {}: {e}", request.peer);
                    return Refusal::Malformed.answer(format!("bad request: {e}\n"));
                }
            };
            if decoded.rejected > 0 {
                output.metrics().rejected.add(decoded.rejected);
                let reason = decoded.reason.as_deref().unwrap_or_default();
                log::warn!("source {name}: refused {} records from {}: {reason}", decoded.rejected, request.peer);
            }
            let (n, rejected, reason) = (decoded.events.len(), decoded.rejected, decoded.reason.unwrap_or_default());
            if n > 0 {
                if let Err(refused) = store(&output, policy.dedup.as_ref(), decoded.events, &wait) {
                    return match refused.error.kind() {
                        ErrorKind::DiskFull => {
                            Refusal::DiskFull.answer(format!("disk full, retry later: {}\n", refused.error))
                        }
                        _ if refused.is_full() => {
                            Refusal::Full.answer(format!("channel full, retry later: {}\n", refused.error))
                        }
                        _ => {
                            log::error!("source {name}: put failed: {}", refused.error);
                            Refusal::Storage.answer(format!("storage error: {}\n", refused.error))
                        }
                    };
                }
            }
            Answer::Accepted { events: n, rejected, reason }
        })
        .await;
    answer.unwrap_or_else(|| Refusal::Gone.answer("shutting down\n".into()))
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

    #[test]
    fn each_refusal_has_one_status() {
        let table = [
            (Refusal::Malformed, (400, None)),
            (Refusal::Full, (503, Some("1"))),
            (Refusal::DiskFull, (503, Some("5"))),
            (Refusal::Storage, (500, None)),
            (Refusal::Gone, (503, None)),
        ];
        for (refusal, want) in table {
            assert_eq!(refusal.status(), want, "{refusal:?}");
        }
    }
}
