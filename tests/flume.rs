//! Interop with a real Apache Flume 1.11 agent (jars from Maven Central, Java 17).
//!
//! Sluice ships 100,000 events — non-ASCII headers and text, binary bodies —
//! to Flume's AvroSource (plain, then deflate) and to its HTTPSource, each
//! into a durable file channel and a `file_roll` sink writing Avro container
//! files. Flume is SIGKILLed and restarted in the middle of each run; every
//! event must arrive with its headers and body byte-exact. Then the tier:
//! edge Sluice → gateway Sluice (`dedup`) → Flume, with the edge SIGKILLed 10 times.

use base64::Engine;
use sluice_tests::interop::{http_intake_config, read_file_roll, FlumeAgent, FlumeEvent};
use sluice_tests::{free_port, post, wait_until, Agent};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

const TOTAL: usize = 100_000;

/// Event `i`: a body that is binary every third event, non-ASCII text otherwise.
fn body(i: usize) -> Vec<u8> {
    if i.is_multiple_of(3) {
        let mut b = vec![0x00, 0xff, 0xfe, 0x80, b'\n', b'"', 0xc3];
        b.extend_from_slice(&(i as u64).to_le_bytes());
        b
    } else {
        format!("événement {i}: 事件 «ünïcödé» \"quoted\" \\ tab\there").into_bytes()
    }
}

fn headers(i: usize) -> Vec<(String, String)> {
    vec![
        ("seq".into(), i.to_string()),
        ("lang".into(), "日本語 — ñ".into()),
        ("path".into(), format!("/var/log/app-{}.log", i % 7)),
    ]
}

/// POSTs all events to a Sluice http source as ndjson, 1000 a request,
/// retrying while the channel pushes back.
fn send_all(addr: &str) {
    for start in (0..TOTAL).step_by(1000) {
        let mut body = Vec::new();
        for i in start..(start + 1000).min(TOTAL) {
            let headers: serde_json::Map<String, serde_json::Value> =
                headers(i).into_iter().map(|(k, v)| (k, v.into())).collect();
            let line = match String::from_utf8(self::body(i)) {
                Ok(text) => serde_json::json!({ "headers": headers, "body": text }),
                Err(e) => serde_json::json!({
                    "headers": headers,
                    "body_base64": base64::engine::general_purpose::STANDARD.encode(e.as_bytes())
                }),
            };
            body.extend_from_slice(line.to_string().as_bytes());
            body.push(b'\n');
        }
        let accepted = wait_until(Duration::from_secs(60), || {
            matches!(post(addr, "/", "application/x-ndjson", &[], &body), Ok((200, _)))
        });
        assert!(accepted, "the agent did not accept events {start}..");
    }
}

/// Checks every event arrived once or more, byte-exact; returns the duplicates.
/// `http`: Flume's JSON handler carries text only, so binary bodies arrive as
/// base64 with `sluice.body-encoding: base64`.
fn verify(events: &[FlumeEvent], http: bool) -> usize {
    let mut seen: HashMap<usize, usize> = HashMap::new();
    for e in events {
        let seq: usize = e.headers.get("seq").and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no seq: {e:?}"));
        *seen.entry(seq).or_default() += 1;
        for (k, v) in headers(seq) {
            assert_eq!(e.headers.get(&k), Some(&v), "event {seq}: header {k}");
        }
        assert_eq!(e.headers.get("id").map(String::len), Some(26), "event {seq}: the id header");
        let want = body(seq);
        if http && std::str::from_utf8(&want).is_err() {
            assert_eq!(e.headers.get("sluice.body-encoding").map(String::as_str), Some("base64"), "event {seq}");
            let decoded = base64::engine::general_purpose::STANDARD.decode(&e.body).unwrap_or_default();
            assert_eq!(decoded, want, "event {seq}: body");
        } else {
            assert_eq!(e.body, want, "event {seq}: body");
        }
    }
    let missing: Vec<usize> = (0..TOTAL).filter(|i| !seen.contains_key(i)).take(10).collect();
    assert!(missing.is_empty(), "{} of {TOTAL} events missing, first {missing:?}", TOTAL - seen.len());
    seen.values().map(|n| n - 1).sum()
}

