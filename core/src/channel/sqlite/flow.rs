//! Running totals of what entered and left each channel, kept in the store's
//! `counters` table, so that `sluice inspect` can measure ingest and drain rates
//! of a running agent from the file alone, and say when the channel will be full
//! or empty.
//!
//! The totals ride in transactions that move events anyway, but at most every
//! [`WRITE_EVERY`]: writing them in every transaction cost one more page per put
//! and per commit (16 KiB at the gateway's page size, +15 % disk bytes per byte
//! ingested). Between writes they wait in memory until the channel's next
//! transaction after the interval: a crash or a stop loses what waited (at most
//! the traffic of one interval, or the last burst before a quiet spell). They
//! feed rate estimates, never delivery.

use rusqlite::{params, Connection};
use serde::Serialize;
use std::time::{Duration, Instant};

const PUT: &str = "flow.put_events.";
const PUT_BYTES: &str = "flow.put_bytes.";
const TAKEN: &str = "flow.taken_events.";
const TAKEN_BYTES: &str = "flow.taken_bytes.";
const CAP_EVENTS: &str = "flow.capacity_events.";
const CAP_BYTES: &str = "flow.capacity_bytes.";

/// Least time between two writes of one channel's totals.
const WRITE_EVERY: Duration = Duration::from_millis(250);

/// One channel's totals not yet in the file.
#[derive(Debug, Default)]
pub(super) struct Unwritten {
    counts: [u64; 4],
    written_at: Option<Instant>,
}

/// What a transaction did to the totals, applied once it committed.
#[derive(Debug, Clone, Copy)]
#[must_use = "apply it with Unwritten::committed after the transaction commits"]
pub(super) struct Staged {
    delta: [u64; 4],
    written: bool,
}

impl Unwritten {
    /// Adds `put` and `taken` (events, bytes) to `channel`'s totals: inside `tx`,
    /// with everything unwritten so far, when a write is due; else in memory only
    /// once [`Unwritten::committed`] is told the transaction committed.
    pub fn stage(
        &self,
        tx: &Connection,
        channel: &str,
        put: (u64, u64),
        taken: (u64, u64),
    ) -> rusqlite::Result<Staged> {
        let delta = [put.0, put.1, taken.0, taken.1];
        let due = self.written_at.is_none_or(|at| at.elapsed() >= WRITE_EVERY);
        if due {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO counters (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = value + ?2",
            )?;
            for (i, prefix) in [PUT, PUT_BYTES, TAKEN, TAKEN_BYTES].into_iter().enumerate() {
                let n = self.counts[i].saturating_add(delta[i]);
                if n > 0 {
                    stmt.execute(params![format!("{prefix}{channel}"), n.min(i64::MAX as u64) as i64])?;
                }
            }
        }
        Ok(Staged { delta, written: due })
    }

    /// Records a staged change after its transaction committed.
    pub fn committed(&mut self, staged: Staged) {
        if staged.written {
            self.counts = [0; 4];
            self.written_at = Some(Instant::now());
        } else {
            for (count, d) in self.counts.iter_mut().zip(staged.delta) {
                *count = count.saturating_add(d);
            }
        }
    }
}

/// Records a channel's configured capacity (for the time-to-full estimate).
pub(super) fn save_capacity(conn: &Connection, channel: &str, events: u64, bytes: u64) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO counters (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = ?2",
    )?;
    stmt.execute(params![format!("{CAP_EVENTS}{channel}"), events.min(i64::MAX as u64) as i64])?;
    stmt.execute(params![format!("{CAP_BYTES}{channel}"), bytes.min(i64::MAX as u64) as i64])?;
    Ok(())
}

/// One reading of every `flow.*` counter.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    values: Vec<(String, u64)>,
    at: Option<Instant>,
}

impl Sample {
    /// Reads the counters now.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn read(conn: &Connection) -> rusqlite::Result<Sample> {
        let mut stmt = conn.prepare("SELECT name, value FROM counters WHERE name >= 'flow.' AND name < 'flow/'")?;
        let values = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64)))?;
        Ok(Sample { values: values.collect::<rusqlite::Result<_>>()?, at: Some(Instant::now()) })
    }

    /// The channels with a recorded capacity.
    pub fn channels(&self) -> Vec<String> {
        self.values.iter().filter_map(|(n, _)| n.strip_prefix(CAP_EVENTS)).map(String::from).collect()
    }

    fn get(&self, prefix: &str, channel: &str) -> u64 {
        let name = format!("{prefix}{channel}");
        self.values.iter().find(|(n, _)| *n == name).map_or(0, |(_, v)| *v)
    }
}

/// A channel's flow between two samples, and what it leads to.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Flow {
    /// Events put per second.
    pub ingest_per_s: f64,
    /// Events taken and committed per second.
    pub drain_per_s: f64,
    /// Bytes put per second.
    pub ingest_bytes_per_s: f64,
    /// Bytes taken per second.
    pub drain_bytes_per_s: f64,
    /// At this pace, seconds until the channel is full (growing backlog).
    pub seconds_to_full: Option<f64>,
    /// At this pace, seconds until it is empty (shrinking backlog).
    pub seconds_to_drain: Option<f64>,
}

