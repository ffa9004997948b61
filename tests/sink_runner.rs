use sluice_tests::receiver::{Receiver, Reply};
use sluice_tests::{free_port, post, sluice, wait_until, write, Agent};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// An upstream that is down for 3 s (503), then throttles once (429 with
/// `Retry-After: 1`), drops a connection once, and from then on refuses batches
/// over 40 events (413) and batches holding a marked event (400).
fn hostile() -> Receiver {
    let started = Instant::now();
    let after_outage = AtomicUsize::new(0);
    Receiver::scripted(move |req, _| {
        let events = req.flume_events();
        if started.elapsed() < Duration::from_secs(3) {
            return Reply::Status(503, vec![], "down for maintenance".into());
        }
        match after_outage.fetch_add(1, Ordering::SeqCst) {
            0 => return Reply::Status(429, vec![("Retry-After".into(), "1".into())], "slow down".into()),
            1 => return Reply::Drop,
            _ => {}
        }
        if events.len() > 40 {
            return Reply::Status(413, vec![], "too big".into());
        }
        if events.iter().any(|e| e["headers"]["bad"] == "yes") {
            return Reply::Status(400, vec![], "event rejected: field bad".into());
        }
        Reply::Status(200, vec![], "ok".into())
    })
}

#[test]
fn every_event_arrives_or_is_quarantined_with_its_reason() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let receiver = hostile();
    let port = free_port();
    let data = dir.path().join("data");
    let config = write(
        dir.path(),
        "agent.toml",
        &format!(
            "[agent]\ndata_dir = \"{}\"\nreport_interval = \"1s\"\n[channels.main]\ntype = \"sqlite\"\n[sources.in]\ntype = \"http\"\nchannels = [\"main\"]\nlisten = \"127.0.0.1:{port}\"\n\
             [sinks.up]\ntype = \"http\"\nchannel = \"main\"\nurl = \"{}\"\nbatch = {{ max_events = 200, linger = \"10ms\" }}\nretry = {{ initial = \"200ms\", max = \"2s\" }}\n",
            data.display(),
            receiver.url()
        ),
    );
    let mut agent = Agent::start(&config, &dir.path().join("agent.log"));
    let addr = format!("127.0.0.1:{port}");
    assert!(wait_until(Duration::from_secs(10), || std::net::TcpStream::connect(&addr).is_ok()));
    let bad: Vec<usize> = vec![17, 230, 231, 499];
    let events: Vec<String> = (0..500)
        .map(|i| {
            let mark = if bad.contains(&i) { ",\"bad\":\"yes\"" } else { "" };
            format!("{{\"headers\":{{\"seq\":\"{i}\"{mark}}},\"body\":\"event {i}\"}}")
        })
        .collect();
    let (status, reply) = post(&addr, "/", "application/json", &[], format!("[{}]", events.join(",")).as_bytes())
        .unwrap_or_else(|e| panic!("post: {e}"));
    assert_eq!(status, 200, "{reply}");

    // While the upstream is down (3 s), backoff keeps the request rate low.
    std::thread::sleep(Duration::from_secs(3));
    let during_outage = receiver.requests();
    assert!((2..=8).contains(&during_outage), "{during_outage} requests in a 3 s outage: a busy loop, or no retry");

    let is_report = |e: &serde_json::Value| e["headers"]["sluice.kind"] == "report";
    let arrived = || receiver.events().iter().filter(|e| e["headers"]["bad"] != "yes" && !is_report(e)).count();
    if !wait_until(Duration::from_secs(60), || arrived() >= 496) {
        let log = std::fs::read_to_string(dir.path().join("agent.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        panic!(
            "only {} of 496 good events arrived; agent log ends:\n{}",
            arrived(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    let mut counts: HashMap<String, usize> = HashMap::new();
    for e in receiver.events().into_iter().filter(|e| !is_report(e)) {
        assert!(e["headers"]["id"].as_str().is_some_and(|id| id.len() == 26), "event without id: {e}");
        *counts.entry(e["headers"]["seq"].as_str().unwrap_or("").to_string()).or_default() += 1;
    }
    assert_eq!(counts.len(), 496, "good events arrived, bad ones did not");

    // The upstream is told what it will never get: a loss report with the 4 quarantined events.
    let reported = || -> u64 {
        let reports: Vec<serde_json::Value> = receiver.events().into_iter().filter(is_report).collect();
        reports
            .iter()
            .filter_map(|r| r["body"].as_str().and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok()))
            .flat_map(|b| b["losses"].as_array().cloned().unwrap_or_default())
            .filter(|l| l["reason"] == "quarantined")
            .filter_map(|l| l["events"].as_u64())
            .sum()
    };
    assert!(wait_until(Duration::from_secs(10), || reported() == 4), "loss report says {} quarantined", reported());
    assert!(counts.values().all(|c| *c == 1), "no duplicates without a retried batch");

    // The 429's Retry-After is honoured: the next request comes at least a second later.
    let log = receiver.log.lock().map(|l| l.clone()).unwrap_or_default();
    let first_after_outage =
        log.iter().position(|r| r.at.duration_since(log[0].at) >= Duration::from_secs(3) - Duration::from_millis(300));
    let i = first_after_outage.filter(|i| i + 1 < log.len()).unwrap_or_else(|| panic!("no requests after the outage"));
    let gap = log[i + 1].at.duration_since(log[i].at);
    assert!(gap >= Duration::from_millis(950), "request {} came {gap:?} after a 429 with Retry-After: 1", i + 1);
    // Batch ids: the same events retried carry the same X-Sluice-Batch.
    assert!(log.iter().all(|r| r.headers.contains_key("x-sluice-batch")
        && r.headers.get("user-agent").is_some_and(|u| u.starts_with("sluice/"))));

    assert_eq!(agent.terminate(), Some(0));
    let out =
        sluice(&["quarantine", "list", &data.to_string_lossy(), "--json"]).output().unwrap_or_else(|e| panic!("{e}"));
    let list: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("quarantine json: {e}"));
    let quarantined: u64 = list.as_array().map(|a| a.iter().filter_map(|q| q["events"].as_u64()).sum()).unwrap_or(0);
    assert_eq!(quarantined, 4, "the 4 marked events are quarantined: {list}");
    assert!(
        list.as_array().is_some_and(|a| a
            .iter()
            .all(|q| q["reason"].as_str().is_some_and(|r| r.contains("400") && r.contains("field bad")))),
        "{list}"
    );
}

/// `workers = 3`: three batches in flight at once (each on its own connection),
/// never more, and every event still arrives exactly once without extra requests.
#[test]
fn workers_keep_several_batches_in_flight() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let in_flight = std::sync::Arc::new(AtomicUsize::new(0));
    let most = std::sync::Arc::new(AtomicUsize::new(0));
    let (now, peak) = (in_flight.clone(), most.clone());
    let receiver = Receiver::scripted(move |_, _| {
        let n = now.fetch_add(1, Ordering::SeqCst) + 1;
        peak.fetch_max(n, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(300));
        now.fetch_sub(1, Ordering::SeqCst);
        Reply::Status(200, vec![], "ok".into())
    });
    let (_agent, addr) = start_with_three_workers(dir.path(), &receiver, "");
    post_rows(&addr, 30);
    assert!(
        wait_until(Duration::from_secs(30), || receiver.events().len() >= 3000),
        "{} of 3000 events arrived",
        receiver.events().len()
    );
    std::thread::sleep(Duration::from_millis(500));
    let mut seqs: Vec<u64> =
        receiver.events().iter().filter_map(|e| e["headers"]["seq"].as_str().and_then(|s| s.parse().ok())).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..3000).collect::<Vec<u64>>(), "every event exactly once");
    assert_eq!(receiver.requests(), 30, "full batches of 100, no request beyond them");
    assert_eq!(most.load(Ordering::SeqCst), 3, "batches in flight at once");
}

