//! The file as serde reads it: a mirror of the TOML with spans, nothing resolved.

use super::toml::{self, Spanned, Table, Value};
use crate::units::Span;
use serde::de::{DeserializeOwned, Error as _};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The whole file.
#[derive(Debug, Default)]
pub struct RawConfig {
    /// `[agent]`
    pub agent: Option<Spanned<RawAgent>>,
    /// `[channels.NAME]`
    pub channels: BTreeMap<String, Spanned<Table>>,
    /// `[sources.NAME]`
    pub sources: BTreeMap<String, Spanned<Table>>,
    /// `[sinks.NAME]`
    pub sinks: BTreeMap<String, Spanned<Table>>,
    /// `[sink_groups.NAME]`
    pub sink_groups: BTreeMap<String, Spanned<RawGroup>>,
    /// `[mobile]`: read by the mobile SDK only.
    pub mobile: Option<Spanned<RawMobile>>,
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

/// `[mobile]` (DESIGN §6): the phone's upload policy and disk quota.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMobile {
    /// `any` (default) or `unmetered`.
    pub upload_on: Option<String>,
    /// Bytes a day that may be uploaded on a metered network (default: no cap).
    pub metered_daily_budget: Option<crate::units::ByteSize>,
    /// Pause uploads on low battery unless charging (default true).
    pub pause_on_low_battery: Option<bool>,
    /// Going to background starts an upload within this bound (default 5s; "0s" turns it off).
    pub flush_on_background: Option<Span>,
    /// Disk quota of the event store (default 50MiB).
    pub max_bytes: Option<crate::units::ByteSize>,
    /// Event quota (default 1,000,000).
    pub max_events: Option<u64>,
    /// `drop_oldest` (default), `reject` or `block`.
    pub on_full: Option<crate::channel::OnFull>,
    /// Expire events older than this.
    pub max_age: Option<Span>,
    /// How often `record()`'s buffer is committed (default 50ms).
    pub commit_interval: Option<Span>,
    /// Events `record()` may buffer before it waits for the writer (default 2,000).
    pub buffer_events: Option<usize>,
    /// `process` (default) or `power`.
    pub durability: Option<String>,
}

/// `[agent]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAgent {
    /// Agent name (default `sluice`).
    pub name: Option<String>,
    /// Where the store lives (default `./sluice-data`).
    pub data_dir: Option<PathBuf>,
    /// `host:port` for `/metrics`, `/metrics.json` and `/`.
    pub metrics_listen: Option<String>,
    /// How long shutdown waits for in-flight batches (default 10s).
    pub drain_timeout: Option<Span>,
    /// How often unreported losses are told upstream (default 60s).
    pub report_interval: Option<Span>,
}

/// `[sink_groups.NAME]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGroup {
    /// Member sinks; for `failover`, in order of preference.
    pub sinks: Vec<String>,
    /// `failover` or `load_balance`.
    pub processor: String,
    /// For `load_balance`: `round_robin` (default) or `random`.
    pub selector: Option<String>,
    /// Longest penalty for a failed member (default 30s, as Flume's `maxpenalty`).
    pub max_penalty: Option<Span>,
}

/// The keys every sink has besides its own (the sink runner's).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBatch {
    /// Most events per batch (default 1000).
    pub max_events: Option<usize>,
    /// Most bytes per batch (default 1MiB).
    pub max_bytes: Option<crate::units::ByteSize>,
    /// How long to wait for a batch to fill (default 200ms).
    pub linger: Option<Span>,
}

/// `retry = { initial = "500ms", max = "5m" }`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetry {
    /// First backoff (default 500ms).
    pub initial: Option<Span>,
    /// Longest backoff (default 5m).
    pub max: Option<Span>,
}

/// `rate_limit = { bytes_per_minute = "10MiB", requests_per_minute = 60 }`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimit {
    /// Uploaded (encoded) bytes per minute.
    pub bytes_per_minute: Option<crate::units::ByteSize>,
    /// Requests per minute.
    pub requests_per_minute: Option<u32>,
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

/// Channel keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChannel {
    /// `sqlite` or `memory`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Byte quota (default 512MiB).
    pub max_bytes: Option<crate::units::ByteSize>,
    /// Event quota (default 10,000,000).
    pub max_events: Option<u64>,
    /// `block`, `reject` or `drop_oldest`.
    pub on_full: Option<crate::channel::OnFull>,
    /// How long `block` waits (default 2s).
    pub block_timeout: Option<Span>,
    /// Expire events older than this.
    pub max_age: Option<Span>,
    /// `process` (default) or `power`.
    pub durability: Option<String>,
}
