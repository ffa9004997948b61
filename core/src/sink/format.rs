//! Wire formats of the http sink: `flume_json` and `ndjson`.

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
        let mut header = |out: &mut Vec<u8>, k: &str, v: &[u8]| {
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            write_str(out, k);
            out.push(b':');
            write_escaped(out, v);
        };
        for (k, v) in &e.headers {
            header(&mut out, k, v.as_bytes());
        }
        if !id_header.is_empty() && e.header(id_header).is_none() {
            header(&mut out, id_header, &e.id.encode());
        }
        out.extend_from_slice(b"},\"body\":");
        match std::str::from_utf8(&e.body) {
            Ok(text) => write_str(&mut out, text),
            Err(_) => {
                // Not UTF-8: base64, and a header saying so (the object is reopened for it).
                out.truncate(out.len() - b"},\"body\":".len());
                header(&mut out, BODY_ENCODING_HEADER, b"base64");
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
        out.extend_from_slice(&e.id.encode());
        out.extend_from_slice(b"\",\"timestamp\":");
        write_u64(&mut out, e.timestamp_ms);
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

/// Writes `text` as a JSON string: quoted, with `"`, `\\` and control characters
/// escaped exactly as serde_json escapes them.
pub(crate) fn write_str(out: &mut Vec<u8>, text: &str) {
    write_escaped(out, text.as_bytes());
}

/// [`write_str`] for bytes already known to be UTF-8 (a `&str`, or ASCII such as an id).
///
/// This runs for every header and body a sink ships, so it looks at eight bytes
/// at a time and copies runs that need no escape in one piece.
fn write_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut copied = 0;
    let mut at = 0;
    for word in bytes.chunks(8) {
        let clean = <[u8; 8]>::try_from(word).is_ok_and(|w| !word_needs_escape(u64::from_le_bytes(w)));
        if !clean {
            for (offset, &b) in word.iter().enumerate() {
                let short = ESCAPES[usize::from(b)];
                if short == 0 {
                    continue;
                }
                let here = at + offset;
                out.extend_from_slice(&bytes[copied..here]);
                copied = here + 1;
                if short == b'u' {
                    out.extend_from_slice(&[
                        b'\\',
                        b'u',
                        b'0',
                        b'0',
                        HEX[usize::from(b >> 4)],
                        HEX[usize::from(b & 15)],
                    ]);
                } else {
                    out.extend_from_slice(&[b'\\', short]);
                }
            }
        }
        at += word.len();
    }
    out.extend_from_slice(&bytes[copied..]);
    out.push(b'"');
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// For each byte, the letter after the backslash of its JSON escape (`u`: `\\u00XX`), or 0.
static ESCAPES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether any of the eight bytes is below 0x20, `"` or `\\`. A wrong yes would only
/// cost the byte-by-byte path; the bit tricks give none.
fn word_needs_escape(w: u64) -> bool {
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS != 0;
    // Bytes with the high bit set (UTF-8 continuation and lead bytes) never count as below 0x20.
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGHS != 0;
    control || has_zero(w ^ (ONES * u64::from(b'"'))) || has_zero(w ^ (ONES * u64::from(b'\\')))
}

/// Writes `n` in decimal without going through a `String`.
pub(crate) fn write_u64(out: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
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

    proptest::proptest! {
        #[test]
        fn strings_are_escaped_exactly_as_serde_json_does(text in "(\\PC|[\\x00-\\x1f\"\\\\\\x7f]){0,40}") {
            let mut ours = Vec::new();
            write_str(&mut ours, &text);
            proptest::prop_assert_eq!(String::from_utf8_lossy(&ours), serde_json::to_string(&text).unwrap_or_default());
        }
    }

    #[test]
    fn every_escape_and_word_boundary() -> Result<(), serde_json::Error> {
        // Each special byte at each offset of an eight-byte word, and after the last full word.
        for special in (0u8..0x20).chain([b'"', b'\\', 0x7f, b'/']) {
            for at in 0..19 {
                let mut text: Vec<u8> = b"abcdefghijklmnopqrs".to_vec();
                text[at] = special;
                let text = String::from_utf8(text).unwrap_or_default();
                let mut ours = Vec::new();
                write_str(&mut ours, &text);
                assert_eq!(ours, serde_json::to_vec(&text)?, "byte {special:#x} at {at}");
            }
        }
        let mut ids = Vec::new();
        write_u64(&mut ids, 0);
        write_u64(&mut ids, u64::MAX);
        assert_eq!(ids, b"018446744073709551615");
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
