//! Turning byte spans into `file:line` and naming the offending key.

use crate::error::{Error, Result};
use serde::de::DeserializeOwned;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A configuration file's text, to turn spans into line numbers.
#[derive(Debug, Clone)]
pub struct Location {
    path: PathBuf,
    text: Arc<str>,
}

impl Location {
    /// The location context of `text` read from `path`.
    pub fn file(path: &Path, text: &str) -> Location {
        Location { path: path.to_path_buf(), text: Arc::from(text) }
    }

    /// The 1-based line of byte `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        self.text.get(..offset.min(self.text.len())).map_or(1, |t| t.matches('\n').count() + 1)
    }

    /// An error at `span`: `file:line: message`.
    pub fn error(&self, span: &Range<usize>, message: impl std::fmt::Display) -> Error {
        Error::config(format!("{}:{}: {message}", self.path.display(), self.line_of(span.start)))
    }

    /// A TOML or serde error, with its line when it has a span.
    pub fn toml_error(&self, e: &toml::de::Error) -> Error {
        let message = e.message().trim_end().to_string();
        match e.span() {
            Some(span) => self.error(&span, message),
            None => Error::config(format!("{}: {message}", self.path.display())),
        }
    }

    /// The span of `key = ...` inside the table starting at `table`, else the table's.
    ///
    /// A table's span may cover only its header, so the search runs to the next
    /// table header (a line starting with `[`).
    pub fn key_span(&self, table: &Range<usize>, key: &str) -> Range<usize> {
        let Some(body) = self.text.get(table.start..) else { return table.clone() };
        let mut offset = table.start;
        for (i, line) in body.split_inclusive('\n').enumerate() {
            let trimmed = line.trim_start();
            if i > 0 && trimmed.starts_with('[') {
                break;
            }
            let bare = trimmed.strip_prefix(key).or_else(|| trimmed.strip_prefix(&format!("\"{key}\"")));
            if bare.is_some_and(|rest| rest.trim_start().starts_with('=') || rest.trim_start().starts_with('.')) {
                return offset..offset + line.len();
            }
            // Inline tables: `batch = { max_events = 1 }`.
            if let Some(at) = line.find(&format!(" {key} =")).or_else(|| line.find(&format!("{{{key} ="))) {
                return offset + at..offset + line.len();
            }
            offset += line.len();
        }
        table.clone()
    }
}

/// One component's table (`[sinks.upstream]`), for its factory to parse.
#[derive(Debug, Clone)]
pub struct ComponentConfig {
    /// `sources`, `sinks`, `channels` or `interceptors`.
    pub section: &'static str,
    /// The component's name.
    pub name: String,
    /// The `type` key.
    pub kind: String,
    /// Every key but those the topology itself reads.
    pub table: toml::Table,
    pub(crate) span: Range<usize>,
    pub(crate) file: Location,
}

impl ComponentConfig {
    /// Deserializes the component's own keys into `T` (which should
    /// `#[serde(deny_unknown_fields)]`), reporting errors at the key's line.
    ///
    /// # Errors
    /// `file:line: section.name.key: message`.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T> {
        toml::Value::Table(self.table.clone()).try_into().map_err(|e: toml::de::Error| {
            let message = e.message().trim_end().to_string();
            let key = guess_key(&message, &self.table);
            let span = key.as_deref().map_or(self.span.clone(), |k| self.file.key_span(&self.span, k));
            let path = key.map_or_else(
                || format!("{}.{}", self.section, self.name),
                |k| format!("{}.{}.{k}", self.section, self.name),
            );
            self.file.error(&span, format!("{path}: {message}"))
        })
    }

    /// A component of type `kind` whose keys are the TOML `text` (for unit tests
    /// of components; errors name a file called `test.toml`).
    ///
    /// # Errors
    /// `text` is not a TOML table.
    pub fn from_toml(kind: &str, text: &str) -> Result<ComponentConfig> {
        let file = Location::file(Path::new("test.toml"), text);
        let table: toml::Table = toml::from_str(text).map_err(|e| file.toml_error(&e))?;
        Ok(ComponentConfig { section: "test", name: kind.into(), kind: kind.into(), table, span: 0..text.len(), file })
    }

    /// An error about key `key` of this component.
    pub fn error(&self, key: &str, message: impl std::fmt::Display) -> Error {
        let span = self.file.key_span(&self.span, key);
        self.file.error(&span, format!("{}.{}.{key}: {message}", self.section, self.name))
    }
}

/// Finds which key a serde message is about: `unknown field `x``, `missing field `x``,
/// or a value error for a key that is present.
fn guess_key(message: &str, table: &toml::Table) -> Option<String> {
    if let Some(start) = message.find('`') {
        let rest = &message[start + 1..];
        if let Some(end) = rest.find('`') {
            if message.starts_with("unknown field")
                || message.starts_with("missing field")
                || table.contains_key(&rest[..end])
            {
                return Some(rest[..end].to_string());
            }
        }
    }
    table
        .iter()
        .find(|(k, v)| mentions(message, v) || message.contains(&format!("`{k}`")))
        .map(|(k, _)| k.clone())
        .or_else(|| table.keys().find(|k| message.contains(k.as_str())).cloned())
}

/// Whether the message quotes this value (or one nested in it).
fn mentions(message: &str, value: &toml::Value) -> bool {
    match value {
        toml::Value::String(s) => message.contains(&format!("{s:?}")),
        toml::Value::Table(t) => t.values().any(|v| mentions(message, v)),
        toml::Value::Array(a) => a.iter().any(|v| mentions(message, v)),
        _ => false,
    }
}

pub(crate) fn parse_value<T: DeserializeOwned>(
    value: toml::Value,
    file: &Location,
    span: &Range<usize>,
    what: &str,
) -> Result<T> {
    value.try_into().map_err(|e: toml::de::Error| file.error(span, format!("{what}: {}", e.message().trim_end())))
}
