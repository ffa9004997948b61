//! A real full disk: the data directory on an 8 MiB tmpfs, the upstream down
//! until intake is refused (or, under `drop_oldest`, evicts), then up. Every
//! acknowledged event must arrive, intake must resume without a restart, and
//! the counters must match what the client and the upstream saw.

use sluice_tests::receiver::Receiver;
use sluice_tests::{free_port, metrics_json, post, switchable_upstream, wait_until, Agent, Pipeline, SmallFs};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Events per request.
const PER_REQUEST: usize = 50;

fn config(dir: &Path, data: &Path, port: u16, metrics: u16, upstream: &str, on_full: &str) -> PathBuf {
    Pipeline {
        port,
        metrics: Some(metrics),
        upstream: upstream.into(),
        channel: format!("on_full = \"{on_full}\"\nblock_timeout = \"200ms\""),
        sink: "batch = { max_events = 200, linger = \"20ms\" }\nretry = { initial = \"50ms\", max = \"200ms\" }".into(),
        ..Pipeline::default()
    }
    .write(dir, data)
}

/// One request of [`PER_REQUEST`] events of ~200 random bytes (LZ4 cannot shrink
/// them much, so the disk fills), with header `seq` numbering them from `first`.
fn request(first: u64) -> Vec<u8> {
    let events: Vec<serde_json::Value> = (first..first + PER_REQUEST as u64)
        .map(|seq| {
            let body: String = (0..200).map(|_| fastrand::alphanumeric()).collect();
            serde_json::json!({"headers": {"seq": seq.to_string()}, "body": body})
        })
        .collect();
    serde_json::to_vec(&events).unwrap_or_default()
}

/// What a client saw while the upstream was down.
struct Filled {
    accepted: BTreeSet<u64>,
    next: u64,
    refusals: Vec<String>,
}

/// Posts until `refused_in_a_row` requests in a row are refused, or `max_requests` were sent.
fn fill(addr: &str, refused_in_a_row: usize, max_requests: usize) -> Filled {
    let mut filled = Filled { accepted: BTreeSet::new(), next: 0, refusals: Vec::new() };
    let mut in_a_row = 0;
    for _ in 0..max_requests {
        let first = filled.next;
        filled.next += PER_REQUEST as u64;
        let (status, body) = post(addr, "/", "application/json", &[], &request(first)).unwrap_or((0, String::new()));
        if status == 200 {
            filled.accepted.extend(first..first + PER_REQUEST as u64);
            in_a_row = 0;
            continue;
        }
        filled.refusals.push(format!("{status} {}", body.trim()));
        in_a_row += 1;
        if in_a_row >= refused_in_a_row {
            break;
        }
    }
    filled
}

fn received(receiver: &Receiver) -> BTreeSet<u64> {
    receiver.events().iter().filter_map(|e| e["headers"]["seq"].as_str().and_then(|s| s.parse().ok())).collect()
}

