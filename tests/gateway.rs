use sluice_tests::receiver::Receiver;
use sluice_tests::{free_port, post, wait_until, write, Agent};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

fn start(dir: &Path, sources_and_sinks: &str) -> Agent {
    let config = write(
        dir,
        "agent.toml",
        &format!(
            "[agent]\ndata_dir = \"{}\"\n[channels.main]\ntype = \"sqlite\"\n{sources_and_sinks}",
            dir.join("data").display()
        ),
    );
    Agent::start(&config, &dir.join("agent.log"))
}

fn to_receiver(receiver: &Receiver) -> String {
    format!(
        "[sinks.up]\ntype = \"http\"\nchannel = \"main\"\nurl = \"{}\"\nbatch = {{ max_events = 100, linger = \"20ms\" }}\n",
        receiver.url()
    )
}

fn bodies(receiver: &Receiver) -> Vec<String> {
    receiver.events().iter().map(|e| e["body"].as_str().unwrap_or_default().to_string()).collect()
}

/// `exec`: stdout lines become events, stderr is logged, the command is restarted with backoff.
#[test]
fn exec_reads_stdout_logs_stderr_and_restarts() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let receiver = Receiver::ok();
    let agent = start(
        dir.path(),
        &format!(
            "[sources.cmd]\ntype = \"exec\"\nchannels = [\"main\"]\ncommand = \"echo one; echo two; echo oops >&2; exit 3\"\n\
             restart_backoff = \"100ms\"\n{}",
            to_receiver(&receiver)
        ),
    );
    // Two runs at least: the lines twice, in order.
    assert!(wait_until(Duration::from_secs(10), || bodies(&receiver).len() >= 4), "{:?}", bodies(&receiver));
    assert_eq!(bodies(&receiver)[..4], ["one", "two", "one", "two"]);
    drop(agent);
    let log = std::fs::read_to_string(dir.path().join("agent.log")).unwrap_or_default();
    assert!(log.contains("stderr: oops"), "{log}");
    assert!(log.contains("exit status: 3"), "{log}");
}

fn proc_value(file: &str, key: &str) -> u64 {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix(key).and_then(|r| r.trim_start_matches(':').split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// `host_metrics` agrees with `/proc` read here.
#[test]
fn host_metrics_agree_with_proc() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let receiver = Receiver::ok();
    let lo_before = std::fs::read_to_string("/proc/net/dev")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("lo:").and_then(|r| r.split_whitespace().next()?.parse::<u64>().ok()))
        .unwrap_or(0);
    let _agent = start(
        dir.path(),
        &format!(
            "[sources.host]\ntype = \"host_metrics\"\nchannels = [\"main\"]\ninterval = \"300ms\"\n{}",
            to_receiver(&receiver)
        ),
    );
    assert!(wait_until(Duration::from_secs(10), || receiver.events().len() >= 2));
    let events = receiver.events();
    let sample: serde_json::Value =
        serde_json::from_str(events[1]["body"].as_str().unwrap_or("{}")).unwrap_or_default();
    assert_eq!(events[1]["headers"]["sluice.kind"], "host_metrics");
    let mem_total = proc_value("/proc/meminfo", "MemTotal") * 1024;
    assert_eq!(sample["memory"]["total_bytes"], mem_total, "{sample}");
    let available = sample["memory"]["available_bytes"].as_u64().unwrap_or(0);
    assert!(available > 0 && available <= mem_total, "{sample}");
    let cores = std::fs::read_to_string("/proc/stat")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count();
    assert_eq!(sample["cpu"]["cores"], cores, "{sample}");
    let busy = sample["cpu"]["busy_pct"].as_f64().unwrap_or(-1.0);
    assert!((0.0..=100.0).contains(&busy), "{sample}");
    let load: f64 = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().nth(2)?.parse().ok())
        .unwrap_or(-1.0);
    let reported = sample["load"]["15m"].as_f64().unwrap_or(-100.0);
    assert!((reported - load).abs() < 0.5, "15 min load {reported} vs {load} read here");
    let lo = sample["network"]["lo"]["rx_bytes"].as_u64().unwrap_or(0);
    assert!(lo >= lo_before, "lo rx_bytes {lo} went backwards from {lo_before}");
    assert!(sample["network"]["lo"]["rx_bytes_per_s"].as_f64().is_some(), "{sample}");
    let root = &sample["filesystem"]["/"];
    assert!(
        root["total_bytes"].as_u64().unwrap_or(0) >= root["available_bytes"].as_u64().unwrap_or(u64::MAX),
        "{sample}"
    );
    assert_eq!(sample["host"], std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim());
}

