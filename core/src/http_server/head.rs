//! The request head: parsed by `httparse`, then read for framing and connection handling.
//!
//! Everything here is synchronous and works on bytes already received, so the rules
//! for `Content-Length`, `Transfer-Encoding`, `Expect` and `Connection` are in one
//! place and apart from the I/O.

use super::{Request, Response};
use std::net::SocketAddr;
use std::time::Instant;

/// Header lines accepted in one request; `httparse` needs a fixed array, and 64 is
/// several times what browsers and HTTP libraries send.
const MAX_HEADERS: usize = 64;

/// A request the server refuses: the status to answer with and a one-line reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Reject {
    pub status: u16,
    pub reason: String,
    /// Whether the client is told when to come back (`Retry-After: 1`).
    retry_after: bool,
    /// A whole response to send instead (a service's refusal from the head).
    response: Option<Response>,
}

impl Reject {
    pub fn new(status: u16, reason: impl Into<String>) -> Self {
        Reject { status, reason: reason.into(), retry_after: false, response: None }
    }

    /// A refusal answered with `response` as the service made it.
    pub fn answer(response: Response) -> Self {
        Reject { status: response.status, reason: String::new(), retry_after: false, response: Some(response) }
    }

    /// The refusal of a body the in-flight budget of `budget` bytes has no room for.
    pub fn busy(budget: usize) -> Self {
        Reject::new(503, format!("server busy: request bodies in flight exceed {budget} bytes, retry later"))
            .with_retry_after()
    }

    /// The same, telling the client to retry in a second.
    pub fn with_retry_after(mut self) -> Self {
        self.retry_after = true;
        self
    }

    /// The response that says it.
    pub fn into_response(self) -> Response {
        if let Some(response) = self.response {
            return response;
        }
        let response = Response::text(self.status, format!("{}\n", self.reason));
        if self.retry_after {
            response.with_header("Retry-After", "1")
        } else {
            response
        }
    }
}

/// How the body of a request is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    /// No body.
    Empty,
    /// Exactly this many bytes follow the head.
    Length(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// The request line and header fields of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Head {
    pub method: String,
    target: String,
    /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    version: u8,
    headers: Vec<(String, String)>,
    /// Bytes the head took in the input, blank line included.
    pub len: usize,
}

/// Parses a head at the start of `input`; `Ok(None)` while it is incomplete.
///
/// # Errors
/// 400 for malformed input, 431 for more than [`MAX_HEADERS`] header lines.
pub(super) fn parse(input: &[u8]) -> Result<Option<Head>, Reject> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut slots);
    match request.parse(input) {
        Ok(httparse::Status::Partial) => Ok(None),
        Ok(httparse::Status::Complete(len)) => Ok(Some(Head::from_parsed(&request, len))),
        Err(httparse::Error::TooManyHeaders) => Err(Reject::new(431, format!("more than {MAX_HEADERS} header fields"))),
        Err(e) => Err(Reject::new(400, format!("malformed request: {e}"))),
    }
}

impl Head {
    fn from_parsed(request: &httparse::Request<'_, '_>, len: usize) -> Head {
        let headers = request
            .headers
            .iter()
            .map(|h| (h.name.to_ascii_lowercase(), String::from_utf8_lossy(h.value).into_owned()))
            .collect();
        Head {
            // A complete parse always has these; the defaults are never used.
            method: request.method.unwrap_or_default().to_owned(),
            target: request.path.unwrap_or_default().to_owned(),
            version: request.version.unwrap_or(1),
            headers,
            len,
        }
    }

    /// All values of the header field `name` (given lower-case).
    fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.trim())
    }

    /// How the body is delimited, refusing what is ambiguous or over `max_body`.
    ///
    /// # Errors
    /// 400 for a bad or conflicting `Content-Length`, or both it and `Transfer-Encoding`
    /// (a request-smuggling pattern); 501 for a coding other than `chunked`; 413 for a
    /// declared length over `max_body`.
    pub fn framing(&self, max_body: usize) -> Result<Framing, Reject> {
        let mut codings = self.values("transfer-encoding");
        let mut lengths = self.values("content-length");
        if let Some(coding) = codings.next() {
            if codings.next().is_some() || !coding.eq_ignore_ascii_case("chunked") {
                return Err(Reject::new(501, "unsupported transfer-encoding: only chunked is accepted"));
            }
            if lengths.next().is_some() {
                return Err(Reject::new(400, "both content-length and transfer-encoding are set"));
            }
            return Ok(Framing::Chunked);
        }
        let Some(first) = lengths.next() else {
            return Ok(Framing::Empty);
        };
        if lengths.any(|other| other != first) {
            return Err(Reject::new(400, "conflicting content-length fields"));
        }
        let length = parse_length(first).ok_or_else(|| Reject::new(400, "invalid content-length"))?;
        match usize::try_from(length) {
            Ok(0) => Ok(Framing::Empty),
            Ok(n) if n <= max_body => Ok(Framing::Length(n)),
            _ => Err(too_large(max_body)),
        }
    }

    /// Whether the client waits for `100 Continue` before sending the body.
    ///
    /// # Errors
    /// 417 for any expectation other than `100-continue`.
    pub fn expects_continue(&self) -> Result<bool, Reject> {
        match self.values("expect").next() {
            None => Ok(false),
            // HTTP/1.0 clients do not know 100 Continue (RFC 9110 §10.1.1).
            Some(v) if v.eq_ignore_ascii_case("100-continue") => Ok(self.version >= 1),
            Some(_) => Err(Reject::new(417, "unsupported expect: only 100-continue is accepted")),
        }
    }

    /// Whether the connection may carry another request: HTTP/1.1 without
    /// `Connection: close`. HTTP/1.0 always closes.
    pub fn keep_alive(&self) -> bool {
        self.version >= 1 && !self.values("connection").any(has_close_token)
    }

    /// The request, with `body` and the target split at `?`; its first byte came at `received_at`.
    pub fn into_request(self, body: Vec<u8>, peer: SocketAddr, received_at: Instant) -> Request {
        let (path, query) = match self.target.split_once('?') {
            Some((path, query)) => (path.to_owned(), query.to_owned()),
            None => (self.target, String::new()),
        };
        let cancelled = Default::default();
        Request { method: self.method, path, query, headers: self.headers, body, peer, received_at, cancelled }
    }
}

