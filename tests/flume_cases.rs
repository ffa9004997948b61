//! Flume's own test cases, as data: `tests/data/flume/syslog_cases.json` holds
//! one row per case (the Flume test it comes from, the bytes sent, the headers
//! and body Flume's test asserts), `http_cases.json` one per request of
//! Flume's JSONHandler and HTTPSource tests; `tests/data/flume/cases.py` wrote
//! both. Each row goes through the real agent (syslog over UDP and TCP, the
//! http source) and must arrive as the row says. A row that departs from
//! Flume says why in its `note`.

use base64::Engine;
use serde_json::Value;
use sluice_tests::receiver::Receiver;
use sluice_tests::{free_port, wait_until, write, Agent};
use std::collections::BTreeMap;
use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

/// The headers Flume's syslog sources set: each is either expected or absent.
const SYSLOG_HEADERS: [&str; 7] =
    ["Facility", "Severity", "priority", "version", "timestamp", "host", "flume.syslog.status"];

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// `{bsd:DAYS}` in a row: now moved by DAYS, as an RFC 3164 stamp and as its
/// milliseconds (whole seconds, UTC).
struct Clock {
    now_s: i64,
}

impl Clock {
    fn stamp(&self, days: i64) -> (String, String) {
        let t = self.now_s + days * 86_400;
        let (_, m, d) = sluice::calendar::civil_from_days(t.div_euclid(86_400));
        let s = t.rem_euclid(86_400);
        let text = format!("{} {:>2} {:02}:{:02}:{:02}", MONTHS[(m - 1) as usize], d, s / 3600, s % 3600 / 60, s % 60);
        (text, (t * 1000).to_string())
    }

    /// Replaces every `{bsd:N}`, with the stamp (`as_ms` false) or its milliseconds.
    fn fill(&self, text: &str, as_ms: bool) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(at) = rest.find("{bsd:") {
            out.push_str(&rest[..at]);
            let end = rest[at..].find('}').map_or(rest.len(), |e| at + e);
            let days: i64 = rest[at + 5..end].parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            let (stamp, ms) = self.stamp(days);
            out.push_str(if as_ms { &ms } else { &stamp });
            rest = &rest[(end + 1).min(rest.len())..];
        }
        out.push_str(rest);
        out
    }
}

/// The rows of `tests/data/flume/NAME`.
fn table(name: &str) -> Vec<Value> {
    let path = format!("{}/data/flume/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn bytes_of(row: &Value, text: &str) -> Vec<u8> {
    if row["latin1"].as_bool() == Some(true) {
        text.chars().map(|c| u8::try_from(u32::from(c)).unwrap_or_else(|_| panic!("{c:?} is not ISO-8859-1"))).collect()
    } else {
        text.as_bytes().to_vec()
    }
}

fn body_of(event: &Value) -> Vec<u8> {
    let body = event["body"].as_str().unwrap_or_default();
    if event["headers"]["sluice.body-encoding"] == "base64" {
        base64::engine::general_purpose::STANDARD.decode(body).unwrap_or_else(|e| panic!("base64: {e}"))
    } else {
        body.as_bytes().to_vec()
    }
}

/// One row sent over one transport: its name, the row, the body expected.
type Case<'a> = (String, &'a Value, Vec<u8>);

/// The sources of one `source` setting: a UDP and a TCP port.
struct Ports {
    udp: u16,
    tcp: u16,
}

