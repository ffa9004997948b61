//! Channel throughput and write amplification, against a naive SQLite layout in the same run.
//!
//! `cargo bench -p sluice --bench channel [-- EVENTS]`. Events are ~200-byte
//! access-log lines with varying fields and three headers. The peer is the
//! layout most queues start with: one row per event, 1,000 events a
//! transaction, the pragmas of `durability = "process"` (WAL, synchronous=OFF).
//! Two cases: the backlog (put everything, then drain; bytes are the pages the
//! puts dirtied, `write_bytes`, which reach the device once the backlog outlives
//! the kernel's writeback delay) and keeping up (each batch taken and committed
//! right after its put; bytes are `write_bytes` less `cancelled_write_bytes`,
//! dirty pages truncated before the kernel wrote them: what the device is asked
//! to write). Both from `/proc/self/io`.

use rusqlite::{params, Connection};
use sluice::channel::{Capacity, Channel, Store};
use sluice::Event;
use std::time::Instant;

mod common;
use common::{events, BATCH};

fn io_field(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix(key).and_then(|v| v.trim().parse().ok())))
        .unwrap_or(0)
}

/// Pages dirtied: what the device writes if the data outlives the kernel's writeback delay.
fn dirtied_bytes() -> u64 {
    io_field("write_bytes: ")
}

/// Bytes the device is asked to write: pages dirtied less those cancelled
/// (signed: an interval can cancel pages dirtied before it).
fn net_bytes() -> i64 {
    io_field("write_bytes: ") as i64 - io_field("cancelled_write_bytes: ") as i64
}

struct Result {
    put_per_s: f64,
    drain_per_s: f64,
    written_per_byte: f64,
    steady_per_s: f64,
    steady_per_event: f64,
}

fn ingested_bytes(batches: &[Vec<Event>]) -> usize {
    batches
        .iter()
        .flatten()
        .map(|e| e.body.len() + e.headers.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>())
        .sum()
}

fn sluice(total: usize) -> std::result::Result<Result, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir_in(".")?;
    let channel = Store::open(dir.path(), false)?
        .channel("main", Capacity { max_events: u64::MAX, max_bytes: u64::MAX, ..Capacity::default() })?;
    let batches: Vec<Vec<Event>> = (0..total / BATCH).map(|b| events(b * BATCH)).collect();
    let ingested = ingested_bytes(&batches);
    let before = dirtied_bytes();
    let started = Instant::now();
    for batch in batches {
        channel.put(batch)?;
    }
    let put = started.elapsed().as_secs_f64();
    let written = dirtied_bytes() - before;
    let started = Instant::now();
    while let Some(taken) = channel.take(BATCH, usize::MAX)? {
        channel.commit(taken, Vec::new())?;
    }
    let drain = started.elapsed().as_secs_f64();
    // Keeping up: each batch delivered right after its put.
    let batches: Vec<Vec<Event>> = (0..total / BATCH).map(|b| events(b * BATCH)).collect();
    let before = net_bytes();
    let started = Instant::now();
    for batch in batches {
        channel.put(batch)?;
        if let Some(taken) = channel.take(BATCH, usize::MAX)? {
            channel.commit(taken, Vec::new())?;
        }
    }
    let steady = started.elapsed().as_secs_f64();
    let steady_written = net_bytes() - before;
    Ok(Result {
        put_per_s: total as f64 / put,
        drain_per_s: total as f64 / drain,
        written_per_byte: written as f64 / ingested as f64,
        steady_per_s: total as f64 / steady,
        steady_per_event: steady_written as f64 / total as f64,
    })
}

fn naive_put(conn: &Connection, batch: &[Event]) -> rusqlite::Result<()> {
    let tx = conn.unchecked_transaction()?;
    for e in batch {
        let headers: String = e.headers.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        tx.prepare_cached("INSERT INTO events (headers, body) VALUES (?1, ?2)")?.execute(params![headers, e.body])?;
    }
    tx.commit()
}

/// Takes and deletes up to a batch; false when there was nothing.
fn naive_take(conn: &Connection) -> rusqlite::Result<bool> {
    let tx = conn.unchecked_transaction()?;
    let rows: Vec<(i64, String, Vec<u8>)> = tx
        .prepare_cached("SELECT seq, headers, body FROM events ORDER BY seq LIMIT ?1")?
        .query_map([BATCH as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let Some(last) = rows.last() else { return Ok(false) };
    tx.execute("DELETE FROM events WHERE seq <= ?1", [last.0])?;
    tx.commit()?;
    Ok(true)
}

fn naive(total: usize) -> std::result::Result<Result, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir_in(".")?;
    let conn = Connection::open(dir.path().join("naive.db"))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    conn.execute_batch("CREATE TABLE events (seq INTEGER PRIMARY KEY, headers TEXT NOT NULL, body BLOB NOT NULL)")?;
    let batches: Vec<Vec<Event>> = (0..total / BATCH).map(|b| events(b * BATCH)).collect();
    let ingested = ingested_bytes(&batches);
    let before = dirtied_bytes();
    let started = Instant::now();
    for batch in &batches {
        naive_put(&conn, batch)?;
    }
    let put = started.elapsed().as_secs_f64();
    let written = dirtied_bytes() - before;
    let started = Instant::now();
    while naive_take(&conn)? {}
    let drain = started.elapsed().as_secs_f64();
    let before = net_bytes();
    let started = Instant::now();
    for batch in &batches {
        naive_put(&conn, batch)?;
        naive_take(&conn)?;
    }
    let steady = started.elapsed().as_secs_f64();
    let steady_written = net_bytes() - before;
    Ok(Result {
        put_per_s: total as f64 / put,
        drain_per_s: total as f64 / drain,
        written_per_byte: written as f64 / ingested as f64,
        steady_per_s: total as f64 / steady,
        steady_per_event: steady_written as f64 / total as f64,
    })
}

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let total: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(1_000_000);
    let ours = sluice(total)?;
    let peer = naive(total)?;
    println!("channel benchmark, {total} events of ~200 bytes + 3 headers, {BATCH} per transaction");
    println!("bytes / byte: pages dirtied by the puts of the backlog (written if it outlives the kernel's 30 s)");
    println!("bytes / event: write_bytes - cancelled_write_bytes while keeping up (what the device is asked to write)");
    println!(
        "{:<26} {:>11} {:>11} {:>13} {:>15} {:>15}",
        "layout", "put ev/s", "drain ev/s", "bytes / byte", "keeping-up ev/s", "bytes / event"
    );
    for (name, r) in [("sluice (batch rows, lz4)", &ours), ("naive (row per event)", &peer)] {
        println!(
            "{name:<26} {:>11.0} {:>11.0} {:>13.2} {:>15.0} {:>15.1}",
            r.put_per_s, r.drain_per_s, r.written_per_byte, r.steady_per_s, r.steady_per_event
        );
    }
    println!(
        "ratio sluice/naive: put {:.1}x, drain {:.1}x, backlog bytes {:.2}x, keeping up {:.1}x",
        ours.put_per_s / peer.put_per_s,
        ours.drain_per_s / peer.drain_per_s,
        ours.written_per_byte / peer.written_per_byte,
        ours.steady_per_s / peer.steady_per_s,
    );
    Ok(())
}
