use super::wire::{put_bytes, put_varint_field};
use super::*;

fn message(fields: &[(u32, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (number, bytes) in fields {
        put_bytes(&mut out, *number, bytes);
    }
    out
}

fn string_value(text: &str) -> Vec<u8> {
    message(&[(1, text.as_bytes())])
}

fn key_value(key: &str, value: &[u8]) -> Vec<u8> {
    message(&[(1, key.as_bytes()), (2, value)])
}

fn fixed64(out: &mut Vec<u8>, number: u32, value: u64) {
    super::wire::put_varint(out, u64::from(number) << 3 | 1);
    out.extend_from_slice(&value.to_le_bytes());
}

/// A request of one resource, one scope and these records.
fn request(records: &[Vec<u8>]) -> Vec<u8> {
    let resource = message(&[(1, &key_value("service.name", &string_value("shop")))]);
    let scope = message(&[(1, b"lib"), (2, b"1.2")]);
    let mut scope_logs = message(&[(1, &scope)]);
    for r in records {
        put_bytes(&mut scope_logs, 2, r);
    }
    // The resource after its scope logs: the order protobuf allows.
    let resource_logs = message(&[(2, &scope_logs), (1, &resource)]);
    message(&[(1, &resource_logs)])
}

const ID: &str = "01JDQ7Z9X8Y6W5V4T3S2R1Q0PN";

fn full_record() -> Vec<u8> {
    let mut r = Vec::new();
    fixed64(&mut r, 1, 1_700_000_000_123_456_789);
    fixed64(&mut r, 11, 1_700_000_001_000_000_000);
    put_varint_field(&mut r, 2, 9);
    put_bytes(&mut r, 3, b"INFO");
    put_bytes(&mut r, 5, &string_value("hello"));
    put_bytes(
        &mut r,
        6,
        &key_value("http.status", &{
            let mut v = Vec::new();
            put_varint_field(&mut v, 3, (-5i64) as u64);
            v
        }),
    );
    put_bytes(&mut r, 6, &key_value(ID_ATTRIBUTE, &string_value(ID)));
    r.extend_from_slice(&[0x45, 1, 0, 0, 0]); // flags = 1
    put_bytes(&mut r, 9, &[0xab; 16]);
    put_bytes(&mut r, 10, &[0x01; 8]);
    put_bytes(&mut r, 12, b"checkout");
    put_varint_field(&mut r, 99, 7); // unknown: skipped
    r
}

fn decode(encoding: Encoding, body: &[u8]) -> Result<Decoded> {
    decode_logs(encoding, body, &DecodeLimits::default(), &Mapping::default())
}

const FULL_JSON: &str = r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"shop"}}]},
  "scopeLogs":[{"scope":{"name":"lib","version":"1.2"},"logRecords":[{
    "timeUnixNano":"1700000000123456789","observedTimeUnixNano":1700000001000000000,
    "severityNumber":9,"severityText":"INFO","body":{"stringValue":"hello"},
    "attributes":[{"key":"http.status","value":{"intValue":"-5"}},
                  {"key":"log.record.uid","value":{"stringValue":"01JDQ7Z9X8Y6W5V4T3S2R1Q0PN"}}],
    "flags":1,"traceId":"abababababababababababababababab","spanId":"0101010101010101",
    "eventName":"checkout","somethingNew":{"x":1}}]}]}]}"#;

#[test]
fn a_record_becomes_one_event_the_same_from_either_encoding() {
    let from_proto = decode(Encoding::Protobuf, &request(&[full_record()])).unwrap();
    let from_json = decode(Encoding::Json, FULL_JSON.as_bytes()).unwrap();
    for decoded in [&from_proto, &from_json] {
        assert_eq!((decoded.events.len(), decoded.rejected), (1, 0));
        let e = &decoded.events[0];
        assert_eq!(e.body, b"hello");
        assert_eq!(e.id.to_string(), ID);
        assert_eq!(e.timestamp_ms, 1_700_000_001_000);
        let want = [
            ("resource.service.name", "shop"),
            ("otel.scope.name", "lib"),
            ("otel.scope.version", "1.2"),
            ("severity", "INFO"),
            ("event_name", "checkout"),
            ("severity_number", "9"),
            ("trace_id", "abababababababababababababababab"),
            ("span_id", "0101010101010101"),
            ("trace_flags", "1"),
            ("timestamp", "1700000000123"),
            ("http.status", "-5"),
            (ID_ATTRIBUTE, ID),
            ("id", ID),
        ];
        let got: Vec<(&str, &str)> = e.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(got, want);
    }
}

