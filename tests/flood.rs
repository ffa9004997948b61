//! Floods against the http source while a real client posts every 100 ms:
//! 2,000 idle sockets that reconnect when closed, 200 slowloris heads, 24
//! never-finished 16 MiB bodies without the token and 24 with it. The client's
//! p99 must stay under a second, the agent's RSS under 64 MiB, and nothing of
//! the flood may be accepted. Then the same for the `tcp` source: idle peers
//! at `max_connections` make way for a sender.

use sluice_tests::receiver::Receiver;
use sluice_tests::{free_port, metrics_json, wait_until, write, Agent, Pipeline};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TOKEN: &str = "s3cret-token";
/// The bound the README states for the agent under this flood.
const RSS_BOUND_KIB: u64 = 64 << 10;

/// Raises this process's descriptor limit to its hard limit (thousands of sockets).
fn more_descriptors() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit with a valid resource and a pointer to a live struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Keeps `n` idle connections open, reconnecting those the server closes.
fn idle_flood(addr: String, n: usize, stop: Arc<AtomicBool>, opened: Arc<AtomicU64>) {
    let mut conns: Vec<Option<TcpStream>> = (0..n).map(|_| None).collect();
    while !stop.load(Ordering::SeqCst) {
        for slot in conns.iter_mut() {
            let closed = match slot {
                None => true,
                Some(s) => matches!(s.read(&mut [0u8; 64]), Ok(0)),
            };
            if closed {
                *slot = TcpStream::connect(&addr).ok().inspect(|s| {
                    let _ = s.set_nonblocking(true);
                    opened.fetch_add(1, Ordering::SeqCst);
                });
            }
        }
        std::thread::sleep(Duration::from_millis(1000));
    }
}

