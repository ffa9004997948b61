//! Component types by name: the built-ins and any a program registers.
//!
//! A program embedding the core adds its own `Source`, `Sink` or `Interceptor`
//! under a `type` name and configures it like a built-in (see `examples/custom.rs`).

use crate::config::ComponentConfig;
use crate::error::Result;
use crate::interceptor::Interceptor;
use crate::sink::platform::PlatformUploads;
use crate::sink::Sink;
use crate::source::Source;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Builds a source from its table.
pub type SourceFactory = Arc<dyn Fn(&ComponentConfig) -> Result<Box<dyn Source>> + Send + Sync>;
/// Builds a sink from its table.
pub type SinkFactory = Arc<dyn Fn(&ComponentConfig) -> Result<Box<dyn Sink>> + Send + Sync>;
/// Builds an interceptor from its table.
pub type InterceptorFactory = Arc<dyn Fn(&ComponentConfig) -> Result<Box<dyn Interceptor>> + Send + Sync>;

/// A factory of `T` components.
type Factory<T> = Arc<dyn Fn(&ComponentConfig) -> Result<Box<T>> + Send + Sync>;

/// Known component types.
#[derive(Clone, Default)]
pub struct Registry {
    sources: BTreeMap<String, SourceFactory>,
    sinks: BTreeMap<String, SinkFactory>,
    interceptors: BTreeMap<String, InterceptorFactory>,
}

impl Registry {
    /// The built-in types.
    pub fn with_builtins() -> Registry {
        let mut r = Registry::with_builtin_sinks();
        r.register_source("stdin", |c| Ok(Box::new(c.parse::<crate::source::stdin::StdinConfig>()?.build())));
        for kind in ["timestamp", "host", "static", "regex_filter", "remove_header"] {
            r.register_interceptor(kind, |c| {
                crate::interceptor::build_builtin(c).unwrap_or_else(|| Err(c.error("type", "unknown interceptor")))
            });
        }
        crate::source::http::register(&mut r);
        r.register_sink("file", |c| Ok(Box::new(c.parse::<crate::sink::file::FileSinkConfig>()?.build(c)?)));
        r.register_sink("flume_avro", |c| {
            Ok(Box::new(c.parse::<crate::sink::flume_avro::FlumeAvroConfig>()?.build(c)?))
        });
        #[cfg(feature = "kafka")]
        r.register_sink("kafka", |c| Ok(Box::new(c.parse::<crate::sink::kafka::KafkaConfig>()?.build(c)?)));
        r.register_source("tcp", |c| Ok(Box::new(c.parse::<crate::source::tcp::TcpSourceConfig>()?.build(c)?)));
        r.register_source("syslog", |c| Ok(Box::new(c.parse::<crate::source::syslog::SyslogConfig>()?.build(c)?)));
        r.register_source("host_metrics", |c| {
            Ok(Box::new(c.parse::<crate::source::host_metrics::HostMetricsConfig>()?.build()))
        });
        r.register_source("exec", |c| {
            let config = c.parse::<crate::source::exec::ExecConfig>()?;
            config.build().map(|s| Box::new(s) as _).map_err(|(key, msg)| c.error(key, msg))
        });
        r.register_source("taildir", |c| {
            let config = c.parse::<crate::source::taildir::TaildirConfig>()?;
            config.build().map(|s| Box::new(s) as _).map_err(|(key, msg)| c.error(key, msg))
        });
        r
    }

    /// The built-in sinks only: what the mobile SDK needs (it has no sources or
    /// interceptors). Leaving the rest unreferenced lets the linker drop the
    /// HTTP server, the request decoders and the regex engine from phone libraries.
    pub fn with_builtin_sinks() -> Registry {
        Registry::sinks(None)
    }

    /// The built-in sinks of the mobile SDK: `http` and `otlp_http` send through
    /// the app's uploader (`uploads`) unless a sink says `transport = "builtin"`.
    pub fn with_platform_sinks(uploads: Arc<PlatformUploads>) -> Registry {
        Registry::sinks(Some(uploads))
    }