fn distinct(events: &[FlumeEvent]) -> usize {
    events.iter().filter_map(|e| e.headers.get("seq")).collect::<std::collections::HashSet<_>>().len()
}

/// A Sluice agent: http source on `port` → SQLite channel → `sink` (a TOML table body).
fn sluice_config(dir: &Path, name: &str, port: u16, sink: &str) -> std::path::PathBuf {
    let sink = format!(
        "{sink}\nbatch = {{ max_events = 1000, linger = \"20ms\" }}\nretry = {{ initial = \"100ms\", max = \"1s\" }}"
    );
    http_intake_config(dir, name, port, &sink)
}

fn listening(addr: &str) -> bool {
    wait_until(Duration::from_secs(20), || std::net::TcpStream::connect(addr).is_ok())
}

/// Ships everything to a Flume agent made from `template`, SIGKILLing and
/// restarting Flume once a third has arrived.
fn ship_through_flume_kill(template: &str, compression: &str, sink: impl Fn(u16) -> String, http: bool) {
    let _serial = crate::one_at_a_time();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap_or_else(|e| panic!("{e}"));
    let flume_port = free_port();
    let flume = FlumeAgent::start(
        template,
        &dir.path().join("flume"),
        &[
            ("PORT", &flume_port.to_string()),
            ("COMPRESSION", compression),
            ("DIR", &out.to_string_lossy()),
            ("STATE", &dir.path().join("flume-state").to_string_lossy()),
        ],
    );
    let port = free_port();
    let config = sluice_config(dir.path(), "sluice", port, &sink(flume_port));
    let mut agent = Agent::start(&config, &dir.path().join("sluice.log"));
    let addr = format!("127.0.0.1:{port}");
    assert!(listening(&addr), "sluice did not listen");
    let sender = std::thread::spawn(move || send_all(&addr));

    assert!(
        wait_until(Duration::from_secs(120), || distinct(&read_file_roll(&out)) >= TOTAL / 3),
        "a third did not arrive; see {}",
        dir.path().display()
    );
    flume.kill9_and_restart();
    sender.join().unwrap_or_else(|_| panic!("sender panicked"));
    let all = wait_until(Duration::from_secs(180), || distinct(&read_file_roll(&out)) >= TOTAL);
    let events = read_file_roll(&out);
    assert!(all, "only {} of {TOTAL} arrived", distinct(&events));
    let duplicates = verify(&events, http);
    eprintln!("{template} ({compression}): {TOTAL} events arrived, {duplicates} duplicates from retried batches");
    assert_eq!(agent.terminate(), Some(0));
}

#[test]
fn avro_source_plain_gets_everything_across_a_flume_sigkill() {
    ship_through_flume_kill(
        "avro-to-file.properties",
        "none",
        |p| format!("type = \"flume_avro\"\naddress = \"127.0.0.1:{p}\""),
        false,
    );
}

#[test]
fn avro_source_deflate_gets_everything_across_a_flume_sigkill() {
    ship_through_flume_kill(
        "avro-to-file.properties",
        "deflate",
        // Three workers: three connections, three batches in flight when Flume dies.
        |p| format!("type = \"flume_avro\"\naddress = \"127.0.0.1:{p}\"\ncompression = \"deflate\"\nworkers = 3"),
        false,
    );
}

#[test]
fn http_source_gets_everything_across_a_flume_sigkill() {
    ship_through_flume_kill(
        "http-to-file.properties",
        "none",
        |p| {
            format!("type = \"http\"\nurl = \"http://127.0.0.1:{p}/\"\nformat = \"flume_json\"\ncompression = \"none\"")
        },
        true,
    );
}

