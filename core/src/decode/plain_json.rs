//! Plain JSON intake (`format = "json"` on the `http` source): what Fluent Bit's
//! `http` output (`json`, `json_lines`), Vector's `http` sink and Logstash's
//! `http` output send.
//!
//! The body is one JSON object, an array of objects, or objects one a line
//! (or simply one after another). Each object is one event: its text as it came
//! is the body, or with `body_field` that field's value (a string as its text,
//! anything else as JSON). `header_fields` are copied into headers (strings as
//! they are, other values as JSON, `null` and absent fields not at all);
//! `timestamp_field`, when present, holds seconds since the epoch (a number,
//! fractions allowed, as Fluent Bit's `date`) or an RFC 3339 time (Vector,
//! Logstash), stored as header `timestamp` in milliseconds. A request is all or
//! nothing, as with flume_json: a bad object fails it, named by its index.

use super::wire::{build, memory};
use super::{inflate, too_many, too_much, Charset};
use crate::calendar::days_from_civil;
use crate::{Error, Event, Result};
use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::fmt;

/// The header a `timestamp_field` is stored in.
const TIMESTAMP_HEADER: &str = "timestamp";

/// How objects become events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlainJson {
    /// The field whose value is the body; `None`: the whole object.
    pub body_field: Option<String>,
    /// Fields copied into headers.
    pub header_fields: Vec<String>,
    /// The field holding the event's time.
    pub timestamp_field: Option<String>,
}

impl PlainJson {
    /// Decodes a request body into events, all or none.
    ///
    /// # Errors
    /// [`crate::ErrorKind::Decode`]: an unsupported content type, charset or
    /// encoding, broken gzip, text that is not JSON objects, an object without
    /// `body_field` or with an unreadable `timestamp_field` (named by index),
    /// or a limit passed.
    pub fn decode_request(
        &self,
        content_type: Option<&str>,
        content_encoding: Option<&str>,
        body: &[u8],
        limits: &super::DecodeLimits,
    ) -> Result<Vec<Event>> {
        let charset = charset_of(content_type)?;
        let body = inflate(content_encoding, body, limits.max_inflated)?;
        let text = charset.decode(&body)?;
        let objects = objects(&text, limits.max_events)?;
        let mut events = Vec::with_capacity(objects.len());
        let mut used = 0usize;
        for (index, raw) in objects.into_iter().enumerate() {
            let event = self.event(raw).map_err(|m| Error::decode(format!("event {index}: {m}")))?;
            used += memory(&event);
            if used > limits.max_inflated {
                return Err(Error::decode(too_much(limits.max_inflated)));
            }
            events.push(event);
        }
        Ok(events)
    }

    fn event(&self, raw: &RawValue) -> std::result::Result<Event, String> {
        let text = raw.get();
        if !text.starts_with('{') {
            return Err("expected a JSON object".into());
        }
        if self.body_field.is_none() && self.header_fields.is_empty() && self.timestamp_field.is_none() {
            return Ok(build(None, None, Vec::new(), text.as_bytes().to_vec()));
        }
        let fields: HashMap<String, &RawValue> = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let body = match &self.body_field {
            None => text.as_bytes().to_vec(),
            Some(name) => match fields.get(name) {
                Some(value) => value_text(value)?.unwrap_or_default().into_bytes(),
                None => return Err(format!("no field {name:?} (body_field)")),
            },
        };
        let mut headers = Vec::new();
        for name in &self.header_fields {
            if let Some(value) = fields.get(name).map(|v| value_text(v)).transpose()?.flatten() {
                headers.push((name.clone(), value));
            }
        }
        if let Some(name) = &self.timestamp_field {
            if let Some(value) = fields.get(name) {
                let ms = timestamp_ms(value).map_err(|m| format!("field {name:?}: {m}"))?;
                headers.retain(|(k, _)| k != TIMESTAMP_HEADER);
                headers.push((TIMESTAMP_HEADER.to_owned(), ms.to_string()));
            }
        }
        Ok(build(None, None, headers, body))
    }
}