/// The 413 answer for a body over `max_body` bytes.
pub(super) fn too_large(max_body: usize) -> Reject {
    Reject::new(413, format!("body exceeds {max_body} bytes"))
}

/// Whether a `Connection` value lists `close`.
pub(super) fn has_close_token(value: &str) -> bool {
    value.split(',').any(|token| token.trim().eq_ignore_ascii_case("close"))
}

/// A `Content-Length` value: digits only, no sign, no list.
fn parse_length(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Result<Head, Reject> {
        parse(text.as_bytes())?.ok_or_else(|| Reject::new(0, "incomplete"))
    }

    #[test]
    fn framing_rules() -> Result<(), Reject> {
        let cases: &[(&str, Result<Framing, u16>)] = &[
            ("", Ok(Framing::Empty)),
            ("Content-Length: 0\r\n", Ok(Framing::Empty)),
            ("Content-Length: 10\r\n", Ok(Framing::Length(10))),
            ("Content-Length: 10\r\ncontent-length: 10\r\n", Ok(Framing::Length(10))),
            ("Content-Length: 10\r\nContent-Length: 11\r\n", Err(400)),
            ("Content-Length: +10\r\n", Err(400)),
            ("Content-Length: 1,1\r\n", Err(400)),
            ("Content-Length: 99999999999999999999999\r\n", Err(400)),
            ("Content-Length: 101\r\n", Err(413)),
            ("Transfer-Encoding: Chunked\r\n", Ok(Framing::Chunked)),
            ("Transfer-Encoding: gzip, chunked\r\n", Err(501)),
            ("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", Err(501)),
            ("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", Err(400)),
        ];
        for (fields, want) in cases {
            let got = head(&format!("POST / HTTP/1.1\r\n{fields}\r\n"))?.framing(100).map_err(|r| r.status);
            assert_eq!(&got, want, "{fields:?}");
        }
        Ok(())
    }

    #[test]
    fn connection_and_expect() -> Result<(), Reject> {
        assert!(head("GET / HTTP/1.1\r\n\r\n")?.keep_alive());
        assert!(!head("GET / HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n")?.keep_alive());
        assert!(!head("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")?.keep_alive());
        assert_eq!(head("POST / HTTP/1.1\r\nExpect: 100-Continue\r\n\r\n")?.expects_continue(), Ok(true));
        assert_eq!(head("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n")?.expects_continue(), Ok(false));
        assert_eq!(head("POST / HTTP/1.1\r\nExpect: x\r\n\r\n")?.expects_continue().map_err(|r| r.status), Err(417));
        Ok(())
    }

    #[test]
    fn request_parts() -> Result<(), Reject> {
        let peer = SocketAddr::from(([127, 0, 0, 1], 9));
        let parsed = head("POST /v1/e?a=1&b HTTP/1.1\r\nX-Key: A b\r\n\r\n")?;
        assert_eq!(parsed.len, 41);
        let request = parsed.into_request(b"x".to_vec(), peer, Instant::now());
        assert_eq!(
            (request.method.as_str(), request.path.as_str(), request.query.as_str()),
            ("POST", "/v1/e", "a=1&b")
        );
        assert_eq!(request.header("x-KEY"), Some("A b"));
        Ok(())
    }

    #[test]
    fn refusals() {
        assert_eq!(parse(b"POST / HTTP/1.1\r\nHost: x\r\n"), Ok(None));
        assert_eq!(parse(b"\x16\x03\x01garbage\r\n\r\n").map_err(|r| r.status), Err(400));
        assert_eq!(parse(b"GET / HTTP/2.0\r\n\r\n").map_err(|r| r.status), Err(400));
        let many = format!("GET / HTTP/1.1\r\n{}\r\n", "a: b\r\n".repeat(MAX_HEADERS + 1));
        assert_eq!(parse(many.as_bytes()).map_err(|r| r.status), Err(431));
    }
}
