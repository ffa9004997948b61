//! The `otlp_http` source and the http source's `format = "json"` over real
//! HTTP: replies as OTLP clients and Fluent Bit-like senders read them, hostile
//! bodies refused whole, records refused alone counted in `partialSuccess`.

use sluice_tests::receiver::Receiver;
use sluice_tests::{free_port, post, wait_until, write, Agent};
use std::io::Write;
use std::time::Duration;

fn agent(dir: &std::path::Path, source: &str, port: u16, receiver: &Receiver) -> Agent {
    let config = write(
        dir,
        "agent.toml",
        &format!(
            "[agent]\ndata_dir = \"{}\"\n[channels.main]\ntype = \"sqlite\"\n[sources.in]\nchannels = [\"main\"]\nlisten = \"127.0.0.1:{port}\"\n{source}\n\
             [sinks.up]\ntype = \"http\"\nchannel = \"main\"\nurl = \"{}\"\nbatch = {{ linger = \"10ms\" }}\n",
            dir.join("data").display(),
            receiver.url()
        ),
    );
    let agent = Agent::start(&config, &dir.join("agent.log"));
    let addr = format!("127.0.0.1:{port}");
    assert!(wait_until(Duration::from_secs(10), || std::net::TcpStream::connect(&addr).is_ok()));
    agent
}

/// A protobuf length-delimited field.
fn field(number: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![number << 3 | 2];
    let mut n = bytes.len();
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(bytes);
    out
}

/// An ExportLogsServiceRequest of these LogRecords.
fn request(records: &[Vec<u8>]) -> Vec<u8> {
    let scope_logs: Vec<u8> = records.iter().flat_map(|r| field(2, r)).collect();
    field(1, &field(2, &scope_logs))
}

/// A LogRecord with a string body and attribute `n`.
fn record(body: &str, n: &str) -> Vec<u8> {
    let attribute = [field(1, b"n"), field(2, &field(1, n.as_bytes()))].concat();
    [field(5, &field(1, body.as_bytes())), field(6, &attribute)].concat()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = e.write_all(data);
    e.finish().unwrap_or_default()
}

