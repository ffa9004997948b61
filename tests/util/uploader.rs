//! What an app's uploader loop does (`transport = "platform"`), for tests: take
//! a request from the SDK, send it over a plain socket, report what came back.

use sluice::sink::platform::{PlatformUploads, Taken, UploadResult, UploadTask};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::thread::JoinHandle;

/// Serves `uploads` on a thread until the SDK closes.
pub fn start(uploads: Arc<PlatformUploads>) -> JoinHandle<()> {
    std::thread::spawn(move || loop {
        match uploads.take(None) {
            Taken::Task(task) => {
                let result = send(&task).unwrap_or_else(|e| UploadResult::Failed(e.to_string()));
                uploads.finish(task.id, result);
            }
            Taken::Idle => {}
            Taken::Closed => return,
        }
    })
}

/// One POST on a fresh connection (`http://` only).
fn send(task: &UploadTask) -> std::io::Result<UploadResult> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, what.to_string());
    let rest = task.url.strip_prefix("http://").ok_or_else(|| bad("the test uploader speaks http:// only"))?;
    let (addr, path) = rest.split_once('/').map_or((rest, String::from("/")), |(a, p)| (a, format!("/{p}")));
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(task.timeout))?;
    let mut head =
        format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n", task.body.len());
    for (key, value) in &task.headers {
        head.push_str(&format!("{key}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(&task.body)?;
    let mut reply = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = reply.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let read = stream.read(&mut chunk)?;
        if read == 0 {
            return Err(bad("the connection closed before the reply's head"));
        }
        reply.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&reply[..head_end]).into_owned();
    let header = |name: &str| {
        head.lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(key, _)| key.trim().eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim().to_string())
    };
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).ok_or_else(|| bad("no status"))?;
    let length: usize = header("content-length").and_then(|n| n.parse().ok()).unwrap_or(0);
    while reply.len() < head_end + 4 + length {
        let read = stream.read(&mut chunk)?;
        if read == 0 {
            return Err(bad("the connection closed inside the reply's body"));
        }
        reply.extend_from_slice(&chunk[..read]);
    }
    let body = String::from_utf8_lossy(&reply[head_end + 4..head_end + 4 + length]).into_owned();
    let retry_after = header("retry-after");
    Ok(UploadResult::Response { status, retry_after, body })
}
