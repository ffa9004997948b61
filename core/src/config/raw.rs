//! The file as serde reads it: a mirror of the TOML with spans, nothing resolved.

use crate::units::Span;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `[agent]`
    #[serde(default)]
    pub agent: Option<Spanned<RawAgent>>,
    /// `[channels.NAME]`
    #[serde(default)]
    pub channels: BTreeMap<String, Spanned<toml::Table>>,
    /// `[sources.NAME]`
    #[serde(default)]
    pub sources: BTreeMap<String, Spanned<toml::Table>>,
    /// `[sinks.NAME]`
    #[serde(default)]
    pub sinks: BTreeMap<String, Spanned<toml::Table>>,
    /// `[sink_groups.NAME]`
    #[serde(default)]
    pub sink_groups: BTreeMap<String, Spanned<RawGroup>>,
    /// `[mobile]`: read by the mobile SDK only.
    #[serde(default)]
    pub mobile: Option<Spanned<RawMobile>>,
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
