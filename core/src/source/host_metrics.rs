//! The `host_metrics` source: CPU, memory, load, disk I/O, filesystem space and
//! network counters read from `/proc` (and `statvfs`) every `interval`, one
//! JSON event per sample.
//!
//! Counters (bytes, packets, operations) are the kernel's running totals, as
//! node_exporter gives them, plus `*_per_s` rates over the last interval; CPU
//! is a percentage of the last interval. The first sample comes one interval
//! after start, when there is something to compare with.

mod proc;

use super::{Source, SourceContext};
use crate::config::ComponentConfig;
use crate::event::{now_ms, Event};
use crate::registry::SourceSettings;
use crate::units::Span;
use proc::Snapshot;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};

crate::settings! {
    /// `[sources.NAME]` keys of `type = "host_metrics"`.
    pub struct HostMetricsConfig {
        interval: Span = Span(Duration::from_secs(10)), "Time between samples (at least 100ms).";
        collect: Vec<Group> = ALL.to_vec(), "Which groups of metrics to sample.";
        mounts: Vec<PathBuf> = vec![PathBuf::from("/")], "Mount points whose space is reported.";
        proc_root: PathBuf = PathBuf::from("/proc"), "Where procfs is mounted (a container may see the host's elsewhere).";
    }
}

/// The shortest `interval`.
const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// A group of metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    /// Busy, user, system, iowait percentages.
    Cpu,
    /// `/proc/meminfo`.
    Memory,
    /// `/proc/loadavg`.
    Load,
    /// `/proc/diskstats` of whole devices.
    Disk,
    /// `statvfs` of the configured mounts.
    Filesystem,
    /// `/proc/net/dev`.
    Network,
}

crate::key_choices!(Group);

const ALL: [Group; 6] = [Group::Cpu, Group::Memory, Group::Load, Group::Disk, Group::Filesystem, Group::Network];

/// The running source.
pub struct HostMetricsSource {
    interval: Duration,
    groups: Vec<Group>,
    mounts: Vec<PathBuf>,
    proc_root: PathBuf,
}

impl SourceSettings for HostMetricsConfig {
    fn check(&self, c: &ComponentConfig) -> crate::Result<()> {
        if self.interval.0 < MIN_INTERVAL {
            return Err(c.error("interval", format!("must be at least {}", Span(MIN_INTERVAL))));
        }
        Ok(())
    }

    fn build(&self, _: &ComponentConfig) -> crate::Result<Box<dyn Source>> {
        Ok(Box::new(HostMetricsSource {
            interval: self.interval.0,
            groups: self.collect.clone(),
            mounts: self.mounts.clone(),
            proc_root: self.proc_root.clone(),
        }))
    }
}

impl Source for HostMetricsSource {
    fn run(self: Box<Self>, ctx: SourceContext) -> crate::Result<()> {
        let host = std::fs::read_to_string(self.proc_root.join("sys/kernel/hostname"))
            .map(|h| h.trim().to_string())
            .unwrap_or_default();
        let mut previous = (Snapshot::read(&self.proc_root), Instant::now());
        while !ctx.stop.sleep(self.interval) {
            let now = (Snapshot::read(&self.proc_root), Instant::now());
            let seconds = now.1.duration_since(previous.1).as_secs_f64().max(1e-3);
            let body = self.sample(&host, &previous.0, &now.0, seconds);
            previous = now;
            let event = Event::new(body.to_string()).with_header("sluice.kind", "host_metrics");
            if let Err(refused) = ctx.output.deliver(vec![event]) {
                // A sample is worth less than back pressure on the rest: skip it, counted as rejected.
                log::warn!("source {}: sample not accepted: {}", ctx.name, refused.error);
            }
        }
        Ok(())
    }
}

impl HostMetricsSource {
    fn sample(&self, host: &str, before: &Snapshot, now: &Snapshot, seconds: f64) -> Value {
        let mut body = Map::new();
        body.insert("host".into(), json!(host));
        body.insert("timestamp".into(), json!(now_ms()));
        body.insert("interval_s".into(), json!(round(seconds)));
        for group in &self.groups {
            let (name, value) = match group {
                Group::Cpu => ("cpu", cpu(before, now)),
                Group::Memory => ("memory", memory(now)),
                Group::Load => ("load", now.load.map_or(Value::Null, |(a, b, c)| json!({"1m": a, "5m": b, "15m": c}))),
                Group::Disk => ("disk", counters(&before.disks, &now.disks, seconds)),
                Group::Filesystem => ("filesystem", filesystems(&self.mounts)),
                Group::Network => ("network", counters(&before.nets, &now.nets, seconds)),
            };
            body.insert(name.into(), value);
        }
        Value::Object(body)
    }
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn cpu(before: &Snapshot, now: &Snapshot) -> Value {
    let (Some(a), Some(b)) = (&before.cpu, &now.cpu) else { return Value::Null };
    let total = b.total().saturating_sub(a.total()).max(1) as f64;
    let pct = |x: u64, y: u64| round(100.0 * y.saturating_sub(x) as f64 / total);
    json!({
        "cores": now.cores,
        "busy_pct": round(100.0 - 100.0 * (b.idle + b.iowait).saturating_sub(a.idle + a.iowait) as f64 / total),
        "user_pct": pct(a.user + a.nice, b.user + b.nice),
        "system_pct": pct(a.system + a.irq + a.softirq, b.system + b.irq + b.softirq),
        "iowait_pct": pct(a.iowait, b.iowait),
        "steal_pct": pct(a.steal, b.steal),
    })
}

fn memory(now: &Snapshot) -> Value {
    let m = &now.memory;
    let get = |k: &str| m.get(k).copied();
    let (Some(total), Some(available)) = (get("MemTotal"), get("MemAvailable")) else { return Value::Null };
    json!({
        "total_bytes": total,
        "available_bytes": available,
        "used_pct": round(100.0 * total.saturating_sub(available) as f64 / total.max(1) as f64),
        "free_bytes": get("MemFree"),
        "cached_bytes": get("Cached"),
        "swap_total_bytes": get("SwapTotal"),
        "swap_free_bytes": get("SwapFree"),
    })
}

/// Named counter sets with `*_per_s` rates against the previous sample.
fn counters(
    before: &[(String, Vec<(&'static str, u64)>)],
    now: &[(String, Vec<(&'static str, u64)>)],
    s: f64,
) -> Value {
    let mut out = Map::new();
    for (name, values) in now {
        let old = before.iter().find(|(n, _)| n == name).map(|(_, v)| v);
        let mut entry = Map::new();
        for (key, value) in values {
            entry.insert((*key).into(), json!(value));
            if let Some(prev) = old.and_then(|o| o.iter().find(|(k, _)| k == key)) {
                entry.insert(format!("{key}_per_s"), json!(round(value.saturating_sub(prev.1) as f64 / s)));
            }
        }
        out.insert(name.clone(), Value::Object(entry));
    }
    Value::Object(out)
}

fn filesystems(mounts: &[PathBuf]) -> Value {
    let mut out = Map::new();
    for mount in mounts {
        let Ok(st) = rustix::fs::statvfs(mount) else { continue };
        let block = st.f_frsize;
        let (total, free, avail) = (st.f_blocks * block, st.f_bfree * block, st.f_bavail * block);
        out.insert(
            mount.display().to_string(),
            json!({
                "total_bytes": total,
                "free_bytes": free,
                "available_bytes": avail,
                "used_pct": round(100.0 * total.saturating_sub(free) as f64 / total.max(1) as f64),
                "inodes_total": st.f_files,
                "inodes_free": st.f_ffree,
            }),
        );
    }
    Value::Object(out)
}
