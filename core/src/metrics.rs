//! Counters and the delivery-latency histogram, under Flume's names.
//!
//! Each component owns an `Arc` of its metrics struct and bumps atomics; a
//! [`Registry`] lists them for `/metrics`, `/metrics.json` and `sluice inspect`.
//! The names live here and nowhere else.

mod config_status;
mod histogram;
mod history;
mod idle;
mod render;
pub mod server;
mod state;

pub use config_status::{ConfigState, ConfigStatus, ReloadResult};
pub use histogram::Histogram;
pub use history::History;
pub use idle::IdleWatch;
pub use render::{render_json, render_prometheus};
pub use state::{state_word, SinkState, SinkStatus};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A monotonically increasing counter (or a gauge, when `set` is used).
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    /// Sets the value (for gauges).
    pub fn set(&self, n: u64) {
        self.0.store(n, Ordering::Relaxed);
    }
    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Counters of one source.
#[derive(Debug, Default)]
pub struct SourceMetrics {
    /// Events that arrived, accepted or not.
    pub received: Counter,
    /// Events committed to every channel they were meant for.
    pub accepted: Counter,
    /// Events refused (full channel, bad input).
    pub rejected: Counter,
    /// Events dropped on purpose by an interceptor (e.g. `regex_filter`).
    pub filtered: Counter,
    /// Lines or messages cut to the source's maximum length (kept, shortened).
    pub truncated: Counter,
    /// Input that could not be parsed or was too large, counted and skipped.
    pub malformed: Counter,
    /// Datagrams the kernel dropped before the source could read them (UDP).
    pub dropped_by_kernel: Counter,
    /// Events not stored because their id was stored within the `dedup` window.
    pub duplicates: Counter,
}

/// Counters and gauges of one channel.
#[derive(Debug, Default)]
pub struct ChannelMetrics {
    /// Events now in the channel (gauge).
    pub size: Counter,
    /// Bytes now in the channel (gauge).
    pub bytes: Counter,
    /// `max_events` (gauge).
    pub capacity: Counter,
    /// `max_bytes` (gauge).
    pub capacity_bytes: Counter,
    /// Events put and committed.
    pub put_success: Counter,
    /// Events taken and committed (acknowledged upstream).
    pub take_success: Counter,
    /// Events evicted by `drop_oldest`.
    pub evicted: Counter,
    /// Events expired by `max_age`.
    pub expired: Counter,
    /// Events refused at the door because the channel was full (quota or disk).
    pub refused_full: Counter,
    /// Of those, refused because the disk was full (or its reserve was in use).
    pub refused_disk_full: Counter,
    /// Events lost to a damaged store (unreadable rows), quarantined or counted.
    pub corrupt: Counter,
}

impl ChannelMetrics {
    /// How full the channel is, 0–100, by events or bytes, whichever is fuller.
    pub fn fill_percentage(&self) -> f64 {
        let by_events = ratio(self.size.get(), self.capacity.get());
        let by_bytes = ratio(self.bytes.get(), self.capacity_bytes.get());
        100.0 * by_events.max(by_bytes)
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Counters of one sink.
#[derive(Debug, Default)]
pub struct SinkMetrics {
    /// Events the sink tried to ship (each attempt counts).
    pub drain_attempt: Counter,
    /// Events acknowledged by the upstream.
    pub drain_success: Counter,
    /// Batches acknowledged.
    pub batch_complete: Counter,
    /// Attempts that failed (network, timeout, retryable status).
    pub connection_failed: Counter,
    /// Events moved to quarantine.
    pub quarantined: Counter,
    /// Events the upstream acknowledged as dropped (OTLP partial success).
    pub rejected_upstream: Counter,
    /// Ingest-to-acknowledgement latency in milliseconds.
    pub latency_ms: Histogram,
    /// Backing off or delivering, and the last error.
    pub state: SinkState,
}

/// The kind of a component, as Flume prefixes it in JSON metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `SOURCE.name`
    Source,
    /// `CHANNEL.name`
    Channel,
    /// `SINK.name`
    Sink,
}

/// One component's metrics.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A source.
    Source(String, Arc<SourceMetrics>),
    /// A channel.
    Channel(String, Arc<ChannelMetrics>),
    /// A sink.
    Sink(String, Arc<SinkMetrics>),
}

impl Entry {
    /// What kind of component it is.
    pub fn kind(&self) -> Kind {
        match self {
            Entry::Source(..) => Kind::Source,
            Entry::Channel(..) => Kind::Channel,
            Entry::Sink(..) => Kind::Sink,
        }
    }

    /// The component's name.
    pub fn name(&self) -> &str {
        match self {
            Entry::Source(n, _) | Entry::Channel(n, _) | Entry::Sink(n, _) => n,
        }
    }
}

/// All components' metrics of one agent.
#[derive(Debug, Default)]
pub struct Registry {
    entries: Mutex<Vec<Entry>>,
    /// Totals over the last two minutes, for the status page.
    pub history: History,
    /// The configuration in force and its reloads.
    pub config: ConfigStatus,
    /// The topology as `/topology.json` serves it.
    topology: Mutex<String>,
}

impl Registry {
    /// Adds a component.
    pub fn add(&self, entry: Entry) {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).push(entry);
    }

    /// Sets what `/topology.json` serves (at start and after each reload).
    pub fn set_topology(&self, json: String) {
        *self.topology.lock().unwrap_or_else(|p| p.into_inner()) = json;
    }

    /// The topology as JSON.
    pub fn topology(&self) -> String {
        self.topology.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Removes the component `name` of `kind` (a reload took it out).
    pub fn remove(&self, kind: Kind, name: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|e| !(e.kind() == kind && e.name() == name));
    }

    /// A snapshot of the component list.
    pub fn entries(&self) -> Vec<Entry> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Records the channels' put and taken totals at `now_ms` in the history.
    pub fn sample(&self, now_ms: u64) {
        let (put, taken) = self.put_and_taken();
        self.history.push((now_ms, put, taken));
    }

    /// Events moved so far: put into and taken out of every channel (for
    /// [`IdleWatch`]).
    pub fn moved(&self) -> u64 {
        let (put, taken) = self.put_and_taken();
        put.saturating_add(taken)
    }

    /// The channels' put and taken totals.
    fn put_and_taken(&self) -> (u64, u64) {
        let (mut put, mut taken) = (0u64, 0u64);
        for entry in self.entries() {
            if let Entry::Channel(_, m) = entry {
                put = put.saturating_add(m.put_success.get());
                taken = taken.saturating_add(m.take_success.get());
            }
        }
        (put, taken)
    }
}
