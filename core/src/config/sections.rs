//! The settings of the topology itself: `[agent]`, `[channels.*]`, the keys
//! every sink has (`batch`, `retry`, `rate_limit`, `workers`), `[sink_groups.*]`
//! and `[mobile]`. Each default is written once, here.

use crate::channel::{Capacity, OnFull};
use crate::config::keys::Required;
use crate::units::{ByteSize, Span};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

crate::settings! {
    /// `[agent]`
    pub struct AgentConfig {
        name: String = "sluice".into(), "Agent name, in logs and metrics.";
        data_dir: PathBuf = PathBuf::from("./sluice-data"), "Where the store lives (created 0700).";
        metrics_listen: Option<String> = None, "`host:port` serving `/metrics`, `/metrics.json` and the status page `/`.";
        drain_timeout: Span = Span(Duration::from_secs(10)), "How long shutdown waits for batches in flight.";
        report_interval: Span = Span(Duration::from_secs(60)), "How often unreported losses are told upstream.";
    }
}

/// A channel's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// Durable, in the agent's SQLite store.
    Sqlite,
    /// In memory: lost with the process.
    Memory,
}

/// When a commit is safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// A commit survives the process being killed (the WAL is in the page cache).
    Process,
    /// A commit survives power loss (fsync at every commit).
    Power,
}

crate::key_choices!(ChannelKind, Durability);

crate::settings! {
    /// `[channels.NAME]`
    pub struct ChannelConfig {
        #[serde(rename = "type")]
        kind: Required<ChannelKind> = Required::default(), "`sqlite` (durable) or `memory`.";
        max_bytes: ByteSize = ByteSize(512 << 20), "Byte quota of the stored events.";
        max_events: u64 = 10_000_000, "Event quota.";
        on_full: OnFull = OnFull::Block,
            "When full: `block` waits up to `block_timeout`, `reject` refuses, `drop_oldest` evicts (counted).";
        block_timeout: Span = Span(Duration::from_secs(2)), "How long `block` waits for space, from the request's arrival.";
        max_age: Option<Span> = None, "Expire (and count) events older than this (sqlite only).";
        durability: Durability = Durability::Process, "`process`: survives kill -9; `power`: fsync at every commit.";
    }
}

impl ChannelConfig {
    /// The limits these settings give.
    pub fn capacity(&self) -> Capacity {
        Capacity {
            max_events: self.max_events,
            max_bytes: self.max_bytes.0,
            on_full: self.on_full,
            block_timeout: self.block_timeout.0,
            max_age: self.max_age.map(|s| s.0),
        }
    }
}

crate::settings! {
    /// `batch = { … }` of a sink.
    pub struct BatchConfig {
        max_events: usize = 1000, "Most events per batch.";
        max_bytes: ByteSize = ByteSize(1 << 20), "Most bytes per batch.";
        linger: Span = Span(Duration::from_millis(200)), "How long to wait for a batch to fill before sending a partial one.";
    }
}

crate::settings! {
    /// `retry = { … }` of a sink.
    pub struct RetryConfig {
        initial: Span = Span(Duration::from_millis(500)), "First backoff after a failure.";
        max: Span = Span(Duration::from_secs(300)), "Longest backoff (it doubles, with jitter, up to this).";
    }
}

crate::settings! {
    /// `rate_limit = { … }` of a sink.
    pub struct RateLimitConfig {
        bytes_per_minute: Option<ByteSize> = None, "Uploaded (encoded) bytes per minute.";
        requests_per_minute: Option<u32> = None, "Requests per minute.";
    }
}

/// Most batches one sink may have in flight.
pub const MAX_WORKERS: usize = 32;

crate::key_table!(BatchConfig, RetryConfig, RateLimitConfig);

