//! Renders a [`Registry`] as Prometheus text and as Flume's JSON layout.

use super::{Entry, Registry, ReloadResult};
use serde_json::{json, Map, Value};
use std::fmt::Write;

/// Flume's JSON reporting: `{"SOURCE.app": {"EventReceivedCount": "12", …}, …}`.
///
/// Flume renders every value as a string; so do we, for drop-in dashboards.
pub fn render_json(registry: &Registry) -> String {
    let mut out = Map::new();
    for entry in registry.entries() {
        let (key, fields) = flume_fields(&entry);
        let object: Map<String, Value> = fields.into_iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
        out.insert(key, Value::Object(object));
    }
    let config = registry.config.snapshot();
    if !config.hash.is_empty() {
        let count = |r: ReloadResult| registry.config.reloads(r).to_string();
        out.insert(
            "AGENT.config".into(),
            json!({
                "Type": "AGENT",
                "ConfigHash": config.hash,
                "ConfigLoadedAt": config.loaded_ms.to_string(),
                "ConfigReloadsOk": count(ReloadResult::Ok),
                "ConfigReloadsRefused": count(ReloadResult::Refused),
                "ConfigReloadsFailed": count(ReloadResult::Failed),
                "ConfigLastError": config.last_error.unwrap_or_default(),
            }),
        );
    }
    Value::Object(out).to_string()
}

fn flume_fields(entry: &Entry) -> (String, Vec<(&'static str, String)>) {
    match entry {
        Entry::Source(name, m) => (
            format!("SOURCE.{name}"),
            vec![
                ("Type", "SOURCE".into()),
                ("EventReceivedCount", m.received.get().to_string()),
                ("EventAcceptedCount", m.accepted.get().to_string()),
                ("EventRejectedCount", m.rejected.get().to_string()),
                ("EventFilteredCount", m.filtered.get().to_string()),
                ("EventTruncatedCount", m.truncated.get().to_string()),
                ("EventMalformedCount", m.malformed.get().to_string()),
                ("KernelDroppedCount", m.dropped_by_kernel.get().to_string()),
                ("EventDuplicateCount", m.duplicates.get().to_string()),
            ],
        ),
        Entry::Channel(name, m) => (
            format!("CHANNEL.{name}"),
            vec![
                ("Type", "CHANNEL".into()),
                ("ChannelSize", m.size.get().to_string()),
                ("ChannelBytes", m.bytes.get().to_string()),
                ("ChannelCapacity", m.capacity.get().to_string()),
                ("ChannelCapacityBytes", m.capacity_bytes.get().to_string()),
                ("ChannelFillPercentage", format!("{:.2}", m.fill_percentage())),
                ("EventPutSuccessCount", m.put_success.get().to_string()),
                ("EventTakeSuccessCount", m.take_success.get().to_string()),
                ("EventEvictedCount", m.evicted.get().to_string()),
                ("EventExpiredCount", m.expired.get().to_string()),
                ("EventRefusedFullCount", m.refused_full.get().to_string()),
                ("EventRefusedDiskFullCount", m.refused_disk_full.get().to_string()),
                ("EventCorruptCount", m.corrupt.get().to_string()),
            ],
        ),
        Entry::Sink(name, m) => {
            let status = m.state.get();
            (
                format!("SINK.{name}"),
                vec![
                    ("Type", "SINK".into()),
                    ("EventDrainAttemptCount", m.drain_attempt.get().to_string()),
                    ("EventDrainSuccessCount", m.drain_success.get().to_string()),
                    ("BatchCompleteCount", m.batch_complete.get().to_string()),
                    ("ConnectionFailedCount", m.connection_failed.get().to_string()),
                    ("EventQuarantinedCount", m.quarantined.get().to_string()),
                    ("EventRejectedUpstreamCount", m.rejected_upstream.get().to_string()),
                    ("DeliveryLatencyP50Ms", m.latency_ms.quantile(0.5).to_string()),
                    ("DeliveryLatencyP90Ms", m.latency_ms.quantile(0.9).to_string()),
                    ("DeliveryLatencyP99Ms", m.latency_ms.quantile(0.99).to_string()),
                    ("State", super::state_word(&status, crate::event::now_ms()).to_string()),
                    ("RetryAttempts", status.attempts.to_string()),
                    ("NextAttemptAt", status.next_attempt_ms.to_string()),
                    ("LastError", status.last_error.clone()),
                    ("LastDeliveredAt", status.last_delivered_ms.to_string()),
                ],
            )
        }
    }
}

/// A Prometheus metric family's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
}

/// One sample of a family: (family name without `sluice_`, kind, help, value).
type Sample = (&'static str, Kind, &'static str, String);

/// Upper bounds (ms) of the delivery-latency histogram's `le` buckets (written in seconds).
const LATENCY_BOUNDS_MS: [u64; 16] =
    [5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000];

