//! A small, hardened HTTP/1.1 server on smol, for the `http` source.
//!
//! [`serve`] accepts connections until its stop channel closes and runs one task per
//! connection on the agent's executor. Each task reads requests with [`httparse`], hands
//! them one at a time to a [`Handler`] and writes the [`Response`]s back in order, so
//! keep-alive and pipelining work without buffering more than one request.
//!
//! Everything a client controls is bounded by [`Limits`]: header bytes, body bytes, the
//! time to send a head (slowloris) and a whole request, the time a connection may sit
//! idle, the number of open connections, and the bytes of bodies held at once across
//! all of them. A [`Service`] may refuse a request from its head alone (a missing
//! token), before a byte of its body is read. What the server refuses gets a status, a
//! one-line reason and `Connection: close`:
//!
//! | Input | Reply |
//! |---|---|
//! | malformed request line, headers, `Content-Length` or chunked framing | 400 |
//! | head not complete within `header_timeout`, request within `read_timeout` | 408 |
//! | an `Expect` other than `100-continue` | 417 |
//! | body over `max_body` (the rest is not read) | 413 |
//! | header section over `max_header_bytes`, or too many header lines | 431 |
//! | a transfer coding other than `chunked` | 501 |
//! | bodies in flight over `max_inflight_bytes`, and none larger to give way | 503 |
//! | `max_connections` open, none idle or slow to close for this one | 503 |
//!
//! At `max_connections` a new client is served by closing the longest idle
//! connection (or the oldest slow head); a body being received gives its share of
//! the in-flight budget to a smaller request when the budget runs out (see
//! `conns` and `budget`): floods cost the flooder, not the clients.
//!
//! # Examples
//!
//! ```no_run
//! use sluice::http_server::{handler, serve, Limits, Response};
//! use std::sync::Arc;
//!
//! let ex = Arc::new(smol::Executor::new());
//! // Closing (or dropping) `stop_tx` stops the server.
//! let (stop_tx, stop) = smol::channel::bounded::<()>(1);
//! let echo = handler(|req| async move {
//!     Response::text(200, format!("{} bytes\n", req.body.len()))
//! });
//! smol::block_on(ex.run(async {
//!     let listener = smol::net::TcpListener::bind("127.0.0.1:5140").await?;
//!     serve(ex.clone(), listener, Limits::default(), echo, stop).await;
//!     std::io::Result::Ok(())
//! }))?;
//! # drop(stop_tx);
//! # Ok::<(), std::io::Error>(())
//! ```

mod budget;
mod chunked;
mod conn;
mod conns;
mod head;
#[cfg(test)]
mod tests;
mod wire;

use smol::channel::Receiver;
use smol::future::FutureExt as _;
use smol::net::TcpListener;
use smol::{Executor, Timer};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Default [`Limits::max_body`]: 16 MiB holds ~80k events of 200 bytes, far more than a
/// client batch.
pub const DEFAULT_MAX_BODY: usize = 16 << 20;
/// Default [`Limits::max_header_bytes`]: browsers send 1–2 KiB; 16 KiB leaves room for long
/// cookies and tokens.
const DEFAULT_MAX_HEADER_BYTES: usize = 16 << 10;
/// Default [`Limits::read_timeout`]: a 16 MiB body needs ~0.6 MiB/s to arrive in time.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default [`Limits::header_timeout`]: a head is one packet; 10 s covers a bad
/// mobile link and cuts a slowloris off in a third of the request time.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`Limits::idle_timeout`]: long enough for a client batching every
/// few seconds to keep its connection, short enough not to hoard sockets.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default [`Limits::max_inflight_bytes`]: two bodies of the default
/// `max_body` at once; small requests are served even when large ones fill it.
pub const DEFAULT_MAX_INFLIGHT: usize = 2 * DEFAULT_MAX_BODY;
/// Default [`Limits::max_connections`]: what a gateway sees from many devices, and within
/// the file descriptors a service is usually given (4096 or more under systemd).
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Pause after a failed `accept` (out of descriptors, usually) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// One request, with its body read in full.
#[derive(Debug, Clone)]
pub struct Request {
    /// The method as sent, e.g. `POST`.
    pub method: String,
    /// The request target up to `?`, e.g. `/v1/events`.
    pub path: String,
    /// The request target after `?`, without it; empty when there is none.
    pub query: String,
    /// The header fields in the order sent, names lower-cased. Values that are not
    /// UTF-8 have their bad bytes replaced with U+FFFD.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked when it was sent chunked.
    pub body: Vec<u8>,
    /// The client's address.
    pub peer: SocketAddr,
    /// When the request's first byte arrived: waits count from here, not from
    /// when a worker picked it up.
    pub received_at: Instant,
    /// Set by the server when the client hung up while the request was being
    /// handled: whatever still waits on its behalf may give up.
    pub cancelled: Arc<AtomicBool>,
}

