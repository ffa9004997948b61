//! Wire formats of the http sink: `flume_json` and `ndjson` (DESIGN §5).

use crate::event::Event;
use base64::Engine;
use serde_json::{Map, Value};

/// Header marking a base64 body in `flume_json`.
pub const BODY_ENCODING_HEADER: &str = "sluice.body-encoding";

/// Flume HTTPSource JSONHandler: `[{"headers":{...},"body":"text"}, ...]`.
///
/// The id travels in header `id_header`; a body that is not UTF-8 is sent
/// base64-encoded with `sluice.body-encoding: base64`.
pub fn flume_json(events: &[Event], id_header: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(events.iter().map(|e| e.size() + 64).sum());
    out.push(b'[');
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let mut headers = headers_of(e, id_header);
        let body = match std::str::from_utf8(&e.body) {
            Ok(text) => text.to_string(),
            Err(_) => {
                headers.insert(BODY_ENCODING_HEADER.into(), Value::String("base64".into()));
                base64::engine::general_purpose::STANDARD.encode(&e.body)
            }
        };
        out.extend_from_slice(b"{\"headers\":");
        write_json(&mut out, &Value::Object(headers));
        out.extend_from_slice(b",\"body\":");
        write_json(&mut out, &Value::String(body));
        out.push(b'}');
    }
    out.push(b']');
    out
}

/// One object a line: `{"id":…,"timestamp":…,"headers":{…},"body":"…"}` (or `body_base64`).
pub fn ndjson(events: &[Event]) -> Vec<u8> {
    let mut out = Vec::with_capacity(events.iter().map(|e| e.size() + 96).sum());
    for e in events {
        let mut object = Map::new();
        object.insert("id".into(), Value::String(e.id.to_string()));
        object.insert("timestamp".into(), Value::from(e.timestamp_ms));
        object.insert(
            "headers".into(),
            Value::Object(e.headers.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect()),
        );
        match std::str::from_utf8(&e.body) {
            Ok(text) => object.insert("body".into(), Value::String(text.into())),
            Err(_) => object
                .insert("body_base64".into(), Value::String(base64::engine::general_purpose::STANDARD.encode(&e.body))),
        };
        write_json(&mut out, &Value::Object(object));
        out.push(b'\n');
    }
    out
}

fn headers_of(e: &Event, id_header: &str) -> Map<String, Value> {
    let mut headers: Map<String, Value> =
        e.headers.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    if !id_header.is_empty() {
        headers.entry(id_header.to_string()).or_insert_with(|| Value::String(e.id.to_string()));
    }
    headers
}

fn write_json(out: &mut Vec<u8>, value: &Value) {
    // Writing a `Value` into a Vec cannot fail: no I/O, and keys are strings.
    let _ = serde_json::to_writer(&mut *out, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flume_json_carries_id_and_base64() -> Result<(), serde_json::Error> {
        let text = Event::new("héllo").with_header("k", "v");
        let binary = Event::new(vec![0xff, 0x00]);
        let v: Value = serde_json::from_slice(&flume_json(&[text.clone(), binary], "id"))?;
        assert_eq!(v[0]["body"], "héllo");
        assert_eq!(v[0]["headers"]["k"], "v");
        assert_eq!(v[0]["headers"]["id"], text.id.to_string());
        assert_eq!(v[1]["body"], "/wA=");
        assert_eq!(v[1]["headers"][BODY_ENCODING_HEADER], "base64");
        Ok(())
    }

    #[test]
    fn ndjson_one_line_each() -> Result<(), serde_json::Error> {
        let out = ndjson(&[Event::new("a"), Event::new(vec![0xfe])]);
        let lines: Vec<Value> = out
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(serde_json::from_slice)
            .collect::<Result<_, _>>()?;
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["body"], "a");
        assert_eq!(lines[1]["body_base64"], "/g==");
        Ok(())
    }
}
