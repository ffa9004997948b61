//! Events as they come over the wire: the serde side of flume_json and ndjson.
//!
//! Typed, `deny_unknown_fields` structs read each event; [`Headers`] takes string
//! values only and refuses a name given twice; [`Object`] refuses the array form serde
//! would otherwise accept for a struct. [`FlumeBatch`] reads an array event by event and
//! leaves in [`Progress`] where it stopped, so errors can name the event.

use super::{too_many, too_much};
use crate::event::MAX_HEADERS;
use crate::sink::format::BODY_ENCODING_HEADER;
use crate::{Event, EventId};
use base64::Engine as _;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::marker::PhantomData;

/// The header whose value, when it parses as an event id, becomes the event's id.
const ID_HEADER: &str = "id";

/// Where decoding a flume_json array stopped, and why when serde_json cannot say.
#[derive(Debug, Default)]
pub(super) struct Progress {
    /// The index of the event being read when it stopped; `None` outside events.
    pub event: Option<usize>,
    /// The whole message, for failures found after serde_json read an event.
    pub reason: Option<String>,
}

/// Reads a flume_json array event by event, keeping track of where it is.
pub(super) struct FlumeBatch<'a> {
    pub max_events: usize,
    /// Most bytes the decoded events may take in memory (see [`memory`]).
    pub max_memory: usize,
    pub progress: &'a mut Progress,
}

/// Bytes an event takes in memory besides its body and header text: the
/// struct, its vectors, and two strings per header. Small JSON can decode into
/// much more memory than it took (`{"a":"b"}` is 9 bytes, its header ~80);
/// this is what the decoded size of a request is counted in.
pub(super) fn memory(event: &Event) -> usize {
    const EVENT: usize = 96;
    const HEADER: usize = 80;
    EVENT + event.size() + HEADER * event.headers.len()
}

impl<'de> DeserializeSeed<'de> for FlumeBatch<'_> {
    type Value = Vec<Event>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<Event>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for FlumeBatch<'_> {
    type Value = Vec<Event>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a json array of events")
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Vec<Event>, A::Error> {
        let mut events = Vec::new();
        let mut used = 0usize;
        loop {
            let index = events.len();
            if index == self.max_events {
                if seq.next_element::<IgnoredAny>()?.is_none() {
                    return Ok(events);
                }
                return Err(self.fail(too_many(self.max_events)));
            }
            self.progress.event = Some(index);
            let Some(raw) = seq.next_element::<Object<FlumeEvent>>()? else {
                break;
            };
            self.progress.event = None;
            let event = raw.0.into_event().map_err(|message| self.fail(format!("event {index}: {message}")))?;
            used += memory(&event);
            if used > self.max_memory {
                return Err(self.fail(too_much(self.max_memory)));
            }
            events.push(event);
        }
        self.progress.event = None;
        Ok(events)
    }
}

impl FlumeBatch<'_> {
    /// Records `reason` and returns an error that stops serde_json.
    fn fail<E: de::Error>(&mut self, reason: String) -> E {
        self.progress.reason = Some(reason);
        E::custom("stopped")
    }
}

/// One flume_json event as sent.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FlumeEvent {
    #[serde(default)]
    headers: Headers,
    #[serde(default)]
    body: String,
}

impl FlumeEvent {
    fn into_event(self) -> Result<Event, String> {
        let mut headers = self.headers.0;
        let encoding = headers.iter().position(|(k, _)| k == BODY_ENCODING_HEADER).map(|at| headers.remove(at).1);
        let body = match encoding.as_deref() {
            None => self.body.into_bytes(),
            Some(e) if e.eq_ignore_ascii_case("base64") => base64_body(&self.body)?,
            Some(e) => return Err(format!("unsupported {BODY_ENCODING_HEADER} {e:?}: expected base64")),
        };
        Ok(build(None, None, headers, body))
    }
}

/// One ndjson event as sent.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NdjsonEvent {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    timestamp: Option<u64>,
    #[serde(default)]
    headers: Headers,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    body_base64: Option<String>,
}

impl NdjsonEvent {
    pub fn into_event(self) -> Result<Event, String> {
        let id = match self.id {
            Some(text) => {
                Some(EventId::parse(&text).ok_or_else(|| format!("id {text:?} is not a 26-character event id"))?)
            }
            None => None,
        };
        let body = match (self.body, self.body_base64) {
            (Some(text), None) => text.into_bytes(),
            (None, Some(encoded)) => base64_body(&encoded)?,
            (None, None) => return Err("missing field `body` (or `body_base64`)".to_owned()),
            (Some(_), Some(_)) => return Err("both `body` and `body_base64` are set: send one".to_owned()),
        };
        let mut headers = self.headers.0;
        // The id travels on as flume_json carries it, so a gateway's `dedup`
        // knows it was given, not made here.
        if let Some(id) = id.filter(|_| !headers.iter().any(|(k, _)| k == ID_HEADER)) {
            headers.push((ID_HEADER.to_owned(), id.to_string()));
        }
        Ok(build(id, self.timestamp, headers, body))
    }
}

fn base64_body(encoded: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| "body is not valid base64 (standard alphabet, padded)".to_owned())
}

/// The event: `id`, else a header `id` that parses as one, else a fresh id.
pub(super) fn build(
    id: Option<EventId>,
    timestamp_ms: Option<u64>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> Event {
    let mut event = Event::new(body);
    event.headers = headers;
    if let Some(id) = id.or_else(|| event.header(ID_HEADER).and_then(EventId::parse)) {
        event.id = id;
    }
    if let Some(timestamp_ms) = timestamp_ms {
        event.timestamp_ms = timestamp_ms;
    }
    event
}

/// Headers as sent: string values only, each name once, in the order sent.
#[derive(Debug, Default)]
struct Headers(Vec<(String, String)>);

impl<'de> Deserialize<'de> for Headers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Headers, D::Error> {
        deserializer.deserialize_map(HeadersVisitor)
    }
}

struct HeadersVisitor;

impl<'de> Visitor<'de> for HeadersVisitor {
    type Value = Headers;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of string headers")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Headers, A::Error> {
        let mut headers = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            if headers.len() == MAX_HEADERS {
                return Err(de::Error::custom(format_args!("more than {MAX_HEADERS} headers in one event")));
            }
            let serde_json::Value::String(value) = map.next_value()? else {
                return Err(de::Error::custom(format_args!("header {name:?} must be a string")));
            };
            headers.push((name, value));
        }
        match duplicate(&headers) {
            Some(name) => Err(de::Error::custom(format_args!("header {name:?} appears twice"))),
            None => Ok(Headers(headers)),
        }
    }
}

/// A name that appears twice; linear for the usual handful, sorting past that.
fn duplicate(headers: &[(String, String)]) -> Option<&str> {
    if headers.len() <= 16 {
        let seen_before = |at: usize| headers[..at].iter().any(|(k, _)| *k == headers[at].0);
        return (1..headers.len()).find(|&at| seen_before(at)).map(|at| headers[at].0.as_str());
    }
    let mut names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    names.windows(2).find(|pair| pair[0] == pair[1]).map(|pair| pair[0])
}

/// `T` read from a json object only: serde's derived structs also take arrays
/// (`["h", "b"]`), a shape this format does not have.
pub(super) struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ObjectVisitor(PhantomData))
    }
}

struct ObjectVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
    type Value = Object<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Object<T>, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Object)
    }
}
