//! One connection: read a request, run the handler, write the response, repeat.
//!
//! The head is read until `httparse` finds it complete, the body by its framing, all
//! under one deadline per request. Bytes after the current request stay in the buffer
//! for the next one, which is how pipelined requests are served in order. A refused
//! request is answered and the connection closed, lingering a moment so the reply is
//! not lost to a reset while the client is still sending.

use super::chunked::{ChunkError, Decoder};
use super::head::{self, Framing, Head, Reject};
use super::{closed, Handler, Limits, Request, Response, Slot};
use smol::channel::Receiver;
use smol::future::FutureExt as _;
use smol::io::{AsyncReadExt as _, AsyncWriteExt as _};
use smol::net::TcpStream;
use smol::Timer;
use std::fmt::Write as _;
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

/// Bytes asked of the socket per read: a whole head in one go, or a slice of a body.
const READ_CHUNK: usize = 16 << 10;
/// How long a closing connection reads and drops what the client still sends: enough
/// for a reply to reach a client on a slow link before a reset could discard it.
const LINGER_TIME: Duration = Duration::from_secs(1);
/// Bytes a closing connection reads and drops at most, so lingering stays cheap.
const LINGER_BYTES: usize = 1 << 20;
/// Time to write a 503 to a connection over the limit; it is one small packet.
const REFUSE_TIMEOUT: Duration = Duration::from_secs(1);

const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Why a connection stops reading requests.
enum Abort {
    /// Answer with this, then close.
    Reject(Reject),
    /// The request did not arrive in time.
    Timeout,
    /// The client left, the socket failed or the server stops: close without a word.
    Closed,
}

impl From<Reject> for Abort {
    fn from(reject: Reject) -> Self {
        Abort::Reject(reject)
    }
}

/// An accepted connection and what it needs to serve requests.
pub(super) struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    /// Bytes received and not used yet: the start of the next request(s).
    buf: Vec<u8>,
    /// Whether a byte of the current request arrived (a timeout before that is an idle close).
    started: bool,
    limits: Limits,
    handler: Handler,
    stop: Receiver<()>,
}

impl Conn {
    pub fn new(stream: TcpStream, peer: SocketAddr, limits: Limits, handler: Handler, stop: Receiver<()>) -> Conn {
        // Responses go out in one write each; do not hold them for an ACK.
        if let Err(e) = stream.set_nodelay(true) {
            log::debug!("http server: {peer}: set_nodelay: {e}");
        }
        Conn { stream, peer, buf: Vec::new(), started: false, limits, handler, stop }
    }

    /// Serves requests until the connection ends; `_slot` is given back then.
    pub async fn run(mut self, _slot: Slot) {
        loop {
            let deadline = Instant::now() + self.limits.read_timeout;
            self.started = !self.buf.is_empty();
            let (request, keep_alive) = match self.read_request().or(expire(deadline)).await {
                Ok(read) => read,
                Err(abort) => return self.abort(abort).await,
            };
            let head_only = request.method == "HEAD";
            let response = (self.handler)(request).await;
            let keep_alive = keep_alive && !self.stop.is_closed() && !asks_close(&response);
            if self.respond(&response, keep_alive, head_only).await.is_err() {
                return;
            }
            if !keep_alive {
                return linger(&mut self.stream).await;
            }
        }
    }

    /// Reads one request; also says whether the connection may stay open after it.
    async fn read_request(&mut self) -> Result<(Request, bool), Abort> {
        if self.buf.is_empty() {
            let stop = self.stop.clone();
            self.fill()
                .or(async move {
                    closed(stop).await;
                    Err(Abort::Closed)
                })
                .await?;
            self.started = true;
        }
        let head = self.read_head().await?;
        let framing = head.framing(self.limits.max_body)?;
        if head.expects_continue()? && framing != Framing::Empty && self.buf.is_empty() {
            self.stream.write_all(CONTINUE).await.map_err(|_| Abort::Closed)?;
        }
        let body = match framing {
            Framing::Empty => Vec::new(),
            Framing::Length(len) => self.read_body(len).await?,
            Framing::Chunked => self.read_chunked().await?,
        };
        let keep_alive = head.keep_alive();
        Ok((head.into_request(body, self.peer), keep_alive))
    }

