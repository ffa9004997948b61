//! ULID-style 128-bit event ids: 48 bits of milliseconds, 80 bits of randomness.
//!
//! Ids made in one process are strictly increasing: within one millisecond the
//! random part is incremented, so sorting by id sorts by ingest order.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Mutex;

/// A stable event id, rendered as 26 characters of Crockford base32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventId(pub u128);

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const RANDOM_BITS: u32 = 80;
const RANDOM_MASK: u128 = (1u128 << RANDOM_BITS) - 1;

static LAST: Mutex<u128> = Mutex::new(0);

impl EventId {
    /// A fresh id, greater than every id this process made before.
    pub fn generate() -> EventId {
        let ms = super::now_ms() as u128 & ((1u128 << 48) - 1);
        let random = ((fastrand::u64(..) as u128) << 16 | fastrand::u16(..) as u128) & RANDOM_MASK;
        let candidate = ms << RANDOM_BITS | random;
        // A poisoned lock only means another thread panicked mid-update; the value is still a valid id.
        let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
        let id = if candidate > *last { candidate } else { *last + 1 };
        *last = id;
        EventId(id)
    }

    /// The milliseconds part.
    pub fn timestamp_ms(self) -> u64 {
        (self.0 >> RANDOM_BITS) as u64
    }

    /// Parses the 26-character text form (case-insensitive).
    pub fn parse(text: &str) -> Option<EventId> {
        if text.len() != 26 {
            return None;
        }
        let mut value: u128 = 0;
        for (i, c) in text.bytes().enumerate() {
            let digit = ALPHABET.iter().position(|&a| a == c.to_ascii_uppercase())? as u128;
            if i == 0 && digit > 7 {
                return None;
            }
            value = value << 5 | digit;
        }
        Some(EventId(value))
    }
}

impl EventId {
    /// The 26 ASCII characters of the text form, without allocating.
    pub fn encode(self) -> [u8; 26] {
        let mut out = [0u8; 26];
        for (i, slot) in out.iter_mut().enumerate() {
            let shift = 5 * (25 - i);
            *slot = ALPHABET[((self.0 >> shift) & 31) as usize];
        }
        out
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Every byte comes from ALPHABET, which is ASCII.
        f.write_str(std::str::from_utf8(&self.encode()).map_err(|_| fmt::Error)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_roundtrip_and_order() {
        let a = EventId::generate();
        let b = EventId::generate();
        assert!(b > a);
        let text = a.to_string();
        assert_eq!(text.len(), 26);
        assert_eq!(EventId::parse(&text), Some(a));
        assert_eq!(EventId::parse(&text.to_lowercase()), Some(a));
        assert!(a.to_string() < b.to_string(), "text sorts like the number");
        assert!(EventId::parse("not-an-id").is_none());
        assert!(EventId::parse("ZZZZZZZZZZZZZZZZZZZZZZZZZZ").is_none(), "overflows 128 bits");
    }

    #[test]
    fn carries_the_time() {
        let before = crate::event::now_ms();
        let id = EventId::generate();
        assert!(id.timestamp_ms() >= before && id.timestamp_ms() <= crate::event::now_ms() + 1);
    }
}
