//! The event: headers, a body, a timestamp, a priority and a stable id.
//!
//! Events are what sources put into channels and sinks ship upstream. The id is
//! assigned once at ingest and travels with the event (header `id` by default),
//! so an upstream can de-duplicate what at-least-once delivery sends twice.

mod bytes;
mod id;

pub use id::EventId;

use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};

/// Most headers on one event, wherever it comes from (the http source, the
/// mobile API): Flume events carry a handful; this bounds what a hostile
/// request can make one event cost.
pub const MAX_HEADERS: usize = 256;

/// How much an event matters when space runs out: `high` is never evicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Evicted first.
    Low = 0,
    /// The default.
    #[default]
    Normal = 1,
    /// Never evicted; refused at the door when the quota holds only `high` events.
    High = 2,
}

impl Priority {
    /// All priorities, lowest first.
    pub const ALL: [Priority; 3] = [Priority::Low, Priority::Normal, Priority::High];

    /// The priority stored as a small integer.
    pub fn from_u8(n: u8) -> Priority {
        match n {
            0 => Priority::Low,
            2 => Priority::High,
            _ => Priority::Normal,
        }
    }

    /// The lower-case name used in configs, metrics and headers.
    pub fn name(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
        }
    }
}

/// One event. Headers keep their insertion order; a key appears at most once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Assigned at ingest; stable across retries and restarts.
    pub id: EventId,
    /// Milliseconds since the Unix epoch, set at ingest.
    pub timestamp_ms: u64,
    /// Used by eviction: lower priorities go first.
    pub priority: Priority,
    /// String headers, Flume style.
    pub headers: Vec<(String, String)>,
    /// The payload.
    #[serde(with = "bytes")]
    pub body: Vec<u8>,
}

/// Fixed per-event overhead counted against channel capacity (id, timestamp, framing).
const EVENT_OVERHEAD: usize = 32;

impl Event {
    /// A new event with a fresh id, the current time and normal priority.
    pub fn new(body: impl Into<Vec<u8>>) -> Event {
        let id = EventId::generate();
        Event {
            // The id already read the clock: one clock read per event, not two.
            timestamp_ms: id.timestamp_ms(),
            id,
            priority: Priority::Normal,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// The same event with header `key` set to `value`.
    pub fn with_header(mut self, key: impl Into<String>, value: impl Into<String>) -> Event {
        self.set_header(key, value);
        self
    }

    /// The same event with another priority.
    pub fn with_priority(mut self, priority: Priority) -> Event {
        self.priority = priority;
        self
    }

    /// The value of header `key`, if set.
    pub fn header(&self, key: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Sets header `key`, replacing an earlier value.
    pub fn set_header(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let key = key.into();
        let value = value.into();
        match self.headers.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.headers.push((key, value)),
        }
    }

    /// Removes header `key`; returns its value.
    pub fn remove_header(&mut self, key: &str) -> Option<String> {
        let at = self.headers.iter().position(|(k, _)| k == key)?;
        Some(self.headers.remove(at).1)
    }

    /// The bytes this event counts for against a channel's `max_bytes`.
    pub fn size(&self) -> usize {
        let headers: usize = self.headers.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
        EVENT_OVERHEAD + headers + self.body.len()
    }
}

/// Milliseconds since the Unix epoch (0 if the clock is before 1970).
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_replace_and_remove() {
        let mut e = Event::new("x").with_header("a", "1").with_header("b", "2").with_header("a", "3");
        assert_eq!(e.headers, vec![("a".into(), "3".into()), ("b".into(), "2".into())]);
        assert_eq!(e.remove_header("a").as_deref(), Some("3"));
        assert_eq!(e.header("a"), None);
        assert_eq!(e.size(), 32 + (1 + 1 + 2) + 1);
    }

    #[test]
    fn postcard_roundtrip_is_compact() -> Result<(), postcard::Error> {
        let e = Event::new(vec![0u8, 255, 10]).with_header("host", "gw").with_priority(Priority::High);
        let bytes = postcard::to_allocvec(&e)?;
        assert!(bytes.len() < 40, "{} bytes", bytes.len());
        assert_eq!(postcard::from_bytes::<Event>(&bytes)?, e);
        Ok(())
    }
}