    /// Reads until a whole head is buffered, then takes it off the buffer.
    async fn read_head(&mut self) -> Result<Head, Abort> {
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

    /// Reads a body of exactly `len` bytes (at most `max_body`, checked by the caller).
    async fn read_body(&mut self, len: usize) -> Result<Vec<u8>, Abort> {
        let buffered = len.min(self.buf.len());
        let mut body: Vec<u8> = self.buf.drain(..buffered).collect();
        while body.len() < len {
            let old = body.len();
            // Grown as bytes arrive: a declared length alone reserves no memory.
            body.resize(old + (len - old).min(4 * READ_CHUNK), 0);
            let n = self.stream.read(&mut body[old..]).await.map_err(|_| Abort::Closed)?;
            body.truncate(old + n);
            if n == 0 {
                return Err(Abort::Closed);
            }
        }
        Ok(body)
    }

    /// Reads and de-chunks a chunked body.
    async fn read_chunked(&mut self) -> Result<Vec<u8>, Abort> {
        let max_body = self.limits.max_body;
        let mut decoder = Decoder::new(max_body, self.limits.max_header_bytes);
        let mut body = Vec::new();
        loop {
            let used = decoder.decode(&self.buf, &mut body).map_err(|e| match e {
                ChunkError::TooLarge => head::too_large(max_body),
                ChunkError::Malformed(reason) => Reject::new(400, reason),
            })?;
            self.buf.drain(..used);
            if decoder.is_done() {
                return Ok(body);
            }
            self.fill().await?;
        }
    }

    /// Appends what the socket has, up to [`READ_CHUNK`] bytes, to the buffer.
    ///
    /// Not cancel-safe: a cancelled read leaves zeros in the buffer. Every caller that
    /// cancels (timeout, stop) closes the connection without reading the buffer again.
    async fn fill(&mut self) -> Result<(), Abort> {
        let old = self.buf.len();
        self.buf.resize(old + READ_CHUNK, 0);
        let read = self.stream.read(&mut self.buf[old..]).await;
        self.buf.truncate(old + *read.as_ref().unwrap_or(&0));
        match read {
            Ok(0) | Err(_) => Err(Abort::Closed),
            Ok(_) => Ok(()),
        }
    }

    /// Writes `response` within `read_timeout`.
    async fn respond(&mut self, response: &Response, keep_alive: bool, head_only: bool) -> Result<(), Abort> {
        let bytes = encode(response, keep_alive, head_only);
        let deadline = Instant::now() + self.limits.read_timeout;
        async { self.stream.write_all(&bytes).await.map_err(|_| Abort::Closed) }.or(expire(deadline)).await
    }

    /// Answers a refused or late request, if there is anyone to answer, and closes.
    async fn abort(mut self, abort: Abort) {
        let reject = match abort {
            Abort::Reject(reject) => reject,
            Abort::Timeout if self.started => {
                Reject::new(408, format!("request not complete within {} ms", self.limits.read_timeout.as_millis()))
            }
            Abort::Timeout | Abort::Closed => return,
        };
        log::debug!("http server: {}: {} {}", self.peer, reject.status, reject.reason);
        let response = Response::text(reject.status, format!("{}\n", reject.reason));
        if self.respond(&response, false, false).await.is_ok() {
            linger(&mut self.stream).await;
        }
    }
}

/// Answers a connection over `max_connections` with 503 and closes it.
pub(super) async fn refuse(mut stream: TcpStream) {
    let response = Response::text(503, "too many connections\n").with_header("Retry-After", "1");
    let bytes = encode(&response, false, false);
    let written = async { stream.write_all(&bytes).await.is_ok() }
        .or(async {
            Timer::after(REFUSE_TIMEOUT).await;
            false
        })
        .await;
    if written {
        linger(&mut stream).await;
    }
}

/// Closes our side, then reads and drops what the client still sends for a moment:
/// closing a socket with unread bytes sends a reset, which can destroy the reply
/// before the client read it.
async fn linger(stream: &mut TcpStream) {
    // If shutdown fails the socket is already gone; dropping it is all that is left.
    if stream.shutdown(Shutdown::Write).is_err() {
        return;
    }
    let mut scratch = vec![0; READ_CHUNK];
    let drain = async {
        let mut left = LINGER_BYTES;
        while left > 0 {
            match stream.read(&mut scratch).await {
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

/// Resolves with [`Abort::Timeout`] at `deadline`.
async fn expire<T>(deadline: Instant) -> Result<T, Abort> {
    Timer::at(deadline).await;
    Err(Abort::Timeout)
}

/// Whether the handler asked to close the connection after its response.
fn asks_close(response: &Response) -> bool {
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
