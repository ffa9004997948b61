//! Component types by name: the built-ins and any a program registers.
//!
//! A program embedding the core adds its own `Source`, `Sink` or `Interceptor`
//! under a `type` name and configures it like a built-in (see `examples/custom.rs`).

use crate::config::keys::{Key, Settings};
use crate::config::ComponentConfig;
use crate::error::Result;
use crate::interceptor::Interceptor;
use crate::sink::platform::PlatformUploads;
use crate::sink::Sink;
use crate::source::Source;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;

/// A source type's settings, read from its table: checked without side
/// effects (what `sluice check` runs), built once by the agent.
pub trait SourceSettings: Debug + Send + Sync + 'static {
    /// Checks what the types alone cannot (addresses, ranges, combinations).
    ///
    /// # Errors
    /// A config error naming the key (`c.error(key, …)`).
    fn check(&self, _c: &ComponentConfig) -> Result<()> {
        Ok(())
    }

    /// Builds the source; nothing is bound or started until `prepare`/`run`.
    ///
    /// # Errors
    /// As [`SourceSettings::check`].
    fn build(&self, c: &ComponentConfig) -> Result<Box<dyn Source>>;
}

/// A sink type's settings; see [`SourceSettings`].
pub trait SinkSettings: Debug + Send + Sync + 'static {
    /// Checks the settings for the host in `host` (agent or mobile SDK).
    ///
    /// # Errors
    /// A config error naming the key.
    fn check(&self, _c: &ComponentConfig, _host: &Host) -> Result<()> {
        Ok(())
    }

    /// Builds one sink (each sink worker gets its own).
    ///
    /// # Errors
    /// As [`SinkSettings::check`].
    fn build(&self, c: &ComponentConfig, host: &Host) -> Result<Box<dyn Sink>>;
}

/// An interceptor type's settings; see [`SourceSettings`].
pub trait InterceptorSettings: Debug + Send + Sync + 'static {
    /// Checks what the types alone cannot.
    ///
    /// # Errors
    /// A config error naming the key.
    fn check(&self, _c: &ComponentConfig) -> Result<()> {
        Ok(())
    }

    /// Builds the interceptor.
    ///
    /// # Errors
    /// As [`InterceptorSettings::check`].
    fn build(&self, c: &ComponentConfig) -> Result<Box<dyn Interceptor>>;
}

/// What the program hosting the components gives them: the mobile SDK's
/// upload queue, through which `transport = "platform"` sinks send.
#[derive(Clone, Default)]
pub struct Host {
    /// The app's uploader queue (mobile SDK only).
    pub platform: Option<Arc<PlatformUploads>>,
}

/// The kinds of component a registry knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// `[sources.*]`
    Source,
    /// `[sinks.*]`
    Sink,
    /// `interceptors = [...]` of a source.
    Interceptor,
}

impl Section {
    /// `source`, `sink`, `interceptor`.
    pub fn name(self) -> &'static str {
        match self {
            Section::Source => "source",
            Section::Sink => "sink",
            Section::Interceptor => "interceptor",
        }
    }
}

/// A registered type: its key table and its reader.
struct Entry<T: ?Sized> {
    keys: fn() -> Vec<Key>,
    read: fn(&ComponentConfig) -> Result<Arc<T>>,
}

impl<T: ?Sized> Clone for Entry<T> {
    fn clone(&self) -> Self {
        Entry { keys: self.keys, read: self.read }
    }
}

/// Known component types.
#[derive(Clone, Default)]
pub struct Registry {
    sources: BTreeMap<String, Entry<dyn SourceSettings>>,
    sinks: BTreeMap<String, Entry<dyn SinkSettings>>,
    interceptors: BTreeMap<String, Entry<dyn InterceptorSettings>>,
    host: Host,
}

fn read_source<S: Settings + SourceSettings>(c: &ComponentConfig) -> Result<Arc<dyn SourceSettings>> {
    let settings: S = c.parse()?;
    settings.check(c)?;
    Ok(Arc::new(settings))
}

fn read_sink<S: Settings + SinkSettings>(c: &ComponentConfig) -> Result<Arc<dyn SinkSettings>> {
    Ok(Arc::new(c.parse::<S>()?))
}

fn read_interceptor<S: Settings + InterceptorSettings>(c: &ComponentConfig) -> Result<Arc<dyn InterceptorSettings>> {
    let settings: S = c.parse()?;
    settings.check(c)?;
    Ok(Arc::new(settings))
}

impl Registry {
    /// The built-in types.
    pub fn with_builtins() -> Registry {
        let mut r = Registry::with_builtin_sinks();
        crate::source::register_builtins(&mut r);
        crate::interceptor::register_builtins(&mut r);
        crate::sink::register_gateway_sinks(&mut r);
        r
    }

    /// The built-in sinks only: what the mobile SDK needs (it has no sources or
    /// interceptors). Leaving the rest unreferenced lets the linker drop the
    /// HTTP server, the request decoders and the regex engine from phone libraries.
    pub fn with_builtin_sinks() -> Registry {
        let mut r = Registry::default();
        crate::sink::register_builtins(&mut r);
        r
    }

    /// The built-in sinks of the mobile SDK: `http` and `otlp_http` send through
    /// the app's uploader (`uploads`) unless a sink says `transport = "builtin"`.
    pub fn with_platform_sinks(uploads: Arc<PlatformUploads>) -> Registry {
        let mut r = Registry::with_builtin_sinks();
        r.host.platform = Some(uploads);
        r
    }