impl Request {
    /// The value of the first header field called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A response to write back. The server adds `Content-Length` and, when it closes the
/// connection, `Connection: close`; a handler's own values for those (and for
/// `Transfer-Encoding`) are ignored. A handler that sets `Connection: close` gets the
/// connection closed after its response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code, e.g. 200.
    pub status: u16,
    /// Header fields to send. Fields whose name or value could break the framing
    /// (control characters, `:` in a name) are dropped.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with a `Content-Type` header.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Response { status, headers: vec![("Content-Type".into(), content_type.into())], body: body.into() }
    }

    /// A `text/plain; charset=utf-8` response.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Response::new(status, "text/plain; charset=utf-8", body.into())
    }

    /// The same response with one more header field.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// What one client may cost the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body in bytes (after de-chunking); larger gets 413. Default 16 MiB.
    pub max_body: usize,
    /// Largest request line plus header section in bytes; larger gets 431. The trailer
    /// section of a chunked body has the same limit (larger gets 400). Default 16 KiB.
    pub max_header_bytes: usize,
    /// Time for a request's head to arrive, from its first byte (on a new connection,
    /// from the accept: a client that connects and says nothing is closed). Default 10 s.
    pub header_timeout: Duration,
    /// Time for one whole request to arrive, head and body, from its first byte. Also
    /// bounds writing one response. Default 30 s.
    pub read_timeout: Duration,
    /// Time a kept-alive connection may wait for its next request. Default 30 s.
    pub idle_timeout: Duration,
    /// Open connections at most; at the limit an idle one is closed for a new client,
    /// and when none is idle the new one gets 503. Default 1024.
    pub max_connections: usize,
    /// Bytes of request bodies held at once, across all connections. Default 32 MiB.
    pub max_inflight_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: DEFAULT_MAX_BODY,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            read_timeout: DEFAULT_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_inflight_bytes: DEFAULT_MAX_INFLIGHT,
        }
    }
}

/// Answers one request. It is async so it can `smol::unblock` blocking channel puts;
/// requests of one connection are handled one after another.
pub type Handler = Arc<dyn Fn(Request) -> Pin<Box<dyn Future<Output = Response> + Send>> + Send + Sync>;

/// Checks a request from its head, before any byte of its body is read: `Some`
/// refuses it with that response (the body is not read; the connection closes).
/// The request it sees has an empty body.
pub type Admit = Arc<dyn Fn(&Request) -> Option<Response> + Send + Sync>;

/// What a server does with requests: an optional check of each head, and the handler.
#[derive(Clone)]
pub struct Service {
    /// Refuses requests from their heads (a missing token, a wrong method).
    pub admit: Option<Admit>,
    /// Answers requests that were admitted and read whole.
    pub handle: Handler,
}

impl From<Handler> for Service {
    fn from(handle: Handler) -> Service {
        Service { admit: None, handle }
    }
}

/// Makes a [`Handler`] from an async closure-like function.
///
/// # Examples
///
/// ```
/// use sluice::http_server::{handler, Response};
/// let ok = handler(|_req| async { Response::text(200, "ok\n") });
/// # let _ = ok;
/// ```
pub fn handler<F, Fut>(f: F) -> Handler
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    Arc::new(move |request| Box::pin(f(request)))
}

/// Serves HTTP on `listener` until `stop` is closed, spawning connections on `ex`.
///
/// Values sent on `stop` are ignored; closing it (or dropping every sender) stops the
/// accept loop and returns. Connections already open finish the request they are
/// reading or handling, then close; idle ones close at once.
pub async fn serve(
    ex: Arc<Executor<'static>>,
    listener: TcpListener,
    limits: Limits,
    service: impl Into<Service>,
    stop: Receiver<()>,
) {
    let service = service.into();
    let conns = conns::Conns::new(limits.max_connections);
    let budget = budget::Budget::new(limits.max_inflight_bytes);
    let mut stopped = pin!(closed(stop.clone()));
    loop {
        // Stop first: under a flood of connections `accept` is always ready.
        let next = async {
            stopped.as_mut().await;
            None
        }
        .or(async { Some(listener.accept().await) })
        .await;
        match next {
            None => return,
            Some(Ok((stream, peer))) => match (conns.admit(), Arc::<smol::Async<std::net::TcpStream>>::from(stream)) {
                (Some(place), stream) => {
                    let shared = conn::Shared {
                        limits: limits.clone(),
                        service: service.clone(),
                        stop: stop.clone(),
                        budget: budget.clone(),
                    };
                    ex.spawn(conn::Conn::new(stream, peer, shared, place).run()).detach();
                }
                (None, stream) => ex.spawn(wire::refuse(stream)).detach(),
            },
            Some(Err(e)) => {
                log::warn!("http server: accept failed: {e}");
                Timer::after(ACCEPT_BACKOFF).await;
            }
        }
    }
}

/// Resolves once `stop` is closed, draining (and ignoring) values sent on it.
async fn closed(stop: Receiver<()>) {
    while stop.recv().await.is_ok() {}
}
