//! What the store keeps besides events: source state (taildir positions),
//! sinks' retry state, named counters, and the loss counters reported upstream.

use super::{write, Store};
use crate::channel::Mark;
use crate::error::Result;

impl Store {
    /// The saved state of source `source`: (key, value) pairs.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn load_source_state(&self, source: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let state = self.lock();
        let mut stmt =
            state.conn.prepare_cached("SELECT key, value FROM source_state WHERE source = ?1 ORDER BY key")?;
        let rows = stmt.query_map([source], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every source's saved state, for `sluice inspect`: (source, key, value).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn all_source_state(&self) -> Result<Vec<(String, String, Vec<u8>)>> {
        let state = self.lock();
        let mut stmt = state.conn.prepare_cached("SELECT source, key, value FROM source_state ORDER BY source, key")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Writes `marks` in a transaction of their own (no events came with them).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn save_marks(&self, marks: &[Mark]) -> Result<()> {
        if marks.is_empty() {
            return Ok(());
        }
        let mut state = self.lock();
        let tx = state.conn.unchecked_transaction()?;
        write::write_marks(&tx, marks)?;
        tx.commit()?;
        state.wrote();
        Ok(())
    }

    /// The persisted retry state of sink (group) `name`: failed attempts and next attempt time.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn load_retry(&self, name: &str) -> Result<Option<(u32, u64)>> {
        use rusqlite::OptionalExtension;
        let state = self.lock();
        let row = state
            .conn
            .query_row("SELECT attempts, next_attempt_ms FROM sink_state WHERE sink = ?1", [name], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        Ok(row)
    }

    /// Persists the retry state of sink (group) `name`, so a restart does not stampede.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn save_retry(&self, name: &str, attempts: u32, next_attempt_ms: u64) -> Result<()> {
        let mut state = self.lock();
        state.conn.execute(
            "INSERT INTO sink_state (sink, attempts, next_attempt_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (sink) DO UPDATE SET attempts = ?2, next_attempt_ms = ?3",
            rusqlite::params![name, attempts, next_attempt_ms],
        )?;
        state.wrote();
        Ok(())
    }

    /// The persisted counter `name` (0 when never saved).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn load_counter(&self, name: &str) -> Result<u64> {
        use rusqlite::OptionalExtension;
        let state = self.lock();
        let value: Option<i64> =
            state.conn.query_row("SELECT value FROM counters WHERE name = ?1", [name], |r| r.get(0)).optional()?;
        Ok(value.map_or(0, |v| v.max(0) as u64))
    }

    /// Persists counter `name`, dropping others that start with `prefix` (old days of a daily counter).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn save_counter(&self, name: &str, value: u64, prefix: &str) -> Result<()> {
        let mut state = self.lock();
        let tx = state.conn.unchecked_transaction()?;
        tx.execute(
            "DELETE FROM counters WHERE name >= ?1 AND name < ?2 AND name <> ?3",
            rusqlite::params![prefix, format!("{prefix}\u{10FFFF}"), name],
        )?;
        tx.execute(
            "INSERT INTO counters (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = ?2",
            rusqlite::params![name, value.min(i64::MAX as u64) as i64],
        )?;
        tx.commit()?;
        state.wrote();
        Ok(())
    }

    /// Losses of `channel` not yet told upstream: (reason, priority, events, first_ms, last_ms).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn unreported_losses(&self, channel: &str) -> Result<Vec<UnreportedLoss>> {
        let state = self.lock();
        let mut stmt = state.conn.prepare_cached(
            "SELECT reason, priority, events - reported, first_ms, last_ms, events FROM losses WHERE channel = ?1 AND events > reported ORDER BY reason, priority",
        )?;
        let rows = stmt.query_map([channel], |r| {
            Ok(UnreportedLoss {
                reason: r.get(0)?,
                priority: crate::event::Priority::from_u8(r.get(1)?),
                events: r.get(2)?,
                first_ms: r.get(3)?,
                last_ms: r.get(4)?,
                total: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Marks the given losses as told upstream.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn mark_reported(&self, channel: &str, losses: &[UnreportedLoss]) -> Result<()> {
        let mut state = self.lock();
        for l in losses {
            state.conn.execute(
                "UPDATE losses SET reported = ?1 WHERE channel = ?2 AND reason = ?3 AND priority = ?4",
                rusqlite::params![l.total, channel, l.reason, l.priority as u8],
            )?;
        }
        state.wrote();
        Ok(())
    }
}

/// Losses not yet reported upstream.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UnreportedLoss {
    /// `evicted`, `expired`, `quarantined` or `corrupt`.
    pub reason: String,
    /// Priority of the lost events.
    pub priority: crate::event::Priority,
    /// Events lost since the last report.
    pub events: u64,
    /// First loss of this kind (ms since epoch).
    pub first_ms: u64,
    /// Latest loss of this kind.
    pub last_ms: u64,
    #[serde(skip)]
    total: u64,
}
