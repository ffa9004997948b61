//! Renders a [`Registry`] as Prometheus text and as Flume's JSON layout.

use super::{Entry, Registry};
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
            ],
        ),
        Entry::Channel(name, m) => (
            format!("CHANNEL.{name}"),
            vec![
                ("Type", "CHANNEL".into()),
                ("ChannelSize", m.size.get().to_string()),
                ("ChannelBytes", m.bytes.get().to_string()),
                ("ChannelCapacity", m.capacity.get().to_string()),
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
        Entry::Sink(name, m) => (
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
            ],
        ),
    }
}

/// Prometheus text exposition, e.g. `sluice_source_events_received_total{component="app"} 12`.
pub fn render_prometheus(registry: &Registry) -> String {
    let mut out = String::new();
    for entry in registry.entries() {
        for (metric, value) in prometheus_fields(&entry) {
            let component = match &entry {
                Entry::Source(n, _) | Entry::Channel(n, _) | Entry::Sink(n, _) => n,
            };
            let _ = writeln!(out, "sluice_{metric}{{component=\"{}\"}} {value}", escape_label(component));
        }
    }
    out
}

fn prometheus_fields(entry: &Entry) -> Vec<(&'static str, String)> {
    match entry {
        Entry::Source(_, m) => vec![
            ("source_events_received_total", m.received.get().to_string()),
            ("source_events_accepted_total", m.accepted.get().to_string()),
            ("source_events_rejected_total", m.rejected.get().to_string()),
            ("source_events_filtered_total", m.filtered.get().to_string()),
            ("source_events_truncated_total", m.truncated.get().to_string()),
            ("source_events_malformed_total", m.malformed.get().to_string()),
            ("source_kernel_dropped_total", m.dropped_by_kernel.get().to_string()),
        ],
        Entry::Channel(_, m) => vec![
            ("channel_size", m.size.get().to_string()),
            ("channel_bytes", m.bytes.get().to_string()),
            ("channel_capacity", m.capacity.get().to_string()),
            ("channel_fill_percentage", format!("{:.2}", m.fill_percentage())),
            ("channel_events_put_total", m.put_success.get().to_string()),
            ("channel_events_taken_total", m.take_success.get().to_string()),
            ("channel_events_evicted_total", m.evicted.get().to_string()),
            ("channel_events_expired_total", m.expired.get().to_string()),
            ("channel_events_refused_full_total", m.refused_full.get().to_string()),
            ("channel_events_refused_disk_full_total", m.refused_disk_full.get().to_string()),
            ("channel_events_corrupt_total", m.corrupt.get().to_string()),
        ],
        Entry::Sink(_, m) => vec![
            ("sink_events_drain_attempt_total", m.drain_attempt.get().to_string()),
            ("sink_events_drain_success_total", m.drain_success.get().to_string()),
            ("sink_batches_complete_total", m.batch_complete.get().to_string()),
            ("sink_connection_failed_total", m.connection_failed.get().to_string()),
            ("sink_events_quarantined_total", m.quarantined.get().to_string()),
            ("sink_events_rejected_upstream_total", m.rejected_upstream.get().to_string()),
            ("sink_delivery_latency_p50_ms", m.latency_ms.quantile(0.5).to_string()),
            ("sink_delivery_latency_p90_ms", m.latency_ms.quantile(0.9).to_string()),
            ("sink_delivery_latency_p99_ms", m.latency_ms.quantile(0.99).to_string()),
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
        Ok(())
    }
}
