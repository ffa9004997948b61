//! Interop with a real OpenTelemetry Collector (built from its Go modules:
//! OTLP/HTTP receiver, file exporter): Sluice's `otlp_http` sink delivers
//! events as log records with their bodies, attributes and ids intact, across
//! a collector restart.

use base64::Engine;
use sluice_tests::interop::{http_intake_config, run_script};
use sluice_tests::{free_port, post, wait_until, Agent};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

const TOTAL: usize = 20_000;

fn body(i: usize) -> Vec<u8> {
    if i.is_multiple_of(4) {
        vec![0xff, 0x00, 0xc3, (i % 251) as u8]
    } else {
        format!("ligne {i} — 日志 \"quoted\" \\ end").into_bytes()
    }
}

struct Collector(std::path::PathBuf);

impl Collector {
    fn start(work: &Path, port: u16) -> Collector {
        run_script("otelcol", "fetch.sh", &[]);
        run_script("otelcol", "collector.sh", &["start", &work.to_string_lossy(), &port.to_string()]);
        Collector(work.to_path_buf())
    }
    fn stop(&self) {
        run_script("otelcol", "collector.sh", &["stop", &self.0.to_string_lossy()]);
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash")
            .arg(sluice_tests::interop::script("otelcol", "collector.sh"))
            .arg("stop")
            .arg(&self.0)
            .output();
    }
}

/// Log records in the file exporter's output, by `seq` attribute; plus the resources seen.
fn records(work: &Path) -> (HashMap<usize, Vec<serde_json::Value>>, Vec<serde_json::Value>) {
    let mut by_seq: HashMap<usize, Vec<serde_json::Value>> = HashMap::new();
    let mut resources = Vec::new();
    let text = std::fs::read_to_string(work.join("logs.json")).unwrap_or_default();
    for line in text.lines() {
        let Ok(request) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        for rl in request["resourceLogs"].as_array().into_iter().flatten() {
            resources.push(rl["resource"].clone());
            for sl in rl["scopeLogs"].as_array().into_iter().flatten() {
                for r in sl["logRecords"].as_array().into_iter().flatten() {
                    let seq = attribute(r, "seq").and_then(|s| s.parse().ok());
                    if let Some(seq) = seq {
                        by_seq.entry(seq).or_default().push(r.clone());
                    }
                }
            }
        }
    }
    (by_seq, resources)
}

fn attribute(record: &serde_json::Value, key: &str) -> Option<String> {
    record["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)
        .and_then(|a| a["value"]["stringValue"].as_str().map(str::to_string))
}

#[test]
fn otlp_http_records_arrive_intact_across_a_collector_restart() {
    let _serial = crate::one_at_a_time();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let work = dir.path().join("collector");
    let otlp_port = free_port();
    let collector = Collector::start(&work, otlp_port);
    let port = free_port();
    let config = http_intake_config(
        dir.path(),
        "sluice",
        port,
        &format!("type = \"otlp_http\"\nurl = \"http://127.0.0.1:{otlp_port}\"\nresource = {{ \"service.name\" = \"edge-test\", \"device.id\" = \"board-7\" }}\nbatch = {{ max_events = 500, linger = \"20ms\" }}\nretry = {{ initial = \"100ms\", max = \"1s\" }}"),
    );
    let mut agent = Agent::start(&config, &dir.path().join("sluice.log"));
    let addr = format!("127.0.0.1:{port}");
    assert!(wait_until(Duration::from_secs(20), || std::net::TcpStream::connect(&addr).is_ok()));

    let send = |range: std::ops::Range<usize>| {
        for start in range.step_by(1000) {
            let mut lines = Vec::new();
            for i in start..start + 1000 {
                let line = match String::from_utf8(body(i)) {
                    Ok(text) => serde_json::json!({"headers": {"seq": i.to_string(), "app": "ünï"}, "body": text}),
                    Err(e) => serde_json::json!({"headers": {"seq": i.to_string(), "app": "ünï"},
                        "body_base64": base64::engine::general_purpose::STANDARD.encode(e.as_bytes())}),
                };
                lines.extend_from_slice(line.to_string().as_bytes());
                lines.push(b'\n');
            }
            let (status, reply) = post(&addr, "/", "application/x-ndjson", &[], &lines).unwrap_or((0, String::new()));
            assert_eq!(status, 200, "{reply}");
        }
    };
    send(0..TOTAL / 2);
    assert!(wait_until(Duration::from_secs(60), || records(&work).0.len() >= TOTAL / 4), "a quarter did not arrive");
    collector.stop(); // the rest waits in the channel, retried with backoff
    send(TOTAL / 2..TOTAL);
    std::thread::sleep(Duration::from_secs(1));
    run_script("otelcol", "collector.sh", &["start", &work.to_string_lossy(), &otlp_port.to_string()]);
    let all = wait_until(Duration::from_secs(90), || records(&work).0.len() >= TOTAL);
    let (by_seq, resources) = records(&work);
    assert!(all, "only {} of {TOTAL} records arrived", by_seq.len());

    for resource in &resources {
        let attrs = resource["attributes"].as_array().cloned().unwrap_or_default();
        let get = |k: &str| attrs.iter().find(|a| a["key"] == k).map(|a| a["value"]["stringValue"].clone());
        assert_eq!(get("service.name"), Some("edge-test".into()));
        assert_eq!(get("device.id"), Some("board-7".into()));
        assert!(get("host.name").is_some(), "host.name filled in: {resource}");
    }
    let mut ids = std::collections::HashSet::new();
    for i in 0..TOTAL {
        let r = &by_seq[&i][0];
        assert_eq!(attribute(r, "app").as_deref(), Some("ünï"), "record {i}");
        let uid = attribute(r, "log.record.uid").unwrap_or_default();
        assert_eq!(uid.len(), 26, "record {i}: log.record.uid");
        ids.insert(uid);
        let want = body(i);
        match String::from_utf8(want.clone()) {
            Ok(text) => assert_eq!(r["body"]["stringValue"], text, "record {i}"),
            Err(_) => {
                let got = r["body"]["bytesValue"].as_str().unwrap_or_default();
                assert_eq!(base64::engine::general_purpose::STANDARD.decode(got).ok(), Some(want), "record {i}");
            }
        }
        assert!(r["observedTimeUnixNano"].as_str().is_some_and(|t| t.len() >= 19), "record {i}: time");
    }
    assert_eq!(ids.len(), TOTAL, "one id per event");
    let duplicates: usize = by_seq.values().map(|v| v.len() - 1).sum();
    eprintln!("otlp_http: {TOTAL} records at the collector, {duplicates} duplicates");
    assert_eq!(agent.terminate(), Some(0));
}