/// Prometheus text exposition format 0.0.4: every family with `# HELP` and
/// `# TYPE`, its samples together, e.g.
/// `sluice_source_events_received_total{component="app"} 12`; delivery
/// latency as a histogram in seconds, Prometheus's base unit (`_bucket{le=…}`,
/// `_sum`, `_count`; quantiles by `histogram_quantile`).
pub fn render_prometheus(registry: &Registry) -> String {
    // Families in the order first met, each with its samples.
    let mut families: Vec<(&'static str, Kind, &'static str, Vec<String>)> = Vec::new();
    let entries = registry.entries();
    for entry in &entries {
        let component = match entry {
            Entry::Source(n, _) | Entry::Channel(n, _) | Entry::Sink(n, _) => escape_label(n),
        };
        for (name, kind, help, value) in prometheus_fields(entry) {
            let line = format!("sluice_{name}{{component=\"{component}\"}} {value}");
            match families.iter_mut().find(|f| f.0 == name) {
                Some(f) => f.3.push(line),
                None => families.push((name, kind, help, vec![line])),
            }
        }
    }
    let mut out = String::new();
    for (name, kind, help, lines) in families {
        let kind = if kind == Kind::Counter { "counter" } else { "gauge" };
        let _ = writeln!(out, "# HELP sluice_{name} {help}\n# TYPE sluice_{name} {kind}");
        for line in lines {
            let _ = writeln!(out, "{line}");
        }
    }
    render_config(registry, &mut out);
    let sinks: Vec<(String, &super::SinkMetrics)> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Sink(n, m) => Some((escape_label(n), m.as_ref())),
            _ => None,
        })
        .collect();
    if !sinks.is_empty() {
        let family = "sluice_sink_delivery_latency_seconds";
        let _ = writeln!(
            out,
            "# HELP {family} Time from an event's arrival to its acknowledgement upstream.\n# TYPE {family} histogram"
        );
        for (component, m) in sinks {
            for le in LATENCY_BOUNDS_MS {
                let count = m.latency_ms.count_at_most(le);
                let le = le as f64 / 1000.0;
                let _ = writeln!(out, "{family}_bucket{{component=\"{component}\",le=\"{le}\"}} {count}");
            }
            let total = m.latency_ms.count();
            let _ = writeln!(out, "{family}_bucket{{component=\"{component}\",le=\"+Inf\"}} {total}");
            let sum = m.latency_ms.sum() as f64 / 1000.0;
            let _ = writeln!(out, "{family}_sum{{component=\"{component}\"}} {sum}");
            let _ = writeln!(out, "{family}_count{{component=\"{component}\"}} {total}");
        }
    }
    out
}

/// The configuration's hash, load time and reloads (agents only: the mobile SDK sets no hash).
fn render_config(registry: &Registry, out: &mut String) {
    let config = registry.config.snapshot();
    if config.hash.is_empty() {
        return;
    }
    let family = "sluice_config_reloads_total";
    let _ = writeln!(
        out,
        "# HELP {family} Configuration reloads: ok (applied), refused (invalid or restart-only; nothing changed), failed (applied, but a component did not start).\n# TYPE {family} counter"
    );
    for result in [ReloadResult::Ok, ReloadResult::Refused, ReloadResult::Failed] {
        let _ = writeln!(out, "{family}{{result=\"{}\"}} {}", result.label(), registry.config.reloads(result));
    }
    let _ = writeln!(
        out,
        "# HELP sluice_config_info The configuration in force, by the SHA-256 of its file.\n# TYPE sluice_config_info gauge\nsluice_config_info{{hash=\"{}\"}} 1",
        escape_label(&config.hash)
    );
    let family = "sluice_config_loaded_timestamp_seconds";
    let _ = writeln!(
        out,
        "# HELP {family} When the configuration in force was loaded.\n# TYPE {family} gauge\n{family} {}",
        config.loaded_ms as f64 / 1000.0
    );
}

