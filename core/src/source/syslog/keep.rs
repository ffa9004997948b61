//! `keep_fields`: which of the header fields a syslog event's body keeps, as
//! Flume's `keepFields` (`false`/`none`, `true`/`all`, or a list of
//! `priority version timestamp hostname`).

use crate::config::keys::KeyValue;
use serde::de::{self, Deserializer, Visitor};
use std::fmt;

/// The fields kept in the body, in front of the message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeepFields {
    /// The whole message, as received (Flume's `all`).
    pub all: bool,
    /// `<PRI>`.
    pub priority: bool,
    /// The RFC 5424 version digit.
    pub version: bool,
    /// The timestamp as sent.
    pub timestamp: bool,
    /// The host name.
    pub hostname: bool,
}

/// The names a list may hold.
const FIELDS: [&str; 4] = ["priority", "version", "timestamp", "hostname"];

impl KeepFields {
    /// Reads Flume's words: `true`/`all`, `false`/`none`, or field names
    /// separated by spaces or commas. Unknown names are an error (Flume ignores them).
    pub fn from_words(words: &str) -> Result<KeepFields, String> {
        let words = words.trim().to_ascii_lowercase();
        match words.as_str() {
            "true" | "all" => return Ok(KeepFields { all: true, ..KeepFields::default() }),
            "false" | "none" | "" => return Ok(KeepFields::default()),
            _ => {}
        }
        let mut keep = KeepFields::default();
        for word in words.split(|c: char| c.is_whitespace() || c == ',').filter(|w| !w.is_empty()) {
            match word {
                "priority" => keep.priority = true,
                "version" => keep.version = true,
                "timestamp" => keep.timestamp = true,
                "hostname" => keep.hostname = true,
                other => {
                    return Err(format!(
                        "unknown field `{other}`: expected true, false or some of {}",
                        FIELDS.join(", ")
                    ))
                }
            }
        }
        Ok(keep)
    }

    /// Whether anything in front of the message is kept.
    pub fn any(&self) -> bool {
        self.all || self.priority || self.version || self.timestamp || self.hostname
    }
}

impl fmt::Display for KeepFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.all {
            return f.write_str("true");
        }
        let names: Vec<&str> = [self.priority, self.version, self.timestamp, self.hostname]
            .iter()
            .zip(FIELDS)
            .filter_map(|(on, name)| on.then_some(name))
            .collect();
        if names.is_empty() {
            f.write_str("false")
        } else {
            write!(f, "\"{}\"", names.join(" "))
        }
    }
}

impl KeyValue for KeepFields {
    fn kind() -> String {
        "boolean, or fields: priority version timestamp hostname".into()
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

impl<'de> serde::Deserialize<'de> for KeepFields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Words;
        impl<'de> Visitor<'de> for Words {
            type Value = KeepFields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true, false, or a list of priority, version, timestamp, hostname")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<KeepFields, E> {
                Ok(KeepFields { all: v, ..KeepFields::default() })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeepFields, E> {
                KeepFields::from_words(v).map_err(E::custom)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<KeepFields, A::Error> {
                let mut words = Vec::new();
                while let Some(word) = seq.next_element::<String>()? {
                    if word.eq_ignore_ascii_case("all") || word.eq_ignore_ascii_case("none") {
                        return Err(de::Error::custom(format!("`{word}` is not a field: write true or false")));
                    }
                    words.push(word);
                }
                KeepFields::from_words(&words.join(" ")).map_err(de::Error::custom)
            }
        }
        d.deserialize_any(Words)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flume_words() {
        let all = KeepFields { all: true, ..KeepFields::default() };
        let none = KeepFields::default();
        let table: &[(&str, Result<KeepFields, ()>)] = &[
            ("true", Ok(all)),
            ("ALL", Ok(all)),
            ("false", Ok(none)),
            ("none", Ok(none)),
            ("hostname", Ok(KeepFields { hostname: true, ..none })),
            ("timestamp hostname", Ok(KeepFields { timestamp: true, hostname: true, ..none })),
            (
                "priority version timestamp hostname",
                Ok(KeepFields { priority: true, version: true, timestamp: true, hostname: true, all: false }),
            ),
            ("priority,hostname", Ok(KeepFields { priority: true, hostname: true, ..none })),
            ("host", Err(())),
        ];
        for (words, want) in table {
            assert_eq!(KeepFields::from_words(words).map_err(|_| ()), *want, "{words}");
        }
    }

    #[test]
    fn shown_as_it_would_be_written() {
        assert_eq!(KeepFields::default().to_string(), "false");
        assert_eq!(KeepFields { all: true, ..KeepFields::default() }.to_string(), "true");
        let some = KeepFields { timestamp: true, hostname: true, ..KeepFields::default() };
        assert_eq!(some.to_string(), "\"timestamp hostname\"");
        assert_eq!(KeepFields::from_words("timestamp hostname"), Ok(some));
    }
}
