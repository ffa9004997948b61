//! Interceptors: change or drop events between a source and its channels.
//!
//! Built-ins: `timestamp`, `host`, `static`, `regex_filter`, `remove_header`.

use crate::config::ComponentConfig;
use crate::error::Result;
use crate::event::Event;
use serde::Deserialize;

/// Changes or filters a batch of events. Runs on the source's thread.
pub trait Interceptor: Send + Sync + 'static {
    /// Returns the events to keep, changed as needed.
    fn intercept(&self, events: Vec<Event>) -> Vec<Event>;
}

/// Builds a built-in interceptor from its table, or `None` for an unknown type.
pub(crate) fn build_builtin(c: &ComponentConfig) -> Option<Result<Box<dyn Interceptor>>> {
    Some(match c.kind.as_str() {
        "timestamp" => c.parse::<TimestampInterceptor>().map(|i| Box::new(i) as _),
        "host" => c.parse::<HostConfig>().map(|h| Box::new(h.build()) as _),
        "static" => c.parse::<StaticInterceptor>().map(|i| Box::new(i) as _),
        "remove_header" => c.parse::<RemoveHeaderInterceptor>().map(|i| Box::new(i) as _),
        "regex_filter" => c.parse::<RegexFilterConfig>().and_then(|r| r.build(c)).map(|i| Box::new(i) as _),
        _ => return None,
    })
}

/// `timestamp`: sets header `timestamp` to the event time in ms (Flume's TimestampInterceptor).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimestampInterceptor {
    /// Header name (default `timestamp`).
    #[serde(default = "timestamp_header")]
    pub header: String,
    /// Keep an existing value (default true, as Flume's `preserveExisting`).
    #[serde(default = "yes")]
    pub preserve_existing: bool,
}

fn timestamp_header() -> String {
    "timestamp".into()
}
fn yes() -> bool {
    true
}

impl Interceptor for TimestampInterceptor {
    fn intercept(&self, mut events: Vec<Event>) -> Vec<Event> {
        for e in &mut events {
            if !(self.preserve_existing && e.header(&self.header).is_some()) {
                let ts = e.timestamp_ms.to_string();
                e.set_header(self.header.clone(), ts);
            }
        }
        events
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HostConfig {
    #[serde(default = "host_header")]
    header: String,
    #[serde(default = "yes")]
    preserve_existing: bool,
    /// Override the detected host name.
    value: Option<String>,
}

fn host_header() -> String {
    "host".into()
}

impl HostConfig {
    fn build(self) -> StaticInterceptor {
        let value = self.value.unwrap_or_else(hostname);
        StaticInterceptor { key: self.header, value, preserve_existing: self.preserve_existing }
    }
}

/// The machine's host name (from `/proc/sys/kernel/hostname`, `HOSTNAME`, or `localhost`).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// `static`: sets header `key` to `value` (also what `host` becomes).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticInterceptor {
    /// Header name.
    pub key: String,
    /// Header value.
    pub value: String,
    /// Keep an existing value (default true).
    #[serde(default = "yes")]
    pub preserve_existing: bool,
}

impl Interceptor for StaticInterceptor {
    fn intercept(&self, mut events: Vec<Event>) -> Vec<Event> {
        for e in &mut events {
            if !(self.preserve_existing && e.header(&self.key).is_some()) {
                e.set_header(self.key.clone(), self.value.clone());
            }
        }
        events
    }
}

/// `remove_header`: removes the named headers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoveHeaderInterceptor {
    /// Header names to remove.
    pub headers: Vec<String>,
}

impl Interceptor for RemoveHeaderInterceptor {
    fn intercept(&self, mut events: Vec<Event>) -> Vec<Event> {
        for e in &mut events {
            e.headers.retain(|(k, _)| !self.headers.contains(k));
        }
        events
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegexFilterConfig {
    pattern: String,
    #[serde(default)]
    exclude: bool,
}

impl RegexFilterConfig {
    fn build(self, c: &ComponentConfig) -> Result<RegexFilterInterceptor> {
        let regex =
            regex_lite::Regex::new(&self.pattern).map_err(|e| c.error("pattern", format!("invalid regex: {e}")))?;
        Ok(RegexFilterInterceptor { regex, exclude: self.exclude })
    }
}

/// `regex_filter`: keeps events whose body matches (or, with `exclude`, does not).
#[derive(Debug)]
pub struct RegexFilterInterceptor {
    regex: regex_lite::Regex,
    exclude: bool,
}

impl Interceptor for RegexFilterInterceptor {
    fn intercept(&self, mut events: Vec<Event>) -> Vec<Event> {
        // Bodies are matched as text; bytes that are not UTF-8 match as U+FFFD.
        events.retain(|e| self.regex.is_match(&String::from_utf8_lossy(&e.body)) != self.exclude);
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_change_and_filter() {
        let events = vec![Event::new("DEBUG x"), Event::new("INFO y").with_header("host", "kept")];
        let filter = RegexFilterInterceptor {
            regex: regex_lite::Regex::new("DEBUG").unwrap_or_else(|_| unreachable!()),
            exclude: true,
        };
        let events = filter.intercept(events);
        assert_eq!(events.len(), 1);
        let host = StaticInterceptor { key: "host".into(), value: "gw".into(), preserve_existing: true };
        let events = host.intercept(events);
        assert_eq!(events[0].header("host"), Some("kept"));
        let ts = TimestampInterceptor { header: "timestamp".into(), preserve_existing: true };
        let events = ts.intercept(events);
        assert_eq!(events[0].header("timestamp"), Some(events[0].timestamp_ms.to_string().as_str()));
        let events = RemoveHeaderInterceptor { headers: vec!["host".into()] }.intercept(events);
        assert_eq!(events[0].header("host"), None);
    }
}