fn prometheus_fields(entry: &Entry) -> Vec<Sample> {
    use Kind::{Counter as C, Gauge as G};
    match entry {
        Entry::Source(_, m) => vec![
            ("source_events_received_total", C, "Events that arrived, accepted or not.", m.received.get().to_string()),
            (
                "source_events_accepted_total",
                C,
                "Events committed to every channel they were meant for.",
                m.accepted.get().to_string(),
            ),
            (
                "source_events_rejected_total",
                C,
                "Events refused (full channel, bad input).",
                m.rejected.get().to_string(),
            ),
            (
                "source_events_filtered_total",
                C,
                "Events dropped on purpose by an interceptor.",
                m.filtered.get().to_string(),
            ),
            (
                "source_events_truncated_total",
                C,
                "Lines or messages cut to the source's maximum length.",
                m.truncated.get().to_string(),
            ),
            (
                "source_events_malformed_total",
                C,
                "Input that could not be parsed, counted and skipped.",
                m.malformed.get().to_string(),
            ),
            (
                "source_kernel_dropped_total",
                C,
                "Datagrams the kernel dropped before the source read them.",
                m.dropped_by_kernel.get().to_string(),
            ),
            (
                "source_events_duplicate_total",
                C,
                "Events not stored: their id was stored within the source's dedup window.",
                m.duplicates.get().to_string(),
            ),
        ],
        Entry::Channel(_, m) => vec![
            ("channel_size", G, "Events now in the channel.", m.size.get().to_string()),
            ("channel_bytes", G, "Bytes of the events now in the channel.", m.bytes.get().to_string()),
            ("channel_capacity_events", G, "The channel's event quota (max_events).", m.capacity.get().to_string()),
            ("channel_capacity_bytes", G, "The channel's byte quota (max_bytes).", m.capacity_bytes.get().to_string()),
            (
                "channel_fill_percentage",
                G,
                "How full the channel is: the larger of its event and byte fill, in percent.",
                format!("{:.2}", m.fill_percentage()),
            ),
            ("channel_events_put_total", C, "Events put and committed.", m.put_success.get().to_string()),
            (
                "channel_events_taken_total",
                C,
                "Events taken and acknowledged upstream.",
                m.take_success.get().to_string(),
            ),
            ("channel_events_evicted_total", C, "Events evicted by drop_oldest.", m.evicted.get().to_string()),
            ("channel_events_expired_total", C, "Events expired by max_age.", m.expired.get().to_string()),
            (
                "channel_events_refused_full_total",
                C,
                "Events refused because the channel was full.",
                m.refused_full.get().to_string(),
            ),
            (
                "channel_events_refused_disk_full_total",
                C,
                "Events refused because the disk was full.",
                m.refused_disk_full.get().to_string(),
            ),
            (
                "channel_events_corrupt_total",
                C,
                "Events lost to damage in the store, quarantined and reported.",
                m.corrupt.get().to_string(),
            ),
        ],
        Entry::Sink(_, m) => vec![
            (
                "sink_events_drain_attempt_total",
                C,
                "Events handed to the sink, counting every retry.",
                m.drain_attempt.get().to_string(),
            ),
            ("sink_events_drain_success_total", C, "Events acknowledged upstream.", m.drain_success.get().to_string()),
            ("sink_batches_complete_total", C, "Batches acknowledged upstream.", m.batch_complete.get().to_string()),
            (
                "sink_connection_failed_total",
                C,
                "Failed attempts: connection errors, timeouts, retryable answers.",
                m.connection_failed.get().to_string(),
            ),
            (
                "sink_events_quarantined_total",
                C,
                "Events the upstream refused for good, kept in quarantine.",
                m.quarantined.get().to_string(),
            ),
            (
                "sink_events_rejected_upstream_total",
                C,
                "Events an upstream acknowledged as rejected (OTLP partial success).",
                m.rejected_upstream.get().to_string(),
            ),
        ],
    }
}

fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{SinkMetrics, SourceMetrics};
    use std::sync::Arc;

    #[test]
    fn both_layouts_carry_the_same_numbers() -> Result<(), serde_json::Error> {
        let registry = Registry::default();
        let source = Arc::new(SourceMetrics::default());
        source.received.add(12);
        registry.add(Entry::Source("app".into(), source));
        registry.add(Entry::Sink("up".into(), Arc::new(SinkMetrics::default())));
        let json: Value = serde_json::from_str(&render_json(&registry))?;
        assert_eq!(json["SOURCE.app"]["EventReceivedCount"], "12");
        assert_eq!(json["SINK.up"]["BatchCompleteCount"], "0");
        let text = render_prometheus(&registry);
        assert!(text.contains("sluice_source_events_received_total{component=\"app\"} 12\n"), "{text}");
        assert!(text.contains("# TYPE sluice_source_events_received_total counter\n"), "{text}");
        assert!(text.contains("# TYPE sluice_sink_delivery_latency_seconds histogram\n"), "{text}");
        assert!(
            text.contains("sluice_sink_delivery_latency_seconds_bucket{component=\"up\",le=\"+Inf\"} 0\n"),
            "{text}"
        );
        Ok(())
    }

    #[test]
    fn the_configuration_and_its_reloads_are_shown_once_a_hash_is_set() -> Result<(), serde_json::Error> {
        let registry = Registry::default();
        assert!(!render_prometheus(&registry).contains("sluice_config"), "the mobile SDK sets no hash");
        registry.config.loaded("ab12", 1_700_000_000_500);
        registry.config.reloaded(ReloadResult::Ok, None);
        registry.config.reloaded(ReloadResult::Refused, Some("a.toml:3: sinks.up.url: bad".into()));
        let text = render_prometheus(&registry);
        for line in [
            "sluice_config_reloads_total{result=\"ok\"} 1\n",
            "sluice_config_reloads_total{result=\"refused\"} 1\n",
            "sluice_config_reloads_total{result=\"failed\"} 0\n",
            "sluice_config_info{hash=\"ab12\"} 1\n",
            "sluice_config_loaded_timestamp_seconds 1700000000.5\n",
            "# TYPE sluice_config_reloads_total counter\n",
        ] {
            assert!(text.contains(line), "{line}{text}");
        }
        let json: Value = serde_json::from_str(&render_json(&registry))?;
        assert_eq!(json["AGENT.config"]["ConfigHash"], "ab12");
        assert_eq!(json["AGENT.config"]["ConfigReloadsRefused"], "1");
        assert_eq!(json["AGENT.config"]["ConfigLastError"], "a.toml:3: sinks.up.url: bad");
        Ok(())
    }
}