#[test]
fn bodies_of_every_kind() {
    let any = |field: u32, bytes: &[u8]| message(&[(5, &message(&[(field, bytes)]))]);
    let mut int = Vec::new();
    put_varint_field(&mut int, 3, 42);
    let kv = message(&[(1, &key_value("a", &string_value("b"))), (1, &key_value("n", &int))]);
    let array = message(&[(1, &string_value("x")), (1, &message(&[(7, &[0xff])]))]);
    let cases: Vec<(Vec<u8>, &[u8])> = vec![
        (message(&[(5, &int)]), b"42"),
        (any(7, &[0xff, 0x00]), &[0xff, 0x00]),
        (any(6, &kv), br#"{"a":"b","n":42}"#),
        (any(5, &array), br#"["x","/w=="]"#),
        (Vec::new(), b""),
    ];
    for (record, want) in cases {
        let decoded = decode(Encoding::Protobuf, &request(&[record])).unwrap();
        assert_eq!(decoded.events[0].body, want);
    }
    let json = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[
        {"body":{"kvlistValue":{"values":[{"key":"a","value":{"doubleValue":"NaN"}}]}}},
        {"body":{"bytesValue":"/wA="}},
        {"body":{"boolValue":true}}]}]}]}"#;
    let bodies: Vec<Vec<u8>> =
        decode(Encoding::Json, json.as_bytes()).unwrap().events.into_iter().map(|e| e.body).collect();
    assert_eq!(bodies, [br#"{"a":"NaN"}"#.to_vec(), vec![0xff, 0], b"true".to_vec()]);
}

#[test]
fn a_bad_record_is_rejected_alone() {
    let mut short_trace = Vec::new();
    put_bytes(&mut short_trace, 9, &[1, 2, 3]);
    let decoded = decode(Encoding::Protobuf, &request(&[full_record(), short_trace, Vec::new()])).unwrap();
    assert_eq!((decoded.events.len(), decoded.rejected), (2, 1));
    assert_eq!(decoded.reason.as_deref(), Some("a trace id of 3 bytes (16 expected)"));
    let attributes: Vec<Vec<u8>> = (0..250).map(|i| key_value(&format!("a{i}"), &string_value("v"))).collect();
    let crowded = message(&attributes.iter().map(|a| (6, a.as_slice())).collect::<Vec<_>>());
    let mut short_span = Vec::new();
    put_bytes(&mut short_span, 10, &[1]);
    let decoded =
        decode(Encoding::Protobuf, &request(&[crowded, short_span, message(&[(6, &key_value("", b""))])])).unwrap();
    assert_eq!((decoded.events.len(), decoded.rejected), (0, 3));
    assert_eq!(decoded.reason.as_deref(), Some("251 resource and record attributes (at most 246)"));
    let json = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"zz"},{},
        {"body":{"bytesValue":"*"}},{"attributes":[{"key":"i","value":{"intValue":"9223372036854775808"}}]},
        {"severityNumber":"4294967296"},{"timeUnixNano":-1}]}]}]}"#;
    let decoded = decode(Encoding::Json, json.as_bytes()).unwrap();
    assert_eq!((decoded.events.len(), decoded.rejected), (1, 5), "bad records are refused alone: {:?}", decoded.reason);
}

