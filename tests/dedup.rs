//! The `dedup` window of the http source: a batch retried after its
//! acknowledgement was lost is stored once, across restarts, and an edge
//! killed ten times while shipping to a gateway makes no duplicates there.

use sluice_tests::receiver::Receiver;
use sluice_tests::{free_port, metrics_json, post, test_bin, wait_until, write, Agent};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn gateway_config(dir: &Path, port: u16, metrics: u16, upstream: &str, dedup: bool) -> PathBuf {
    let dedup = if dedup { "dedup = { window = \"10m\", max_ids = 100000 }\n" } else { "" };
    write(
        dir,
        "gateway.toml",
        &format!(
            "[agent]\ndata_dir = \"{}\"\nmetrics_listen = \"127.0.0.1:{metrics}\"\n[channels.main]\ntype = \"sqlite\"\n\
             [sources.edges]\ntype = \"http\"\nchannels = [\"main\"]\nlisten = \"127.0.0.1:{port}\"\n{dedup}\
             [sinks.up]\ntype = \"http\"\nchannel = \"main\"\nurl = \"{upstream}\"\nbatch = {{ max_events = 2000, linger = \"20ms\" }}\n",
            dir.join("gateway-data").display()
        ),
    )
}

/// A flume_json batch of `ids.len()` events, each with its id header and a sequence number.
fn batch(ids: &[String], first_seq: usize) -> Vec<u8> {
    let events: Vec<String> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            format!(r#"{{"headers":{{"id":"{id}","seq":"{}"}},"body":"event {}"}}"#, first_seq + i, first_seq + i)
        })
        .collect();
    format!("[{}]", events.join(",")).into_bytes()
}

/// A deduplicating gateway shipping to a receiver, listening.
struct Gateway {
    dir: tempfile::TempDir,
    receiver: Receiver,
    config: PathBuf,
    agent: Agent,
    /// Its http source.
    addr: String,
    /// Its metrics listener.
    metrics: String,
}

fn gateway() -> Gateway {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let receiver = Receiver::ok();
    let (port, metrics) = (free_port(), free_port());
    let config = gateway_config(dir.path(), port, metrics, &receiver.url(), true);
    let agent = Agent::start(&config, &dir.path().join("gateway1.log"));
    let addr = format!("127.0.0.1:{port}");
    assert!(wait_until(Duration::from_secs(10), || std::net::TcpStream::connect(&addr).is_ok()), "no gateway");
    Gateway { dir, receiver, config, agent, addr, metrics: format!("127.0.0.1:{metrics}") }
}

