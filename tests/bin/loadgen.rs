//! Generates log-like events (about 200 bytes, varying fields, a few headers) and
//! POSTs them as flume_json batches to an http source; prints what was accepted.
//!
//! `loadgen ADDR TOTAL [BATCH] [CONNECTIONS]`; `LOADGEN_IDS=1` gives each event an `id` header;
//! `LOADGEN_FORMAT=otlp` sends the same events as OTLP/HTTP protobuf log records
//! (body, attributes `seq`, `app`, `env`) to `/v1/logs`. A request answered 503 is retried,
//! so at the end every event was accepted exactly once (barring a crash of the
//! agent mid-request, after which the request is retried too: an at-least-once
//! client, as real ones are).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let addr = args.get(1).ok_or("usage: loadgen ADDR TOTAL [BATCH] [CONNECTIONS]")?.clone();
    let total: usize = args.get(2).ok_or("TOTAL")?.parse()?;
    let batch: usize = args.get(3).map_or(Ok(500), |s| s.parse())?;
    let connections: usize = args.get(4).map_or(Ok(2), |s| s.parse())?;
    let started = Instant::now();
    let per = total.div_ceil(connections);
    let workers: Vec<_> = (0..connections)
        .map(|c| {
            let addr = addr.clone();
            let range = (c * per)..((c + 1) * per).min(total);
            std::thread::spawn(move || send_range(&addr, range, batch))
        })
        .collect();
    let (mut retries, mut bytes) = (0, 0);
    for w in workers {
        let (r, b) = w.join().map_err(|_| "worker panicked")??;
        retries += r;
        bytes += b;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{{\"events\":{total},\"seconds\":{secs:.3},\"events_per_second\":{:.0},\"retried_requests\":{retries},\"bytes\":{bytes}}}",
        total as f64 / secs
    );
    Ok(())
}

/// The body of event `n`: an access-log line of about 200 bytes.
pub fn line(n: usize) -> String {
    const PATHS: [&str; 6] =
        ["/api/v1/orders", "/static/app.js", "/login", "/api/v1/items/search", "/health", "/img/logo.png"];
    const AGENTS: [&str; 3] = ["Mozilla/5.0 (X11; Linux x86_64)", "curl/8.5.0", "okhttp/4.12.0"];
    let status = [200, 200, 200, 304, 404, 500][n % 6];
    format!(
        "10.{}.{}.{} - - [25/Nov/2026:12:{:02}:{:02} +0000] \"GET {}?id={} HTTP/1.1\" {} {} \"-\" \"{}\" rt={}.{:03}",
        n % 251,
        (n / 7) % 256,
        (n / 13) % 256,
        (n / 60) % 60,
        n % 60,
        PATHS[n % 6],
        n,
        status,
        200 + (n * 37) % 5000,
        AGENTS[n % 3],
        n % 3,
        n % 1000
    )
}

/// Whether `LOADGEN_FORMAT=otlp` asks for OTLP protobuf.
fn otlp() -> bool {
    std::env::var_os("LOADGEN_FORMAT").is_some_and(|v| v == "otlp")
}

/// A protobuf length-delimited field.
fn field(out: &mut Vec<u8>, number: u8, bytes: &[u8]) {
    out.push(number << 3 | 2);
    let mut n = bytes.len();
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(bytes);
}

/// An ExportLogsServiceRequest with the events of `range`.
fn otlp_body(range: std::ops::Range<usize>) -> Vec<u8> {
    let mut scope_logs = Vec::new();
    for n in range {
        let mut record = Vec::new();
        let mut any = Vec::new();
        field(&mut any, 1, line(n).as_bytes());
        field(&mut record, 5, &any);
        for (key, value) in [("seq", n.to_string()), ("app", "web".into()), ("env", "bench".into())] {
            let (mut kv, mut v) = (Vec::new(), Vec::new());
            field(&mut v, 1, value.as_bytes());
            field(&mut kv, 1, key.as_bytes());
            field(&mut kv, 2, &v);
            field(&mut record, 6, &kv);
        }
        field(&mut scope_logs, 2, &record);
    }
    let (mut resource_logs, mut request) = (Vec::new(), Vec::new());
    field(&mut resource_logs, 2, &scope_logs);
    field(&mut request, 1, &resource_logs);
    request
}

fn body(range: std::ops::Range<usize>) -> Vec<u8> {
    if otlp() {
        return otlp_body(range);
    }
    // LOADGEN_IDS=1: each event carries an `id` header, as an edge's http sink sends.
    let with_ids = std::env::var_os("LOADGEN_IDS").is_some_and(|v| v == "1");
    let events: Vec<String> = range
        .map(|n| {
            let id =
                if with_ids { format!(",\"id\":\"{}\"", sluice::event::EventId::generate()) } else { String::new() };
            format!(
                "{{\"headers\":{{\"seq\":\"{n}\",\"app\":\"web\",\"env\":\"bench\"{id}}},\"body\":{}}}",
                serde_json::Value::String(line(n))
            )
        })
        .collect();
    format!("[{}]", events.join(",")).into_bytes()
}

/// Sends the events of `range`; returns (retried requests, body bytes accepted).
fn send_range(addr: &str, range: std::ops::Range<usize>, batch: usize) -> Result<(usize, usize), String> {
    let mut retries = 0;
    let mut bytes = 0;
    let mut start = range.start;
    let mut conn: Option<TcpStream> = None;
    while start < range.end {
        let end = (start + batch).min(range.end);
        let payload = body(start..end);
        match request(&mut conn, addr, &payload) {
            Ok(200) => {
                start = end;
                bytes += payload.len();
            }
            Ok(_) | Err(_) => {
                retries += 1;
                conn = None;
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    Ok((retries, bytes))
}

fn request(conn: &mut Option<TcpStream>, addr: &str, payload: &[u8]) -> std::io::Result<u16> {
    if conn.is_none() {
        let s = TcpStream::connect(addr)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        s.set_nodelay(true)?;
        *conn = Some(s);
    }
    let s = conn.as_mut().ok_or_else(|| std::io::Error::other("no connection"))?;
    let (path, content_type) = if otlp() { ("/v1/logs", "application/x-protobuf") } else { ("/", "application/json") };
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        payload.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(payload)?;
    read_status(s)
}

fn read_status(s: &mut TcpStream) -> std::io::Result<u16> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::other("closed"));
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0);
            while buf.len() < end + 4 + length {
                let n = s.read(&mut chunk)?;
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Ok(status);
        }
    }
}
