//! The bytes of one connection: reading heads and bodies off the socket into
//! a buffer, writing responses, lingering before a close, refusing over the limit.

use super::budget::Lease;
use super::chunked::{ChunkError, Decoder};
use super::head::{self, Head, Reject};
use super::{Limits, Response};
use smol::future::FutureExt as _;
use smol::io::AsyncWriteExt as _;
use smol::{Async, Timer};
use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::Read as _;
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes asked of the socket per read: a whole head in one go, or a slice of a body.
const READ_CHUNK: usize = 64 << 10;

thread_local! {
    /// Where reads land before they are appended to a connection's buffer: one
    /// per I/O thread, not one per connection, so a thousand silent
    /// connections hold no read buffers at all.
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_CHUNK]);
}

/// A connection's socket.
pub(super) type Socket = Arc<Async<TcpStream>>;

/// Reads what `socket` has (up to `max` bytes) and appends it to `out`; waits
/// until it is readable. `Ok(0)` at the end of the stream.
async fn read_into(socket: &Socket, out: &mut Vec<u8>, max: usize) -> std::io::Result<usize> {
    socket
        .read_with(|s| {
            SCRATCH.with(|scratch| {
                let mut scratch = scratch.borrow_mut();
                let max = max.min(scratch.len());
                let n = (&*s).read(&mut scratch[..max])?;
                out.extend_from_slice(&scratch[..n]);
                Ok(n)
            })
        })
        .await
}
/// How long a closing connection reads and drops what the client still sends: enough
/// for a reply to reach a client on a slow link before a reset could discard it.
const LINGER_TIME: Duration = Duration::from_secs(1);
/// Bytes a closing connection reads and drops at most, so lingering stays cheap:
/// a client still sending a refused body gets a reset after this much.
const LINGER_BYTES: usize = 64 << 10;
/// Time to write a 503 to a connection over the limit; it is one small packet.
const REFUSE_TIMEOUT: Duration = Duration::from_secs(1);

const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Why a connection stops reading requests.
pub(super) enum Abort {
    /// Answer with this, then close.
    Reject(Reject),
    /// The request did not arrive in time.
    Timeout,
    /// The client left, the socket failed, the server stops or closed this
    /// connection for another client: close without a word.
    Closed,
}

impl From<Reject> for Abort {
    fn from(reject: Reject) -> Self {
        Abort::Reject(reject)
    }
}

/// A connection's socket and the bytes received and not used yet (the start of
/// the next request or requests, which is how pipelining works).
pub(super) struct Io {
    pub stream: Socket,
    pub buf: Vec<u8>,
    pub limits: Limits,
}

impl Io {
    /// Waits until the client sends something, without taking it or any memory.
    pub async fn first_byte(&self) -> Result<(), Abort> {
        match self.stream.read_with(|s| s.peek(&mut [0u8; 1])).await {
            Ok(n) if n > 0 => Ok(()),
            _ => Err(Abort::Closed),
        }
    }

    /// Resolves when the client closed its side or the socket broke; never while
    /// bytes of a next request wait (a pipelining client is not gone).
    pub async fn peer_gone(&self) {
        match self.stream.read_with(|s| s.peek(&mut [0u8; 1])).await {
            Ok(0) | Err(_) => {}
            Ok(_) => smol::future::pending::<()>().await,
        }
    }

    /// Reads until a whole head is buffered, then takes it off the buffer.
    pub async fn read_head(&mut self) -> Result<Head, Abort> {
        let max = self.limits.max_header_bytes;
        let mut searched = 0;
        loop {
            // A head can only have become complete if a new line ended.
            if self.buf[searched..].contains(&b'\n') {
                if let Some(head) = head::parse(&self.buf)? {
                    if head.len > max {
                        break;
                    }
                    self.buf.drain(..head.len);
                    return Ok(head);
                }
            }
            if self.buf.len() > max {
                break;
            }
            searched = self.buf.len();
            self.fill().await?;
        }
        Err(Reject::new(431, format!("header section exceeds {max} bytes")).into())
    }

    /// Tells a client waiting for it to send its body.
    pub async fn send_continue(&mut self) -> Result<(), Abort> {
        (&*self.stream).write_all(CONTINUE).await.map_err(|_| Abort::Closed)
    }

    /// Reads a body of exactly `len` bytes (at most `max_body`, checked by the
    /// caller), taking budget for each slice before it is allocated.
    pub async fn read_body(&mut self, len: usize, lease: &Lease) -> Result<Vec<u8>, Abort> {
        let budget = self.limits.max_inflight_bytes;
        let buffered = len.min(self.buf.len());
        lease.grow(buffered).map_err(|_| Reject::busy(budget))?;
        let mut body: Vec<u8> = Vec::new();
        // One allocation for the announced length: address space only, the pages
        // count once bytes arrive (and the budget counts them then). Growing by
        // doubling instead left freed mid-size buffers in the allocator's heap.
        // Where the address space is short (32-bit), it grows as it goes.
        let _ = body.try_reserve_exact(len);
        body.extend(self.buf.drain(..buffered));
        while body.len() < len {
            // Counted as bytes arrive: a declared length alone takes no budget.
            let left = len - body.len();
            let n = read_into(&self.stream, &mut body, left).await.map_err(|_| Abort::Closed)?;
            if n == 0 {
                return Err(Abort::Closed);
            }
            lease.grow(n).map_err(|_| Reject::busy(budget))?;
        }
        Ok(body)
    }

