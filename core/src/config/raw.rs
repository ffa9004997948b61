//! The file as serde reads it: a mirror of the TOML with spans, nothing resolved.

use super::sections::{AgentConfig, GroupConfig, MobileConfig};
use super::toml::{self, Spanned, Table, Value};
use serde::de::{DeserializeOwned, Error as _};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The whole file.
#[derive(Debug, Default)]
pub struct RawConfig {
    /// `[agent]`
    pub agent: Option<Spanned<AgentConfig>>,
    /// `[channels.NAME]`
    pub channels: BTreeMap<String, Spanned<Table>>,
    /// `[sources.NAME]`
    pub sources: BTreeMap<String, Spanned<Table>>,
    /// `[sinks.NAME]`
    pub sinks: BTreeMap<String, Spanned<Table>>,
    /// `[sink_groups.NAME]`
    pub sink_groups: BTreeMap<String, Spanned<GroupConfig>>,
    /// `[mobile]`: read by the mobile SDK only.
    pub mobile: Option<Spanned<MobileConfig>>,
}

/// The top-level tables a file may have.
const SECTIONS: &[&str] = &["agent", "channels", "sources", "sinks", "sink_groups", "mobile"];

impl RawConfig {
    /// Sorts a parsed file into its sections; component tables stay as they are,
    /// for their factories.
    ///
    /// # Errors
    /// An unknown top-level key, or a section of the wrong shape.
    pub fn from_document(document: &Table) -> Result<RawConfig, toml::Error> {
        let mut raw = RawConfig::default();
        for (key, value) in document {
            let in_key = |e: toml::Error| e.in_key(key, &value.span);
            match key.as_str() {
                "agent" => raw.agent = Some(spanned(value).map_err(in_key)?),
                "mobile" => raw.mobile = Some(spanned(value).map_err(in_key)?),
                "channels" => raw.channels = components(value, key).map_err(in_key)?,
                "sources" => raw.sources = components(value, key).map_err(in_key)?,
                "sinks" => raw.sinks = components(value, key).map_err(in_key)?,
                "sink_groups" => {
                    let groups = sections(value, key).map_err(in_key)?;
                    for (name, group) in groups {
                        let group = spanned(group).map_err(|e| e.in_key(name, &group.span)).map_err(in_key)?;
                        raw.sink_groups.insert(name.clone(), group);
                    }
                }
                other => return Err(in_key(toml::Error::unknown_field(other, SECTIONS))),
            }
        }
        Ok(raw)
    }
}

fn spanned<T: DeserializeOwned>(value: &Value) -> Result<Spanned<T>, toml::Error> {
    Ok(Spanned::new(toml::from_value(value)?, value.span.clone()))
}

/// `[section.NAME]` tables, each kept whole.
fn components(value: &Value, section: &str) -> Result<BTreeMap<String, Spanned<Table>>, toml::Error> {
    Ok(sections(value, section)?.into_iter().map(|(name, t)| (name.clone(), table_of(t))).collect())
}

fn table_of(value: &Value) -> Spanned<Table> {
    Spanned::new(value.as_table().cloned().unwrap_or_default(), value.span.clone())
}

/// The named tables of a section, each checked to be a table.
fn sections<'v>(value: &'v Value, section: &str) -> Result<Vec<(&'v String, &'v Value)>, toml::Error> {
    let table = value
        .as_table()
        .ok_or_else(|| toml::Error::custom(format!("expected tables like [{section}.NAME]")).at(&value.span))?;
    table
        .iter()
        .map(|(name, v)| match v.as_table() {
            Some(_) => Ok((name, v)),
            None => Err(toml::Error::custom(format!("expected a table like [{section}.{name}]")).in_key(name, &v.span)),
        })
        .collect()
}

/// `selector = { type = "multiplexing", header = "kind", mapping = { a = ["x"] }, default = ["main"] }`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSelector {
    /// `replicating` or `multiplexing`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Header to route on (multiplexing).
    pub header: Option<String>,
    /// Header value → channels.
    #[serde(default)]
    pub mapping: BTreeMap<String, Vec<String>>,
    /// Channels for values not in `mapping`.
    pub default: Option<Vec<String>>,
}
