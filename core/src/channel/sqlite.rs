//! The durable channel: one SQLite file per agent, rows holding whole put batches.
//!
//! A [`Store`] owns the connection and an in-memory index of its rows; each
//! configured channel is a [`SqliteChannel`] view on it. Puts that arrive while
//! another put is being written are combined into the next transaction (group
//! commit), so many small puts cost one fsync-free WAL append, not one each.

mod admin;
pub mod flow;
mod index;
pub mod schema;
mod write;

#[cfg(test)]
mod tests;

pub use admin::{
    inspect, inspect_with_rates, quarantine_drop, quarantine_list, quarantine_replay, Inspection, QuarantineEntry,
};

use super::policy::Capacity;
use super::signal::Signal;
use super::{Channel, Lease, Mark, PutError, Quarantined, Taken};
use crate::error::{Error, ErrorKind, Result};
use crate::event::Event;
use crate::metrics::ChannelMetrics;
use index::{ChannelIndex, LeasedRow};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The SQLite store of one agent (`<data_dir>/sluice.db`).
pub struct Store {
    state: Mutex<State>,
    pending: Mutex<Vec<PendingPut>>,
    dir: PathBuf,
    set_aside: Option<PathBuf>,
}

struct State {
    conn: Connection,
    channels: Vec<ChannelIndex>,
}

type Slot = Arc<Mutex<Option<Result<()>>>>;

/// A put waiting for the group commit. Its events stay with the putting thread:
/// they were encoded before the lock, and are freed (or handed back) after it.
struct PendingPut {
    channel: usize,
    rows: Vec<write::EncodedRow>,
    marks: Vec<Mark>,
    slot: Slot,
}

impl Store {
    /// Opens or creates the store in `dir` (0700), recovering after a crash.
    ///
    /// `power_safe` turns on `synchronous = FULL` (`durability = "power"`).
    ///
    /// # Errors
    /// The directory or file cannot be created or opened. A corrupt file is not an
    /// error: it is set aside (see [`Store::set_aside`]) and a fresh store opened.
    pub fn open(dir: &Path, power_safe: bool) -> Result<Arc<Store>> {
        Store::open_with_page_size(dir, power_safe, schema::GATEWAY_PAGE_SIZE)
    }

    /// As [`Store::open`], creating a new file with `page_size`-byte pages
    /// (a power of two from 512 to 65536; an existing file keeps its own).
    ///
    /// # Errors
    /// As [`Store::open`].
    pub fn open_with_page_size(dir: &Path, power_safe: bool, page_size: u32) -> Result<Arc<Store>> {
        let (conn, set_aside) = schema::open(dir, power_safe, page_size)?;
        let state = State { conn, channels: Vec::new() };
        Ok(Arc::new(Store {
            state: Mutex::new(state),
            pending: Mutex::new(Vec::new()),
            dir: dir.to_path_buf(),
            set_aside,
        }))
    }

    /// Where a corrupt store found at open was moved to, if one was.
    pub fn set_aside(&self) -> Option<&Path> {
        self.set_aside.as_deref()
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A channel named `name` in this store, with the events a previous run left.
    ///
    /// # Errors
    /// Reading the existing rows fails, or the name is already open.
    pub fn channel(self: &Arc<Self>, name: &str, capacity: Capacity) -> Result<SqliteChannel> {
        let mut state = self.lock();
        if state.channels.iter().any(|c| c.name == name) {
            return Err(Error::config(format!("channel {name:?} is opened twice")));
        }
        let index = ChannelIndex::load(&state.conn, name, capacity)?;
        flow::save_capacity(&state.conn, name, capacity.max_events, capacity.max_bytes)?;
        let metrics = index.metrics.clone();
        let (data, space) = (index.data.clone(), index.space.clone());
        state.channels.push(index);
        let slot = state.channels.len() - 1;
        Ok(SqliteChannel { store: self.clone(), slot, name: name.to_string(), capacity, metrics, data, space })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts through the group-commit queue: whoever holds the lock writes everyone's puts.
    /// Encoding (postcard, LZ4) happens before, on the putting thread, so puts and
    /// takes of other threads do not wait for it. The events come back on success,
    /// for the caller to free where it chooses.
    fn put(&self, channel: usize, events: Vec<Event>, marks: Vec<Mark>) -> Result<Vec<Event>, PutError> {
        let rows = match write::encode_rows(&events) {
            Ok(rows) => rows,
            Err(e) => return Err(PutError::new(e, events)),
        };
        let slot: Slot = Arc::new(Mutex::new(None));
        let put = PendingPut { channel, rows, marks, slot: slot.clone() };
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).push(put);
        let mut state = self.lock();
        let mut done = Vec::new();
        if slot.lock().unwrap_or_else(|p| p.into_inner()).is_none() {
            let group = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
            done = write::put_group(&mut state, group);
        }
        drop(state);
        // The written rows (everyone's in the group) are freed outside the lock.
        drop(done);
        let result = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
        match result.unwrap_or_else(|| Err(Error::storage("put lost its result"))) {
            Ok(()) => Ok(events),
            Err(e) => Err(PutError::new(e, events)),
        }
    }

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
        let state = self.lock();
        let tx = state.conn.unchecked_transaction()?;
        write::write_marks(&tx, marks)?;
        tx.commit()?;
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
        let state = self.lock();
        state.conn.execute(
            "INSERT INTO sink_state (sink, attempts, next_attempt_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (sink) DO UPDATE SET attempts = ?2, next_attempt_ms = ?3",
            rusqlite::params![name, attempts, next_attempt_ms],
        )?;
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
        let state = self.lock();
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
        let state = self.lock();
        for l in losses {
            state.conn.execute(
                "UPDATE losses SET reported = ?1 WHERE channel = ?2 AND reason = ?3 AND priority = ?4",
                rusqlite::params![l.total, channel, l.reason, l.priority as u8],
            )?;
        }
        Ok(())
    }