/// Slowloris: heads that never end, a byte every 500 ms, reconnecting when cut off.
fn slowloris(addr: String, n: usize, stop: Arc<AtomicBool>) {
    let mut conns: Vec<Option<TcpStream>> = (0..n).map(|_| None).collect();
    while !stop.load(Ordering::SeqCst) {
        for slot in conns.iter_mut() {
            let alive = match slot {
                Some(s) => s.write_all(b"X").is_ok(),
                None => false,
            };
            if !alive {
                *slot = TcpStream::connect(&addr).ok().and_then(|mut s| {
                    s.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ").ok()?;
                    Some(s)
                });
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A body of 16 MiB announced and sent but for its last byte, again and again.
fn big_body(addr: String, token: Option<&'static str>, stop: Arc<AtomicBool>, answers: Arc<AtomicU64>) {
    let chunk = vec![b'['; 1 << 20];
    while !stop.load(Ordering::SeqCst) {
        let Ok(mut s) = TcpStream::connect(&addr) else { continue };
        let _ = s.set_read_timeout(Some(Duration::from_secs(40)));
        let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
        let head = format!(
            "POST / HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: 16777216\r\n\r\n"
        );
        if s.write_all(head.as_bytes()).is_err() {
            continue;
        }
        for i in 0..16 {
            let n = if i == 15 { chunk.len() - 1 } else { chunk.len() };
            if s.write_all(&chunk[..n]).is_err() {
                break;
            }
        }
        // Never the last byte: wait for the server to give up on us.
        let mut reply = [0u8; 12];
        if s.read(&mut reply).is_ok_and(|n| n > 0) {
            answers.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// One small authorised POST; its latency, or `None` if it was not a 200.
fn client_post(addr: &str, seq: u64) -> Option<Duration> {
    let started = Instant::now();
    let body = format!(r#"[{{"headers":{{"who":"client","seq":"{seq}"}},"body":"click {seq}"}}]"#);
    let auth = format!("Bearer {TOKEN}");
    let (status, _) =
        sluice_tests::post(addr, "/", "application/json", &[("Authorization", auth.as_str())], body.as_bytes()).ok()?;
    (status == 200).then(|| started.elapsed())
}

#[test]
fn floods_cost_the_flooder_not_the_client() {
    more_descriptors();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let receiver = Receiver::ok();
    let (port, metrics) = (free_port(), free_port());
    let config = Pipeline {
        port,
        metrics: Some(metrics),
        upstream: receiver.url(),
        source: format!("bearer_token = \"{TOKEN}\""),
        sink: "batch = { linger = \"10ms\" }".into(),
        ..Pipeline::default()
    }
    .write(dir.path(), &dir.path().join("data"));
    let agent = Agent::start(&config, &dir.path().join("agent.log"));
    let (addr, metrics) = (format!("127.0.0.1:{port}"), format!("127.0.0.1:{metrics}"));
    assert!(wait_until(Duration::from_secs(10), || !metrics_json(&metrics).is_null()), "agent did not start");
    let idle_rss = rss_kib(agent.child.id());

    let stop = Arc::new(AtomicBool::new(false));
    let (opened, answered) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut flood = Vec::new();
    for _ in 0..4 {
        let (a, s, o) = (addr.clone(), stop.clone(), opened.clone());
        flood.push(std::thread::spawn(move || idle_flood(a, 500, s, o)));
    }
    let (a, s) = (addr.clone(), stop.clone());
    flood.push(std::thread::spawn(move || slowloris(a, 200, s)));
    for i in 0..48 {
        let (a, s, n) = (addr.clone(), stop.clone(), answered.clone());
        let token = (i % 2 == 0).then_some(TOKEN);
        flood.push(std::thread::spawn(move || big_body(a, token, s, n)));
    }
    std::thread::sleep(Duration::from_secs(2));

    // The real client, every 100 ms for 20 s, while the flood goes on.
    let (mut latencies, mut failures, mut peak_rss) = (Vec::new(), 0, 0);
    for seq in 0..200u64 {
        let next = Instant::now() + Duration::from_millis(100);
        match client_post(&addr, seq) {
            Some(latency) => latencies.push(latency),
            None => failures += 1,
        }
        peak_rss = peak_rss.max(rss_kib(agent.child.id()));
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    stop.store(true, Ordering::SeqCst);
    latencies.sort();
    let p99 = latencies.get(latencies.len() * 99 / 100).copied().unwrap_or(Duration::MAX);
    let p50 = latencies.get(latencies.len() / 2).copied().unwrap_or(Duration::MAX);
    eprintln!(
        "flood: client p50 {p50:?} p99 {p99:?}, {failures} of 200 failed; agent RSS {idle_rss} KiB idle, peak {peak_rss} KiB; \
         {} flood connections opened, {} big bodies answered",
        opened.load(Ordering::SeqCst),
        answered.load(Ordering::SeqCst)
    );
    assert_eq!(failures, 0, "every request of the real client is served");
    assert!(p99 < Duration::from_secs(1), "the client's p99 is {p99:?}");
    assert!(peak_rss < RSS_BOUND_KIB, "RSS peaked at {peak_rss} KiB, over {RSS_BOUND_KIB} KiB");
    assert!(opened.load(Ordering::SeqCst) > 2_000, "the idle flood was at it the whole time");
    assert!(answered.load(Ordering::SeqCst) > 48, "the big bodies are answered (401 or 503), not held");

    // Nothing of the flood got in: only the client's 200 events arrive.
    assert!(wait_until(Duration::from_secs(20), || receiver.events().len() >= 200));
    std::thread::sleep(Duration::from_millis(500));
    let events = receiver.events();
    assert_eq!(events.len(), 200, "the client's events, and nothing else");
    assert!(events.iter().all(|e| e["headers"]["who"] == "client"));
    for t in flood {
        let _ = t.join();
    }
}

#[test]
fn idle_tcp_peers_at_the_limit_make_way_for_a_sender() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("out");
    let port = free_port();
    let config = write(
        dir.path(),
        "agent.toml",
        &format!(
            r#"[agent]
data_dir = "{data}"
[channels.main]
type = "memory"
[sources.lines]
type = "tcp"
channels = ["main"]
listen = "127.0.0.1:{port}"
max_connections = 64
idle_timeout = "2s"
[sinks.out]
type = "file"
channel = "main"
directory = "{out}"
roll_interval = "1s"
batch = {{ linger = "10ms" }}
"#,
            data = dir.path().join("data").display(),
            out = out.display()
        ),
    );
    let _agent = Agent::start(&config, &dir.path().join("agent.log"));
    let addr = format!("127.0.0.1:{port}");
    assert!(wait_until(Duration::from_secs(10), || TcpStream::connect(&addr).is_ok()));
    std::thread::sleep(Duration::from_millis(1200));
    // 64 silent peers fill the source.
    let idle: Vec<TcpStream> = (0..64).filter_map(|_| TcpStream::connect(&addr).ok()).collect();
    assert_eq!(idle.len(), 64);
    std::thread::sleep(Duration::from_millis(1500));
    let mut sender = TcpStream::connect(&addr).unwrap_or_else(|e| panic!("{e}"));
    sender.write_all(b"a line from a real sender\n").unwrap_or_else(|e| panic!("{e}"));
    let text = || {
        std::fs::read_dir(&out)
            .map(|d| d.flatten().map(|f| std::fs::read_to_string(f.path()).unwrap_or_default()).collect::<String>())
            .unwrap_or_default()
    };
    assert!(wait_until(Duration::from_secs(10), || text().contains("a line from a real sender")), "served");
    // And the idle ones are closed after idle_timeout.
    let mut last = idle.into_iter().last().unwrap_or_else(|| panic!("no idle peer"));
    last.set_read_timeout(Some(Duration::from_secs(10))).unwrap_or_else(|e| panic!("{e}"));
    let closed_at = Instant::now();
    assert!(matches!(last.read(&mut [0u8; 1]), Ok(0)), "an idle peer is closed");
    assert!(closed_at.elapsed() < Duration::from_secs(5));
}
