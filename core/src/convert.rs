//! `sluice convert-flume`: a Flume agent's `.properties` configuration turned
//! into the equivalent Sluice TOML.
//!
//! Every key of the agent is either carried into the TOML, dropped with a
//! *note* (Flume plumbing Sluice does not need, like `transactionCapacity` or a
//! file channel's `dataDirs`, or a close approximation), or reported as
//! *unsupported* (a component or a setting whose behaviour Sluice cannot
//! reproduce). The caller exits 2 when anything is unsupported.

mod avro_sink;
mod components;
mod properties;

use properties::Entry;
use std::collections::{BTreeMap, BTreeSet};

/// The result of a conversion.
#[derive(Debug, Clone, Default)]
pub struct Conversion {
    /// The Sluice configuration.
    pub toml: String,
    /// What could not be carried, each naming the Flume key and its line.
    pub unsupported: Vec<String>,
    /// What was dropped or approximated on purpose, and why.
    pub notes: Vec<String>,
}

/// Converts agent `agent` of the Flume configuration `text` (read from `file`, for messages).
///
/// # Errors
/// The file defines no key for that agent.
pub fn convert_flume(text: &str, agent: &str, file: &str) -> Result<Conversion, String> {
    let props = properties::parse(text);
    let prefix = format!("{agent}.");
    if !props.keys().any(|k| k.starts_with(&prefix)) {
        let agents: BTreeSet<&str> = props.keys().filter_map(|k| k.split('.').next()).collect();
        let known = agents.into_iter().collect::<Vec<_>>().join(", ");
        return Err(format!("{file}: no keys for agent {agent:?} (agents found: {known})"));
    }
    let mut cx = Cx { props: &props, agent: agent.to_string(), used: BTreeSet::new(), out: Conversion::default() };
    let mut doc = Document::default();
    components::convert_all(&mut cx, &mut doc);
    cx.note_inactive();
    cx.report_leftovers();
    let mut toml = format!("# Converted from {} (Flume agent {agent:?}) by `sluice convert-flume`.\n", comment(file));
    for line in &cx.out.unsupported {
        toml.push_str(&format!("# UNSUPPORTED: {}\n", comment(line)));
    }
    for line in &cx.out.notes {
        toml.push_str(&format!("# note: {}\n", comment(line)));
    }
    toml.push_str(&doc.render(agent));
    cx.out.toml = toml;
    Ok(cx.out)
}

/// Conversion state: the properties, which keys were used, and what was said.
pub(crate) struct Cx<'a> {
    props: &'a BTreeMap<String, Entry>,
    agent: String,
    used: BTreeSet<String>,
    out: Conversion,
}