#[test]
fn syslog_agrees_with_flumes_test_cases_over_udp_and_tcp() {
    let rows = table("syslog_cases.json");
    assert!(rows.len() >= 60, "the table lost rows: {}", rows.len());

    // One UDP and one TCP source per distinct extra setting, all into one channel.
    let mut variants: BTreeMap<String, Ports> = BTreeMap::new();
    for row in &rows {
        let extra = row["source"].as_str().unwrap_or_default().to_string();
        variants.entry(extra).or_insert_with(|| Ports { udp: free_port(), tcp: free_port() });
    }
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let receiver = Receiver::ok();
    let mut config = format!(
        "[agent]\ndata_dir = \"{}\"\n[channels.main]\ntype = \"sqlite\"\n\
         [sinks.up]\ntype = \"http\"\nchannel = \"main\"\nurl = \"{}\"\nbatch = {{ max_events = 200, linger = \"20ms\" }}\n",
        tmp.path().join("data").display(),
        receiver.url()
    );
    for (i, (extra, ports)) in variants.iter().enumerate() {
        for (protocol, port) in [("udp", ports.udp), ("tcp", ports.tcp)] {
            // The static header names the source: within one source, order is kept.
            config += &format!(
                "[sources.{protocol}{i}]\ntype = \"syslog\"\nchannels = [\"main\"]\nprotocol = \"{protocol}\"\n\
                 listen = \"127.0.0.1:{port}\"\nbatch_timeout = \"1ms\"\n\
                 interceptors = [{{ type = \"static\", key = \"case.source\", value = \"{protocol}:{port}\" }}]\n{extra}\n"
            );
        }
    }
    let config = write(tmp.path(), "agent.toml", &config);
    let _agent = Agent::start(&config, &tmp.path().join("agent.log"));
    let first = variants.values().next().map_or(0, |p| p.tcp);
    assert!(
        wait_until(Duration::from_secs(10), || TcpStream::connect(("127.0.0.1", first)).is_ok()),
        "agent did not start: {}",
        std::fs::read_to_string(tmp.path().join("agent.log")).unwrap_or_default()
    );
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let mut streams: BTreeMap<u16, TcpStream> = BTreeMap::new();
    let clock = Clock { now_s: (sluice::event::now_ms() / 1000) as i64 };

    // Send every row, each to its source, remembering per source what must arrive, in order.
    let mut expected: BTreeMap<String, Vec<Case>> = BTreeMap::new();
    for row in &rows {
        let from = row["from"].as_str().unwrap_or("?");
        let ports = &variants[row["source"].as_str().unwrap_or_default()];
        let transports: &[&str] = match row["transport"].as_str() {
            Some("tcp") => &["tcp"],
            Some("udp") => &["udp"],
            _ => &["udp", "tcp"],
        };
        let send = bytes_of(row, &clock.fill(row["send"].as_str().unwrap_or_default(), false));
        let want_body = bytes_of(row, &clock.fill(row["body"].as_str().unwrap_or_default(), false));
        for transport in transports {
            let port = if *transport == "udp" { ports.udp } else { ports.tcp };
            if *transport == "udp" {
                udp.send_to(&send, ("127.0.0.1", port)).unwrap_or_else(|e| panic!("{e}"));
                std::thread::sleep(Duration::from_millis(2));
            } else {
                let stream = streams.entry(port).or_insert_with(|| {
                    TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("connect: {e}"))
                });
                stream.write_all(&[&send[..], b"\n"].concat()).unwrap_or_else(|e| panic!("{e}"));
            }
            let case = (format!("{from} over {transport}"), row, want_body.clone());
            expected.entry(format!("{transport}:{port}")).or_default().push(case);
        }
    }
    let total: usize = expected.values().map(Vec::len).sum();
    let arrived = wait_until(Duration::from_secs(30), || receiver.events().len() >= total);
    std::thread::sleep(Duration::from_millis(300));
    let events = receiver.events();
    assert!(arrived && events.len() == total, "{} events arrived for {total} cases", events.len());

    let mut failures = Vec::new();
    let mut by_source: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for event in &events {
        by_source
            .entry(event["headers"]["case.source"].as_str().unwrap_or_default().to_string())
            .or_default()
            .push(event);
    }
    for (source, cases) in &expected {
        let got = by_source.get(source).map_or(&[][..], Vec::as_slice);
        assert_eq!(got.len(), cases.len(), "{source}: events arrived for its cases");
        for ((case, row, want_body), event) in cases.iter().zip(got) {
            for name in SYSLOG_HEADERS {
                let want = row["headers"][name].as_str().map(|w| clock.fill(w, true));
                let got = event["headers"][name].as_str();
                let agrees = match (want.as_deref(), got) {
                    (Some("*"), Some(_)) => true,
                    (want, got) => want == got,
                };
                if !agrees {
                    failures.push(format!("{case}: header {name}: want {want:?}, got {got:?}"));
                }
            }
            let got = body_of(event);
            if got != *want_body {
                failures.push(format!(
                    "{case}: body {:?}, want {:?}",
                    String::from_utf8_lossy(&got),
                    String::from_utf8_lossy(want_body)
                ));
            }
        }
    }
    let checked = total;
    assert!(failures.is_empty(), "{} of {checked} cases differ:\n{}", failures.len(), failures.join("\n"));
    eprintln!("{} rows, {checked} cases (row × transport) agree with Flume's tests", rows.len());
}

