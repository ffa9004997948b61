//! Sessions against a real server on 127.0.0.1: keep-alive, chunked bodies,
//! pipelining, the refusals and stopping.

use super::*;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::thread::{self, JoinHandle};
use std::time::Instant;

/// A server with an echo handler on its own thread; stopped and joined on drop.
struct Server {
    addr: SocketAddr,
    stop: smol::channel::Sender<()>,
    /// Keeps the executor running after `serve` returned, so connections can finish.
    quit: smol::channel::Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(limits: Limits) -> io::Result<Server> {
        Server::start_with(limits, Service::from(echo()))
    }

    fn start_with(limits: Limits, service: Service) -> io::Result<Server> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let listener = TcpListener::try_from(listener)?;
        let (stop, stopped) = smol::channel::bounded(1);
        let (quit, quitting) = smol::channel::bounded::<()>(1);
        let thread = thread::spawn(move || {
            let ex = Arc::new(Executor::new());
            smol::block_on(ex.run(async {
                serve(ex.clone(), listener, limits, service, stopped).await;
                let _ = quitting.recv().await;
            }));
        });
        Ok(Server { addr, stop, quit, thread: Some(thread) })
    }

    fn connect(&self) -> io::Result<Client> {
        let stream = TcpStream::connect(self.addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        Ok(Client { stream, pending: Vec::new() })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.close();
        self.quit.close();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Answers with the request's body, its method and its target.
fn echo() -> Handler {
    handler(|req: Request| async move {
        let target = if req.query.is_empty() { req.path } else { format!("{}?{}", req.path, req.query) };
        Response::new(200, "application/octet-stream", req.body)
            .with_header("X-Method", req.method)
            .with_header("X-Target", target)
    })
}

struct Client {
    stream: TcpStream,
    /// Received bytes not yet taken as a reply.
    pending: Vec<u8>,
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

impl Client {
    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// The next reply, read by its `Content-Length`.
    fn reply(&mut self) -> io::Result<Reply> {
        loop {
            if let Some((len, status, headers)) = parse_reply_head(&self.pending)? {
                let reply = Reply { status, headers, body: Vec::new() };
                let body_len = reply.header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
                while self.pending.len() < len + body_len {
                    self.read_more()?;
                }
                let body = self.pending.drain(..len + body_len).skip(len).collect();
                return Ok(Reply { body, ..reply });
            }
            self.read_more()?;
        }
    }

    fn read_more(&mut self) -> io::Result<()> {
        let mut chunk = [0; 4096];
        match self.stream.read(&mut chunk)? {
            0 => Err(io::ErrorKind::UnexpectedEof.into()),
            n => {
                self.pending.extend_from_slice(&chunk[..n]);
                Ok(())
            }
        }
    }

    /// Whether the server closed the connection, once every reply was taken.
    fn is_closed(&mut self) -> io::Result<bool> {
        assert!(self.pending.is_empty(), "unread: {:?}", String::from_utf8_lossy(&self.pending));
        match self.stream.read(&mut [0; 1]) {
            Ok(n) => Ok(n == 0),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Ok(true),
            Err(e) => Err(e),
        }
    }
}

type ReplyHead = (usize, u16, Vec<(String, String)>);

fn parse_reply_head(bytes: &[u8]) -> io::Result<Option<ReplyHead>> {
    let mut slots = [httparse::EMPTY_HEADER; 16];
    let mut head = httparse::Response::new(&mut slots);
    match head.parse(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))? {
        httparse::Status::Partial => Ok(None),
        httparse::Status::Complete(len) => {
            let headers = head
                .headers
                .iter()
                .map(|h| (h.name.to_owned(), String::from_utf8_lossy(h.value).into_owned()))
                .collect();
            Ok(Some((len, head.code.unwrap_or(0), headers)))
        }
    }
}

fn post(target: &str, body: &str) -> Vec<u8> {
    format!("POST {target} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
}

#[test]
fn keep_alive_serves_two_posts_on_one_connection() -> io::Result<()> {
    let server = Server::start(Limits::default())?;
    let mut client = server.connect()?;
    for body in ["first", "second!"] {
        client.send(&post("/v1/events?x=1", body))?;
        let reply = client.reply()?;
        assert_eq!((reply.status, reply.body.as_slice()), (200, body.as_bytes()));
        assert_eq!(reply.header("x-target"), Some("/v1/events?x=1"));
        assert_eq!(reply.header("connection"), None);
    }
    Ok(())
}

#[test]
fn chunked_body_is_decoded() -> io::Result<()> {
    let server = Server::start(Limits::default())?;
    let mut client = server.connect()?;
    client.send(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n wo")?;
    thread::sleep(Duration::from_millis(20));
    client.send(b"rld\r\n0\r\nX-Trailer: t\r\n\r\n")?;
    assert_eq!(client.reply()?.body, b"hello world");
    client.send(&post("/", "after"))?;
    assert_eq!(client.reply()?.body, b"after");
    Ok(())
}

#[test]
fn oversized_body_gets_413_without_being_read() -> io::Result<()> {
    let server = Server::start(Limits { max_body: 1024, ..Limits::default() })?;
    let mut client = server.connect()?;
    client.send(b"POST / HTTP/1.1\r\nContent-Length: 1073741824\r\n\r\n")?;
    client.send(&[b'x'; 64 << 10])?;
    let reply = client.reply()?;
    assert_eq!((reply.status, reply.body.as_slice()), (413, &b"body exceeds 1024 bytes\n"[..]));
    assert_eq!(reply.header("connection"), Some("close"));
    assert!(client.is_closed()?);

    let mut client = server.connect()?;
    client.send(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n")?;
    client.send(&[b'x'; 1024])?;
    client.send(b"\r\n1\r\n")?;
    assert_eq!(client.reply()?.status, 413);
    assert!(client.is_closed()?);
    Ok(())
}

#[test]
fn garbage_gets_400_and_close() -> io::Result<()> {
    let server = Server::start(Limits::default())?;
    let mut client = server.connect()?;
    client.send(b"\x16\x03\x01\x02\x00 hello\r\n\r\n")?;
    let reply = client.reply()?;
    assert_eq!(reply.status, 400);
    assert!(reply.body.starts_with(b"malformed request"), "{:?}", String::from_utf8_lossy(&reply.body));
    assert!(client.is_closed()?);
    Ok(())
}

#[test]
fn slow_head_gets_408_and_idle_connection_closes() -> io::Result<()> {
    let limits = Limits { header_timeout: Duration::from_millis(200), ..Limits::default() };
    let server = Server::start(limits)?;
    let mut client = server.connect()?;
    let started = Instant::now();
    client.send(b"POST / HTTP/1.1\r\nHost: t\r\n")?;
    for _ in 0..3 {
        // Slowloris: a byte now and then, never the blank line.
        thread::sleep(Duration::from_millis(100));
        client.send(b"X")?;
    }
    assert_eq!(client.reply()?.status, 408);
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert!(client.is_closed()?);

    let mut idle = server.connect()?;
    assert!(idle.is_closed()?, "closed without a reply");
    Ok(())
}

#[test]
fn pipelined_requests_are_answered_in_order() -> io::Result<()> {
    let server = Server::start(Limits::default())?;
    let mut client = server.connect()?;
    let mut batch = post("/a", "a");
    batch.extend_from_slice(b"GET /b HTTP/1.1\r\n\r\n");
    batch.extend_from_slice(b"PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    batch.extend_from_slice(b"1\r\nc\r\n0\r\n\r\n");
    client.send(&batch)?;
    for (method, target, body) in [("POST", "/a", "a"), ("GET", "/b", ""), ("PUT", "/c", "c")] {
        let reply = client.reply()?;
        assert_eq!(reply.header("x-method"), Some(method));
        assert_eq!(reply.header("x-target"), Some(target));
        assert_eq!(reply.body, body.as_bytes());
    }
    assert!(client.is_closed()?);
    Ok(())
}

#[test]
fn expect_continue_is_answered_before_the_body() -> io::Result<()> {
    let server = Server::start(Limits::default())?;
    let mut client = server.connect()?;
    client.send(b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")?;
    assert_eq!(client.reply()?.status, 100);
    client.send(b"ok")?;
    assert_eq!(client.reply()?.body, b"ok");
    Ok(())
}

#[test]
fn oversized_head_gets_431() -> io::Result<()> {
    let server = Server::start(Limits { max_header_bytes: 1024, ..Limits::default() })?;
    let mut client = server.connect()?;
    client.send(format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(2048)).as_bytes())?;
    assert_eq!(client.reply()?.status, 431);
    assert!(client.is_closed()?);
    Ok(())
}

#[test]
fn at_the_connection_limit_an_idle_one_makes_way_and_busy_ones_do_not() -> io::Result<()> {
    let server = Server::start(Limits { max_connections: 1, ..Limits::default() })?;
    let mut first = server.connect()?;
    first.send(&post("/", "x"))?;
    assert_eq!(first.reply()?.status, 200);
    // The first is kept alive and idle: a new client is served in its place.
    let mut second = server.connect()?;
    second.send(&post("/", "y"))?;
    assert_eq!(second.reply()?.status, 200);
    assert!(first.is_closed()?, "the idle connection was closed for the new one");
    // A connection in the middle of a body is at work: the next one is refused.
    second.send(b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nhalf")?;
    thread::sleep(Duration::from_millis(50));
    let mut third = server.connect()?;
    let reply = third.reply()?;
    assert_eq!((reply.status, reply.header("retry-after")), (503, Some("1")));
    assert!(third.is_closed()?);
    second.send(b"-done")?;
    assert_eq!(second.reply()?.body, b"half-done");
    Ok(())
}

#[test]
fn a_kept_alive_connection_closes_after_idle_timeout() -> io::Result<()> {
    let server = Server::start(Limits { idle_timeout: Duration::from_millis(150), ..Limits::default() })?;
    let mut client = server.connect()?;
    client.send(&post("/", "x"))?;
    assert_eq!(client.reply()?.status, 200);
    let started = Instant::now();
    assert!(client.is_closed()?);
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    Ok(())
}

#[test]
fn a_refusal_from_the_head_is_sent_before_the_body() -> io::Result<()> {
    let admit: Admit = Arc::new(|req: &Request| {
        (req.header("authorization") != Some("Bearer t")).then(|| Response::text(401, "no token\n"))
    });
    let server = Server::start_with(Limits::default(), Service { admit: Some(admit), handle: echo() })?;
    let mut client = server.connect()?;
    // A 16 MiB body is announced; none of it is sent, yet the answer comes.
    client.send(b"POST / HTTP/1.1\r\nContent-Length: 16777216\r\n\r\n")?;
    let reply = client.reply()?;
    assert_eq!((reply.status, reply.body.as_slice()), (401, &b"no token\n"[..]));
    assert_eq!(reply.header("connection"), Some("close"));
    let mut client = server.connect()?;
    client.send(b"POST / HTTP/1.1\r\nAuthorization: Bearer t\r\nContent-Length: 2\r\n\r\nok")?;
    assert_eq!(client.reply()?.body, b"ok");
    Ok(())
}

#[test]
fn a_stalled_large_body_gives_way_to_a_small_request() -> io::Result<()> {
    let server = Server::start(Limits { max_body: 1 << 20, max_inflight_bytes: 2 << 20, ..Limits::default() })?;
    // Two stalled large bodies fill what large bodies may use; a third is refused at once.
    let mut large = Vec::new();
    for _ in 0..2 {
        let mut client = server.connect()?;
        client.send(b"POST / HTTP/1.1\r\nContent-Length: 1048576\r\n\r\n")?;
        client.send(&vec![b'x'; (7 << 17) - 100])?;
        large.push(client);
    }
    thread::sleep(Duration::from_millis(200));
    let mut third = server.connect()?;
    third.send(b"POST / HTTP/1.1\r\nContent-Length: 1048576\r\n\r\n")?;
    let _ = third.send(&vec![b'x'; 64 << 10]);
    let reply = third.reply()?;
    assert_eq!((reply.status, reply.header("retry-after")), (503, Some("1")), "no room for a third");
    // Small requests have their own share, then take a large body's.
    for _ in 0..3 {
        let mut small = server.connect()?;
        small.send(&post("/", &"s".repeat(100 << 10)))?;
        assert_eq!(small.reply()?.status, 200, "the small request is served");
    }
    let mut small = vec![];
    for _ in 0..4 {
        let mut client = server.connect()?;
        client.send(b"POST / HTTP/1.1\r\nContent-Length: 131072\r\n\r\n")?;
        client.send(&vec![b's'; (128 << 10) - 1])?;
        small.push(client);
    }
    thread::sleep(Duration::from_millis(200));
    for client in &large {
        client.stream.set_read_timeout(Some(Duration::from_millis(500)))?;
    }
    let preempted = large.iter_mut().filter_map(|c| c.reply().ok()).filter(|r| r.status == 503).count();
    assert!(preempted >= 1, "a stalled large body gave way to the small ones");
    Ok(())
}

#[test]
fn http_1_0_closes_after_the_response() -> io::Result<()> {
    let server = Server::start(Limits::default())?;
    let mut client = server.connect()?;
    client.send(b"GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")?;
    let reply = client.reply()?;
    assert_eq!((reply.status, reply.header("connection")), (200, Some("close")));
    assert!(client.is_closed()?);
    Ok(())
}

#[test]
fn stop_closes_the_listener_and_idle_connections() -> io::Result<()> {
    let server = Server::start(Limits::default())?;
    let mut client = server.connect()?;
    client.send(&post("/", "x"))?;
    assert_eq!(client.reply()?.status, 200);
    server.stop.close();
    assert!(client.is_closed()?);
    let deadline = Instant::now() + Duration::from_secs(2);
    while TcpStream::connect(server.addr).is_ok() {
        assert!(Instant::now() < deadline, "still accepting after stop");
        thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}
