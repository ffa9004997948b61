use sluice_tests::receiver::{Receiver, Reply};
use sluice_tests::{free_port, get, post, wait_until, write, Agent};
use std::time::Duration;

/// A full channel pushes back (503), and both metric layouts say what happened.
#[test]
fn full_channel_answers_503_and_metrics_agree() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let down = Receiver::scripted(|_, _| Reply::Status(503, vec![], "down".into()));
    let (port, metrics_port) = (free_port(), free_port());
    let config = write(
        dir.path(),
        "agent.toml",
        &format!(
            "[agent]\ndata_dir = \"{}\"\nmetrics_listen = \"127.0.0.1:{metrics_port}\"\n\
             [channels.main]\ntype = \"sqlite\"\nmax_events = 5\non_full = \"reject\"\n\
             [sources.in]\ntype = \"http\"\nchannels = [\"main\"]\nlisten = \"127.0.0.1:{port}\"\n\
             [sinks.up]\ntype = \"http\"\nchannel = \"main\"\nurl = \"{}\"\nretry = {{ initial = \"5s\", max = \"5s\" }}\n",
            dir.path().join("data").display(),
            down.url()
        ),
    );
    let _agent = Agent::start(&config, &dir.path().join("agent.log"));
    let (addr, metrics) = (format!("127.0.0.1:{port}"), format!("127.0.0.1:{metrics_port}"));
    assert!(wait_until(Duration::from_secs(10), || std::net::TcpStream::connect(&metrics).is_ok()));
    let batch = |n: usize| format!("[{}]", vec![r#"{"body":"x"}"#; n].join(","));
    assert_eq!(post(&addr, "/", "application/json", &[], batch(5).as_bytes()).map(|r| r.0).ok(), Some(200));
    let (status, reply) =
        post(&addr, "/", "application/json", &[], batch(2).as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status, 503, "{reply}");

    let json: serde_json::Value =
        serde_json::from_str(&get(&metrics, "/metrics.json")).unwrap_or_else(|e| panic!("json: {e}"));
    assert_eq!(json["SOURCE.in"]["EventReceivedCount"], "7");
    assert_eq!(json["SOURCE.in"]["EventAcceptedCount"], "5");
    assert_eq!(json["SOURCE.in"]["EventRejectedCount"], "2");
    assert_eq!(json["CHANNEL.main"]["ChannelSize"], "5");
    assert_eq!(json["CHANNEL.main"]["ChannelFillPercentage"], "100.00");
    assert_eq!(json["CHANNEL.main"]["EventRefusedFullCount"], "2");
    assert!(wait_until(Duration::from_secs(5), || down.requests() > 0));
    // The receiver counts the request when it arrives; the sink counts the failure
    // only after reading the 503, a moment later.
    let sink = || -> serde_json::Value {
        serde_json::from_str::<serde_json::Value>(&get(&metrics, "/metrics.json"))
            .map(|j| j["SINK.up"].clone())
            .unwrap_or_default()
    };
    assert!(wait_until(Duration::from_secs(5), || sink()["ConnectionFailedCount"] == "1"), "{}", sink());
    assert_eq!(sink()["EventDrainSuccessCount"], "0");
    assert_eq!(sink()["ConnectionFailedCount"], "1", "the 5 s backoff must hold the second attempt back");
    let text = get(&metrics, "/metrics");
    assert!(text.contains("sluice_source_events_accepted_total{component=\"in\"} 5\n"), "{text}");
    assert!(text.contains("sluice_channel_size{component=\"main\"} 5\n"), "{text}");
}

/// `block` is fair and bounded: 30 clients posting at once to a full channel all
/// get their 503 about `block_timeout` after they arrived, not one after another
/// (two decode workers used to wait the full timeout per request: 2, 2, 4 … 30 s);
/// and a client that hangs up stops waiting on the agent's side too.
#[test]
fn block_waits_at_most_block_timeout_from_arrival_whatever_the_queue() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let down = Receiver::scripted(|_, _| Reply::Status(503, vec![], "down".into()));
    let (port, metrics_port) = (free_port(), free_port());
    let config = sluice_tests::Pipeline {
        port,
        metrics: Some(metrics_port),
        upstream: down.url(),
        channel: "max_events = 5\non_full = \"block\"\nblock_timeout = \"2s\"".into(),
        sink: "retry = { initial = \"30s\", max = \"30s\" }".into(),
        ..Default::default()
    }
    .write(dir.path(), &dir.path().join("data"));
    let _agent = Agent::start(&config, &dir.path().join("agent.log"));
    let (addr, metrics) = (format!("127.0.0.1:{port}"), format!("127.0.0.1:{metrics_port}"));
    assert!(wait_until(Duration::from_secs(10), || std::net::TcpStream::connect(&metrics).is_ok()));
    let one = r#"[{"body":"x"}]"#;
    let full = format!("[{}]", [r#"{"body":"x"}"#; 5].join(","));
    assert_eq!(post(&addr, "/", "application/json", &[], full.as_bytes()).map(|r| r.0).ok(), Some(200));

    // Ten clients that post and hang up at once: their waits must end with them.
    for _ in 0..10 {
        if let Ok(mut s) = std::net::TcpStream::connect(&addr) {
            use std::io::Write as _;
            let head = format!("POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n{one}", one.len());
            let _ = s.write_all(head.as_bytes());
        }
    }
    let started = std::time::Instant::now();
    let clients: Vec<_> = (0..30)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let status = post(&addr, "/", "application/json", &[], one.as_bytes()).map(|r| r.0).unwrap_or(0);
                (status, started.elapsed())
            })
        })
        .collect();
    let answers: Vec<(u16, Duration)> = clients.into_iter().filter_map(|c| c.join().ok()).collect();
    let slowest = answers.iter().map(|(_, t)| *t).max().unwrap_or_default();
    assert!(answers.iter().all(|(s, _)| *s == 503), "{answers:?}");
    assert!(slowest < Duration::from_secs(4), "the last 503 came after {slowest:?}: waits must not queue");
    assert!(answers.iter().all(|(_, t)| *t >= Duration::from_millis(1800)), "each waited its block_timeout");
    let refused: u64 = sluice_tests::metrics_json(&metrics)["CHANNEL.main"]["EventRefusedFullCount"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(refused >= 30, "the refusals are counted: {refused}");
}