    /// What this registry's sinks are built with.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// Adds (or replaces) source type `kind`, read into `S`.
    pub fn register_source<S: Settings + SourceSettings>(&mut self, kind: &str) {
        self.sources.insert(kind.into(), Entry { keys: S::keys, read: read_source::<S> });
    }

    /// Adds (or replaces) sink type `kind`, read into `S`.
    pub fn register_sink<S: Settings + SinkSettings>(&mut self, kind: &str) {
        self.sinks.insert(kind.into(), Entry { keys: S::keys, read: read_sink::<S> });
    }

    /// Adds (or replaces) interceptor type `kind`, read into `S`.
    pub fn register_interceptor<S: Settings + InterceptorSettings>(&mut self, kind: &str) {
        self.interceptors.insert(kind.into(), Entry { keys: S::keys, read: read_interceptor::<S> });
    }

    /// Reads and checks the source `c` describes; builds nothing.
    ///
    /// # Errors
    /// Unknown type (naming the known ones) or the settings' config error.
    pub fn read_source(&self, c: &ComponentConfig) -> Result<Arc<dyn SourceSettings>> {
        (entry(&self.sources, "source", c)?.read)(c)
    }

    /// Reads and checks the sink `c` describes, for this registry's host.
    ///
    /// # Errors
    /// As [`Registry::read_source`].
    pub fn read_sink(&self, c: &ComponentConfig) -> Result<Arc<dyn SinkSettings>> {
        let settings = (entry(&self.sinks, "sink", c)?.read)(c)?;
        settings.check(c, &self.host)?;
        Ok(settings)
    }

    /// Reads and checks the interceptor `c` describes.
    ///
    /// # Errors
    /// As [`Registry::read_source`].
    pub fn read_interceptor(&self, c: &ComponentConfig) -> Result<Arc<dyn InterceptorSettings>> {
        (entry(&self.interceptors, "interceptor", c)?.read)(c)
    }

    /// The type names of `section`, sorted.
    pub fn types(&self, section: Section) -> Vec<&str> {
        match section {
            Section::Source => self.sources.keys().map(String::as_str).collect(),
            Section::Sink => self.sinks.keys().map(String::as_str).collect(),
            Section::Interceptor => self.interceptors.keys().map(String::as_str).collect(),
        }
    }

    /// The keys of type `kind` in `section`, or `None` for an unknown type.
    pub fn keys(&self, section: Section, kind: &str) -> Option<Vec<Key>> {
        match section {
            Section::Source => self.sources.get(kind).map(|e| (e.keys)()),
            Section::Sink => self.sinks.get(kind).map(|e| (e.keys)()),
            Section::Interceptor => self.interceptors.get(kind).map(|e| (e.keys)()),
        }
    }
}

fn entry<'r, T: ?Sized>(map: &'r BTreeMap<String, Entry<T>>, what: &str, c: &ComponentConfig) -> Result<&'r Entry<T>> {
    map.get(&c.kind).ok_or_else(|| {
        let known: Vec<&str> = map.keys().map(String::as_str).collect();
        c.error("type", format!("unknown {what} type {:?}: expected one of {}", c.kind, known.join(", ")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The new components' own checks name the key that is wrong.
    #[test]
    fn bad_component_settings_name_their_key() {
        let r = Registry::with_builtins();
        let source = |kind: &str, text: &str| {
            ComponentConfig::from_toml(kind, text).and_then(|c| r.read_source(&c)).err().map(|e| e.to_string())
        };
        let sink = |kind: &str, text: &str| {
            ComponentConfig::from_toml(kind, text).and_then(|c| r.read_sink(&c)).err().map(|e| e.to_string())
        };
        for (got, key) in [
            (source("taildir", "paths = []"), "taildir.paths"),
            (source("taildir", "paths = [\"/x\"]\nmax_line_length = \"1GiB\""), "taildir.max_line_length"),
            (source("exec", "command = \"  \""), "exec.command"),
            (source("http", "cors_origins = [\"shop.example\"]"), "http.cors_origins"),
            (source("http", "body_field = \"log\""), "http.body_field"),
            (source("otlp_http", "max_inflight = \"1KiB\""), "otlp_http.max_inflight"),
            (source("syslog", "listen = \"nowhere\""), "syslog.listen"),
            (source("tcp", "listen = \"1.2.3.4\""), "tcp.listen"),
            (sink("file", "directory = \"/tmp\"\nprefix = \"a/b\""), "file.prefix"),
            (sink("http", "url = \"http://up\"\ntransport = \"platform\""), "http.transport"),
            (sink("otlp_http", "url = \"http://up\"\ntransport = \"platform\""), "otlp_http.transport"),
        ] {
            let message = got.unwrap_or_else(|| panic!("{key}: accepted"));
            assert!(message.contains(key) && message.contains("test.toml:"), "{key}: {message}");
        }
    }

    /// The mobile registry sends through the app's uploader by default, and says
    /// so when a key only the built-in client could honour is set.
    #[test]
    fn platform_sinks_refuse_tls_settings_the_app_cannot_take() {
        let r = Registry::with_platform_sinks(Arc::new(PlatformUploads::default()));
        let build = |text: &str| ComponentConfig::from_toml("http", text).and_then(|c| r.read_sink(&c)).err();
        assert!(build("url = \"https://up\"").is_none(), "https goes to the app's uploader, TLS or not in this build");
        let message =
            build("url = \"https://up\"\ntls = { verify = false }").map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("http.tls") && message.contains("system's trust store"), "{message}");
    }
}