/// A 429 with `Retry-After: 2` seen by one worker holds the others back too:
/// after it, no request starts for two seconds, although their own batches went through.
#[test]
fn workers_honour_a_retry_after_one_of_them_got() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let starts: std::sync::Arc<std::sync::Mutex<Vec<Instant>>> = Default::default();
    let seen = starts.clone();
    let receiver = Receiver::scripted(move |_, _| {
        let first = {
            let mut s = seen.lock().unwrap_or_else(|p| p.into_inner());
            s.push(Instant::now());
            s.len() == 1
        };
        if first {
            return Reply::Status(429, vec![("Retry-After".into(), "2".into())], "slow down".into());
        }
        // The siblings' answers come after the 429 was seen and the hold set.
        std::thread::sleep(Duration::from_millis(300));
        Reply::Status(200, vec![], "ok".into())
    });
    let (_agent, addr) =
        start_with_three_workers(dir.path(), &receiver, "retry = { initial = \"100ms\", max = \"1s\" }\n");
    // Ten rows: enough for all three workers to have a batch out at once.
    post_rows(&addr, 10);
    assert!(
        wait_until(Duration::from_secs(30), || receiver.events().len() >= 1000),
        "{} of 1000 events arrived",
        receiver.events().len()
    );
    let starts = starts.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let refused = starts[0];
    let early: Vec<Duration> = starts
        .iter()
        .map(|t| t.saturating_duration_since(refused))
        .filter(|d| *d > Duration::from_millis(100) && *d < Duration::from_millis(1900))
        .collect();
    assert!(early.is_empty(), "requests started during the Retry-After, at {early:?} after the 429");
}

