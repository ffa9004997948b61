//! Each format, each refusal, and gzip's failure modes, bomb included.

use super::*;
use crate::{ErrorKind, EventId};
use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::Write as _;

fn limits() -> DecodeLimits {
    DecodeLimits::default()
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?)
}

/// The message of the error `decode_request` must return.
fn refusal(content_type: Option<&str>, encoding: Option<&str>, body: &[u8], limits: &DecodeLimits) -> String {
    match decode_request(content_type, encoding, body, limits) {
        Ok(events) => panic!("accepted {} events from {:?}", events.len(), String::from_utf8_lossy(body)),
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Decode, "{e}");
            e.message().to_owned()
        }
    }
}

#[test]
fn flume_json_events() -> Result<()> {
    let id = EventId::generate();
    let body = format!(
        r#"[{{"headers":{{"host":"gw","id":"{id}"}},"body":"h\u00e9"}},
            {{"body":"/wA=","headers":{{"sluice.body-encoding":"base64"}}}},
            {{"body":""}}]"#
    );
    for content_type in
        [None, Some("application/json"), Some("text/plain;charset=UTF-8"), Some("Application/JSON; x=y")]
    {
        let events = decode_request(content_type, Some("identity"), body.as_bytes(), &limits())?;
        assert_eq!(events.len(), 3);
        assert_eq!(events[0].headers, vec![("host".to_owned(), "gw".to_owned()), ("id".to_owned(), id.to_string())]);
        assert_eq!((events[0].id, events[0].body.as_slice()), (id, "hé".as_bytes()));
        assert_eq!((events[1].headers.len(), events[1].body.as_slice()), (0, &[0xff, 0x00][..]));
        assert_ne!(events[1].id, id);
        assert!(events[2].body.is_empty());
    }
    assert!(decode_request(None, None, b" [ ] ", &limits())?.is_empty());
    Ok(())
}

/// Flume's TestJSONHandler: an event without a body is an empty body; UTF-16 and
/// UTF-32 requests (with or without a byte order mark) are decoded.
#[test]
fn flume_json_handler_cases() -> Result<()> {
    let json = r#"[{"headers":{"a": "b"}},{"headers":{"e": "f"},"body": "rand\"om_body2"}]"#;
    let utf16be: Vec<u8> = json.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let utf16le: Vec<u8> = [0xff, 0xfe].into_iter().chain(json.encode_utf16().flat_map(u16::to_le_bytes)).collect();
    let utf16bom: Vec<u8> = [0xfe, 0xff].into_iter().chain(utf16be.iter().copied()).collect();
    let utf32be: Vec<u8> = json.chars().flat_map(|c| u32::from(c).to_be_bytes()).collect();
    let utf32le: Vec<u8> =
        [0xff, 0xfe, 0, 0].into_iter().chain(json.chars().flat_map(|c| u32::from(c).to_le_bytes())).collect();
    let cases: [(&str, &[u8]); 6] = [
        ("utf-8", json.as_bytes()),
        ("UTF-16", &utf16be),
        ("utf-16", &utf16le),
        ("utf-16", &utf16bom),
        ("UTF-32", &utf32be),
        ("utf-32", &utf32le),
    ];
    for (charset, body) in cases {
        let content_type = format!("application/json; charset={charset}");
        let events = decode_request(Some(&content_type), None, body, &limits())?;
        assert_eq!(events.len(), 2, "{charset}");
        assert_eq!((events[0].header("a"), events[0].body.as_slice()), (Some("b"), &b""[..]), "{charset}");
        assert_eq!(
            (events[1].header("e"), events[1].body.as_slice()),
            (Some("f"), &b"rand\"om_body2"[..]),
            "{charset}"
        );
    }
    let odd = refusal(Some("application/json; charset=utf-16"), None, &utf16be[1..], &limits());
    assert!(odd.contains("not valid utf-16"), "{odd}");
    Ok(())
}

#[test]
fn ndjson_events() -> Result<()> {
    let id = EventId::generate();
    let body = format!(
        "{{\"id\":\"{id}\",\"timestamp\":1700000000000,\"headers\":{{\"k\":\"v\"}},\"body\":\"a\"}}\r\n\
         \n   \n{{\"body_base64\":\"/g==\"}}\n{{\"body\":\"c\",\"headers\":{{}}}}"
    );
    let events = decode_request(Some("application/x-ndjson"), None, body.as_bytes(), &limits())?;
    assert_eq!(events.len(), 3);
    assert_eq!((events[0].id, events[0].timestamp_ms), (id, 1_700_000_000_000));
    assert_eq!((events[0].header("k"), events[0].body.as_slice()), (Some("v"), &b"a"[..]));
    assert_eq!(events[1].body, [0xfe]);
    assert_eq!(events[2].body, b"c");
    assert!(decode_request(Some("application/x-ndjson"), None, b"\n\n", &limits())?.is_empty());
    Ok(())
}