/// The request's JSON in the row's encoding.
fn encode(text: &str, encoding: &str) -> Vec<u8> {
    match encoding {
        "utf-16" => [0xfe, 0xff].into_iter().chain(text.encode_utf16().flat_map(u16::to_be_bytes)).collect(),
        "utf-32-be" => text.chars().flat_map(|c| u32::from(c).to_be_bytes()).collect(),
        "latin-1" => text.chars().map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?')).collect(),
        _ => text.as_bytes().to_vec(),
    }
}

/// `{"generate": n}`: n events `{"headers":{"a":"<i>"},"body":"abab…"}`, as Flume's big-batch test.
fn generated(n: u64) -> Value {
    let events: Vec<Value> =
        (0..n).map(|i| serde_json::json!({"headers": {"a": i.to_string()}, "body": "ab".repeat(10)})).collect();
    Value::Array(events)
}

#[test]
fn http_source_agrees_with_flumes_json_handler_cases() {
    let rows = table("http_cases.json");
    assert!(rows.len() >= 15, "the table lost rows: {}", rows.len());
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let receiver = Receiver::ok();
    let port = free_port();
    let config = format!(
        "[agent]\ndata_dir = \"{}\"\n[channels.main]\ntype = \"sqlite\"\n\
         [sources.web]\ntype = \"http\"\nchannels = [\"main\"]\nlisten = \"127.0.0.1:{port}\"\n\
         [sinks.up]\ntype = \"http\"\nchannel = \"main\"\nurl = \"{}\"\nbatch = {{ max_events = 5000, linger = \"20ms\" }}\n",
        tmp.path().join("data").display(),
        receiver.url()
    );
    let config = write(tmp.path(), "agent.toml", &config);
    let _agent = Agent::start(&config, &tmp.path().join("agent.log"));
    let addr = format!("127.0.0.1:{port}");
    assert!(wait_until(Duration::from_secs(10), || TcpStream::connect(&addr).is_ok()), "agent did not start");

    let mut failures = Vec::new();
    for row in &rows {
        let from = row["from"].as_str().unwrap_or("?");
        let want_events = match row["events"]["generate"].as_u64() {
            Some(n) => generated(n),
            None => row["events"].clone(),
        };
        let json = match row["json"].as_str() {
            Some(json) => json.to_string(),
            None => want_events.to_string(),
        };
        let body = encode(&json, row["encoding"].as_str().unwrap_or("utf-8"));
        let before = receiver.events().len();
        let content_type = row["content_type"].as_str().unwrap_or("application/json");
        let (status, reason) =
            sluice_tests::post(&addr, "/", content_type, &[], &body).unwrap_or_else(|e| panic!("{e}"));
        let want_status = row["status"].as_u64().unwrap_or(0);
        if u64::from(status) != want_status {
            failures.push(format!("{from}: status {status} ({}), want {want_status}", reason.trim()));
            continue;
        }
        if status != 200 && !reason.contains("bad request:") {
            failures.push(format!("{from}: a refusal without its reason: {reason:?}"));
        }
        let want = want_events.as_array().cloned().unwrap_or_default();
        let arrived = wait_until(Duration::from_secs(10), || receiver.events().len() >= before + want.len());
        std::thread::sleep(Duration::from_millis(50));
        let events = receiver.events();
        if !arrived || events.len() != before + want.len() {
            failures.push(format!("{from}: {} events stored, want {}", events.len() - before, want.len()));
            continue;
        }
        for (i, (got, want)) in events[before..].iter().zip(&want).enumerate() {
            let headers_agree =
                want["headers"].as_object().is_some_and(|w| w.iter().all(|(k, v)| got["headers"][k] == *v));
            if !headers_agree || got["body"] != want["body"] {
                failures.push(format!("{from}: event {i}: got {got}, want {want}"));
                break;
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} requests differ:\n{}", failures.len(), rows.len(), failures.join("\n"));
}