    /// Reads and de-chunks a chunked body, taking budget as it grows.
    pub async fn read_chunked(&mut self, lease: &Lease) -> Result<Vec<u8>, Abort> {
        let (max_body, budget) = (self.limits.max_body, self.limits.max_inflight_bytes);
        let mut decoder = Decoder::new(max_body, self.limits.max_header_bytes);
        let mut body = Vec::new();
        loop {
            let before = body.len();
            let used = decoder.decode(&self.buf, &mut body).map_err(|e| match e {
                ChunkError::TooLarge => head::too_large(max_body),
                ChunkError::Malformed(reason) => Reject::new(400, reason),
            })?;
            lease.grow(body.len() - before).map_err(|_| Reject::busy(budget))?;
            self.buf.drain(..used);
            if decoder.is_done() {
                return Ok(body);
            }
            self.fill().await?;
        }
    }

    /// Appends what the socket has, up to [`READ_CHUNK`] bytes, to the buffer.
    async fn fill(&mut self) -> Result<(), Abort> {
        match read_into(&self.stream, &mut self.buf, READ_CHUNK).await {
            Ok(0) | Err(_) => Err(Abort::Closed),
            Ok(_) => Ok(()),
        }
    }

    /// Writes `response` within `read_timeout`.
    pub async fn respond(&mut self, response: &Response, keep_alive: bool, head_only: bool) -> Result<(), Abort> {
        let bytes = encode(response, keep_alive, head_only);
        let deadline = Instant::now() + self.limits.read_timeout;
        async { (&*self.stream).write_all(&bytes).await.map_err(|_| Abort::Closed) }.or(expire(deadline)).await
    }
}

/// Resolves with [`Abort::Timeout`] at `deadline`.
pub(super) async fn expire<T>(deadline: Instant) -> Result<T, Abort> {
    Timer::at(deadline).await;
    Err(Abort::Timeout)
}

/// Answers a connection over `max_connections` with 503 and closes it.
pub(super) async fn refuse(stream: Socket) {
    let response = Response::text(503, "too many connections, all busy\n").with_header("Retry-After", "1");
    let bytes = encode(&response, false, false);
    let written = async { (&*stream).write_all(&bytes).await.is_ok() }
        .or(async {
            Timer::after(REFUSE_TIMEOUT).await;
            false
        })
        .await;
    if written {
        linger(&stream).await;
    }
}

/// Closes our side, then reads and drops what the client still sends for a moment:
/// closing a socket with unread bytes sends a reset, which can destroy the reply
/// before the client read it.
pub(super) async fn linger(stream: &Socket) {
    // If shutdown fails the socket is already gone; dropping it is all that is left.
    if stream.get_ref().shutdown(Shutdown::Write).is_err() {
        return;
    }
    let drain = async {
        let mut left = LINGER_BYTES;
        let mut dropped = Vec::new();
        while left > 0 {
            dropped.clear();
            match read_into(stream, &mut dropped, left).await {
                Ok(0) | Err(_) => return,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    };
    drain
        .or(async {
            Timer::after(LINGER_TIME).await;
        })
        .await;
}

/// Whether the handler asked to close the connection after its response.
pub(super) fn asks_close(response: &Response) -> bool {
    response.headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("connection") && head::has_close_token(v))
}

/// The bytes of `response`: status line, the handler's fields, `Content-Length`,
/// `Connection: close` unless `keep_alive`, and the body unless `head_only`.
fn encode(response: &Response, keep_alive: bool, head_only: bool) -> Vec<u8> {
    let status = response.status;
    // 1xx, 204 and 304 carry neither a body nor Content-Length (RFC 9110 §8.6).
    let bodyless = status < 200 || status == 204 || status == 304;
    let mut head = String::with_capacity(128);
    // Writing to a String cannot fail.
    let _ = write!(head, "HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in response.headers.iter().filter(|(k, v)| is_sendable(k, v)) {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    if !bodyless {
        let _ = write!(head, "Content-Length: {}\r\n", response.body.len());
    }
    if !keep_alive {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    if !bodyless && !head_only {
        bytes.extend_from_slice(&response.body);
    }
    bytes
}

/// Whether a handler's header field can be sent: not one the server sets itself, and
/// nothing in it that could end the field or the head early.
fn is_sendable(name: &str, value: &str) -> bool {
    let framing = ["content-length", "transfer-encoding", "connection"];
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_graphic() && b != b':')
        && value.bytes().all(|b| b == b'\t' || !b.is_ascii_control())
        && !framing.iter().any(|f| name.eq_ignore_ascii_case(f))
}

/// The reason phrase for the statuses this server and the http source send.
fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        499 => "Client Closed Request",
        417 => "Expectation Failed",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        // The phrase is optional (RFC 9112 §4); clients go by the code.
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_framing_and_drops_unsafe_fields() {
        let response = Response::text(200, "hi")
            .with_header("X-Ok", "a\tb")
            .with_header("X-Bad", "a\r\nSet-Cookie: x")
            .with_header("Bad Name", "v")
            .with_header("content-length", "99");
        let text = String::from_utf8_lossy(&encode(&response, false, false)).into_owned();
        assert_eq!(
            text,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nX-Ok: a\tb\r\n\
             Content-Length: 2\r\nConnection: close\r\n\r\nhi"
        );
        let head_only = encode(&Response::text(200, "hi"), true, true);
        assert!(head_only.ends_with(b"Content-Length: 2\r\n\r\n"));
        let no_content = encode(&Response { status: 204, headers: vec![], body: b"x".to_vec() }, true, false);
        assert_eq!(no_content, b"HTTP/1.1 204 No Content\r\n\r\n");
    }
}
