//! Flume's Avro sink, converted to the `flume_avro` sink.

use super::components::{boolean, carry, int, ms};
use super::{q, Cx, Table};

/// Flume's Avro sink → `flume_avro` (the same wire protocol).
pub(super) fn avro_sink(cx: &mut Cx<'_>, base: &str, t: &mut Table) -> Option<()> {
    t.set("type", q("flume_avro"));
    let (Some(host), Some(port)) = (cx.get(&format!("{base}.hostname")), cx.get(&format!("{base}.port"))) else {
        cx.unsupported(base, "an avro sink needs hostname and port");
        return None;
    };
    t.set("address", q(&format!("{host}:{port}")));
    carry(cx, t, base, "compression-type", "compression", |v| match v.to_ascii_lowercase().as_str() {
        "deflate" => Some(q("deflate")),
        "none" => Some(q("none")),
        _ => None,
    });
    carry(cx, t, base, "compression-level", "compression_level", int);
    carry(cx, t, base, "connect-timeout", "connect_timeout", ms);
    carry(cx, t, base, "request-timeout", "request_timeout", ms);
    carry(cx, t, base, "reset-connection-interval", "reset_connection_interval", |v| {
        v.parse::<u64>().ok().filter(|&s| s > 0).map(|s| q(&format!("{s}s")))
    });
    carry(cx, t, base, "batch-size", "batch", |v| v.parse::<u64>().ok().map(|n| format!("{{ max_events = {n} }}")));
    let ssl = cx.get(&format!("{base}.ssl")).and_then(|v| boolean(&v)).unwrap_or(false);
    let trust_all = cx.get(&format!("{base}.trust-all-certs")).and_then(|v| boolean(&v)).unwrap_or(false);
    if ssl {
        t.set("tls", if trust_all { "{ verify = false }".into() } else { "{}".into() });
    }
    for k in ["truststore", "truststore-password", "truststore-type"] {
        if cx.get(&format!("{base}.{k}")).is_some() {
            cx.unsupported(
                &format!("{base}.{k}"),
                "Java trust stores are not read: export the CA as PEM and set tls = { ca_file = \"…\" }",
            );
        }
    }
    for k in ["exclude-protocols", "include-protocols", "exclude-cipher-suites", "include-cipher-suites"] {
        cx.drop_key(&format!("{base}.{k}"), "rustls offers TLS 1.2 and 1.3 with its safe cipher suites only");
    }
    cx.drop_key(&format!("{base}.maxIoWorkers"), "ignored by Flume since 1.10, and by Sluice");
    Some(())
}
