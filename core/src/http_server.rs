//! A small, hardened HTTP/1.1 server on smol, for the `http` source.
//!
//! [`serve`] accepts connections until its stop channel closes and runs one task per
//! connection on the agent's executor. Each task reads requests with [`httparse`], hands
//! them one at a time to a [`Handler`] and writes the [`Response`]s back in order, so
//! keep-alive and pipelining work without buffering more than one request.
//!
//! Everything a client controls is bounded by [`Limits`]: header bytes, body bytes, the
//! time to send one request (slowloris) and the number of open connections. What the
//! server refuses gets a status, a one-line reason and `Connection: close`:
//!
//! | Input | Reply |
//! |---|---|
//! | malformed request line, headers, `Content-Length` or chunked framing | 400 |
//! | request not complete within `read_timeout` | 408 |
//! | an `Expect` other than `100-continue` | 417 |
//! | body over `max_body` (the rest is not read) | 413 |
//! | header section over `max_header_bytes`, or too many header lines | 431 |
//! | a transfer coding other than `chunked` | 501 |
//! | more than `max_connections` open | 503 |
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

mod chunked;
mod conn;
mod head;
#[cfg(test)]
mod tests;

use smol::channel::Receiver;
use smol::future::FutureExt as _;
use smol::net::TcpListener;
use smol::{Executor, Timer};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Default [`Limits::max_body`]: 16 MiB holds ~80k events of 200 bytes, far more than a
/// client batch.
const DEFAULT_MAX_BODY: usize = 16 << 20;
/// Default [`Limits::max_header_bytes`]: browsers send 1–2 KiB; 16 KiB leaves room for long
/// cookies and tokens.
const DEFAULT_MAX_HEADER_BYTES: usize = 16 << 10;
/// Default [`Limits::read_timeout`]: a 16 MiB body needs ~0.6 MiB/s to arrive in time.
const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default [`Limits::max_connections`]: what a gateway sees from many devices, and within
/// the file descriptors a service is usually given (4096 or more under systemd).
const DEFAULT_MAX_CONNECTIONS: usize = 1024;
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
    /// Time for one whole request to arrive, head and body, counted from when the server
    /// starts waiting for it (so it also closes idle keep-alive connections). Also bounds
    /// writing one response. Default 30 s.
    pub read_timeout: Duration,
    /// Open connections at most; more get 503. Default 1024.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: DEFAULT_MAX_BODY,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            read_timeout: DEFAULT_READ_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// Answers one request. It is async so it can `smol::unblock` blocking channel puts;
/// requests of one connection are handled one after another.
pub type Handler = Arc<dyn Fn(Request) -> Pin<Box<dyn Future<Output = Response> + Send>> + Send + Sync>;

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
    handler: Handler,
    stop: Receiver<()>,
) {
    let open = Arc::new(AtomicUsize::new(0));
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
            Some(Ok((stream, peer))) => match Slot::take(&open, limits.max_connections) {
                Some(slot) => {
                    let conn = conn::Conn::new(stream, peer, limits.clone(), handler.clone(), stop.clone());
                    ex.spawn(conn.run(slot)).detach();
                }
                None => ex.spawn(conn::refuse(stream)).detach(),
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

/// One of the `max_connections` places, given back on drop.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    /// A place if fewer than `max` are taken.
    fn take(open: &Arc<AtomicUsize>, max: usize) -> Option<Slot> {
        let before = open.fetch_add(1, Ordering::Relaxed);
        // Built before the check so that a refused slot is given back by its drop.
        let slot = Slot(open.clone());
        (before < max).then_some(slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
