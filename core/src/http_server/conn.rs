//! One connection: wait for a request, read its head, admit it, read its body,
//! run the handler, write the response, repeat.
//!
//! Each phase has its own bound: an idle connection waits `idle_timeout` for a
//! request (`header_timeout` when it is new), a head must arrive within
//! `header_timeout` of its first byte, the whole request within `read_timeout`.
//! Waiting for a request allocates nothing: the connection only peeks until a
//! byte is there. The service may refuse a request from its head, before a body
//! byte is read. Body bytes are taken from the server's in-flight budget as they
//! arrive, and the share is held until the handler answered. A client that
//! hangs up while its request is handled marks it cancelled.

use super::budget::{Budget, Lease};
use super::conns::{Phase, Place};
use super::head::{Framing, Reject};
use super::wire::{asks_close, expire, linger, Abort, Io, Socket};
use super::{closed, Request, Response, Service};
use smol::channel::Receiver;
use smol::future::FutureExt as _;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// What every connection of one server shares.
pub(super) struct Shared {
    pub limits: super::Limits,
    pub service: Service,
    pub stop: Receiver<()>,
    pub budget: Arc<Budget>,
}

/// An accepted connection and what it needs to serve requests.
pub(super) struct Conn {
    io: Io,
    peer: SocketAddr,
    /// Whether a byte of the current request arrived (a timeout before that is an idle close).
    started: bool,
    /// Requests answered on this connection.
    served: u64,
    service: Service,
    stop: Receiver<()>,
    budget: Arc<Budget>,
    place: Place,
}

impl Conn {
    pub fn new(stream: Socket, peer: SocketAddr, shared: Shared, place: Place) -> Conn {
        // Responses go out in one write each; do not hold them for an ACK.
        if let Err(e) = stream.get_ref().set_nodelay(true) {
            log::debug!("http server: {peer}: set_nodelay: {e}");
        }
        let Shared { limits, service, stop, budget } = shared;
        let io = Io { stream, buf: Vec::new(), limits };
        Conn { io, peer, started: false, served: 0, service, stop, budget, place }
    }

    /// Serves requests until the connection ends; its place is given back then.
    pub async fn run(mut self) {
        loop {
            if let Err(abort) = self.wait_for_request().await {
                return self.abort(abort).await;
            }
            let received_at = Instant::now();
            let (request, keep_alive, lease) = match self.read_request(received_at).await {
                Ok(read) => read,
                Err(abort) => return self.abort(abort).await,
            };
            let head_only = request.method == "HEAD";
            let response = self.handle(request).await;
            // The body's share of the budget is back once the handler is done with it.
            drop(lease);
            let Some(response) = response else { return };
            self.served += 1;
            let keep_alive = keep_alive && !self.stop.is_closed() && !asks_close(&response);
            if self.io.respond(&response, keep_alive, head_only).await.is_err() {
                return;
            }
            if !keep_alive {
                return linger(&self.io.stream).await;
            }
        }
    }

    /// Idle until the first byte of a request (unless one is buffered already):
    /// at most `idle_timeout` between requests, `header_timeout` on a new connection.
    async fn wait_for_request(&mut self) -> Result<(), Abort> {
        self.place.set(Phase::Idle);
        self.started = !self.io.buf.is_empty();
        if self.started {
            return Ok(());
        }
        let limits = &self.io.limits;
        let wait = if self.served == 0 { limits.header_timeout } else { limits.idle_timeout };
        let (io, place, stop) = (&self.io, &self.place, self.stop.clone());
        async { io.first_byte().await }
            .or(async {
                place.evicted().await;
                Err(Abort::Closed)
            })
            .or(async {
                closed(stop).await;
                Err(Abort::Closed)
            })
            .or(expire(Instant::now() + wait))
            .await?;
        self.started = true;
        Ok(())
    }

    /// Reads one request whose first byte arrived at `received_at`, admitting it
    /// from its head before reading its body. Returns it, whether the connection
    /// may stay open after it, and the body's share of the in-flight budget.
    async fn read_request(&mut self, received_at: Instant) -> Result<(Request, bool, Lease), Abort> {
        self.place.set(Phase::Head);
        let limits = self.io.limits.clone();
        let (io, place) = (&mut self.io, &self.place);
        let head = async { io.read_head().await }
            .or(async {
                place.evicted().await;
                Err(Abort::Closed)
            })
            .or(expire(received_at + limits.header_timeout))
            .await?;
        let framing = head.framing(limits.max_body)?;
        let expects_continue = head.expects_continue()?;
        let keep_alive = head.keep_alive();
        let mut request = head.into_request(Vec::new(), self.peer, received_at);
        if let Some(refusal) = self.service.admit.as_ref().and_then(|admit| admit(&request)) {
            return Err(Abort::Reject(Reject::answer(refusal)));
        }
        self.place.set(Phase::Busy);
        if expects_continue && framing != Framing::Empty && self.io.buf.is_empty() {
            self.io.send_continue().await?;
        }
        let declared = match framing {
            Framing::Empty => 0,
            Framing::Length(len) => len,
            Framing::Chunked => limits.max_body,
        };
        let lease = self.budget.lease(declared).map_err(|e| Reject::busy(e.limit))?;
        let io = &mut self.io;
        let body = async {
            match framing {
                Framing::Empty => Ok(Vec::new()),
                Framing::Length(len) => io.read_body(len, &lease).await,
                Framing::Chunked => io.read_chunked(&lease).await,
            }
        }
        .or(async {
            lease.preempted().await;
            Err(Reject::new(503, "server busy: this body gave way to a smaller request, retry later")
                .with_retry_after()
                .into())
        })
        .or(expire(received_at + limits.read_timeout))
        .await?;
        lease.settle();
        request.body = body;
        Ok((request, keep_alive, lease))
    }

    /// Runs the handler; `None` when the client hung up first (the request is then
    /// marked cancelled for whatever still works on it).
    async fn handle(&mut self, request: Request) -> Option<Response> {
        self.place.set(Phase::Busy);
        let cancelled = request.cancelled.clone();
        let handling = (self.service.handle)(request);
        let io = &self.io;
        let outcome = async { Some(handling.await) }
            .or(async {
                io.peer_gone().await;
                None
            })
            .await;
        if outcome.is_none() {
            cancelled.store(true, Ordering::SeqCst);
            log::debug!("http server: {}: the client hung up before its answer", self.peer);
        }
        outcome
    }

    /// Answers a refused or late request, if there is anyone to answer, and closes.
    async fn abort(mut self, abort: Abort) {
        let reject = match abort {
            Abort::Reject(reject) => reject,
            Abort::Timeout if self.started => Reject::new(
                408,
                format!(
                    "request not complete in time (head {} ms, whole request {} ms)",
                    self.io.limits.header_timeout.as_millis(),
                    self.io.limits.read_timeout.as_millis()
                ),
            ),
            Abort::Timeout | Abort::Closed => return,
        };
        log::debug!("http server: {}: {} {}", self.peer, reject.status, reject.reason);
        let response = reject.into_response();
        if self.io.respond(&response, false, false).await.is_ok() {
            linger(&self.io.stream).await;
        }
    }
}
