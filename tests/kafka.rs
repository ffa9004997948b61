//! Interop with a real Apache Kafka broker (4.x from Maven Central, KRaft, one
//! node): the `kafka` sink's records arrive with keys, headers and bodies,
//! read back by Kafka's own console consumer, across a broker SIGKILL.

use sluice_tests::interop::{http_intake_config, run_script, script};
use sluice_tests::{free_port, post, wait_until, Agent};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

const TOTAL: usize = 20_000;

struct Broker(std::path::PathBuf);

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash").arg(script("kafka", "broker.sh")).arg("kill").arg(&self.0).output();
    }
}

/// One consumed record.
struct Consumed {
    partition: String,
    headers: HashMap<String, String>,
    key: String,
    value: String,
}

/// Everything in `topic` (Kafka's ConsoleConsumer, from the beginning, until idle).
fn consume(work: &Path, port: u16, topic: &str) -> Vec<Consumed> {
    let out = std::process::Command::new("bash")
        .arg(script("kafka", "broker.sh"))
        .args(["consume", &work.to_string_lossy(), &port.to_string(), topic, &(TOTAL * 2).to_string(), "10000"])
        .args(["--property", "print.partition=true"])
        .output()
        .unwrap_or_else(|e| panic!("consume: {e}"));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(4, '\t');
            let partition = parts.next()?.to_string();
            let headers = parts
                .next()?
                .split(',')
                .filter_map(|kv| kv.split_once(':'))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Some(Consumed { partition, headers, key: parts.next()?.to_string(), value: parts.next()?.to_string() })
        })
        .collect()
}

#[test]
fn kafka_records_arrive_with_keys_and_headers_across_a_broker_sigkill() {
    let _serial = crate::one_at_a_time();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    run_script("kafka", "fetch.sh", &[]);
    let work = dir.path().join("kafka");
    let kafka_port = free_port();
    // Both ports from the tests' allocator: a controller port the script picked
    // could land on a port another test (or an ephemeral socket) holds.
    let controller_port = free_port();
    run_script(
        "kafka",
        "broker.sh",
        &["start", &work.to_string_lossy(), &kafka_port.to_string(), &controller_port.to_string()],
    );
    let broker = Broker(work.clone());
    run_script(
        "kafka",
        "broker.sh",
        &["create-topic", &work.to_string_lossy(), &kafka_port.to_string(), "events", "3"],
    );

    let port = free_port();
    let config = http_intake_config(
        dir.path(),
        "sluice",
        port,
        &format!("type = \"kafka\"\nbrokers = [\"127.0.0.1:{kafka_port}\"]\ntopic = \"events\"\nkey_header = \"user\"\nrequest_timeout = \"5s\"\nworkers = 3\nbatch = {{ max_events = 500, linger = \"20ms\" }}\nretry = {{ initial = \"200ms\", max = \"2s\" }}"),
    );
    let mut agent = Agent::start(&config, &dir.path().join("sluice.log"));
    let addr = format!("127.0.0.1:{port}");
    assert!(wait_until(Duration::from_secs(20), || std::net::TcpStream::connect(&addr).is_ok()));
    let send = |range: std::ops::Range<usize>| {
        for start in range.step_by(1000) {
            let mut lines = Vec::new();
            for i in start..start + 1000 {
                let headers = serde_json::json!({"seq": i.to_string(), "user": format!("u{}", i % 50), "lang": "ñ日"});
                let line = serde_json::json!({"headers": headers, "body": format!("évènement {i} 事件")});
                lines.extend_from_slice(line.to_string().as_bytes());
                lines.push(b'\n');
            }
            let (status, reply) = post(&addr, "/", "application/x-ndjson", &[], &lines).unwrap_or((0, String::new()));
            assert_eq!(status, 200, "{reply}");
        }
    };
    send(0..TOTAL / 2);
    std::thread::sleep(Duration::from_millis(500));
    run_script("kafka", "broker.sh", &["kill", &work.to_string_lossy()]);
    send(TOTAL / 2..TOTAL); // accepted into the channel while the broker is down
    run_script("kafka", "broker.sh", &["restart", &work.to_string_lossy()]);
    let mut records = Vec::new();
    let all = wait_until(Duration::from_secs(150), || {
        records = consume(&work, kafka_port, "events");
        records.iter().filter_map(|r| r.headers.get("seq")).collect::<HashSet<_>>().len() >= TOTAL
    });
    let seqs: HashSet<usize> = records.iter().filter_map(|r| r.headers.get("seq")?.parse().ok()).collect();
    let log = std::fs::read_to_string(dir.path().join("sluice.log")).unwrap_or_default();
    assert!(
        all,
        "only {} of {TOTAL} records in the topic; agent log:\n{}",
        seqs.len(),
        &log[log.len().saturating_sub(3000)..]
    );
    let mut partition_of_key: HashMap<&str, &str> = HashMap::new();
    for r in &records {
        let seq: usize = r.headers["seq"].parse().unwrap_or(usize::MAX);
        assert_eq!(r.key, format!("u{}", seq % 50), "record {seq}: key from the user header");
        assert_eq!(r.value, format!("évènement {seq} 事件"), "record {seq}: value");
        assert_eq!(r.headers.get("lang").map(String::as_str), Some("ñ日"), "record {seq}");
        assert_eq!(r.headers.get("id").map(String::len), Some(26), "record {seq}: id header");
        let first = partition_of_key.entry(r.key.as_str()).or_insert(r.partition.as_str());
        assert_eq!(*first, r.partition, "key {} in two partitions", r.key);
    }
    let partitions: HashSet<&&str> = partition_of_key.values().collect();
    assert!(partitions.len() > 1, "keys spread over the partitions: {partitions:?}");
    eprintln!("kafka: {TOTAL} records, {} duplicates, {} partitions", records.len() - TOTAL, partitions.len());
    assert_eq!(agent.terminate(), Some(0));
    drop(broker);
}
