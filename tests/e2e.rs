use sluice_tests::receiver::Receiver;
use sluice_tests::{free_port, test_bin, wait_until, write, Agent};
use std::collections::HashSet;
use std::process::Command;
use std::time::Duration;

fn config(dir: &std::path::Path, port: u16, upstream: &str, workers: usize) -> std::path::PathBuf {
    write(
        dir,
        "agent.toml",
        &format!(
            r#"[agent]
data_dir = "{data}"
[channels.main]
type = "sqlite"
[sources.intake]
type = "http"
channels = ["main"]
listen = "127.0.0.1:{port}"
[sinks.upstream]
type = "http"
channel = "main"
url = "{upstream}"
batch = {{ max_events = 2000, linger = "20ms" }}
retry = {{ initial = "100ms", max = "1s" }}
workers = {workers}
"#,
            data = dir.join("data").display()
        ),
    )
}

fn seqs(receiver: &Receiver) -> (HashSet<u64>, usize) {
    let events = receiver.events();
    let total = events.len();
    let set = events.iter().filter_map(|e| e["headers"]["seq"].as_str().and_then(|s| s.parse().ok())).collect();
    (set, total)
}

#[test]
fn sigkill_half_way_loses_nothing() {
    sigkill_half_way(1);
}

/// The same with three batches in flight when the agent is killed: each lease
/// must come back on restart, whichever worker held it.
#[test]
fn sigkill_half_way_loses_nothing_with_three_workers() {
    sigkill_half_way(3);
}

fn sigkill_half_way(workers: usize) {
    const TOTAL: usize = 100_000;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let receiver = Receiver::ok();
    let port = free_port();
    let config = config(dir.path(), port, &receiver.url(), workers);
    let mut agent = Agent::start(&config, &dir.path().join("agent1.log"));
    let addr = format!("127.0.0.1:{port}");
    assert!(
        wait_until(Duration::from_secs(10), || std::net::TcpStream::connect(&addr).is_ok()),
        "agent did not listen"
    );

    let loadgen = {
        let addr = addr.clone();
        std::thread::spawn(move || {
            Command::new(test_bin("loadgen")).args([addr.as_str(), &TOTAL.to_string(), "500", "2"]).output()
        })
    };
    assert!(wait_until(Duration::from_secs(60), || seqs(&receiver).0.len() >= TOTAL / 2), "half did not arrive");
    agent.kill9();
    let mut agent = Agent::start(&config, &dir.path().join("agent2.log"));
    let output =
        loadgen.join().unwrap_or_else(|_| panic!("loadgen panicked")).unwrap_or_else(|e| panic!("loadgen: {e}"));
    assert!(output.status.success(), "loadgen failed: {}", String::from_utf8_lossy(&output.stderr));
    let complete = wait_until(Duration::from_secs(60), || seqs(&receiver).0.len() >= TOTAL);
    let (set, total) = seqs(&receiver);
    let missing: Vec<u64> = (0..TOTAL as u64).filter(|s| !set.contains(s)).take(10).collect();
    assert!(complete, "lost events, e.g. {missing:?} ({} of {TOTAL} arrived)", set.len());
    let ids: HashSet<String> =
        receiver.events().iter().filter_map(|e| e["headers"]["id"].as_str().map(String::from)).collect();
    assert!(ids.len() >= TOTAL, "every event carries an id ({} distinct ids)", ids.len());
    eprintln!("arrived {} distinct of {total} delivered (duplicates from the killed run's unacknowledged batches and retried requests: {})", set.len(), total - set.len());
    assert_eq!(agent.terminate(), Some(0), "clean exit on SIGTERM");
}