/// Edge Sluice → gateway Sluice (http source with `dedup` → flume_avro) →
/// Flume; the edge is SIGKILLed 10 times while it ships. A batch the gateway
/// stored whose acknowledgement the killed edge never committed is sent again:
/// the gateway's `dedup` window stores it once, so Flume gets no duplicate.
#[test]
fn tier_edge_gateway_flume_has_no_duplicates_with_the_edge_killed_ten_times() {
    let _serial = crate::one_at_a_time();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap_or_else(|e| panic!("{e}"));
    let flume_port = free_port();
    let _flume = FlumeAgent::start(
        "avro-to-file.properties",
        &dir.path().join("flume"),
        &[
            ("PORT", &flume_port.to_string()),
            ("COMPRESSION", "deflate"),
            ("DIR", &out.to_string_lossy()),
            ("STATE", &dir.path().join("flume-state").to_string_lossy()),
        ],
    );
    let gateway_port = free_port();
    let gateway_config = sluice_config(
        dir.path(),
        "gateway",
        gateway_port,
        &format!("type = \"flume_avro\"\naddress = \"127.0.0.1:{flume_port}\"\ncompression = \"deflate\""),
    );
    let listen = format!("listen = \"127.0.0.1:{gateway_port}\"\n");
    let text = std::fs::read_to_string(&gateway_config).unwrap_or_default();
    assert!(text.contains(&listen), "{text}");
    let metrics = format!("127.0.0.1:{}", free_port());
    let text = text
        .replace(&listen, &format!("{listen}dedup = {{ window = \"10m\" }}\n"))
        .replace("[agent]\n", &format!("[agent]\nmetrics_listen = \"{metrics}\"\n"));
    std::fs::write(&gateway_config, text).unwrap_or_else(|e| panic!("{e}"));
    let edge_port = free_port();
    // flume_json (the http sink's default) carries each event's id in its `id` header.
    let edge_config = sluice_config(
        dir.path(),
        "edge",
        edge_port,
        &format!("type = \"http\"\nurl = \"http://127.0.0.1:{gateway_port}/\""),
    );
    let mut edge = Agent::start(&edge_config, &dir.path().join("edge0.log"));
    let edge_addr = format!("127.0.0.1:{edge_port}");
    assert!(listening(&edge_addr), "edge did not listen");

    // The gateway is down while the edge takes everything (every request answered
    // 200: committed in the edge's channel); then the edge ships its backlog.
    send_all(&edge_addr);
    let mut gateway = Agent::start(&gateway_config, &dir.path().join("gateway.log"));
    assert!(listening(&format!("127.0.0.1:{gateway_port}")), "gateway did not listen");
    // What the gateway has taken from the edge, duplicates included.
    let taken = || {
        let m = sluice_tests::metrics_json(&metrics);
        let count = |f: &str| m["SOURCE.intake"][f].as_str().and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
        count("EventAcceptedCount") + count("EventDuplicateCount")
    };
    for kill in 1..=10 {
        // Let it ship a little, then kill it while it ships (at most 10 s).
        let target = (TOTAL * kill / 12).max(taken() + 1_000);
        wait_until(Duration::from_secs(10), || taken() >= target);
        edge.kill9();
        edge = Agent::start(&edge_config, &dir.path().join(format!("edge{kill}.log")));
    }
    let arrived = || distinct(&read_file_roll(&out));
    let all = wait_until(Duration::from_secs(180), || arrived() >= TOTAL);
    let events = read_file_roll(&out);
    assert!(all, "only {} of {TOTAL} arrived", distinct(&events));
    let duplicates = verify(&events, false);
    let held_back = sluice_tests::metrics_json(&metrics)["SOURCE.intake"]["EventDuplicateCount"].clone();
    eprintln!(
        "tier with dedup: {TOTAL} events arrived at Flume, edge killed 10 times, {duplicates} duplicates; the gateway held back {held_back}"
    );
    assert_eq!(duplicates, 0, "duplicates at Flume behind a gateway with dedup");
    // The edge's ids survive both hops.
    let ids: std::collections::HashSet<&String> = events.iter().filter_map(|e| e.headers.get("id")).collect();
    assert_eq!(ids.len(), TOTAL, "one id per event across both hops");
    assert_eq!(edge.terminate(), Some(0));
    assert_eq!(gateway.terminate(), Some(0));
}

