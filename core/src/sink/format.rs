//! Wire formats of the http sink: `flume_json` and `ndjson` (DESIGN §5).

use crate::event::Event;
use base64::Engine;

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
        out.extend_from_slice(b"{\"headers\":{");
        let mut first = true;
        let mut header = |out: &mut Vec<u8>, k: &str, v: &str| {
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            write_str(out, k);
            out.push(b':');
            write_str(out, v);
        };
        for (k, v) in &e.headers {
            header(&mut out, k, v);
        }
        if !id_header.is_empty() && e.header(id_header).is_none() {
            header(&mut out, id_header, &e.id.to_string());
        }
        out.extend_from_slice(b"},\"body\":");
        match std::str::from_utf8(&e.body) {
            Ok(text) => write_str(&mut out, text),
            Err(_) => {
                // Not UTF-8: base64, and a header saying so (the object is reopened for it).
                out.truncate(out.len() - b"},\"body\":".len());
                header(&mut out, BODY_ENCODING_HEADER, "base64");
                out.extend_from_slice(b"},\"body\":");
                write_str(&mut out, &base64::engine::general_purpose::STANDARD.encode(&e.body));
            }
        }
        out.push(b'}');
    }
    out.push(b']');
    out
}

/// One object a line: `{"id":…,"timestamp":…,"headers":{…},"body":"…"}` (or `body_base64`).
pub fn ndjson(events: &[Event]) -> Vec<u8> {
    let mut out = Vec::with_capacity(events.iter().map(|e| e.size() + 96).sum());
    for e in events {
        out.extend_from_slice(b"{\"id\":\"");
        out.extend_from_slice(e.id.to_string().as_bytes());
        out.extend_from_slice(b"\",\"timestamp\":");
        out.extend_from_slice(e.timestamp_ms.to_string().as_bytes());
        out.extend_from_slice(b",\"headers\":{");
        for (i, (k, v)) in e.headers.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(&mut out, k);
            out.push(b':');
            write_str(&mut out, v);
        }
        match std::str::from_utf8(&e.body) {
            Ok(text) => {
                out.extend_from_slice(b"},\"body\":");
                write_str(&mut out, text);
            }
            Err(_) => {
                out.extend_from_slice(b"},\"body_base64\":");
                write_str(&mut out, &base64::engine::general_purpose::STANDARD.encode(&e.body));
            }
        }
        out.extend_from_slice(b"}\n");
    }
    out
}

/// Writes `text` as a JSON string (quoted and escaped by serde_json).
pub(crate) fn write_str(out: &mut Vec<u8>, text: &str) {
    // Serializing a &str into a Vec cannot fail: no I/O, and every &str is valid JSON text.
    let _ = serde_json::to_writer(&mut *out, text);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

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