/// The charset of a content type the plain JSON intake takes.
fn charset_of(content_type: Option<&str>) -> Result<Charset> {
    let mut parts = content_type.unwrap_or_default().split(';');
    let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let known = [
        "",
        "application/json",
        "application/x-ndjson",
        "application/jsonlines",
        "application/json-lines",
        "text/plain",
    ];
    if !known.contains(&media.as_str()) {
        return Err(Error::decode(format!(
            "unsupported content-type {media:?}: expected application/json or application/x-ndjson"
        )));
    }
    let mut charset = Charset::Utf8;
    for parameter in parts {
        if let Some(named) = Charset::of_parameter(parameter)? {
            charset = named;
        }
    }
    Ok(charset)
}

/// The top-level values of a body: the elements of an array, or values one after another.
fn objects(text: &str, max_events: usize) -> Result<Vec<&RawValue>> {
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return Err(Error::decode("empty body: expected JSON objects"));
    }
    let fail = |e: serde_json::Error| Error::decode(format!("invalid json: {e}"));
    if trimmed.starts_with('[') {
        let mut json = serde_json::Deserializer::from_str(trimmed);
        let values = Elements { max: max_events }.deserialize(&mut json).map_err(fail)?;
        json.end().map_err(fail)?;
        return Ok(values);
    }
    let mut values = Vec::new();
    for value in serde_json::Deserializer::from_str(trimmed).into_iter::<&RawValue>() {
        if values.len() == max_events {
            return Err(Error::decode(too_many(max_events)));
        }
        values.push(value.map_err(fail)?);
    }
    Ok(values)
}

/// An array's elements, refused past `max`.
struct Elements {
    max: usize,
}

impl<'de> DeserializeSeed<'de> for Elements {
    type Value = Vec<&'de RawValue>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Elements {
    type Value = Vec<&'de RawValue>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of objects")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Self::Value, A::Error> {
        let mut values = Vec::new();
        while let Some(value) = seq.next_element::<&RawValue>()? {
            if values.len() == self.max {
                return Err(serde::de::Error::custom(too_many(self.max)));
            }
            values.push(value);
        }
        Ok(values)
    }
}

/// A value as header or body text: a string as its text, `null` as nothing, else its JSON.
fn value_text(value: &RawValue) -> std::result::Result<Option<String>, String> {
    let text = value.get();
    if text.starts_with('"') {
        return serde_json::from_str::<String>(text).map(Some).map_err(|e| e.to_string());
    }
    Ok((text != "null").then(|| text.to_owned()))
}

/// Milliseconds since the epoch from seconds (a number) or an RFC 3339 string.
fn timestamp_ms(value: &RawValue) -> std::result::Result<u64, String> {
    let text = value.get();
    if let Ok(seconds) = text.parse::<f64>() {
        if !(0.0..1e11).contains(&seconds) {
            return Err(format!("{text} is not seconds since the epoch"));
        }
        return Ok((seconds * 1000.0).round() as u64);
    }
    let time: String =
        serde_json::from_str(text).map_err(|_| format!("{text} is neither seconds nor an RFC 3339 time"))?;
    rfc3339_ms(&time).ok_or_else(|| format!("{time:?} is not an RFC 3339 time"))
}

