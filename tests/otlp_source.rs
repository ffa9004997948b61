//! Interop of the `otlp_http` source with real OTLP senders: the OpenTelemetry
//! Python SDK (batch processor, OTLP/HTTP protobuf exporter), and the
//! OpenTelemetry Collector's `otlphttp` exporter in both encodings, forwarding
//! what Sluice's own `otlp_http` sink sent it, ids intact.

use sluice_tests::interop::{run_script, script};
use sluice_tests::receiver::Receiver;
use sluice_tests::{free_port, post, wait_until, write, Agent};
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// An agent whose `otlp_http` source on `port` stores into SQLite and ships flume_json to `receiver`.
fn otlp_intake(dir: &Path, port: u16, receiver: &Receiver) -> Agent {
    let config = write(
        dir,
        "intake.toml",
        &format!(
            "[agent]\ndata_dir = \"{data}\"\n[channels.main]\ntype = \"sqlite\"\n\
             [sources.otlp]\ntype = \"otlp_http\"\nchannels = [\"main\"]\nlisten = \"127.0.0.1:{port}\"\n\
             [sinks.up]\ntype = \"http\"\nchannel = \"main\"\nurl = \"{url}\"\nbatch = {{ max_events = 1000, linger = \"20ms\" }}\n",
            data = dir.join("intake-data").display(),
            url = receiver.url()
        ),
    );
    let agent = Agent::start(&config, &dir.join("intake.log"));
    let addr = format!("127.0.0.1:{port}");
    assert!(wait_until(Duration::from_secs(20), || std::net::TcpStream::connect(&addr).is_ok()), "intake up");
    agent
}

/// Events received, by the value of header `key`.
fn by_header(receiver: &Receiver, key: &str) -> HashMap<String, Vec<serde_json::Value>> {
    let mut out: HashMap<String, Vec<serde_json::Value>> = HashMap::new();
    for e in receiver.events() {
        if let Some(v) = e["headers"][key].as_str() {
            out.entry(v.to_owned()).or_default().push(e);
        }
    }
    out
}

#[test]
fn the_python_sdk_logs_ten_thousand_records_with_body_severity_attributes_and_resource() {
    let _serial = crate::one_at_a_time();
    const TOTAL: usize = 10_000;
    let python = run_script("otelpy", "fetch.sh", &[]);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let receiver = Receiver::ok();
    let port = free_port();
    let mut agent = otlp_intake(dir.path(), port, &receiver);
    let emitted = Command::new(python.trim())
        .arg(script("otelpy", "emit.py"))
        .arg(format!("http://127.0.0.1:{port}/v1/logs"))
        .arg(TOTAL.to_string())
        .output()
        .unwrap_or_else(|e| panic!("emit.py: {e}"));
    assert!(emitted.status.success(), "emit.py: {}", String::from_utf8_lossy(&emitted.stderr));
    assert!(wait_until(Duration::from_secs(60), || by_header(&receiver, "seq").len() >= TOTAL), "all delivered");
    let by_seq = by_header(&receiver, "seq");
    assert_eq!(by_seq.len(), TOTAL);
    for i in 0..TOTAL {
        let events = &by_seq[&i.to_string()];
        assert_eq!(events.len(), 1, "record {i} once");
        let e = &events[0];
        let h = &e["headers"];
        assert_eq!(e["body"], format!("record {i} — ünï"), "record {i}");
        let (number, text) = if i % 2 == 1 { ("13", "WARN") } else { ("9", "INFO") };
        assert_eq!((h["severity_number"].as_str(), h["severity"].as_str()), (Some(number), Some(text)), "record {i}");
        assert_eq!(h["kind"], "emit");
        assert_eq!(h["ratio"].as_str().and_then(|r| r.parse::<f64>().ok()), Some(i as f64 / 4.0), "record {i}");
        assert_eq!(h["resource.service.name"], "py-emitter");
        assert_eq!(h["resource.deployment.environment"], "ci");
        assert_eq!(h["resource.telemetry.sdk.language"], "python");
        assert_eq!(h["otel.scope.name"], "sluice.interop");
        assert_eq!(h["timestamp"], (1_700_000_000_000u64 + i as u64).to_string(), "record {i}: timeUnixNano as ms");
    }
    assert_eq!(agent.terminate(), Some(0));
}