#[test]
fn otlp_replies_follow_the_spec_and_hostile_bodies_store_nothing() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let receiver = Receiver::ok();
    let port = free_port();
    let _agent =
        agent(dir.path(), "type = \"otlp_http\"\nmax_body = \"1MiB\"\nmax_inflated = \"4MiB\"", port, &receiver);
    let addr = format!("127.0.0.1:{port}");
    let proto = "application/x-protobuf";

    let nested = (0..64).fold(field(1, b"deep"), |inner, _| field(5, &field(1, &inner)));
    let hostile: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated varint", vec![0x0a, 0xff], proto),
        ("lying length", vec![0x0a, 0x7f, 0x12, 0x00], proto),
        ("deep nesting", request(&[field(5, &nested)]), proto),
        ("huge repeated field", request(&vec![Vec::new(); 100_001]), proto),
        ("wire type 7", request(&[vec![0x0f]]), proto),
        ("json not OTLP", br#"{"resourceLogs":{"nope":1}}"#.to_vec(), "application/json"),
        ("json deep", "[".repeat(50_000).into_bytes(), "application/json"),
    ];
    for (what, body, content_type) in &hostile {
        let (status, reply) = post(&addr, "/v1/logs", content_type, &[], body).unwrap_or_default();
        assert_eq!(status, 400, "{what}: {reply}");
        if *content_type == proto {
            assert_eq!(reply.as_bytes()[..2], [0x08, 0x03], "{what}: a google.rpc.Status, INVALID_ARGUMENT");
        } else {
            assert!(reply.starts_with("{\"code\":3,\"message\":\"bad request: invalid OTLP JSON"), "{what}: {reply}");
        }
    }
    let (status, reply) = post(&addr, "/v1/traces", proto, &[], &request(&[record("x", "0")])).unwrap_or_default();
    assert_eq!(status, 404, "{reply}");
    let (status, reply) = post(&addr, "/v1/logs", "text/plain", &[], b"hello").unwrap_or_default();
    assert_eq!(status, 415, "{reply}");

    // Good requests: plain and gzip protobuf, json; one record with a 3-byte trace id refused alone.
    let (status, reply) = post(&addr, "/v1/logs", proto, &[], &request(&[record("one", "1")])).unwrap_or_default();
    assert_eq!((status, reply.as_str()), (200, ""), "an empty ExportLogsServiceResponse");
    let bad_trace = [record("never", "x"), field(9, &[1, 2, 3])].concat();
    let body = gzip(&request(&[record("two", "2"), bad_trace]));
    let (status, reply) = post(&addr, "/v1/logs", proto, &[("Content-Encoding", "gzip")], &body).unwrap_or_default();
    assert_eq!(status, 200);
    let partial = field(1, &[&[0x08, 0x01][..], &field(2, b"a trace id of 3 bytes (16 expected)")].concat());
    assert_eq!(reply.as_bytes(), partial, "partialSuccess: 1 rejected, with the reason");
    let json = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"three"},"attributes":[{"key":"n","value":{"intValue":"3"}}]}]}]}]}"#;
    let (status, reply) = post(&addr, "/v1/logs", "application/json", &[], json.as_bytes()).unwrap_or_default();
    assert_eq!((status, reply.as_str()), (200, "{}"));

    assert!(wait_until(Duration::from_secs(10), || receiver.events().len() >= 3));
    std::thread::sleep(Duration::from_millis(300));
    let mut got: Vec<(String, String)> = receiver
        .events()
        .iter()
        .map(|e| (e["body"].as_str().unwrap_or("?").to_owned(), e["headers"]["n"].as_str().unwrap_or("?").to_owned()))
        .collect();
    got.sort();
    let want = [("one", "1"), ("three", "3"), ("two", "2")].map(|(b, n)| (b.to_owned(), n.to_owned()));
    assert_eq!(got, want, "only the good records went upstream");
}

#[test]
fn plain_json_takes_what_fluent_bit_and_vector_send() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let receiver = Receiver::ok();
    let port = free_port();
    let source = "type = \"http\"\nformat = \"json\"\nbody_field = \"log\"\nheader_fields = [\"host\", \"level\"]\ntimestamp_field = \"date\"";
    let _agent = agent(dir.path(), source, port, &receiver);
    let addr = format!("127.0.0.1:{port}");
    // Fluent Bit's http output: `Format json` (an array) and `Format json_lines`, date as epoch seconds.
    let fluent_json =
        r#"[{"date":1700000000.25,"log":"fb one","host":"gw-1"},{"date":1700000001.0,"log":"fb two","level":4}]"#;
    let fluent_lines = "{\"date\":1700000002.5,\"log\":\"fb three\"}\n{\"date\":1700000003,\"log\":{\"k\":\"v\"}}\n";
    // Vector's http sink (codec json, framing newline_delimited): an RFC 3339 time.
    let vector = "{\"date\":\"2023-11-14T22:13:24.000Z\",\"log\":\"vector\",\"host\":\"v\"}\n";
    for (body, content_type) in
        [(fluent_json, "application/json"), (fluent_lines, "application/x-ndjson"), (vector, "application/json")]
    {
        let (status, reply) = post(&addr, "/", content_type, &[], body.as_bytes()).unwrap_or_default();
        assert_eq!(status, 200, "{body}: {reply}");
    }
    let (status, reply) =
        post(&addr, "/", "application/json", &[], br#"[{"log":"ok"},{"msg":"no log"}]"#).unwrap_or_default();
    assert_eq!(status, 400, "{reply}");
    assert!(reply.contains("event 1: no field \"log\""), "{reply}");

    assert!(wait_until(Duration::from_secs(10), || receiver.events().len() >= 5));
    std::thread::sleep(Duration::from_millis(300));
    let mut got: Vec<(String, String, String)> = receiver
        .events()
        .iter()
        .map(|e| {
            let h = &e["headers"];
            let text = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_owned();
            (text(&h["timestamp"]), text(&e["body"]), format!("{}/{}", text(&h["host"]), text(&h["level"])))
        })
        .collect();
    got.sort();
    let want = [
        ("1700000000250", "fb one", "gw-1/-"),
        ("1700000001000", "fb two", "-/4"),
        ("1700000002500", "fb three", "-/-"),
        ("1700000003000", "{\"k\":\"v\"}", "-/-"),
        ("1700000004000", "vector", "v/-"),
    ]
    .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()));
    assert_eq!(got, want);
}

