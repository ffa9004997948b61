//! Event ids a de-duplicating source has stored (`dedup`): asked before a put,
//! remembered in the put's own transaction, so a crash can neither remember an
//! id whose events were lost nor forget one whose events were kept.

use super::Store;
use crate::error::{Error, ErrorKind, Result};
use crate::event::{now_ms, EventId};
use rusqlite::{params, Connection};
use std::collections::HashMap;
use std::sync::Mutex;

/// Per source, the second its `max_ids` bound was last enforced (counting is a
/// scan: once a second per source).
static CAPPED_AT_S: Mutex<Option<HashMap<String, u64>>> = Mutex::new(None);

/// Whether `source`'s bound is due this `second` (and now marked done).
fn cap_due(source: &str, second: u64) -> bool {
    let mut capped = CAPPED_AT_S.lock().unwrap_or_else(|p| p.into_inner());
    let last = capped.get_or_insert_with(HashMap::new).insert(source.to_string(), second);
    last != Some(second)
}

impl Store {
    /// For each of `ids`, whether `source` stored it within the last `window_ms`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn seen(&self, source: &str, ids: &[u128], window_ms: u64) -> Result<Vec<bool>> {
        let state = self.lock();
        let since = now_ms().saturating_sub(window_ms);
        let mut stmt =
            state.conn.prepare_cached("SELECT 1 FROM seen_ids WHERE source = ?1 AND id = ?2 AND at_ms >= ?3")?;
        let mut seen = Vec::with_capacity(ids.len());
        for id in ids {
            seen.push(stmt.exists(params![source, &id.to_be_bytes()[..], since])?);
        }
        Ok(seen)
    }

    /// How many ids `source` remembers.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn seen_count(&self, source: &str) -> Result<u64> {
        let state = self.lock();
        Ok(state.conn.query_row("SELECT count(*) FROM seen_ids WHERE source = ?1", [source], |r| r.get(0))?)
    }
}

/// Remembers `ids` inside a put's transaction. An id remembered within the
/// window fails the transaction with [`ErrorKind::Duplicate`]; older entries
/// are forgotten, and beyond `max_ids` the oldest.
pub(super) fn remember(tx: &Connection, source: &str, ids: &[u128], window_ms: u64, max_ids: u64) -> Result<()> {
    let now = now_ms();
    let since = now.saturating_sub(window_ms);
    let mut insert = tx.prepare_cached(
        "INSERT INTO seen_ids (source, id, at_ms) VALUES (?1, ?2, ?3)
         ON CONFLICT (source, id) DO UPDATE SET at_ms = excluded.at_ms WHERE seen_ids.at_ms < ?4",
    )?;
    for id in ids {
        if insert.execute(params![source, &id.to_be_bytes()[..], now, since])? == 0 {
            let id = EventId(*id);
            return Err(Error::new(ErrorKind::Duplicate, format!("event {id} was stored meanwhile")));
        }
    }
    tx.prepare_cached("DELETE FROM seen_ids WHERE source = ?1 AND at_ms < ?2")?.execute(params![source, since])?;
    let second = now / 1000;
    if cap_due(source, second) {
        let count: u64 = tx.query_row("SELECT count(*) FROM seen_ids WHERE source = ?1", [source], |r| r.get(0))?;
        if count > max_ids {
            tx.prepare_cached(
                "DELETE FROM seen_ids WHERE source = ?1 AND id IN
                 (SELECT id FROM seen_ids WHERE source = ?1 ORDER BY at_ms LIMIT ?2)",
            )?
            .execute(params![source, count - max_ids])?;
        }
    }
    Ok(())
}