    fn release(&self, channel: usize, rows: &[LeasedRow]) {
        let mut state = self.lock();
        if let Some(index) = state.channels.get_mut(channel) {
            index.unlease(rows);
            index.data.notify();
        }
    }
}

/// The leased rows (or parts of rows) holding the first `n` of `events`.
fn prefix_rows(rows: &[LeasedRow], events: &[Event], n: usize) -> Vec<LeasedRow> {
    let mut out = Vec::new();
    let mut offset = 0usize;
    for row in rows {
        let left = n.saturating_sub(offset);
        if left == 0 {
            break;
        }
        let take = (row.taken as usize).min(left);
        let bytes = if take == row.taken as usize {
            row.bytes
        } else {
            events.get(offset..offset + take).map_or(0, |part| part.iter().map(|e| e.size() as u64).sum())
        };
        out.push(LeasedRow { taken: take as u32, bytes, ..*row });
        offset += row.taken as usize;
    }
    out
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

/// One channel of a [`Store`]; cheap to clone.
#[derive(Clone)]
pub struct SqliteChannel {
    store: Arc<Store>,
    slot: usize,
    name: String,
    capacity: Capacity,
    metrics: Arc<ChannelMetrics>,
    data: Arc<Signal>,
    space: Arc<Signal>,
}

struct SqliteLease {
    store: Arc<Store>,
    channel: usize,
    rows: Vec<LeasedRow>,
}

impl Lease for SqliteLease {
    fn release(self: Box<Self>) {
        self.store.release(self.channel, &self.rows);
    }
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}

impl SqliteChannel {
    /// The store this channel lives in.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Puts `events` and writes `marks` in the same transaction, waiting for room
    /// under `on_full = "block"`; hands the events back on success.
    fn put_with_marks(&self, mut events: Vec<Event>, marks: &[Mark]) -> Result<Vec<Event>, PutError> {
        if events.is_empty() {
            return match self.store.save_marks(marks) {
                Ok(()) => Ok(events),
                Err(e) => Err(PutError::new(e, events)),
            };
        }
        let deadline = Instant::now() + self.capacity.block_timeout;
        loop {
            let seen = self.space.generation();
            match self.store.put(self.slot, events, marks.to_vec()) {
                Ok(events) => return Ok(events),
                Err(refused) if refused.is_full() && self.capacity.on_full == super::OnFull::Block => {
                    let now = Instant::now();
                    if now >= deadline {
                        self.metrics.refused_full.add(refused.events.len() as u64);
                        return Err(refused);
                    }
                    events = refused.events;
                    self.space.wait_past(seen, (deadline - now).min(Duration::from_millis(250)));
                }
                Err(refused) => {
                    if refused.is_full() {
                        self.metrics.refused_full.add(refused.events.len() as u64);
                    }
                    return Err(refused);
                }
            }
        }
    }
}

impl Channel for SqliteChannel {
    fn name(&self) -> &str {
        &self.name
    }

    fn put(&self, events: Vec<Event>) -> Result<(), PutError> {
        self.put_with_marks(events, &[]).map(|_| ())
    }

    fn put_returning(&self, events: Vec<Event>) -> Result<Vec<Event>, PutError> {
        self.put_with_marks(events, &[])
    }

    fn put_marked(&self, events: Vec<Event>, marks: &[Mark]) -> Result<bool, PutError> {
        self.put_with_marks(events, marks).map(|_| true)
    }

    fn take(&self, max_events: usize, max_bytes: usize) -> Result<Option<Taken>> {
        let mut state = self.store.lock();
        let State { conn, channels } = &mut *state;
        let index = channels.get_mut(self.slot).ok_or_else(|| Error::new(ErrorKind::Closed, "channel is gone"))?;
        index.expire(conn)?;
        let (events, rows) = index.take(conn, max_events.max(1), max_bytes.max(1))?;
        if events.is_empty() {
            return Ok(None);
        }
        let lease = SqliteLease { store: self.store.clone(), channel: self.slot, rows };
        Ok(Some(Taken { events, lease: Some(Box::new(lease)) }))
    }

    fn commit_prefix(&self, mut taken: Taken, n: usize, quarantine: Vec<Quarantined>) -> Result<()> {
        let lease = taken.lease.take().ok_or_else(|| Error::storage("batch was already committed"))?;
        let lease =
            lease.into_any().downcast::<SqliteLease>().map_err(|_| Error::storage("batch is from another channel"))?;
        if lease.channel != self.slot || !Arc::ptr_eq(&lease.store, &self.store) {
            lease.release();
            return Err(Error::storage("batch is from another channel"));
        }
        let mut state = self.store.lock();
        let State { conn, channels } = &mut *state;
        let index = channels.get_mut(self.slot).ok_or_else(|| Error::new(ErrorKind::Closed, "channel is gone"))?;
        let prefix = prefix_rows(&lease.rows, &taken.events, n);
        let result = write::commit(conn, index, &prefix, &quarantine);
        index.unlease(&lease.rows);
        index.data.notify();
        result
    }

    fn wait_for_events(&self, timeout: Duration) -> bool {
        let seen = self.data.generation();
        if self.store.lock().channels.get(self.slot).is_some_and(|c| c.has_available()) {
            return true;
        }
        self.data.wait_past(seen, timeout);
        self.store.lock().channels.get(self.slot).is_some_and(|c| c.has_available())
    }

    fn wake(&self) {
        self.data.notify();
    }

    fn metrics(&self) -> &Arc<ChannelMetrics> {
        &self.metrics
    }
}