#[test]
fn a_retried_batch_is_stored_once_even_across_a_restart() {
    let Gateway { dir, receiver, config, agent: mut gateway, addr, metrics: m } = gateway();
    let ids: Vec<String> = (0..100).map(|_| sluice::event::EventId::generate().to_string()).collect();
    let send = |body: &[u8]| post(&addr, "/", "application/json", &[], body).unwrap_or_else(|e| panic!("{e}")).0;

    assert_eq!(send(&batch(&ids, 0)), 200);
    assert_eq!(send(&batch(&ids, 0)), 200, "a batch already stored is answered 200");
    assert!(wait_until(Duration::from_secs(10), || receiver.events().len() >= 100));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(receiver.events().len(), 100, "the retried batch was stored once");
    assert_eq!(metrics_json(&m)["SOURCE.edges"]["EventDuplicateCount"], "100");

    // The ids are in the store: a SIGKILL and a restart remember them.
    gateway.kill9();
    let _gateway = Agent::start(&config, &dir.path().join("gateway2.log"));
    assert!(wait_until(Duration::from_secs(10), || std::net::TcpStream::connect(&addr).is_ok()), "no restart");
    let more: Vec<String> = (0..50).map(|_| sluice::event::EventId::generate().to_string()).collect();
    let mixed: Vec<String> = ids[50..].iter().chain(&more).cloned().collect();
    assert_eq!(send(&batch(&mixed, 50)), 200);
    assert!(wait_until(Duration::from_secs(10), || receiver.events().len() >= 150));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(receiver.events().len(), 150, "only the 50 new events were stored");
    assert_eq!(metrics_json(&m)["SOURCE.edges"]["EventDuplicateCount"], "50");
    // Events without an id are never held back.
    assert_eq!(send(br#"[{"body":"no id"},{"body":"no id"}]"#), 200);
    assert!(wait_until(Duration::from_secs(10), || receiver.events().len() >= 152));
}

/// An edge shipping ndjson carries each id in the line's `id` field: held back
/// the same way.
#[test]
fn ndjson_ids_are_remembered_as_flume_json_ids_are() {
    let Gateway { receiver, addr, metrics, .. } = &gateway();
    let lines: String = (0..40)
        .map(|i| {
            format!(
                "{{\"id\":\"{}\",\"headers\":{{\"seq\":\"{i}\"}},\"body\":\"n{i}\"}}\n",
                sluice::event::EventId::generate()
            )
        })
        .collect();
    for _ in 0..2 {
        let status = post(addr, "/", "application/x-ndjson", &[], lines.as_bytes()).map(|r| r.0).ok();
        assert_eq!(status, Some(200));
    }
    assert!(wait_until(Duration::from_secs(10), || receiver.events().len() >= 40));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(receiver.events().len(), 40, "the second request stored nothing");
    assert_eq!(metrics_json(metrics)["SOURCE.edges"]["EventDuplicateCount"], "40");
}

/// Eight clients posting the same batch at once (an edge's retry racing its
/// first attempt): stored once; the puts that lost the race learn it in their
/// transaction, ask again and store nothing.
#[test]
fn racing_requests_with_the_same_ids_store_them_once() {
    let Gateway { receiver, addr, metrics, .. } = &gateway();
    for round in 0..5 {
        let ids: Vec<String> = (0..500).map(|_| sluice::event::EventId::generate().to_string()).collect();
        let body = std::sync::Arc::new(batch(&ids, round * 500));
        let clients: Vec<_> = (0..8)
            .map(|_| {
                let (addr, body) = (addr.to_string(), body.clone());
                std::thread::spawn(move || post(&addr, "/", "application/json", &[], &body).map(|r| r.0))
            })
            .collect();
        for client in clients {
            assert_eq!(client.join().ok().and_then(Result::ok), Some(200), "every racer is answered 200");
        }
    }
    assert!(wait_until(Duration::from_secs(10), || receiver.events().len() >= 2500));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(receiver.events().len(), 2500, "each batch stored once");
    let source = &metrics_json(metrics)["SOURCE.edges"];
    assert_eq!(source["EventDuplicateCount"], "17500");
    // A put that lost the race and was asked again is counted once.
    assert_eq!((&source["EventReceivedCount"], &source["EventAcceptedCount"]), (&"20000".into(), &"2500".into()));
}

/// Edge (http source, SQLite, http sink) → gateway (http source, `dedup`) → receiver.
/// The edge's channel is filled while the gateway is down; then it ships
/// while it is killed 10 times. A batch the gateway stored but whose answer
/// the edge never committed is sent again after the restart: a duplicate,
/// unless the gateway remembers the ids. Returns (distinct, delivered).
fn tier_with_edge_killed(dedup: bool) -> (usize, usize) {
    const TOTAL: usize = 20_000;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let receiver = Receiver::ok();
    let (edge_port, gateway_port, metrics) = (free_port(), free_port(), free_port());
    let edge_config = write(
        dir.path(),
        "edge.toml",
        &format!(
            "[agent]\ndata_dir = \"{}\"\n[channels.main]\ntype = \"sqlite\"\n\
             [sources.app]\ntype = \"http\"\nchannels = [\"main\"]\nlisten = \"127.0.0.1:{edge_port}\"\n\
             [sinks.gateway]\ntype = \"http\"\nchannel = \"main\"\nurl = \"http://127.0.0.1:{gateway_port}/\"\n\
             batch = {{ max_events = 200, linger = \"5ms\" }}\nretry = {{ initial = \"50ms\", max = \"200ms\" }}\n",
            dir.path().join("edge-data").display()
        ),
    );
    let mut edge = Agent::start(&edge_config, &dir.path().join("edge0.log"));
    let edge_addr = format!("127.0.0.1:{edge_port}");
    assert!(wait_until(Duration::from_secs(10), || std::net::TcpStream::connect(&edge_addr).is_ok()), "no edge");
    let out = Command::new(test_bin("loadgen"))
        .args([edge_addr.as_str(), &TOTAL.to_string(), "500", "2"])
        .output()
        .unwrap_or_else(|e| panic!("loadgen: {e}"));
    assert!(out.status.success(), "loadgen: {}", String::from_utf8_lossy(&out.stderr));

    let gateway_config = gateway_config(dir.path(), gateway_port, metrics, &receiver.url(), dedup);
    let _gateway = Agent::start(&gateway_config, &dir.path().join("gateway.log"));
    let seqs = || -> (usize, usize) {
        let events = receiver.events();
        let set: HashSet<&str> = events.iter().filter_map(|e| e["headers"]["seq"].as_str()).collect();
        (set.len(), events.len())
    };
    for kill in 1..=10 {
        // Let it ship a little, then kill it mid-stream.
        let before = seqs().1;
        wait_until(Duration::from_secs(2), || seqs().1 > before + 400);
        edge.kill9();
        edge = Agent::start(&edge_config, &dir.path().join(format!("edge{kill}.log")));
    }
    let complete = wait_until(Duration::from_secs(60), || seqs().0 >= TOTAL);
    std::thread::sleep(Duration::from_millis(500));
    let (distinct, delivered) = seqs();
    assert!(complete, "lost events: {distinct} of {TOTAL} arrived (dedup {dedup})");
    let m = metrics_json(&format!("127.0.0.1:{metrics}"));
    eprintln!(
        "dedup {}: {TOTAL} events, edge killed 10 times: {delivered} delivered, {} duplicates; gateway EventDuplicateCount {}",
        if dedup { "on" } else { "off" },
        delivered - distinct,
        m["SOURCE.edges"]["EventDuplicateCount"]
    );
    (distinct, delivered)
}

#[test]
fn an_edge_killed_ten_times_makes_no_duplicates_behind_a_deduplicating_gateway() {
    let (distinct, delivered) = tier_with_edge_killed(true);
    assert_eq!(delivered, distinct, "duplicates behind a gateway with dedup on");
    // The same without dedup, for the record (how many depends on where the kills land).
    let (distinct, delivered) = tier_with_edge_killed(false);
    eprintln!("without dedup: {} duplicates", delivered - distinct);
}
