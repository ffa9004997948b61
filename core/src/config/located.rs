//! Turning byte spans into `file:line` and naming the offending key.

use super::toml::{self, ParseError, Table, Value, Written};
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

    /// Text that is not TOML, at its line.
    pub fn parse_error(&self, e: &ParseError) -> Error {
        self.error(&e.span, format!("not valid TOML: {}", e.message))
    }

    /// A value that does not fit its key, at the value's line (else at `fallback`'s),
    /// named `prefix.path.to.key`.
    pub fn value_error(&self, e: &toml::Error, prefix: &str, fallback: &Range<usize>) -> Error {
        let span = e.span().unwrap_or_else(|| fallback.clone());
        let mut path = e.path();
        // `missing field `x``: a table-level error, about key x.
        if let Some(missing) = e.message().strip_prefix("missing field `").and_then(|m| m.split('`').next()) {
            path = if path.is_empty() { missing.to_string() } else { format!("{path}.{missing}") };
        }
        let name = match (prefix.is_empty(), path.is_empty()) {
            (true, _) => path,
            (false, true) => prefix.to_string(),
            (false, false) if path.starts_with('[') => format!("{prefix}{path}"),
            (false, false) => format!("{prefix}.{path}"),
        };
        if name.is_empty() {
            self.error(&span, e.message())
        } else {
            self.error(&span, format!("{name}: {}", e.message()))
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
    pub table: Table,
    /// The whole table as written (`type` and routing keys included), to tell on
    /// reload whether the component changed.
    pub written: Written,
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
        toml::from_table(&self.table).map_err(|e| {
            let e = match e.unknown_top_level_key().map(str::to_string) {
                Some(key) => {
                    let known = self.known_keys(super::keys::field_names::<T>());
                    e.reworded(format!("unknown field `{key}`, expected one of {}", known.join(", ")))
                }
                None => e,
            };
            self.file.value_error(&e, &format!("{}.{}", self.section, self.name), &self.span)
        })
    }

    /// Every key this component's table may have: its type's own and those
    /// the topology reads for every component of its section.
    fn known_keys(&self, own: &[&'static str]) -> Vec<String> {
        let common: &[&str] = match self.section {
            _ if self.name.contains(".interceptors[") => &[],
            "sources" => super::resolve::source_keys(),
            "sinks" => super::resolve::sink_keys(),
            "channels" => return own.iter().map(|k| format!("`{k}`")).collect(),
            _ => &[],
        };
        // Every component but a channel (whose settings have `type`) is typed by the topology.
        own.iter().chain(&["type"]).chain(common).map(|k| format!("`{k}`")).collect()
    }

    /// A component of type `kind` whose keys are the TOML `text` (for unit tests
    /// of components; errors name a file called `test.toml`).
    ///
    /// # Errors
    /// `text` is not a TOML table.
    pub fn from_toml(kind: &str, text: &str) -> Result<ComponentConfig> {
        let file = Location::file(Path::new("test.toml"), text);
        let table = toml::parse(text).map_err(|e| file.parse_error(&e))?;
        let written = Written::new(table.clone());
        Ok(ComponentConfig {
            section: "test",
            name: kind.into(),
            kind: kind.into(),
            table,
            written,
            span: 0..text.len(),
            file,
        })
    }

    /// An error about key `key` of this component.
    pub fn error(&self, key: &str, message: impl std::fmt::Display) -> Error {
        let span = self.table.get(key).map_or_else(|| self.file.key_span(&self.span, key), |v| v.span.clone());
        self.file.error(&span, format!("{}.{}.{key}: {message}", self.section, self.name))
    }
}

pub(crate) fn parse_value<T: DeserializeOwned>(value: &Value, file: &Location, what: &str) -> Result<T> {
    toml::from_value(value).map_err(|e| file.value_error(&e, what, &value.span))
}