#[test]
fn json_reads_what_the_protobuf_json_mapping_allows() {
    let json = r#"{"resourceLogs":[{"resource":null,"scopeLogs":[{"scope":{"name":null},"logRecords":[
        {"timeUnixNano":null,"severityNumber":"9","severityText":null,"flags":"1","traceId":null,"attributes":null,
         "body":{"bytesValue":"_-8"}},
        {"time_unix_nano":1.7e18,"body":{"string_value":"snake"}}]}]}]}"#;
    let decoded = decode(Encoding::Json, json.as_bytes()).unwrap();
    assert_eq!(decoded.rejected, 0, "{:?}", decoded.reason);
    let [first, second] = &decoded.events[..] else { panic!("{:?}", decoded.events) };
    assert_eq!(first.body, [0xff, 0xef], "URL-safe, unpadded base64");
    assert_eq!((first.header("severity_number"), first.header("trace_flags")), (Some("9"), Some("1")));
    assert_eq!((second.body.as_slice(), second.header("timestamp")), (&b"snake"[..], Some("1700000000000")));
}

#[test]
fn hostile_bodies_are_refused_whole() {
    let nested = (0..40).fold(string_value("deep"), |inner, _| message(&[(5, &message(&[(1, &inner)]))]));
    let limits = DecodeLimits { max_inflated: 1 << 20, max_events: 1000 };
    let many_records = request(&vec![Vec::new(); 1001]);
    let many_attributes = request(&[message(&vec![(6, &b""[..]); 30_000])]);
    let huge_resource = {
        let attrs: Vec<Vec<u8>> =
            (0..200).map(|i| key_value(&format!("k{i}"), &string_value(&"v".repeat(500)))).collect();
        let resource = message(&attrs.iter().map(|a| (1, a.as_slice())).collect::<Vec<_>>());
        let scope_logs = message(&vec![(2, &b""[..]); 20]);
        message(&[(1, &message(&[(1, &resource), (2, &scope_logs)]))])
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![0x0a, 0x80], "a truncated varint"),
        (vec![0x0a, 0x10, 0x12], "runs past the end"),
        (message(&[(1, &[0x12, 0x7f])]), "runs past the end"),
        (message(&[(1, &[0x0b])]), "wire type 3"),
        (request(&[message(&[(5, &nested)])]), "nested deeper than 32"),
        (many_records, "more than 1000 log records"),
        (many_attributes, "more than 1048576 bytes"),
        (huge_resource, "more than 1048576 bytes"),
        (request(&[message(&[(3, &[0xff])])]), "not utf-8"),
    ];
    for (body, want) in cases {
        let err = decode_logs(Encoding::Protobuf, &body, &limits, &Mapping::default()).unwrap_err();
        assert!(err.message().contains(want), "{want}: {err}");
    }
    let deep = format!(
        "{}{}",
        r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":"#.to_owned()
            + &r#"{"arrayValue":{"values":["#.repeat(60),
        "]}}".repeat(60)
    );
    let json_cases: Vec<(String, &str)> = vec![
        (deep, "recursion limit"),
        (
            format!(r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{}{{}}]}}]}}]}}"#, "{},".repeat(1000)),
            "more than 1000 log records",
        ),
        (r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"soon"}]}]}]}"#.into(), "not an integer"),
        (r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"k","value":{"bytesValue":"*"}}]}}]}"#.into(), "base64"),
        (r#"{"resourceLogs":"#.into(), "EOF"),
        (
            format!(
                r#"{{"resourceLogs":[{{"resource":{{"attributes":[{{"key":"k","value":{{"stringValue":"{}"}}}}]}},"scopeLogs":[{}{{}}]}}]}}"#,
                "x".repeat(100_000),
                r#"{"logRecords":[{}]},"#.repeat(1000)
            ),
            "more than 1048576 bytes",
        ),
    ];
    for (body, want) in json_cases {
        let err = decode_logs(Encoding::Json, body.as_bytes(), &limits, &Mapping::default()).unwrap_err();
        assert!(err.message().contains(want), "{want}: {err}");
    }
}

#[test]
fn content_types_pick_the_encoding() {
    assert_eq!(Encoding::of(Some("application/x-protobuf")), Some(Encoding::Protobuf));
    assert_eq!(Encoding::of(Some("Application/JSON; charset=utf-8")), Some(Encoding::Json));
    assert_eq!(Encoding::of(Some("text/plain")), None);
    assert_eq!(Encoding::of(None), None);
}