/// An agent with an http source and an http sink of three workers (batches of
/// 100) shipping to `receiver`, plus `sink_extra` TOML; returns it and its intake address.
fn start_with_three_workers(dir: &std::path::Path, receiver: &Receiver, sink_extra: &str) -> (Agent, String) {
    let port = free_port();
    let config = write(
        dir,
        "agent.toml",
        &format!(
            "[agent]\ndata_dir = \"{}\"\n[channels.main]\ntype = \"sqlite\"\n[sources.in]\ntype = \"http\"\nchannels = [\"main\"]\nlisten = \"127.0.0.1:{port}\"\n\
             [sinks.up]\ntype = \"http\"\nchannel = \"main\"\nurl = \"{}\"\nbatch = {{ max_events = 100, linger = \"10ms\" }}\nworkers = 3\n{sink_extra}",
            dir.join("data").display(),
            receiver.url()
        ),
    );
    let agent = Agent::start(&config, &dir.join("agent.log"));
    let addr = format!("127.0.0.1:{port}");
    assert!(wait_until(Duration::from_secs(10), || std::net::TcpStream::connect(&addr).is_ok()));
    (agent, addr)
}

/// POSTs `rows` requests of 100 events (header `seq` counting from 0). The
/// channel stores each put as one row, and workers share out rows.
fn post_rows(addr: &str, rows: usize) {
    for row in 0..rows {
        let events: Vec<String> = (row * 100..(row + 1) * 100)
            .map(|i| format!("{{\"headers\":{{\"seq\":\"{i}\"}},\"body\":\"e{i}\"}}"))
            .collect();
        let (status, reply) = post(addr, "/", "application/json", &[], format!("[{}]", events.join(",")).as_bytes())
            .unwrap_or_else(|e| panic!("post: {e}"));
        assert_eq!(status, 200, "{reply}");
    }
}

/// An upstream that refuses everything (401): the events are quarantined and
/// counted once; the loss reports it refuses too are not counted as
/// quarantined events (the metric grew by one every report_interval).
#[test]
fn refused_loss_reports_are_not_counted_as_quarantined_events() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let receiver = Receiver::scripted(|_, _| Reply::Status(401, vec![], "who are you".into()));
    let (port, metrics) = (free_port(), free_port());
    let data = dir.path().join("data");
    let config = write(
        dir.path(),
        "agent.toml",
        &format!(
            "[agent]\ndata_dir = \"{}\"\nmetrics_listen = \"127.0.0.1:{metrics}\"\nreport_interval = \"200ms\"\n\
             [channels.main]\ntype = \"sqlite\"\n[sources.in]\ntype = \"http\"\nchannels = [\"main\"]\nlisten = \"127.0.0.1:{port}\"\n\
             [sinks.up]\ntype = \"http\"\nchannel = \"main\"\nurl = \"{}\"\nbatch = {{ max_events = 100, linger = \"10ms\" }}\n",
            data.display(),
            receiver.url()
        ),
    );
    let _agent = Agent::start(&config, &dir.path().join("agent.log"));
    let (addr, metrics) = (format!("127.0.0.1:{port}"), format!("127.0.0.1:{metrics}"));
    assert!(wait_until(Duration::from_secs(10), || std::net::TcpStream::connect(&metrics).is_ok()));
    let batch = format!("[{}]", vec![r#"{"body":"x"}"#; 100].join(","));
    assert_eq!(post(&addr, "/", "application/json", &[], batch.as_bytes()).map(|r| r.0).ok(), Some(200));
    let quarantined = || {
        sluice_tests::metrics_json(&metrics)["SINK.up"]["EventQuarantinedCount"]
            .as_str()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    assert!(wait_until(Duration::from_secs(10), || quarantined() == 100), "{}", quarantined());
    // Several report intervals in which the refused report is tried again.
    let reports_before = receiver.requests();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(receiver.requests() > reports_before, "the loss report was tried (and refused)");
    assert_eq!(quarantined(), 100, "only the 100 events are counted");
    let out = sluice(&["inspect", &data.to_string_lossy(), "--json"]).output().unwrap_or_else(|e| panic!("{e}"));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let kept: u64 =
        report["quarantine"].as_array().map(|q| q.iter().filter_map(|e| e["events"].as_u64()).sum()).unwrap_or(0);
    assert_eq!(kept, 100, "inspect agrees: {report}");
}