/// `file` sink: every line written once across rolled files.
#[test]
fn file_sink_rolls_and_keeps_every_event() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let port = free_port();
    let out = dir.path().join("out");
    let _agent = start(
        dir.path(),
        &format!(
            "[sources.lines]\ntype = \"tcp\"\nchannels = [\"main\"]\nlisten = \"127.0.0.1:{port}\"\n\
             [sinks.files]\ntype = \"file\"\nchannel = \"main\"\ndirectory = \"{}\"\nroll_size = \"4KiB\"\n\
             batch = {{ max_events = 50, linger = \"10ms\" }}\n",
            out.display()
        ),
    );
    assert!(wait_until(Duration::from_secs(10), || std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_ok()));
    let mut s = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).unwrap_or_else(|e| panic!("{e}"));
    let text: String = (0..2000).map(|i| format!("line {i:05} of the file sink test\n")).collect();
    s.write_all(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    drop(s);
    let read_all = || -> (usize, String) {
        let mut names: Vec<_> =
            std::fs::read_dir(&out).map(|r| r.flatten().map(|e| e.path()).collect()).unwrap_or_default();
        names.sort();
        (names.len(), names.iter().map(|p| std::fs::read_to_string(p).unwrap_or_default()).collect())
    };
    assert!(wait_until(Duration::from_secs(10), || read_all().1.len() == text.len()), "{} bytes", read_all().1.len());
    let (files, all) = read_all();
    assert_eq!(all, text, "every line once, in order");
    assert!(files >= 10, "{files} files for {} bytes rolled at 4 KiB", text.len());
    // Events can carry anything: the directory and files are the agent user's alone.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
    assert_eq!(mode(&out), 0o700);
    let first = std::fs::read_dir(&out).ok().and_then(|mut d| d.next()).and_then(|e| e.ok()).map(|e| e.path());
    assert_eq!(first.map(|p| mode(&p)), Some(0o600));
}

/// Browser intake rules: an allowed origin gets CORS headers (preflight and POST),
/// another origin is refused with nothing accepted, sendBeacon's text/plain JSON is read.
#[test]
fn cors_allows_configured_origins_only() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let receiver = Receiver::ok();
    let port = free_port();
    let _agent = start(
        dir.path(),
        &format!(
            "[sources.web]\ntype = \"http\"\nchannels = [\"main\"]\nlisten = \"127.0.0.1:{port}\"\n\
             cors_origins = [\"https://shop.example\"]\n{}",
            to_receiver(&receiver)
        ),
    );
    let addr = format!("127.0.0.1:{port}");
    assert!(wait_until(Duration::from_secs(10), || std::net::TcpStream::connect(&addr).is_ok()));
    let preflight = raw(&addr, "OPTIONS / HTTP/1.1\r\nHost: x\r\nOrigin: https://shop.example\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\nConnection: close\r\n\r\n");
    assert!(preflight.starts_with("HTTP/1.1 204"), "{preflight}");
    assert!(preflight.contains("Access-Control-Allow-Origin: https://shop.example"), "{preflight}");
    assert!(preflight.contains("Access-Control-Allow-Headers: content-type"), "{preflight}");
    let beacon = br#"[{"headers":{"kind":"click"},"body":"from beacon"}]"#;
    let (status, _) = post(&addr, "/", "text/plain;charset=UTF-8", &[("Origin", "https://shop.example")], beacon)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status, 200);
    let (status, reply) =
        post(&addr, "/", "text/plain", &[("Origin", "https://evil.example")], beacon).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status, 403, "{reply}");
    assert!(reply.contains("not allowed"), "{reply}");
    assert!(wait_until(Duration::from_secs(10), || !receiver.events().is_empty()));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(bodies(&receiver), ["from beacon"], "only the allowed origin's event");
}

fn raw(addr: &str, request: &str) -> String {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("{e}"));
    s.write_all(request.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    reply
}

/// `sluice inspect` on a running agent: ingest and drain rates, and the time to full they imply.
#[test]
fn inspect_reports_rates_and_time_to_full() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let port = free_port();
    let config = write(
        dir.path(),
        "agent.toml",
        &format!(
            "[agent]\ndata_dir = \"{}\"\n[channels.main]\ntype = \"sqlite\"\nmax_events = 1000000\n\
             [sources.lines]\ntype = \"tcp\"\nchannels = [\"main\"]\nlisten = \"127.0.0.1:{port}\"\n\
             [sinks.up]\ntype = \"http\"\nchannel = \"main\"\nurl = \"http://127.0.0.1:{}/\"\nretry = {{ initial = \"1h\", max = \"1h\" }}\n",
            dir.path().join("data").display(),
            free_port()
        ),
    );
    let _agent = Agent::start(&config, &dir.path().join("agent.log"));
    assert!(wait_until(Duration::from_secs(10), || std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_ok()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer_stop = stop.clone();
    let writer = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).unwrap_or_else(|e| panic!("{e}"));
        while !writer_stop.load(std::sync::atomic::Ordering::SeqCst) {
            let chunk: String = (0..100).map(|i| format!("event {i}\n")).collect();
            s.write_all(chunk.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    let data = dir.path().join("data");
    let out = sluice_tests::sluice(&["inspect", &data.to_string_lossy(), "--json", "--window", "2"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let text = sluice_tests::sluice(&["inspect", &data.to_string_lossy()]).output().unwrap_or_else(|e| panic!("{e}"));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.join().unwrap_or_else(|_| panic!("writer"));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let main = &report["channels"][0];
    let flow = &main["flow"];
    let ingest = flow["ingest_per_s"].as_f64().unwrap_or(0.0);
    assert!(ingest > 500.0, "about 5000 events/s were written: {flow}");
    assert_eq!(flow["drain_per_s"].as_f64(), Some(0.0), "the upstream is down: {flow}");
    let full = flow["seconds_to_full"].as_f64().unwrap_or(0.0);
    let free = 1_000_000.0 - main["events"].as_f64().unwrap_or(0.0);
    assert!((full - free / ingest).abs() / full < 0.01, "time to full {full} vs {free} free at {ingest}/s");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("(agent running)") && text.contains("events/s") && text.contains("full in"), "{text}");
}