/// A full channel: 503 with `Retry-After` and an UNAVAILABLE `google.rpc.Status`, in JSON for a JSON request.
#[test]
fn a_full_channel_answers_503_with_retry_after_in_the_request_encoding() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let down = Receiver::scripted(|_, _| sluice_tests::receiver::Reply::Status(503, vec![], "down".into()));
    let port = free_port();
    let config = write(
        dir.path(),
        "agent.toml",
        &format!(
            "[agent]\ndata_dir = \"{}\"\n[channels.main]\ntype = \"sqlite\"\nmax_events = 2\non_full = \"reject\"\n\
             [sources.in]\ntype = \"otlp_http\"\nchannels = [\"main\"]\nlisten = \"127.0.0.1:{port}\"\n\
             [sinks.up]\ntype = \"http\"\nchannel = \"main\"\nurl = \"{}\"\nretry = {{ initial = \"5s\", max = \"5s\" }}\n",
            dir.path().join("data").display(),
            down.url()
        ),
    );
    let _agent = Agent::start(&config, &dir.path().join("agent.log"));
    let addr = format!("127.0.0.1:{port}");
    assert!(wait_until(Duration::from_secs(10), || std::net::TcpStream::connect(&addr).is_ok()));
    let json = |n: usize| {
        let records = vec![r#"{"body":{"stringValue":"x"}}"#; n].join(",");
        format!(r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{records}]}}]}}]}}"#)
    };
    assert_eq!(post(&addr, "/v1/logs", "application/json", &[], json(2).as_bytes()).map(|r| r.0).ok(), Some(200));
    let body = json(1);
    let mut s = std::net::TcpStream::connect(&addr).unwrap_or_else(|e| panic!("{e}"));
    let head = format!(
        "POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
    let lower = reply.to_ascii_lowercase();
    assert!(lower.contains("\r\nretry-after: 1\r\n"), "{reply}");
    assert!(lower.contains("\r\ncontent-type: application/json\r\n"), "{reply}");
    assert!(reply.contains("\r\n\r\n{\"code\":14,\"message\":\"channel full, retry later"), "{reply}");
}

/// `dedup` on otlp_http: a resent request whose records carry `log.record.uid` is stored once.
#[test]
fn a_resent_otlp_request_is_stored_once_with_dedup() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let receiver = Receiver::ok();
    let port = free_port();
    let _agent = agent(dir.path(), "type = \"otlp_http\"\ndedup = { window = \"10m\" }", port, &receiver);
    let addr = format!("127.0.0.1:{port}");
    let records: Vec<String> = (0..3)
        .map(|i| {
            let id = sluice::event::EventId::generate();
            format!(r#"{{"body":{{"stringValue":"r{i}"}},"attributes":[{{"key":"log.record.uid","value":{{"stringValue":"{id}"}}}}]}}"#)
        })
        .collect();
    let body = format!(r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{}]}}]}}]}}"#, records.join(","));
    for _ in 0..2 {
        let (status, reply) = post(&addr, "/v1/logs", "application/json", &[], body.as_bytes()).unwrap_or_default();
        assert_eq!((status, reply.as_str()), (200, "{}"));
    }
    assert!(wait_until(Duration::from_secs(10), || receiver.events().len() >= 3));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(receiver.events().len(), 3, "the resent records were not stored again");
}
