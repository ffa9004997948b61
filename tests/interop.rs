//! Interop tests: Sluice against the real upstream programs (fetched from the
//! package registries by `tests/interop/*/fetch.sh`, started on loopback).
//! A separate test binary, so these JVMs and collectors never share the two
//! cores with the integration tests; within it, one peer at a time.

use std::sync::{Mutex, MutexGuard};

// Apache Flume: AvroSource (plain, deflate) and HTTPSource across a Flume SIGKILL; edge → gateway (dedup) → Flume, edge killed 10 times.
mod flume;
// OpenTelemetry Collector: otlp_http records with bodies, attributes and ids, across a collector restart.
mod otelcol;
// The otlp_http source: the OTel Python SDK, and the Collector's otlphttp exporter (protobuf and json) round trip.
mod otlp_source;
// Apache Kafka (KRaft): keys, headers and bodies, read back with Kafka's console consumer, across a broker SIGKILL.
mod kafka;

static SERIAL: Mutex<()> = Mutex::new(());

/// Held by each test: one peer at a time.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}