impl Cx<'_> {
    /// The full key `agent.<rest>`.
    fn key(&self, rest: &str) -> String {
        format!("{}.{rest}", self.agent)
    }

    /// The value of `agent.<rest>`, marking it carried.
    pub(crate) fn get(&mut self, rest: &str) -> Option<String> {
        let key = self.key(rest);
        let entry = self.props.get(&key)?;
        self.used.insert(key);
        if entry.value.contains("${") {
            let line = entry.line;
            self.out.unsupported.push(format!(
                "{}.{rest} (line {line}): value substitution (${{...}}) is not done; write the value out",
                self.agent
            ));
        }
        Some(entry.value.trim().to_string())
    }

    /// A space-separated list.
    pub(crate) fn list(&mut self, rest: &str) -> Vec<String> {
        self.get(rest).map(|v| v.split_whitespace().map(String::from).collect()).unwrap_or_default()
    }

    /// Subkeys of `agent.<rest>.` (their remainders), not yet used.
    pub(crate) fn children(&self, rest: &str) -> Vec<String> {
        let prefix = format!("{}.", self.key(rest));
        self.props.keys().filter_map(|k| k.strip_prefix(&prefix)).map(String::from).collect()
    }

    /// The line of `agent.<rest>`, or of its first subkey (a component has no key of its own).
    fn line(&self, rest: &str) -> usize {
        let key = self.key(rest);
        let prefix = format!("{key}.");
        self.props.get(&key).map(|e| e.line).unwrap_or_else(|| {
            self.props.iter().filter(|(k, _)| k.starts_with(&prefix)).map(|(_, e)| e.line).min().unwrap_or(0)
        })
    }

    /// Reports `agent.<rest>` as not carried, marking it (and everything under it) used.
    pub(crate) fn unsupported(&mut self, rest: &str, why: &str) {
        let line = self.line(rest);
        let at = if line > 0 { format!(" (line {line})") } else { String::new() };
        self.out.unsupported.push(format!("{}.{rest}{at}: {why}", self.agent));
        self.consume(rest);
    }

    /// Drops `agent.<rest>` with a note, if present.
    pub(crate) fn drop_key(&mut self, rest: &str, why: &str) {
        if self.get(rest).is_some() {
            self.note(&format!("{}.{rest} dropped: {why}", self.agent));
        }
    }

    pub(crate) fn note(&mut self, text: &str) {
        self.out.notes.push(text.to_string());
    }

    /// Marks `agent.<rest>` and its subkeys used (after reporting them as a whole).
    pub(crate) fn consume(&mut self, rest: &str) {
        let key = self.key(rest);
        let prefix = format!("{key}.");
        let keys: Vec<String> = self.props.keys().filter(|k| **k == key || k.starts_with(&prefix)).cloned().collect();
        self.used.extend(keys);
    }

    /// Components configured under `sources`, `channels`, `sinks` or
    /// `sinkgroups` but not named in the agent's list of them: Flume leaves
    /// them inactive, so they are not converted, and that is a note, not a failure.
    fn note_inactive(&mut self) {
        for section in ["sources", "channels", "sinks", "sinkgroups"] {
            let listed: BTreeSet<String> = self
                .props
                .get(&self.key(section))
                .map(|e| e.value.split_whitespace().map(String::from).collect())
                .unwrap_or_default();
            let prefix = format!("{}.{section}.", self.agent);
            let configured: BTreeSet<String> = self
                .props
                .keys()
                .filter(|k| !self.used.contains(*k))
                .filter_map(|k| k.strip_prefix(&prefix)?.split('.').next().map(String::from))
                .collect();
            for name in configured.difference(&listed) {
                let rest = format!("{section}.{name}");
                let line = self.line(&rest);
                self.note(&format!(
                    "{}.{rest} (line {line}) is configured but not listed in {}.{section}: inactive in Flume too, not converted",
                    self.agent, self.agent
                ));
                self.consume(&rest);
            }
        }
    }

    /// Every key of the agent nobody used is unsupported.
    fn report_leftovers(&mut self) {
        let prefix = format!("{}.", self.agent);
        let left: Vec<(String, usize)> = self
            .props
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix) && !self.used.contains(*k))
            .map(|(k, e)| (k.clone(), e.line))
            .collect();
        for (key, line) in left {
            self.out.unsupported.push(format!("{key} (line {line}): not a setting Sluice carries"));
        }
    }
}

/// One TOML table: keys and already-rendered values, in order.
#[derive(Debug, Default, Clone)]
pub(crate) struct Table(pub Vec<(String, String)>);

impl Table {
    pub(crate) fn set(&mut self, key: &str, value: String) {
        self.0.retain(|(k, _)| k != key);
        self.0.push((key.to_string(), value));
    }

    fn render(&self, header: &str) -> String {
        let mut s = format!("\n[{header}]\n");
        for (k, v) in &self.0 {
            s.push_str(&format!("{k} = {v}\n"));
        }
        s
    }
}

/// The Sluice document being built.
#[derive(Debug, Default)]
pub(crate) struct Document {
    pub channels: Vec<(String, Table)>,
    pub sources: Vec<(String, Table)>,
    pub sinks: Vec<(String, Table)>,
    pub groups: Vec<(String, Table)>,
}

impl Document {
    fn render(&self, agent: &str) -> String {
        let mut s = format!("\n[agent]\nname = {}\ndata_dir = \"./sluice-data\"\n", q(agent));
        for (section, items) in [
            ("channels", &self.channels),
            ("sources", &self.sources),
            ("sinks", &self.sinks),
            ("sink_groups", &self.groups),
        ] {
            for (name, table) in items {
                s.push_str(&table.render(&format!("{section}.{}", bare_or_quoted(name))));
            }
        }
        s
    }
}

/// Text made safe for a TOML comment: control characters (TOML forbids them there) escaped.
fn comment(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() && c != '\t' { c.escape_debug().to_string() } else { c.to_string() })
        .collect()
}

/// A TOML basic string (JSON's escapes are TOML's; TOML also forbids a raw DEL).
pub(crate) fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()).replace('\u{7f}', "\\u007F")
}

/// A TOML array of strings.
pub(crate) fn q_list(items: &[String]) -> String {
    format!("[{}]", items.iter().map(|i| q(i)).collect::<Vec<_>>().join(", "))
}

/// A name as a TOML key.
pub(crate) fn bare_or_quoted(name: &str) -> String {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        name.to_string()
    } else {
        q(name)
    }
}

#[cfg(test)]
mod tests;