/// `2024-05-01T12:34:56.789Z` (or `+02:00`, or a space for the `T`) as ms since the epoch.
fn rfc3339_ms(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = text.get(range)?;
        digits.bytes().all(|c| c.is_ascii_digit()).then(|| digits.parse().ok())?
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > crate::calendar::month_length(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut at = 19;
    let mut millis = 0i64;
    if b.get(at) == Some(&b'.') {
        let start = at + 1;
        at = start;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        if at == start {
            return None;
        }
        let digits = &text[start..at.min(start + 3)];
        millis = digits.parse::<i64>().ok()? * 10i64.pow(3 - digits.len() as u32);
    }
    let offset_minutes = match &text[at..] {
        "Z" | "z" => 0,
        zone if zone.len() == 6 && (zone.starts_with('+') || zone.starts_with('-')) && zone.as_bytes()[3] == b':' => {
            let (hours, minutes) = (num(at + 1..at + 3)?, num(at + 4..at + 6)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let minutes = hours * 60 + minutes;
            if zone.starts_with('-') {
                -minutes
            } else {
                minutes
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    u64::try_from(seconds * 1000 + millis).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::DecodeLimits;

    fn plain(body_field: Option<&str>, headers: &[&str], time: Option<&str>) -> PlainJson {
        PlainJson {
            body_field: body_field.map(str::to_owned),
            header_fields: headers.iter().map(|h| (*h).to_owned()).collect(),
            timestamp_field: time.map(str::to_owned),
        }
    }

    fn decode(p: &PlainJson, body: &str) -> Result<Vec<Event>> {
        p.decode_request(Some("application/json"), None, body.as_bytes(), &DecodeLimits::default())
    }

    #[test]
    fn objects_arrays_and_lines_are_events() {
        let whole = plain(None, &[], None);
        let shapes = [
            r#"{"b": 1, "a": "x"}"#,
            r#"[{"b": 1, "a": "x"}, {"c":[1,2]}]"#,
            "{\"b\": 1, \"a\": \"x\"}\n\n{\"c\":[1,2]}\n",
            r#"{"b": 1, "a": "x"}{"c":[1,2]}"#,
        ];
        for shape in shapes {
            let events = decode(&whole, shape).unwrap();
            assert_eq!(events[0].body, br#"{"b": 1, "a": "x"}"#, "{shape}: the object as it came");
            if events.len() > 1 {
                assert_eq!(events[1].body, br#"{"c":[1,2]}"#);
            }
        }
    }

    #[test]
    fn fluent_bit_records_take_body_headers_and_time() {
        // What Fluent Bit's http output sends with `Format json` (json_date_key `date`, double).
        let body = r#"[{"date":1700000000.123,"log":"GET / 200","host":"gw-1","level":3,"kubernetes":{"pod":"a"},"none":null}]"#;
        let p = plain(Some("log"), &["host", "level", "kubernetes", "none", "missing"], Some("date"));
        let events = decode(&p, body).unwrap();
        assert_eq!(events[0].body, b"GET / 200");
        let headers: Vec<(&str, &str)> = events[0].headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            headers,
            [("host", "gw-1"), ("level", "3"), ("kubernetes", r#"{"pod":"a"}"#), ("timestamp", "1700000000123")]
        );
        let structured = decode(&plain(Some("kubernetes"), &[], None), body).unwrap();
        assert_eq!(structured[0].body, br#"{"pod":"a"}"#);
    }

    #[test]
    fn rfc3339_times() {
        let table = [
            ("2023-11-14T22:13:20Z", Some(1_700_000_000_000)),
            ("2023-11-14T22:13:20.5Z", Some(1_700_000_000_500)),
            ("2023-11-14T22:13:20.123456789Z", Some(1_700_000_000_123)),
            ("2023-11-15T00:13:20+02:00", Some(1_700_000_000_000)),
            ("2023-11-14 21:13:20-01:00", Some(1_700_000_000_000)),
            ("2023-02-29T00:00:00Z", None),
            ("2023-11-14T22:13:20", None),
            ("2023-11-14T22:13:20.Z", None),
            ("2023-11-14T22:13:20+24:00", None),
            ("2023-11-14T22:13:20+02:60", None),
            ("yesterday", None),
        ];
        for (text, want) in table {
            assert_eq!(rfc3339_ms(text), want, "{text}");
        }
    }

    #[test]
    fn bad_requests_name_the_event() {
        let p = plain(Some("log"), &[], Some("ts"));
        let cases = [
            (r#"[{"log":"a"},{"msg":"b"}]"#, "event 1: no field \"log\" (body_field)"),
            (r#"[{"log":"a","ts":"later"}]"#, "event 0: field \"ts\": \"later\" is not an RFC 3339 time"),
            (r#"[{"log":"a","ts":-5}]"#, "event 0: field \"ts\": -5 is not seconds since the epoch"),
            (r#"[1]"#, "event 0: expected a JSON object"),
            (r#"{"log":"a"} x"#, "invalid json"),
            ("", "empty body"),
        ];
        for (body, want) in cases {
            let err = decode(&p, body).unwrap_err();
            assert!(err.message().starts_with(want), "{body}: {err}");
        }
        let limits = DecodeLimits { max_inflated: 1 << 20, max_events: 2 };
        for body in ["[{},{},{}]", "{}\n{}\n{}"] {
            let err = p.decode_request(None, None, body.as_bytes(), &limits).unwrap_err();
            assert!(err.message().contains("more than 2 events"), "{body}: {err}");
        }
        let err = p.decode_request(Some("text/csv"), None, b"{}", &limits).unwrap_err();
        assert!(err.message().contains("unsupported content-type"), "{err}");
    }
}