/// A self-signed certificate for 127.0.0.1 in a PKCS12 keystore for Flume,
/// and the same certificate as PEM for Sluice's `ca_file`.
fn keystore(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let store = dir.join("flume.p12");
    let pem = dir.join("flume-ca.pem");
    let keytool = |args: &[&str]| {
        let out = std::process::Command::new("keytool").args(args).output().unwrap_or_else(|e| panic!("keytool: {e}"));
        assert!(out.status.success(), "keytool {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let store_s = store.to_string_lossy().into_owned();
    keytool(&[
        "-genkeypair",
        "-alias",
        "flume",
        "-keyalg",
        "EC",
        "-groupname",
        "secp256r1",
        "-dname",
        "CN=127.0.0.1",
        "-ext",
        "SAN=IP:127.0.0.1",
        "-validity",
        "2",
        "-storetype",
        "PKCS12",
        "-keystore",
        &store_s,
        "-storepass",
        "changeit",
        "-keypass",
        "changeit",
    ]);
    keytool(&[
        "-exportcert",
        "-rfc",
        "-alias",
        "flume",
        "-keystore",
        &store_s,
        "-storepass",
        "changeit",
        "-file",
        &pem.to_string_lossy(),
    ]);
    (store, pem)
}

/// `ssl = true` on the AvroSource, alone and with deflate (Flume 1.10+ puts
/// zlib outside TLS): Sluice verifies the certificate against a CA file, and
/// refuses a server it cannot verify.
#[test]
fn avro_source_over_tls_with_and_without_deflate() {
    let _serial = crate::one_at_a_time();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (store, pem) = keystore(dir.path());
    for compression in ["none", "deflate"] {
        let run = dir.path().join(compression);
        let out = run.join("out");
        std::fs::create_dir_all(&out).unwrap_or_else(|e| panic!("{e}"));
        let template = std::fs::read_to_string(sluice_tests::interop::script("flume", "avro-to-file.properties"))
            .unwrap_or_else(|e| panic!("{e}"));
        let tls_template = run.join("avro-tls.properties");
        std::fs::write(
            &tls_template,
            format!(
                "{template}\na1.sources.r1.ssl = true\na1.sources.r1.keystore = {}\n\
                 a1.sources.r1.keystore-password = changeit\na1.sources.r1.keystore-type = PKCS12\n",
                store.display()
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let flume_port = free_port();
        let _flume = FlumeAgent::start(
            &tls_template.to_string_lossy(),
            &run.join("flume"),
            &[
                ("PORT", &flume_port.to_string()),
                ("COMPRESSION", compression),
                ("DIR", &out.to_string_lossy()),
                ("STATE", &run.join("flume-state").to_string_lossy()),
            ],
        );
        let port = free_port();
        let sink = format!(
            "type = \"flume_avro\"\naddress = \"127.0.0.1:{flume_port}\"\ncompression = \"{compression}\"\n\
             tls = {{ ca_file = \"{}\" }}",
            pem.display()
        );
        let config = sluice_config(&run, "sluice", port, &sink);
        let mut agent = Agent::start(&config, &run.join("sluice.log"));
        let addr = format!("127.0.0.1:{port}");
        assert!(listening(&addr), "sluice did not listen");
        let mut body = Vec::new();
        for i in 0..1000 {
            body.extend_from_slice(format!("{{\"headers\":{{\"seq\":\"{i}\"}},\"body\":\"tls {i} ✓\"}}\n").as_bytes());
        }
        assert!(matches!(post(&addr, "/", "application/x-ndjson", &[], &body), Ok((200, _))));
        let all = wait_until(Duration::from_secs(60), || distinct(&read_file_roll(&out)) >= 1000);
        let log = std::fs::read_to_string(run.join("sluice.log")).unwrap_or_default();
        assert!(all, "tls/{compression}: {} of 1000 arrived; log:\n{log}", distinct(&read_file_roll(&out)));
        let events = read_file_roll(&out);
        assert!(events.iter().all(|e| e.body == format!("tls {} ✓", e.headers["seq"]).into_bytes()));
        assert_eq!(agent.terminate(), Some(0));

        // The system roots do not know this self-signed certificate: nothing is sent.
        let port = free_port();
        let untrusted = format!(
            "type = \"flume_avro\"\naddress = \"127.0.0.1:{flume_port}\"\ncompression = \"{compression}\"\ntls = {{}}"
        );
        let config = sluice_config(&run, "untrusted", port, &untrusted);
        let mut agent = Agent::start(&config, &run.join("untrusted.log"));
        let addr = format!("127.0.0.1:{port}");
        assert!(listening(&addr));
        assert!(matches!(post(&addr, "/", "application/x-ndjson", &[], b"{\"body\":\"never\"}\n"), Ok((200, _))));
        let refused = wait_until(Duration::from_secs(20), || {
            std::fs::read_to_string(run.join("untrusted.log")).is_ok_and(|l| l.contains("not delivered"))
        });
        assert!(refused, "an unverifiable server was not refused");
        assert_eq!(distinct(&read_file_roll(&out)), 1000, "nothing reached Flume past a failed verification");
        assert_eq!(agent.terminate(), Some(0));
    }
}

/// A Flume whose channel refuses the batch (larger than its
/// `transactionCapacity`) answers `Status.FAILED`: Sluice keeps the events and
/// retries; nothing is committed on either side.
#[test]
fn a_failed_status_from_flume_is_retried_not_committed() {
    let _serial = crate::one_at_a_time();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap_or_else(|e| panic!("{e}"));
    let template = std::fs::read_to_string(sluice_tests::interop::script("flume", "avro-to-file.properties"))
        .unwrap_or_else(|e| panic!("{e}"));
    let small = dir.path().join("avro-small.properties");
    std::fs::write(&small, format!("{template}\na1.channels.c1.transactionCapacity = 10\n"))
        .unwrap_or_else(|e| panic!("{e}"));
    let flume_port = free_port();
    let _flume = FlumeAgent::start(
        &small.to_string_lossy(),
        &dir.path().join("flume"),
        &[
            ("PORT", &flume_port.to_string()),
            ("COMPRESSION", "none"),
            ("DIR", &out.to_string_lossy()),
            ("STATE", &dir.path().join("flume-state").to_string_lossy()),
        ],
    );
    let port = free_port();
    let config = sluice_config(
        dir.path(),
        "sluice",
        port,
        &format!("type = \"flume_avro\"\naddress = \"127.0.0.1:{flume_port}\""),
    );
    let mut agent = Agent::start(&config, &dir.path().join("sluice.log"));
    let addr = format!("127.0.0.1:{port}");
    assert!(listening(&addr));
    let body: String = (0..50).map(|i| format!("{{\"body\":\"e{i}\"}}\n")).collect();
    assert!(matches!(post(&addr, "/", "application/x-ndjson", &[], body.as_bytes()), Ok((200, _))));
    let log = dir.path().join("sluice.log");
    let failed = wait_until(Duration::from_secs(30), || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.matches("appendBatch returned FAILED").count() >= 2)
    });
    assert!(failed, "{}", std::fs::read_to_string(&log).unwrap_or_default());
    assert_eq!(agent.terminate(), Some(0));
    assert!(read_file_roll(&out).is_empty(), "Flume committed nothing");
    let inspect = sluice_tests::sluice(&["inspect", &dir.path().join("sluice-data").to_string_lossy(), "--json"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let report: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap_or_default();
    assert_eq!(report["channels"][0]["events"], 50, "all 50 still in Sluice's channel: {report}");
}
