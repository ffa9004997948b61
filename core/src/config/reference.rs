//! The configuration reference: every table a file may have and the keys of
//! each, from the settings structs. `sluice help` prints it; the README holds
//! the same text, checked by a test.

use super::keys::{self, Key, Settings};
use super::sections::{AgentConfig, ChannelConfig, GroupConfig, MobileConfig, SinkRunnerConfig, SourceRoutingConfig};
use crate::registry::{Registry, Section};

/// One table of the reference.
#[derive(Debug, Clone)]
pub struct Topic {
    /// What `sluice help NAME` finds it by: a type (`http`), or `agent`,
    /// `channel`, `source`, `sink`, `sink_group`, `mobile`.
    pub name: String,
    /// Where it is written, like `[sinks.NAME] type = "http"`.
    pub table: String,
    /// Its keys.
    pub keys: Vec<Key>,
}

fn topic(name: &str, table: String, keys: Vec<Key>) -> Topic {
    Topic { name: name.to_string(), table, keys }
}

/// Every table, in the order the reference lists them.
pub fn topics(registry: &Registry) -> Vec<Topic> {
    let mut out = vec![
        topic("agent", "[agent]".into(), AgentConfig::keys()),
        topic("channel", "[channels.NAME]".into(), ChannelConfig::keys()),
        topic(
            "source",
            "[sources.NAME], every type".into(),
            with_type(SourceRoutingConfig::keys(), Section::Source, registry),
        ),
    ];
    let typed = |section: Section, path: &str, out: &mut Vec<Topic>| {
        for kind in registry.types(section) {
            let keys = registry.keys(section, kind).unwrap_or_default();
            let table = match section {
                Section::Interceptor => format!("interceptors = [{{ type = \"{kind}\", … }}]"),
                _ => format!("{path} type = \"{kind}\""),
            };
            out.push(topic(kind, table, keys));
        }
    };
    typed(Section::Source, "[sources.NAME]", &mut out);
    out.push(topic(
        "sink",
        "[sinks.NAME], every type".into(),
        with_type(SinkRunnerConfig::keys(), Section::Sink, registry),
    ));
    typed(Section::Sink, "[sinks.NAME]", &mut out);
    typed(Section::Interceptor, "interceptors = [{ … }]", &mut out);
    out.push(topic("sink_group", "[sink_groups.NAME]".into(), GroupConfig::keys()));
    out.push(topic("mobile", "[mobile] (mobile SDK only)".into(), MobileConfig::keys()));
    out
}

/// `type` first, naming the types a registry has.
fn with_type(mut keys: Vec<Key>, section: Section, registry: &Registry) -> Vec<Key> {
    let kinds = registry.types(section).join(", ");
    let meaning = match section {
        Section::Source => "The source type (see its own table).",
        Section::Sink => "The sink type (see its own table).",
        Section::Interceptor => "The interceptor type.",
    };
    keys.insert(0, Key { name: "type", kind: format!("one of {kinds}"), default: "required".into(), meaning });
    keys
}

/// The tables called `name` (`http` is a source and a sink).
pub fn find(registry: &Registry, name: &str) -> Vec<Topic> {
    let wanted = match name {
        "sources" => "source",
        "sinks" => "sink",
        "channels" | "sqlite" | "memory" => "channel",
        "sink_groups" | "group" => "sink_group",
        other => other,
    };
    topics(registry).into_iter().filter(|t| t.name == wanted).collect()
}

/// The reference as Markdown: a heading and a table per topic.
pub fn markdown(registry: &Registry) -> String {
    let mut out = String::new();
    for t in topics(registry) {
        out.push_str(&format!("#### `{}`\n\n{}\n", t.table, keys::markdown(&t.keys)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_type_has_a_table_and_help_finds_it() {
        let registry = Registry::with_builtins();
        let names: Vec<String> = topics(&registry).into_iter().map(|t| t.name).collect();
        for kind in ["stdin", "http", "taildir", "syslog", "file", "flume_avro", "otlp_http", "regex_filter"] {
            assert!(names.iter().any(|n| n == kind), "{kind} missing from {names:?}");
        }
        let http: Vec<String> = find(&registry, "http").into_iter().map(|t| t.table).collect();
        assert_eq!(http, ["[sources.NAME] type = \"http\"", "[sinks.NAME] type = \"http\""]);
        assert_eq!(find(&registry, "memory").len(), 1);
        assert!(find(&registry, "nonesuch").is_empty());
    }

    #[test]
    fn a_default_in_the_reference_is_the_default_the_reader_applies() {
        let registry = Registry::with_builtins();
        let channel = find(&registry, "channel").remove(0);
        let max_bytes = channel.keys.iter().find(|k| k.name == "max_bytes").map(|k| k.default.clone());
        assert_eq!(max_bytes.as_deref(), Some("\"512MiB\""));
        assert_eq!(crate::channel::Capacity::default().max_bytes, 512 << 20);
        let sink = find(&registry, "sink").remove(0);
        let workers = sink.keys.iter().find(|k| k.name == "workers").map(|k| k.default.clone());
        assert_eq!(workers.as_deref(), Some("1"));
        assert_eq!(sink.keys[0].name, "type");
    }
}