    fn sinks(platform: Option<Arc<PlatformUploads>>) -> Registry {
        use crate::sink::{http::HttpSinkConfig, otlp::OtlpHttpConfig};
        let mut r = Registry::default();
        let p = platform.clone();
        r.register_sink("http", move |c| Ok(Box::new(c.parse::<HttpSinkConfig>()?.build(c, p.as_ref())?)));
        r.register_sink("otlp_http", move |c| Ok(Box::new(c.parse::<OtlpHttpConfig>()?.build(c, platform.as_ref())?)));
        r.register_sink("stdout", |c| c.parse::<Empty>().map(|_| Box::new(crate::sink::StdoutSink) as _));
        r.register_sink("null", |c| c.parse::<Empty>().map(|_| Box::new(crate::sink::NullSink) as _));
        r
    }

    /// Adds (or replaces) a source type.
    pub fn register_source(
        &mut self,
        kind: &str,
        factory: impl Fn(&ComponentConfig) -> Result<Box<dyn Source>> + Send + Sync + 'static,
    ) {
        self.sources.insert(kind.into(), Arc::new(factory));
    }

    /// Adds (or replaces) a sink type.
    pub fn register_sink(
        &mut self,
        kind: &str,
        factory: impl Fn(&ComponentConfig) -> Result<Box<dyn Sink>> + Send + Sync + 'static,
    ) {
        self.sinks.insert(kind.into(), Arc::new(factory));
    }

    /// Adds (or replaces) an interceptor type.
    pub fn register_interceptor(
        &mut self,
        kind: &str,
        factory: impl Fn(&ComponentConfig) -> Result<Box<dyn Interceptor>> + Send + Sync + 'static,
    ) {
        self.interceptors.insert(kind.into(), Arc::new(factory));
    }

    /// Builds the source `c` describes.
    ///
    /// # Errors
    /// Unknown type (naming the known ones) or the factory's config error.
    pub fn build_source(&self, c: &ComponentConfig) -> Result<Box<dyn Source>> {
        build(&self.sources, "source", c)
    }

    /// Builds the sink `c` describes.
    ///
    /// # Errors
    /// As [`Registry::build_source`].
    pub fn build_sink(&self, c: &ComponentConfig) -> Result<Box<dyn Sink>> {
        build(&self.sinks, "sink", c)
    }

    /// Builds the interceptor `c` describes.
    ///
    /// # Errors
    /// As [`Registry::build_source`].
    pub fn build_interceptor(&self, c: &ComponentConfig) -> Result<Box<dyn Interceptor>> {
        build(&self.interceptors, "interceptor", c)
    }
}

fn build<T: ?Sized>(map: &BTreeMap<String, Factory<T>>, what: &str, c: &ComponentConfig) -> Result<Box<T>> {
    match map.get(&c.kind) {
        Some(factory) => factory(c),
        None => {
            let known: Vec<&str> = map.keys().map(String::as_str).collect();
            Err(c.error("type", format!("unknown {what} type {:?}: expected one of {}", c.kind, known.join(", "))))
        }
    }
}

/// A component without keys of its own.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

#[cfg(test)]
mod tests {
    use super::*;

    /// The new components' own checks name the key that is wrong.
    #[test]
    fn bad_component_settings_name_their_key() {
        let r = Registry::with_builtins();
        let source = |kind: &str, text: &str| {
            ComponentConfig::from_toml(kind, text).and_then(|c| r.build_source(&c)).err().map(|e| e.to_string())
        };
        let sink = |kind: &str, text: &str| {
            ComponentConfig::from_toml(kind, text).and_then(|c| r.build_sink(&c)).err().map(|e| e.to_string())
        };
        for (got, key) in [
            (source("taildir", "paths = []"), "taildir.paths"),
            (source("taildir", "paths = [\"/x\"]\nmax_line_length = \"1GiB\""), "taildir.max_line_length"),
            (source("exec", "command = \"  \""), "exec.command"),
            (source("http", "cors_origins = [\"shop.example\"]"), "http.cors_origins"),
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
        let build = |text: &str| ComponentConfig::from_toml("http", text).and_then(|c| r.build_sink(&c)).err();
        assert!(build("url = \"https://up\"").is_none(), "https goes to the app's uploader, TLS or not in this build");
        let message =
            build("url = \"https://up\"\ntls = { verify = false }").map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("http.tls") && message.contains("system's trust store"), "{message}");
    }
}