#[test]
fn the_collector_forwards_sluice_records_back_in_protobuf_and_json_with_ids_intact() {
    let _serial = crate::one_at_a_time();
    const TOTAL: usize = 20_000;
    run_script("otelcol", "fetch.sh", &[]);
    for encoding in ["proto", "json"] {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let receiver = Receiver::ok();
        let intake_port = free_port();
        let mut intake = otlp_intake(dir.path(), intake_port, &receiver);

        let work = dir.path().join("collector");
        let collector_port = free_port();
        let started = Command::new("bash")
            .arg(script("otelcol", "collector.sh"))
            .args(["start", &work.to_string_lossy(), &collector_port.to_string()])
            .env("OTELCOL_FORWARD", format!("http://127.0.0.1:{intake_port}"))
            .env("OTELCOL_FORWARD_ENCODING", encoding)
            .output()
            .unwrap_or_else(|e| panic!("collector.sh: {e}"));
        assert!(started.status.success(), "collector: {}", String::from_utf8_lossy(&started.stderr));
        let _collector = StopOnDrop(work.clone());

        let edge_port = free_port();
        let edge_config = sluice_tests::interop::http_intake_config(
            dir.path(),
            "edge",
            edge_port,
            &format!(
                "type = \"otlp_http\"\nurl = \"http://127.0.0.1:{collector_port}\"\n\
                 resource = {{ \"service.name\" = \"edge\" }}\nbatch = {{ max_events = 500, linger = \"20ms\" }}"
            ),
        );
        let mut edge = Agent::start(&edge_config, &dir.path().join("edge.log"));
        let addr = format!("127.0.0.1:{edge_port}");
        assert!(wait_until(Duration::from_secs(20), || std::net::TcpStream::connect(&addr).is_ok()));

        let ids: Vec<String> = (0..TOTAL).map(|_| sluice::event::EventId::generate().to_string()).collect();
        for start in (0..TOTAL).step_by(1000) {
            let mut lines = Vec::new();
            for (i, id) in ids.iter().enumerate().skip(start).take(1000) {
                let line =
                    serde_json::json!({"id": id, "headers": {"seq": i.to_string()}, "body": format!("line {i} \"ü\"")});
                lines.extend_from_slice(line.to_string().as_bytes());
                lines.push(b'\n');
            }
            let (status, reply) = post(&addr, "/", "application/x-ndjson", &[], &lines).unwrap_or_default();
            assert_eq!(status, 200, "{reply}");
        }
        let arrived = wait_until(Duration::from_secs(90), || by_header(&receiver, "seq").len() >= TOTAL);
        let by_seq = by_header(&receiver, "seq");
        assert!(arrived, "{encoding}: {} of {TOTAL} arrived back", by_seq.len());
        for (i, id) in ids.iter().enumerate() {
            let e = &by_seq[&i.to_string()][0];
            assert_eq!(e["body"], format!("line {i} \"ü\""), "{encoding}: record {i}");
            assert_eq!(
                e["headers"]["log.record.uid"],
                id.as_str(),
                "{encoding}: record {i}: the id went out as log.record.uid"
            );
            assert_eq!(e["headers"]["id"], id.as_str(), "{encoding}: record {i}: and came back as the event id");
            assert_eq!(e["headers"]["resource.service.name"], "edge");
        }
        let duplicates: usize = by_seq.values().map(|v| v.len() - 1).sum();
        eprintln!("collector otlphttp ({encoding}): {TOTAL} records back at Sluice, {duplicates} duplicates");
        assert_eq!(edge.terminate(), Some(0));
        assert_eq!(intake.terminate(), Some(0));
    }
}

/// Stops the collector in WORKDIR when dropped.
struct StopOnDrop(std::path::PathBuf);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(script("otelcol", "collector.sh")).arg("stop").arg(&self.0).output();
    }
}
