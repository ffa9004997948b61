//! A real HTTP/1.1 receiver on loopback that records what sinks send and answers
//! as a test script says: any status, `Retry-After`, or a dropped connection.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One received request, decoded.
#[derive(Debug, Clone)]
pub struct Received {
    /// Request headers, names lower-cased.
    pub headers: BTreeMap<String, String>,
    /// The body after gunzip.
    pub body: Vec<u8>,
    /// When it arrived.
    pub at: Instant,
}

impl Received {
    /// flume_json events: (headers, body) per event.
    pub fn flume_events(&self) -> Vec<serde_json::Value> {
        serde_json::from_slice::<Vec<serde_json::Value>>(&self.body).unwrap_or_default()
    }
}

/// How to answer a request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A status with extra headers and a body.
    Status(u16, Vec<(String, String)>, String),
    /// Close the connection without answering.
    Drop,
}

type Script = Box<dyn Fn(&Received, usize) -> Reply + Send + Sync>;

/// The receiver; stops accepting when dropped.
pub struct Receiver {
    /// `127.0.0.1:PORT`
    pub addr: String,
    /// Everything received, in order (including requests answered with errors).
    pub log: Arc<Mutex<Vec<Received>>>,
    /// Requests answered 2xx.
    pub accepted: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    /// A receiver that answers 200 to everything.
    pub fn ok() -> Receiver {
        Receiver::scripted(|_, _| Reply::Status(200, vec![], "ok".into()))
    }

    /// A receiver answering with `script(request, index)`.
    pub fn scripted(script: impl Fn(&Received, usize) -> Reply + Send + Sync + 'static) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
        let log = Arc::new(Mutex::new(Vec::new()));
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Script> = Arc::new(Box::new(script));
        let (l, a) = (log.clone(), accepted.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (l, a, script) = (l.clone(), a.clone(), script.clone());
                std::thread::spawn(move || serve(stream, &l, &a, &script));
            }
        });
        Receiver { addr, log, accepted }
    }

    /// `http://ADDR/`
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// All flume_json events accepted so far.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.accepted.lock().map(|a| a.iter().flat_map(Received::flume_events).collect()).unwrap_or_default()
    }

    /// Number of requests received.
    pub fn requests(&self) -> usize {
        self.log.lock().map(|l| l.len()).unwrap_or(0)
    }
}

fn serve(mut stream: TcpStream, log: &Mutex<Vec<Received>>, accepted: &Mutex<Vec<Received>>, script: &Script) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let mut buf = Vec::new();
    loop {
        let Some((headers, body, rest)) = read_request(&mut stream, std::mem::take(&mut buf)) else { return };
        buf = rest;
        let body = if headers.get("content-encoding").is_some_and(|v| v == "gzip") {
            let mut out = Vec::new();
            if flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut out).is_err() {
                return;
            }
            out
        } else {
            body
        };
        let received = Received { headers, body, at: Instant::now() };
        let index = {
            let Ok(mut l) = log.lock() else { return };
            l.push(received.clone());
            l.len() - 1
        };
        match script(&received, index) {
            Reply::Drop => return,
            Reply::Status(status, extra, text) => {
                if (200..300).contains(&status) {
                    if let Ok(mut a) = accepted.lock() {
                        a.push(received);
                    }
                }
                let mut head = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n", text.len());
                for (k, v) in extra {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("\r\n");
                if stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(text.as_bytes())).is_err() {
                    return;
                }
            }
        }
    }
}

type Request = (BTreeMap<String, String>, Vec<u8>, Vec<u8>);

fn read_request(stream: &mut TcpStream, mut buf: Vec<u8>) -> Option<Request> {
    let mut chunk = [0u8; 65536];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        if let Ok(httparse::Status::Complete(len)) = req.parse(&buf) {
            let map: BTreeMap<String, String> = req
                .headers
                .iter()
                .map(|h| (h.name.to_ascii_lowercase(), String::from_utf8_lossy(h.value).into_owned()))
                .collect();
            let n: usize = map.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
            while buf.len() < len + n {
                let read = stream.read(&mut chunk).ok()?;
                if read == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..read]);
            }
            let rest = buf.split_off(len + n);
            let body = buf.split_off(len);
            return Some((map, body, rest));
        }
        let read = stream.read(&mut chunk).ok()?;
        if read == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..read]);
    }
}
