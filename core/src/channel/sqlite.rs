//! The durable channel: one SQLite file per agent, rows holding whole put batches.
//!
//! A [`Store`] owns the connection and an in-memory index of its rows; each
//! configured channel is a [`SqliteChannel`] view on it. Puts that arrive while
//! another put is being written are combined into the next transaction (group
//! commit), so many small puts cost one fsync-free WAL append, not one each.
//!
//! The store survives its own limits: it manages its disk space so that a full
//! disk refuses puts but never deletes ([`space`]), and it contains damage by
//! copying what is readable into a fresh file, at open and at run time
//! ([`salvage`]).

mod admin;
mod channel;
mod commit;
mod evict;
pub mod flow;
mod index;
mod recover;
pub mod salvage;
pub mod schema;
mod seen;
pub mod space;
mod state;
pub mod wal;
mod write;

#[cfg(test)]
mod tests;

pub use admin::{
    inspect, inspect_with_rates, quarantine_drop, quarantine_list, quarantine_replay, Inspection, QuarantineEntry,
};
pub use channel::SqliteChannel;
pub use state::UnreportedLoss;

use super::policy::Capacity;
use super::Mark;
use super::PutError;
use crate::error::{Error, ErrorKind, Result};
use crate::event::Event;
use index::{ChannelIndex, LeasedRow};
use rusqlite::Connection;
use space::Space;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// The SQLite store of one agent (`<data_dir>/sluice.db`).
pub struct Store {
    state: Mutex<State>,
    pending: Mutex<Vec<PendingPut>>,
    dir: PathBuf,
    power_safe: bool,
    page_size: u32,
    /// Damaged stores set aside by this run, the one found at open first.
    set_aside: Mutex<Vec<PathBuf>>,
    /// What the salvage at open found lost, by channel (for the channels' metrics).
    lost_at_open: Vec<salvage::LostRow>,
}

struct State {
    conn: Connection,
    channels: Vec<ChannelIndex>,
    space: Space,
    /// When the store last salvaged itself at run time (at most once a minute).
    recovered_at: Option<Instant>,
}

impl State {
    /// After a write outside the put and commit paths (source and sink state,
    /// counters): the same space upkeep, so that it is not what leaves the WAL
    /// behind when the agent goes quiet.
    fn wrote(&mut self) {
        self.space.after_write(&self.conn);
    }
}

type Slot = Arc<Mutex<Option<Result<()>>>>;

/// A put waiting for the group commit. Its events stay with the putting thread:
/// they were encoded before the lock, and are freed (or handed back) after it.
struct PendingPut {
    channel: usize,
    rows: Vec<write::EncodedRow>,
    marks: Vec<Mark>,
    /// Whether the put may wait for space (`block`), rather than be refused.
    may_wait: bool,
    slot: Slot,
}

impl Store {
    /// Opens or creates the store in `dir` (0700), recovering after a crash.
    ///
    /// `power_safe` turns on `synchronous = FULL` (`durability = "power"`);
    /// without it nothing is fsynced (`synchronous = OFF`, see `schema`).
    ///
    /// # Errors
    /// The directory or file cannot be created or opened, or the directory is
    /// not safe (another user's, or not a directory). A damaged file is not an
    /// error: it is set aside (see [`Store::set_aside`]), a fresh store opened,
    /// and what was readable copied into it.
    pub fn open(dir: &Path, power_safe: bool) -> Result<Arc<Store>> {
        Store::open_with_page_size(dir, power_safe, schema::GATEWAY_PAGE_SIZE)
    }

    /// As [`Store::open`], creating a new file with `page_size`-byte pages
    /// (a power of two from 512 to 65536; an existing file keeps its own).
    ///
    /// # Errors
    /// As [`Store::open`].
    pub fn open_with_page_size(dir: &Path, power_safe: bool, page_size: u32) -> Result<Arc<Store>> {
        schema::prepare_dir(dir)?;
        // Opening after a crash on a full disk needs room for the WAL index: the reserve gives it.
        if space::avail_bytes(dir).is_ok_and(|free| free < u64::from(page_size) * 64) {
            let _ = std::fs::remove_file(space::reserve_path(dir));
        }
        let opened = schema::open(dir, power_safe, page_size)?;
        for note in &opened.notes {
            if let Err(e) = salvage::note(&opened.conn, note) {
                log::error!("store {}: damage not recorded in the quarantine ({e}): {note}", dir.display());
            }
        }
        let actual_page_size: i64 = opened.conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
        let space = Space::open(dir, &opened.conn, actual_page_size.max(512) as u64, power_safe);
        let state = State { conn: opened.conn, channels: Vec::new(), space, recovered_at: None };
        Ok(Arc::new(Store {
            state: Mutex::new(state),
            pending: Mutex::new(Vec::new()),
            dir: dir.to_path_buf(),
            power_safe,
            page_size,
            set_aside: Mutex::new(opened.set_aside.into_iter().collect()),
            lost_at_open: opened.salvage.map(|r| r.lost).unwrap_or_default(),
        }))
    }

