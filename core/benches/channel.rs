//! Channel throughput and write amplification, against a naive SQLite layout in the same run.
//!
//! `cargo bench -p sluice --bench channel [-- EVENTS]`. Events are ~200-byte
//! access-log lines with varying fields and three headers. The peer is the
//! layout most queues start with: one row per event, 1,000 events a
//! transaction, same pragmas (WAL, synchronous=NORMAL). Bytes written come from
//! `/proc/self/io` (`write_bytes`: what reached the block layer, after fsyncs).

use rusqlite::{params, Connection};
use sluice::channel::{Capacity, Channel, Store};
use sluice::Event;
use std::time::Instant;

mod common;
use common::{events, BATCH};

fn written_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("write_bytes: ").and_then(|v| v.trim().parse().ok())))
        .unwrap_or(0)
}

struct Result {
    put_per_s: f64,
    drain_per_s: f64,
    written_per_byte: f64,
}

fn sluice(total: usize) -> std::result::Result<Result, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir_in(".")?;
    let channel = Store::open(dir.path(), false)?
        .channel("main", Capacity { max_events: u64::MAX, max_bytes: u64::MAX, ..Capacity::default() })?;
    let batches: Vec<Vec<Event>> = (0..total / BATCH).map(|b| events(b * BATCH)).collect();
    let ingested: usize = batches
        .iter()
        .flatten()
        .map(|e| e.body.len() + e.headers.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>())
        .sum();
    let before = written_bytes();
    let started = Instant::now();
    for batch in batches {
        channel.put(batch)?;
    }
    let put = started.elapsed().as_secs_f64();
    let started = Instant::now();
    while let Some(taken) = channel.take(BATCH, usize::MAX)? {
        channel.commit(taken, Vec::new())?;
    }
    let drain = started.elapsed().as_secs_f64();
    let written = written_bytes() - before;
    Ok(Result {
        put_per_s: total as f64 / put,
        drain_per_s: total as f64 / drain,
        written_per_byte: written as f64 / ingested as f64,
    })
}

fn naive(total: usize) -> std::result::Result<Result, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir_in(".")?;
    let conn = Connection::open(dir.path().join("naive.db"))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute_batch("CREATE TABLE events (seq INTEGER PRIMARY KEY, headers TEXT NOT NULL, body BLOB NOT NULL)")?;
    let batches: Vec<Vec<Event>> = (0..total / BATCH).map(|b| events(b * BATCH)).collect();
    let ingested: usize = batches
        .iter()
        .flatten()
        .map(|e| e.body.len() + e.headers.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>())
        .sum();
    let before = written_bytes();
    let started = Instant::now();
    for batch in batches {
        let tx = conn.unchecked_transaction()?;
        for e in batch {
            let headers: String = e.headers.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
            tx.prepare_cached("INSERT INTO events (headers, body) VALUES (?1, ?2)")?
                .execute(params![headers, e.body])?;
        }
        tx.commit()?;
    }
    let put = started.elapsed().as_secs_f64();
    let started = Instant::now();
    loop {
        let tx = conn.unchecked_transaction()?;
        let rows: Vec<(i64, String, Vec<u8>)> = tx
            .prepare_cached("SELECT seq, headers, body FROM events ORDER BY seq LIMIT ?1")?
            .query_map([BATCH as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let Some(last) = rows.last() else { break };
        tx.execute("DELETE FROM events WHERE seq <= ?1", [last.0])?;
        tx.commit()?;
    }
    let drain = started.elapsed().as_secs_f64();
    let written = written_bytes() - before;
    Ok(Result {
        put_per_s: total as f64 / put,
        drain_per_s: total as f64 / drain,
        written_per_byte: written as f64 / ingested as f64,
    })
}

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let total: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(1_000_000);
    let ours = sluice(total)?;
    let peer = naive(total)?;
    println!("channel benchmark, {total} events of ~200 bytes + 3 headers, {BATCH} per transaction");
    println!("{:<28} {:>14} {:>14} {:>22}", "layout", "put ev/s", "drain ev/s", "disk bytes / byte in");
    for (name, r) in [("sluice (batch rows, lz4)", &ours), ("naive (row per event)", &peer)] {
        println!("{name:<28} {:>14.0} {:>14.0} {:>22.2}", r.put_per_s, r.drain_per_s, r.written_per_byte);
    }
    println!(
        "ratio sluice/naive: put {:.1}x, drain {:.1}x, bytes written {:.2}x",
        ours.put_per_s / peer.put_per_s,
        ours.drain_per_s / peer.drain_per_s,
        ours.written_per_byte / peer.written_per_byte
    );
    Ok(())
}