/// The flow of `channel` holding `events`/`bytes` now, between `before` and `after`.
pub fn flow(channel: &str, events: u64, bytes: u64, before: &Sample, after: &Sample) -> Option<Flow> {
    let seconds = match (before.at, after.at) {
        (Some(a), Some(b)) => b.duration_since(a).max(Duration::from_millis(1)).as_secs_f64(),
        _ => return None,
    };
    let rate = |prefix: &str| after.get(prefix, channel).saturating_sub(before.get(prefix, channel)) as f64 / seconds;
    let (ingest, drain) = (rate(PUT), rate(TAKEN));
    let (ingest_b, drain_b) = (rate(PUT_BYTES), rate(TAKEN_BYTES));
    let (cap_events, cap_bytes) = (after.get(CAP_EVENTS, channel), after.get(CAP_BYTES, channel));
    let net_events = ingest - drain;
    let net_bytes = ingest_b - drain_b;
    let seconds_to_full = if net_events > 0.0 && cap_events > 0 {
        let by_events = cap_events.saturating_sub(events) as f64 / net_events;
        let by_bytes = if net_bytes > 0.0 && cap_bytes > 0 {
            cap_bytes.saturating_sub(bytes) as f64 / net_bytes
        } else {
            f64::INFINITY
        };
        Some(by_events.min(by_bytes))
    } else {
        None
    };
    let seconds_to_drain = (net_events < 0.0 && events > 0).then(|| events as f64 / -net_events);
    Some(Flow {
        ingest_per_s: ingest,
        drain_per_s: drain,
        ingest_bytes_per_s: ingest_b,
        drain_bytes_per_s: drain_b,
        seconds_to_full,
        seconds_to_drain,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(values: &[(&str, u64)], secs_ago: u64) -> Sample {
        let at = Instant::now().checked_sub(Duration::from_secs(secs_ago));
        Sample { values: values.iter().map(|(n, v)| (n.to_string(), *v)).collect(), at }
    }

    #[test]
    fn growing_backlog_gives_time_to_full_and_shrinking_gives_time_to_drain() {
        let cap = [("flow.capacity_events.main", 10_000), ("flow.capacity_bytes.main", 1 << 30)];
        let before = sample(&[&cap[..], &[("flow.put_events.main", 0), ("flow.taken_events.main", 0)]].concat(), 10);
        let after =
            sample(&[&cap[..], &[("flow.put_events.main", 2_000), ("flow.taken_events.main", 1_000)]].concat(), 0);
        let f = flow("main", 4_000, 0, &before, &after).unwrap_or_else(|| panic!("no flow"));
        assert!((f.ingest_per_s - 200.0).abs() < 1.0 && (f.drain_per_s - 100.0).abs() < 1.0, "{f:?}");
        let full = f.seconds_to_full.unwrap_or_default();
        assert!((full - 60.0).abs() < 1.0, "6000 free at +100/s: {f:?}");
        assert_eq!(f.seconds_to_drain, None);
        let after = sample(&[&cap[..], &[("flow.put_events.main", 0), ("flow.taken_events.main", 500)]].concat(), 0);
        let f = flow("main", 1_000, 0, &before, &after).unwrap_or_else(|| panic!("no flow"));
        let drain = f.seconds_to_drain.unwrap_or_default();
        assert!((drain - 20.0).abs() < 1.0, "1000 left at -50/s: {f:?}");
        assert_eq!(f.seconds_to_full, None);
    }

    #[test]
    fn totals_reach_the_file_at_most_every_quarter_second_and_none_are_lost() -> rusqlite::Result<()> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch("CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")?;
        let stored = |name: &str| -> rusqlite::Result<u64> {
            let v: Option<i64> =
                conn.query_row("SELECT value FROM counters WHERE name = ?1", [name], |r| r.get(0)).ok();
            Ok(v.unwrap_or(0) as u64)
        };
        let mut unwritten = Unwritten::default();
        let first = unwritten.stage(&conn, "main", (10, 100), (0, 0))?;
        unwritten.committed(first);
        assert_eq!(stored("flow.put_events.main")?, 10, "the first change is written at once");
        for _ in 0..5 {
            let staged = unwritten.stage(&conn, "main", (10, 100), (3, 30))?;
            unwritten.committed(staged);
        }
        assert_eq!(stored("flow.put_events.main")?, 10, "later ones wait in memory");
        std::thread::sleep(WRITE_EVERY);
        let staged = unwritten.stage(&conn, "main", (1, 1), (0, 0))?;
        unwritten.committed(staged);
        assert_eq!(stored("flow.put_events.main")?, 61);
        assert_eq!(stored("flow.put_bytes.main")?, 601);
        assert_eq!(stored("flow.taken_events.main")?, 15);
        assert_eq!(stored("flow.taken_bytes.main")?, 150);
        Ok(())
    }
}