/// `/metrics` is what a real scraper accepts: Prometheus's own text parser
/// reads it and promlint (the checks of `promtool check metrics`) finds
/// nothing, with every family typed and the delivery latency a histogram whose
/// buckets add up. Both capacities are there, named by their unit.
#[test]
fn metrics_pass_prometheus_parser_and_promlint() {
    let lint = sluice_tests::interop::run_script("promlint", "fetch.sh", &[]).trim().to_string();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let receiver = Receiver::scripted(|_, _| Reply::Status(200, vec![], String::new()));
    let (port, metrics_port) = (free_port(), free_port());
    let config = write(
        dir.path(),
        "agent.toml",
        &format!(
            "[agent]\ndata_dir = \"{}\"\nmetrics_listen = \"127.0.0.1:{metrics_port}\"\n\
             [channels.main]\ntype = \"sqlite\"\nmax_bytes = \"64MiB\"\n[channels.side]\ntype = \"memory\"\n\
             [sources.in]\ntype = \"http\"\nchannels = [\"main\", \"side\"]\nlisten = \"127.0.0.1:{port}\"\n\
             [sinks.up]\ntype = \"http\"\nchannel = \"main\"\nurl = \"{}\"\nbatch = {{ linger = \"10ms\" }}\n\
             [sinks.local]\ntype = \"null\"\nchannel = \"side\"\n",
            dir.path().join("data").display(),
            receiver.url()
        ),
    );
    let _agent = Agent::start(&config, &dir.path().join("agent.log"));
    let (addr, metrics) = (format!("127.0.0.1:{port}"), format!("127.0.0.1:{metrics_port}"));
    assert!(wait_until(Duration::from_secs(10), || std::net::TcpStream::connect(&metrics).is_ok()));
    let batch = format!("[{}]", vec![r#"{"body":"x"}"#; 40].join(","));
    assert_eq!(post(&addr, "/", "application/json", &[], batch.as_bytes()).map(|r| r.0).ok(), Some(200));
    let delivered =
        || get(&metrics, "/metrics").contains("sluice_sink_delivery_latency_seconds_count{component=\"up\"} 40\n");
    assert!(wait_until(Duration::from_secs(10), delivered), "{}", get(&metrics, "/metrics"));

    let text = get(&metrics, "/metrics");
    let mut child = std::process::Command::new(&lint)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{lint}: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write as _;
        stdin.write_all(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    }
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let (families, problems) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the scraper's parser or promlint refused /metrics:\n{problems}\n{text}");
    for family in [
        "sluice_source_events_received_total COUNTER 1",
        "sluice_channel_capacity_events GAUGE 2",
        "sluice_channel_capacity_bytes GAUGE 2",
        "sluice_sink_delivery_latency_seconds HISTOGRAM 2",
    ] {
        assert!(families.lines().any(|l| l == family), "{family} missing:\n{families}");
    }
    assert!(text.contains("sluice_channel_capacity_bytes{component=\"main\"} 67108864\n"), "{text}");
    assert!(text.contains("sluice_sink_delivery_latency_seconds_bucket{component=\"up\",le=\"+Inf\"} 40\n"), "{text}");
}