    /// Where a damaged store found at open was moved to, if one was.
    pub fn set_aside(&self) -> Option<PathBuf> {
        self.set_aside.lock().unwrap_or_else(|p| p.into_inner()).first().cloned()
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The disk plan in force (WAL size, reserve), for `check` and the log.
    pub fn space_plan(&self) -> space::Plan {
        *self.lock().space.plan()
    }

    /// Hands SQLite's page cache back to the allocator (`PRAGMA shrink_memory`):
    /// after a burst, once the agent went quiet. The next transaction reads
    /// the pages it needs again from the OS's cache.
    pub fn release_memory(&self) {
        if let Err(e) = self.lock().conn.execute_batch("PRAGMA shrink_memory") {
            log::debug!("store {}: shrink_memory: {e}", self.dir.display());
        }
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
        // A rate estimate only: a full disk must not keep the channel from opening.
        if let Err(e) = flow::save_capacity(&state.conn, name, capacity.max_events, capacity.max_bytes) {
            log::warn!("channel {name}: capacity not recorded for inspect: {e}");
        }
        let lost: u64 = self.lost_at_open.iter().filter(|l| l.channel == name).map(|l| l.events).sum();
        index.metrics.corrupt.add(lost);
        let metrics = index.metrics.clone();
        let (data, space) = (index.data.clone(), index.space.clone());
        state.channels.push(index);
        let slot = state.channels.len() - 1;
        Ok(SqliteChannel::new(self.clone(), slot, name.to_string(), capacity, metrics, data, space))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts through the group-commit queue: whoever holds the lock writes everyone's puts.
    /// Encoding (postcard, LZ4) happens before, on the putting thread, so puts and
    /// takes of other threads do not wait for it. The events come back on success,
    /// for the caller to free where it chooses.
    fn put(&self, channel: usize, events: Vec<Event>, marks: &[Mark], may_wait: bool) -> Result<Vec<Event>, PutError> {
        let mut result = self.put_once(channel, &events, marks, may_wait);
        if let Err(e) = &result {
            // A damaged store: salvage it, then try this put once more.
            if e.kind() == ErrorKind::Corrupt && self.recover_now(e) {
                result = self.put_once(channel, &events, marks, may_wait);
            }
        }
        match result {
            Ok(()) => Ok(events),
            Err(e) => Err(PutError::new(e, events)),
        }
    }

    /// One pass through the group commit.
    fn put_once(&self, channel: usize, events: &[Event], marks: &[Mark], may_wait: bool) -> Result<()> {
        let rows = write::encode_rows(events)?;
        let slot: Slot = Arc::new(Mutex::new(None));
        let put = PendingPut { channel, rows, marks: marks.to_vec(), may_wait, slot: slot.clone() };
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
        result.unwrap_or_else(|| Err(Error::storage("put lost its result")))
    }

    /// Salvages a damaged store now, unless it did within the last minute.
    /// Returns whether it did.
    fn recover_now(&self, cause: &Error) -> bool {
        let mut state = self.lock();
        self.recover(&mut state, cause)
    }

    /// Gives a taken batch back (rollback); one taken before a purge is deleted instead.
    fn release(&self, channel: usize, rows: &[LeasedRow], purges_at_take: u64) {
        let mut state = self.lock();
        let Some(index) = state.channels.get_mut(channel) else { return };
        index.unlease(rows);
        index.data.notify();
        if index.purges != purges_at_take {
            let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
            if let Err(e) = evict::purge_rows(&mut state, channel, &seqs) {
                log::warn!("channel: purging a batch taken before a purge failed: {e}");
            }
        }
    }
}

/// Runs a write that frees space (a delete, a commit, an eviction): if the
/// disk is full, the reserve is given back and the write tried once more. Under
/// disk pressure the WAL's space is handed back after it.
fn freeing<T>(conn: &Connection, space: &mut Space, mut write: impl FnMut(&Connection) -> Result<T>) -> Result<T> {
    let result = match write(conn) {
        Err(e) if e.kind() == ErrorKind::DiskFull => {
            space.release_reserve(conn);
            write(conn)
        }
        other => other,
    };
    if result.is_ok() {
        space.after_write(conn);
    }
    result
}
