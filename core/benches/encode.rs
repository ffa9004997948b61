//! What a sink spends per event before the network: `flume_json` and gzip level 1.
//!
//! `cargo bench -p sluice --bench encode [-- EVENTS]`. The peer in the same run
//! writes the same JSON with every string through `serde_json::to_writer` (how
//! the http sink did it before 2026-11-26): the ratio is what our escaper buys.

use sluice::sink::client::gzip;
use sluice::sink::format::flume_json;
use sluice::Event;
use std::time::Instant;

mod common;
use common::{events, BATCH};

/// Events a request, as the end-to-end benchmark's sink sends them.
const REQUEST: usize = 5 * BATCH;

/// The peer: the same layout, every string through serde_json.
fn flume_json_serde(events: &[Event], id_header: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(events.iter().map(|e| e.size() + 64).sum());
    let string = |out: &mut Vec<u8>, s: &str| {
        let _ = serde_json::to_writer(&mut *out, s);
    };
    out.push(b'[');
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"headers\":{");
        for (k, v) in &e.headers {
            string(&mut out, k);
            out.push(b':');
            string(&mut out, v);
            out.push(b',');
        }
        string(&mut out, id_header);
        out.push(b':');
        string(&mut out, &e.id.to_string());
        out.extend_from_slice(b"},\"body\":");
        string(&mut out, std::str::from_utf8(&e.body).unwrap_or_default());
        out.push(b'}');
    }
    out.push(b']');
    out
}

/// Events per second of `ours` and `peer` over `requests`: passes alternate
/// between the two (so a noisy neighbour hits both), best of five each.
fn rates(
    requests: &[Vec<Event>],
    ours: impl Fn(&[Event]) -> Vec<u8>,
    peer: impl Fn(&[Event]) -> Vec<u8>,
) -> (f64, f64) {
    let events = requests.iter().map(Vec::len).sum::<usize>() as f64;
    let pass = |encode: &dyn Fn(&[Event]) -> Vec<u8>| {
        let start = Instant::now();
        let bytes: usize = requests.iter().map(|r| encode(r).len()).sum();
        std::hint::black_box(bytes);
        events / start.elapsed().as_secs_f64()
    };
    let (mut best_ours, mut best_peer) = (0f64, 0f64);
    for _ in 0..5 {
        best_ours = best_ours.max(pass(&ours));
        best_peer = best_peer.max(pass(&peer));
    }
    (best_ours, best_peer)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let total: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(500_000);
    let requests: Vec<Vec<Event>> = (0..total / REQUEST)
        .map(|r| (0..REQUEST / BATCH).flat_map(|b| events(r * REQUEST + b * BATCH)).collect())
        .collect();
    for r in &requests {
        if flume_json(r, "id") != flume_json_serde(r, "id") {
            return Err("flume_json and the serde_json peer disagree".into());
        }
    }
    let (ours, peer) = rates(&requests, |r| flume_json(r, "id"), |r| flume_json_serde(r, "id"));
    let json_bytes: usize = requests.iter().map(|r| flume_json(r, "id").len()).sum();
    let gzip_only: Vec<Vec<u8>> = requests.iter().map(|r| flume_json(r, "id")).collect();
    let start = Instant::now();
    let mut zipped = 0;
    for body in &gzip_only {
        zipped += gzip(body)?.len();
    }
    let gzip_rate = total as f64 / start.elapsed().as_secs_f64();
    println!("events: {total} in requests of {REQUEST}; flume_json {json_bytes} bytes, gzip level 1 {zipped} bytes");
    println!("flume_json, our escaper:        {ours:>12.0} events/s");
    println!("flume_json, serde_json strings: {peer:>12.0} events/s   (ratio {:.2})", ours / peer);
    println!("gzip level 1 of that JSON:      {gzip_rate:>12.0} events/s");
    Ok(())
}
