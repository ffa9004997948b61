//! Channel selectors: which channels an event goes to (Flume's `ChannelSelector`).

use crate::config::raw::RawSelector;
use crate::event::Event;
use std::collections::BTreeMap;

/// Routes events to channel names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// Every event to every listed channel.
    Replicating(Vec<String>),
    /// By the value of a header; unmapped values to `default`.
    Multiplexing {
        /// The header to route on.
        header: String,
        /// Header value → channels.
        mapping: BTreeMap<String, Vec<String>>,
        /// Channels for other values (and events without the header).
        default: Vec<String>,
    },
}

impl Selector {
    /// Checks a raw selector against the source's `channels`.
    ///
    /// # Errors
    /// A message for the `selector` key.
    pub fn from_raw(raw: RawSelector, channels: &[String]) -> Result<Selector, String> {
        let check = |names: &[String]| match names.iter().find(|n| !channels.contains(n)) {
            Some(n) => Err(format!("channel {n:?} is not in this source's `channels`")),
            None => Ok(()),
        };
        match raw.kind.as_str() {
            "replicating" => Ok(Selector::Replicating(channels.to_vec())),
            "multiplexing" => {
                let header = raw.header.ok_or("multiplexing needs `header`")?;
                for names in raw.mapping.values() {
                    check(names)?;
                }
                let default = raw.default.unwrap_or_default();
                check(&default)?;
                Ok(Selector::Multiplexing { header, mapping: raw.mapping, default })
            }
            other => Err(format!("unknown selector type {other:?}: expected \"replicating\" or \"multiplexing\"")),
        }
    }

    /// The channels `event` goes to (possibly none: then it is counted as filtered).
    pub fn route<'a>(&'a self, event: &Event) -> &'a [String] {
        match self {
            Selector::Replicating(all) => all,
            Selector::Multiplexing { header, mapping, default } => {
                event.header(header).and_then(|v| mapping.get(v)).unwrap_or(default)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplexing_routes_by_header() -> Result<(), String> {
        let channels = vec!["errors".to_string(), "main".to_string()];
        let raw = RawSelector {
            kind: "multiplexing".into(),
            header: Some("level".into()),
            mapping: BTreeMap::from([("error".to_string(), vec!["errors".to_string(), "main".to_string()])]),
            default: Some(vec!["main".into()]),
        };
        let s = Selector::from_raw(raw, &channels)?;
        assert_eq!(s.route(&Event::new("x").with_header("level", "error")), &channels[..]);
        assert_eq!(s.route(&Event::new("x").with_header("level", "info")), &["main".to_string()][..]);
        assert_eq!(s.route(&Event::new("x")), &["main".to_string()][..]);
        Ok(())
    }

    #[test]
    fn mapping_must_use_the_sources_channels() {
        let raw = RawSelector {
            kind: "multiplexing".into(),
            header: Some("h".into()),
            mapping: BTreeMap::from([("a".to_string(), vec!["nope".to_string()])]),
            default: None,
        };
        assert!(Selector::from_raw(raw, &["main".into()]).is_err_and(|m| m.contains("nope")));
    }
}
