//! Interceptors: change or drop events between a source and its channels.
//!
//! Built-ins: `timestamp`, `host`, `static`, `regex_filter`, `remove_header`.

use crate::config::keys::Required;
use crate::config::ComponentConfig;
use crate::error::Result;
use crate::event::Event;
use crate::registry::{InterceptorSettings, Registry};

/// Changes or filters a batch of events. Runs on the source's thread.
pub trait Interceptor: Send + Sync + 'static {
    /// Returns the events to keep, changed as needed.
    fn intercept(&self, events: Vec<Event>) -> Vec<Event>;
}

/// Registers the built-in interceptor types.
pub(crate) fn register_builtins(r: &mut Registry) {
    r.register_interceptor::<TimestampInterceptor>("timestamp");
    r.register_interceptor::<HostConfig>("host");
    r.register_interceptor::<StaticInterceptor>("static");
    r.register_interceptor::<RegexFilterConfig>("regex_filter");
    r.register_interceptor::<RemoveHeaderInterceptor>("remove_header");
}

crate::settings! {
    /// `timestamp`: sets header `timestamp` to the event time in ms (Flume's TimestampInterceptor).
    pub struct TimestampInterceptor {
        header: String = "timestamp".into(), "Header name.";
        preserve_existing: bool = true, "Keep an existing value (Flume's `preserveExisting`).";
    }
}

impl InterceptorSettings for TimestampInterceptor {
    fn build(&self, _: &ComponentConfig) -> Result<Box<dyn Interceptor>> {
        Ok(Box::new(self.clone()))
    }
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

crate::settings! {
    /// `host`: sets a header to this machine's host name (Flume's HostInterceptor).
    pub struct HostConfig {
        header: String = "host".into(), "Header name.";
        preserve_existing: bool = true, "Keep an existing value.";
        value: Option<String> = None, "Use this instead of the detected host name.";
    }
}

impl InterceptorSettings for HostConfig {
    fn build(&self, _: &ComponentConfig) -> Result<Box<dyn Interceptor>> {
        let value = self.value.clone().unwrap_or_else(hostname);
        Ok(Box::new(SetHeader { key: self.header.clone(), value, preserve_existing: self.preserve_existing }))
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

crate::settings! {
    /// `static`: sets header `key` to `value` (also what `host` becomes).
    pub struct StaticInterceptor {
        key: Required<String> = Required::default(), "Header name.";
        value: Required<String> = Required::default(), "Header value.";
        preserve_existing: bool = true, "Keep an existing value.";
    }
}

impl InterceptorSettings for StaticInterceptor {
    fn check(&self, c: &ComponentConfig) -> Result<()> {
        self.key.get().map_err(|m| c.error("key", m))?;
        self.value.get().map_err(|m| c.error("value", m))?;
        Ok(())
    }

    fn build(&self, c: &ComponentConfig) -> Result<Box<dyn Interceptor>> {
        let key = self.key.get().map_err(|m| c.error("key", m))?.clone();
        let value = self.value.get().map_err(|m| c.error("value", m))?.clone();
        Ok(Box::new(SetHeader { key, value, preserve_existing: self.preserve_existing }))
    }
}

/// Sets one header: what `static` and `host` run.
#[derive(Debug, Clone)]
pub struct SetHeader {
    key: String,
    value: String,
    preserve_existing: bool,
}

impl Interceptor for SetHeader {
    fn intercept(&self, mut events: Vec<Event>) -> Vec<Event> {
        for e in &mut events {
            if !(self.preserve_existing && e.header(&self.key).is_some()) {
                e.set_header(self.key.clone(), self.value.clone());
            }
        }
        events
    }
}

crate::settings! {
    /// `remove_header`: removes the named headers.
    pub struct RemoveHeaderInterceptor {
        headers: Vec<String> = Vec::new(), "Header names to remove.";
    }
}

impl InterceptorSettings for RemoveHeaderInterceptor {
    fn build(&self, _: &ComponentConfig) -> Result<Box<dyn Interceptor>> {
        Ok(Box::new(self.clone()))
    }
}

impl Interceptor for RemoveHeaderInterceptor {
    fn intercept(&self, mut events: Vec<Event>) -> Vec<Event> {
        for e in &mut events {
            e.headers.retain(|(k, _)| !self.headers.contains(k));
        }
        events
    }
}

crate::settings! {
    /// `regex_filter`: keeps events whose body matches `pattern` (or, with `exclude`, drops them).
    pub struct RegexFilterConfig {
        pattern: Required<String> = Required::default(), "The regular expression (Rust `regex` syntax).";
        exclude: bool = false, "Drop matching events instead of keeping them.";
    }
}

impl RegexFilterConfig {
    fn regex(&self, c: &ComponentConfig) -> Result<regex_lite::Regex> {
        let pattern = self.pattern.get().map_err(|m| c.error("pattern", m))?;
        regex_lite::Regex::new(pattern).map_err(|e| c.error("pattern", format!("invalid regex: {e}")))
    }
}

impl InterceptorSettings for RegexFilterConfig {
    fn check(&self, c: &ComponentConfig) -> Result<()> {
        self.regex(c).map(drop)
    }

    fn build(&self, c: &ComponentConfig) -> Result<Box<dyn Interceptor>> {
        Ok(Box::new(RegexFilterInterceptor { regex: self.regex(c)?, exclude: self.exclude }))
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
        let host = SetHeader { key: "host".into(), value: "gw".into(), preserve_existing: true };
        let events = host.intercept(events);
        assert_eq!(events[0].header("host"), Some("kept"));
        let ts = TimestampInterceptor { header: "timestamp".into(), preserve_existing: true };
        let events = ts.intercept(events);
        assert_eq!(events[0].header("timestamp"), Some(events[0].timestamp_ms.to_string().as_str()));
        let events = RemoveHeaderInterceptor { headers: vec!["host".into()] }.intercept(events);
        assert_eq!(events[0].header("host"), None);
    }
}