fn counter(metrics: &str, component: &str, name: &str) -> u64 {
    metrics_json(metrics)[component][name].as_str().and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Refusing policies: intake gets 503 "disk full", delivery drains, intake resumes.
fn refuses_then_drains(on_full: &str) {
    let fs = SmallFs::mount(8);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (receiver, up) = switchable_upstream(500);
    let (port, metrics) = (free_port(), free_port());
    let config = config(dir.path(), &fs.path().join("data"), port, metrics, &receiver.url(), on_full);
    let _agent = Agent::start(&config, &dir.path().join("agent.log"));
    let (addr, metrics) = (format!("127.0.0.1:{port}"), format!("127.0.0.1:{metrics}"));
    assert!(wait_until(Duration::from_secs(10), || !metrics_json(&metrics).is_null()), "agent did not start");

    let filled = fill(&addr, 5, 5000);
    let log = std::fs::read_to_string(dir.path().join("agent.log")).unwrap_or_default();
    assert!(filled.refusals.len() >= 5, "the 8 MiB disk never filled: {} accepted\n{log}", filled.accepted.len());
    assert!(
        filled.refusals.iter().all(|r| r.starts_with("503") && r.contains("disk full")),
        "a full disk answers 503 and says so: {:?}",
        &filled.refusals[..filled.refusals.len().min(3)]
    );
    assert!(filled.accepted.len() > 10_000, "the disk should hold more than {} events", filled.accepted.len());
    assert!(counter(&metrics, "CHANNEL.main", "EventRefusedDiskFullCount") >= 5 * PER_REQUEST as u64);
    eprintln!("{on_full}: {} events accepted on 8 MiB, then {:?}", filled.accepted.len(), filled.refusals.first());

    up.store(true, Ordering::SeqCst);
    let drained = wait_until(Duration::from_secs(120), || received(&receiver).len() >= filled.accepted.len());
    let got = received(&receiver);
    let missing: Vec<_> = filled.accepted.difference(&got).take(5).collect();
    let log = std::fs::read_to_string(dir.path().join("agent.log")).unwrap_or_default();
    assert!(drained && missing.is_empty(), "acknowledged events missing upstream: {missing:?}\n{log}");

    // Intake resumes by itself: no restart.
    let resumed = wait_until(Duration::from_secs(20), || {
        post(&addr, "/", "application/json", &[], &request(10_000_000)).is_ok_and(|(s, _)| s == 200)
    });
    assert!(resumed, "intake did not resume after the backlog drained");
    assert!(wait_until(Duration::from_secs(20), || received(&receiver).contains(&10_000_000)));
    let accepted = filled.accepted.len() as u64 + PER_REQUEST as u64;
    assert_eq!(counter(&metrics, "SOURCE.intake", "EventAcceptedCount"), accepted, "accepted as counted");
    assert!(
        wait_until(Duration::from_secs(10), || counter(&metrics, "CHANNEL.main", "EventTakeSuccessCount") == accepted)
    );
    assert_eq!(counter(&metrics, "CHANNEL.main", "ChannelSize"), 0);
}

#[test]
fn full_disk_under_block_refuses_intake_and_never_stops_delivery() {
    refuses_then_drains("block");
}

#[test]
fn full_disk_under_reject_refuses_intake_and_never_stops_delivery() {
    refuses_then_drains("reject");
}

#[test]
fn full_disk_under_drop_oldest_evicts_and_counts() {
    let fs = SmallFs::mount(8);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (receiver, up) = switchable_upstream(500);
    let (port, metrics) = (free_port(), free_port());
    let config = config(dir.path(), &fs.path().join("data"), port, metrics, &receiver.url(), "drop_oldest");
    let _agent = Agent::start(&config, &dir.path().join("agent.log"));
    let (addr, metrics) = (format!("127.0.0.1:{port}"), format!("127.0.0.1:{metrics}"));
    assert!(wait_until(Duration::from_secs(10), || !metrics_json(&metrics).is_null()), "agent did not start");

    // Twice what the disk holds: the oldest go, nothing is refused.
    let filled = fill(&addr, 1, 1600);
    assert!(filled.refusals.is_empty(), "drop_oldest makes room instead of refusing: {:?}", filled.refusals.first());
    let evicted = counter(&metrics, "CHANNEL.main", "EventEvictedCount");
    eprintln!("drop_oldest: {} events accepted on 8 MiB, {evicted} evicted", filled.accepted.len());
    assert!(evicted > 10_000, "a full disk evicts like a full quota: {evicted} evicted");

    up.store(true, Ordering::SeqCst);
    let accepted = filled.accepted.len() as u64;
    let delivered = wait_until(Duration::from_secs(120), || received(&receiver).len() as u64 + evicted >= accepted);
    let got = received(&receiver);
    assert!(delivered, "{} delivered + {evicted} evicted < {accepted} accepted", got.len());
    assert_eq!(got.len() as u64 + evicted, accepted, "every accepted event is delivered or counted as evicted");
    // The newest survive: eviction takes the oldest.
    assert!(got.contains(&(filled.next - 1)), "the last event accepted was delivered");
    let report = sluice_tests::sluice(&["inspect", &fs.path().join("data").to_string_lossy(), "--json"])
        .output()
        .unwrap_or_else(|e| panic!("inspect: {e}"));
    let report: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap_or_default();
    let counted: u64 = report["losses"]
        .as_array()
        .map(|l| l.iter().filter(|x| x["reason"] == "evicted").filter_map(|x| x["events"].as_u64()).sum())
        .unwrap_or(0);
    assert_eq!(counted, evicted, "inspect counts what the metric counts");
}

#[test]
fn killed_while_the_disk_is_full_it_restarts_and_delivers() {
    let fs = SmallFs::mount(8);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (receiver, up) = switchable_upstream(500);
    let (port, metrics) = (free_port(), free_port());
    let config = config(dir.path(), &fs.path().join("data"), port, metrics, &receiver.url(), "reject");
    let mut agent = Agent::start(&config, &dir.path().join("agent1.log"));
    let (addr, metrics) = (format!("127.0.0.1:{port}"), format!("127.0.0.1:{metrics}"));
    assert!(wait_until(Duration::from_secs(10), || !metrics_json(&metrics).is_null()), "agent did not start");
    let filled = fill(&addr, 3, 5000);
    assert!(filled.refusals.len() >= 3, "the disk never filled");
    agent.kill9();
    assert!(fs.free() < 2 << 20, "the disk is (nearly) full when the agent restarts: {} free", fs.free());

    let _agent = Agent::start(&config, &dir.path().join("agent2.log"));
    let started = wait_until(Duration::from_secs(20), || !metrics_json(&metrics).is_null());
    let log = std::fs::read_to_string(dir.path().join("agent2.log")).unwrap_or_default();
    assert!(started, "the agent must start on a full disk\n{log}");
    up.store(true, Ordering::SeqCst);
    let drained = wait_until(Duration::from_secs(120), || received(&receiver).is_superset(&filled.accepted));
    let missing: Vec<_> = filled.accepted.difference(&received(&receiver)).take(5).copied().collect();
    assert!(drained, "acknowledged events lost across a kill -9 on a full disk: {missing:?}");
    assert!(wait_until(Duration::from_secs(20), || {
        post(&addr, "/", "application/json", &[], &request(10_000_000)).is_ok_and(|(s, _)| s == 200)
    }));
}
