//! A fast loopback receiver for benchmarks: accepts flume_json POSTs (gzip or
//! not), counts events, answers 200. `GET /count` returns the count so far.
//!
//! `receiver ADDR`

use serde::de::IgnoredAny;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).ok_or("usage: receiver ADDR")?;
    let listener = TcpListener::bind(&addr)?;
    let count = Arc::new(AtomicU64::new(0));
    for stream in listener.incoming().flatten() {
        let count = count.clone();
        std::thread::spawn(move || serve(stream, &count));
    }
    Ok(())
}

fn serve(mut stream: TcpStream, count: &AtomicU64) {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        let head = match req.parse(&buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    continue;
                }
            },
            Err(_) => return,
        };
        let header =
            |name: &str| req.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value.to_vec());
        let length: usize = header("content-length").and_then(|v| String::from_utf8(v).ok()?.parse().ok()).unwrap_or(0);
        let gzip = header("content-encoding").is_some_and(|v| v == b"gzip");
        let is_count = req.method == Some("GET");
        while buf.len() < head + length {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body: Vec<u8> = buf.drain(..head + length).skip(head).collect();
        let reply = if is_count {
            count.load(Ordering::SeqCst).to_string()
        } else {
            let plain = if gzip {
                let mut out = Vec::new();
                if flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut out).is_err() {
                    return;
                }
                out
            } else {
                body
            };
            match serde_json::from_slice::<Vec<IgnoredAny>>(&plain) {
                Ok(events) => count.fetch_add(events.len() as u64, Ordering::SeqCst),
                Err(_) => return,
            };
            String::from("ok")
        };
        let response = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{reply}", reply.len());
        if stream.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}