crate::settings! {
    /// The keys every sink has besides its type's own.
    pub struct SinkRunnerConfig {
        channel: Required<String> = Required::default(), "The channel it drains.";
        batch: BatchConfig = BatchConfig::default(),
            "`max_events` (1000), `max_bytes` (\"1MiB\"), `linger` (\"200ms\"): when a batch is sent.";
        retry: RetryConfig = RetryConfig::default(),
            "`initial` (\"500ms\"), `max` (\"5m\"): the backoff after a failed batch.";
        rate_limit: RateLimitConfig = RateLimitConfig::default(),
            "`bytes_per_minute`, `requests_per_minute`: upload caps for metered links (none by default).";
        workers: usize = 1, "Batches in flight at once, each on its own connection (1 keeps channel order; at most 32).";
    }
}

crate::settings! {
    /// The keys every source has besides its type's own.
    pub struct SourceRoutingConfig {
        channels: Required<Vec<String>> = Required::default(), "The channels it puts into.";
        interceptors: Vec<toml_table::Table> = Vec::new(),
            "Interceptors, in order: `[{ type = \"host\" }, …]`; each table's keys are its type's.";
        selector: Option<toml_table::Table> = None,
            "`{ type = \"multiplexing\", header, mapping, default }`; replicating to every channel when absent.";
    }
}

/// A stand-in type for table-valued keys in the reference.
pub mod toml_table {
    /// Any TOML table.
    #[derive(Debug, Clone, Default, serde::Deserialize)]
    pub struct Table {}

    impl crate::config::keys::KeyValue for Table {
        fn kind() -> String {
            "table".into()
        }
        fn show(&self) -> String {
            "{}".into()
        }
    }
}

/// How a group picks a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessorKind {
    /// The first healthy member in list order.
    Failover,
    /// Spread batches over the members.
    LoadBalance,
}

/// How `load_balance` spreads batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelectorKind {
    /// Members in turn.
    RoundRobin,
    /// A random healthy member.
    Random,
}

crate::key_choices!(ProcessorKind, SelectorKind);

crate::settings! {
    /// `[sink_groups.NAME]`
    pub struct GroupConfig {
        sinks: Required<Vec<String>> = Required::default(), "Member sinks; for `failover`, in order of preference.";
        processor: Required<ProcessorKind> = Required::default(), "`failover` or `load_balance`.";
        selector: Option<SelectorKind> = None, "For `load_balance`: `round_robin` (the default) or `random`.";
        max_penalty: Span = Span(Duration::from_secs(30)), "Longest penalty of a failed member (Flume's `maxpenalty`).";
    }
}

/// Which networks uploads may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadOn {
    /// Any connected network.
    Any,
    /// Only unmetered networks (Wi-Fi, Ethernet).
    Unmetered,
}

crate::key_choices!(UploadOn);

crate::settings! {
    /// `[mobile]`: the phone's upload policy, disk quota and record buffer.
    pub struct MobileConfig {
        upload_on: UploadOn = UploadOn::Any, "Which networks uploads may use.";
        metered_daily_budget: Option<ByteSize> = None, "Bytes a UTC day that may be uploaded on a metered network.";
        pause_on_low_battery: bool = true, "Pause uploads on low battery unless charging.";
        flush_on_background: Span = Span(Duration::from_secs(5)),
            "Going to background starts an upload within this bound (0 turns it off).";
        max_bytes: ByteSize = ByteSize(50 << 20), "Disk quota of the event store.";
        max_events: u64 = 1_000_000, "Event quota.";
        on_full: OnFull = OnFull::DropOldest, "When full: `drop_oldest` (counted), `reject` or `block`.";
        max_age: Option<Span> = None, "Expire (and count) events older than this.";
        commit_interval: Span = Span(Duration::from_millis(50)), "How often `record()`'s buffer is committed (at most 60s).";
        buffer_events: usize = 2_000, "Events `record()` may buffer before it waits for the writer.";
        durability: Durability = Durability::Process, "`process`: survives kill -9; `power`: fsync at every commit.";
    }
}

/// How long `block` waits on a phone: `record()` never waits on the network,
/// and a second is already long on an app's thread.
pub const MOBILE_BLOCK_TIMEOUT: Duration = Duration::from_secs(1);