#[test]
fn round_trips_what_the_http_sink_sends() -> Result<()> {
    let sent = [Event::new("text").with_header("k", "v"), Event::new(vec![0, 159, 146, 150])];
    let flume = crate::sink::format::flume_json(&sent, "id");
    let ndjson = crate::sink::format::ndjson(&sent);
    for (content_type, body) in [("application/json", flume), ("application/x-ndjson", ndjson)] {
        let got = decode_request(Some(content_type), None, &body, &limits())?;
        assert_eq!(
            got.iter().map(|e| (e.id, &e.body)).collect::<Vec<_>>(),
            sent.iter().map(|e| (e.id, &e.body)).collect::<Vec<_>>()
        );
        assert_eq!(got[0].header("k"), Some("v"));
    }
    Ok(())
}

#[test]
fn refuses_bad_events_naming_the_first() {
    let json = Some("application/json");
    let nd = Some("application/x-ndjson");
    let cases: &[(Option<&str>, &str, &str)] = &[
        (
            json,
            r#"[{"body":"ok"},{"body":"ok"},{"headers":{"x":1},"body":"bad"}]"#,
            "event 2: header \"x\" must be a string (line 1, column 47)",
        ),
        (json, r#"[{"headers":{"x":null},"body":""}]"#, "event 0: header \"x\" must be a string"),
        (json, r#"[{"headers":{"x":{"y":"z"}},"body":""}]"#, "event 0: header \"x\" must be a string"),
        (json, r#"[{"headers":{"x":"1","x":"2"},"body":""}]"#, "event 0: header \"x\" appears twice"),
        (json, r#"[{"body":"a","extra":1}]"#, "event 0: unknown field `extra`"),
        (json, r#"[{"body":5}]"#, "event 0: invalid type: integer `5`, expected a string"),
        (json, r#"[["headers","body"]]"#, "event 0: invalid type: sequence, expected an event object"),
        (json, r#"[{"body":"!!","headers":{"sluice.body-encoding":"base64"}}]"#, "event 0: body is not valid base64"),
        (
            json,
            r#"[{"body":"a","headers":{"sluice.body-encoding":"hex"}}]"#,
            "event 0: unsupported sluice.body-encoding \"hex\"",
        ),
        (
            json,
            r#"{"headers":{},"body":"a"}"#,
            "invalid flume_json body: invalid type: map, expected a json array of events",
        ),
        (json, r#"[{"body":"a"}] x"#, "invalid flume_json body: trailing characters"),
        (json, r#"[{"body":"a"},"#, "event 1: EOF while parsing a value"),
        (json, "  ", "empty body: expected a json array of events"),
        (
            nd,
            "{\"body\":\"a\"}\n\n{\"body\":\"b\",\"headers\":{\"n\":true}}",
            "event 1 (line 3): header \"n\" must be a string (column 32)",
        ),
        (nd, r#"{"headers":{}}"#, "event 0 (line 1): missing field `body` (or `body_base64`)"),
        (nd, r#"{"body":"a","body_base64":"YQ=="}"#, "event 0 (line 1): both `body` and `body_base64` are set"),
        (nd, r#"{"body":"a","id":"nope"}"#, "event 0 (line 1): id \"nope\" is not a 26-character event id"),
        (nd, r#"{"body":"a","timestamp":-1}"#, "event 0 (line 1): invalid value: integer `-1`, expected u64"),
        (nd, r#"{"body":"a","priority":"high"}"#, "event 0 (line 1): unknown field `priority`"),
        (nd, r#"["a"]"#, "event 0 (line 1): invalid type: sequence, expected an event object"),
        (nd, r#"{"body":"a"} {"body":"b"}"#, "event 0 (line 1): trailing characters"),
        (Some("application/xml"), "<a/>", "unsupported content-type \"application/xml\""),
        (
            Some("application/json; charset=latin1"),
            "[]",
            "unsupported charset \"latin1\": expected utf-8, utf-16 or utf-32",
        ),
        (Some("application/json; charset=ISO-8859-1"), "[]", "unsupported charset \"ISO-8859-1\""),
    ];
    for (content_type, body, want) in cases {
        let got = refusal(*content_type, None, body.as_bytes(), &limits());
        assert!(got.starts_with(want), "{body}\n got: {got}\nwant: {want}…");
    }
}

#[test]
fn refuses_more_than_max_events() -> Result<()> {
    let few = DecodeLimits { max_events: 2, ..limits() };
    assert_eq!(decode_request(None, None, br#"[{"body":"a"},{"body":"b"}]"#, &few)?.len(), 2);
    let three = br#"[{"body":"a"},{"body":"b"},{"body":"c"}]"#;
    assert_eq!(refusal(None, None, three, &few), "more than 2 events in one request");
    let lines = b"{\"body\":\"a\"}\n{\"body\":\"b\"}\n{\"body\":\"c\"}\n";
    assert_eq!(refusal(Some("application/x-ndjson"), None, lines, &few), "more than 2 events in one request");
    Ok(())
}

#[test]
fn refuses_invalid_utf8_and_deep_nesting() {
    let latin1 = b"[{\"body\":\"caf\xe9\"}]";
    assert_eq!(refusal(None, None, latin1, &limits()), "body is not valid utf-8 (at byte 13)");
    let deep = "[".repeat(10_000);
    assert!(refusal(None, None, deep.as_bytes(), &limits()).starts_with("event 0: invalid type: sequence"));
    let deep_header = format!(r#"[{{"body":"","headers":{{"x":{}}}}}]"#, "[".repeat(10_000));
    assert!(refusal(None, None, deep_header.as_bytes(), &limits()).contains("recursion limit exceeded"));
    let deep_line = format!(r#"{{"body":"","headers":{{"x":{}"#, "{\"a\":".repeat(10_000));
    assert!(refusal(Some("application/x-ndjson"), None, deep_line.as_bytes(), &limits()).contains("recursion limit"));
}

#[test]
fn gzip_bodies() -> Result<()> {
    let plain = br#"[{"body":"zipped"}]"#;
    let zipped = gzip(plain)?;
    assert_eq!(decode_request(None, Some("gzip"), &zipped, &limits())?[0].body, b"zipped");
    assert_eq!(decode_request(None, Some("GZIP"), &[zipped.clone(), gzip(b" ")?].concat(), &limits())?.len(), 1);

    let truncated = &zipped[..zipped.len() - 5];
    assert!(refusal(None, Some("gzip"), truncated, &limits()).starts_with("invalid gzip body"));
    let mut lying = zipped.clone();
    let crc_at = lying.len() - 8;
    lying[crc_at] ^= 1;
    assert!(refusal(None, Some("gzip"), &lying, &limits()).starts_with("invalid gzip body"));
    assert!(refusal(None, Some("gzip"), plain, &limits()).starts_with("invalid gzip body"));
    assert_eq!(
        refusal(None, Some("br"), plain, &limits()),
        "unsupported content-encoding \"br\": expected gzip or identity"
    );
    Ok(())
}

#[test]
fn gzip_bomb_stops_at_the_cap() -> Result<()> {
    // 1 GiB of zeros as 1024 gzip members of 1 MiB: about 1 MiB on the wire.
    let member = gzip(&vec![0; 1 << 20])?;
    let bomb = member.repeat(1024);
    assert!(bomb.len() < 2 << 20, "{} bytes", bomb.len());
    let small = DecodeLimits { max_inflated: 8 << 20, ..limits() };
    assert_eq!(refusal(None, Some("gzip"), &bomb, &small), "inflated body exceeds 8388608 bytes");
    Ok(())
}

#[test]
fn many_headers_and_a_duplicate_among_them() -> Result<()> {
    let fields: Vec<String> = (0..40).map(|i| format!("\"h{i}\":\"v\"")).collect();
    let many = format!(r#"[{{"headers":{{{}}},"body":""}}]"#, fields.join(","));
    assert_eq!(decode_request(None, None, many.as_bytes(), &limits())?[0].headers.len(), 40);
    let twice = format!(r#"[{{"headers":{{{},"h7":"w"}},"body":""}}]"#, fields.join(","));
    let refused = refusal(None, None, twice.as_bytes(), &limits());
    assert!(refused.starts_with("event 0: header \"h7\" appears twice"), "{refused}");
    Ok(())
}
