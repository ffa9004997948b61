//! One channel of a [`Store`]: puts wait or refuse by the admission policy,
//! takes lease rows, commits delete them; a damaged store is salvaged and the
//! operation tried once more.

use super::index::LeasedRow;
use super::{commit, Store};
use crate::channel::policy::{Capacity, OnFull, Wait};
use crate::channel::signal::Signal;
use crate::channel::{Channel, Lease, Mark, PutError, Quarantined, Taken};
use crate::error::{Error, ErrorKind, Result};
use crate::event::Event;
use crate::metrics::ChannelMetrics;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest sleep of a put waiting for space: it looks again this often whether
/// its caller gave up, and at the disk (other programs free space without a signal).
const WAIT_SLICE: Duration = Duration::from_millis(50);

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
    /// The channel's purge count when the batch was taken.
    purges: u64,
}

impl Lease for SqliteLease {
    fn release(self: Box<Self>) {
        self.store.release(self.channel, &self.rows, self.purges);
    }
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}

impl SqliteChannel {
    pub(super) fn new(
        store: Arc<Store>,
        slot: usize,
        name: String,
        capacity: Capacity,
        metrics: Arc<ChannelMetrics>,
        data: Arc<Signal>,
        space: Arc<Signal>,
    ) -> SqliteChannel {
        SqliteChannel { store, slot, name, capacity, metrics, data, space }
    }

    /// The store this channel lives in.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Puts `events` and writes `marks` in the same transaction, waiting for room
    /// under `on_full = "block"` as long as `wait` allows; hands the events back on success.
    fn put_with_marks(&self, mut events: Vec<Event>, marks: &[Mark], wait: &Wait) -> Result<Vec<Event>, PutError> {
        if events.is_empty() {
            return match self.store.save_marks(marks) {
                Ok(()) => Ok(events),
                Err(e) => Err(PutError::new(e, events)),
            };
        }
        loop {
            let seen = self.space.generation();
            let may_wait = self.capacity.on_full == OnFull::Block && wait.may_wait(&self.capacity, Instant::now());
            match self.store.put(self.slot, events, marks, may_wait) {
                Ok(events) => return Ok(events),
                // The admission said wait: sleep until space is freed, the deadline, or a slice.
                Err(refused) if refused.is_full() && may_wait => {
                    events = refused.events;
                    let left = wait.deadline(&self.capacity).saturating_duration_since(Instant::now());
                    self.space.wait_past(seen, left.min(WAIT_SLICE));
                }
                Err(refused) => {
                    if refused.is_full() {
                        self.metrics.refused_full.add(refused.events.len() as u64);
                        if refused.error.kind() == ErrorKind::DiskFull {
                            self.metrics.refused_disk_full.add(refused.events.len() as u64);
                        }
                    }
                    return Err(refused);
                }
            }
        }
    }

    /// Takes once; errors other than damage come back as they are.
    fn take_once(&self, max_events: usize, max_bytes: usize) -> Result<Option<Taken>> {
        let mut state = self.store.lock();
        let super::State { conn, channels, space, .. } = &mut *state;
        let index = channels.get_mut(self.slot).ok_or_else(|| Error::new(ErrorKind::Closed, "channel is gone"))?;
        if let Err(e) = index.expire(conn, space) {
            // Expiry frees space; failing it must not stop delivery.
            log::warn!("channel {}: expiry failed: {e}", self.name);
        }
        let (events, rows) = index.take(conn, space, max_events.max(1), max_bytes.max(1))?;
        if events.is_empty() {
            return Ok(None);
        }
        let lease = SqliteLease { store: self.store.clone(), channel: self.slot, rows, purges: index.purges };
        Ok(Some(Taken { events, lease: Some(Box::new(lease)) }))
    }

    /// Commits once; the lease's rows are unleased whatever happens.
    fn commit_once(&self, lease: &SqliteLease, events: &[Event], n: usize, quarantine: &[Quarantined]) -> Result<()> {
        let mut state = self.store.lock();
        let super::State { conn, channels, space, .. } = &mut *state;
        let index = channels.get_mut(self.slot).ok_or_else(|| Error::new(ErrorKind::Closed, "channel is gone"))?;
        let prefix = prefix_rows(&lease.rows, events, n);
        let result = commit::commit(conn, space, index, &prefix, quarantine);
        index.unlease(&lease.rows);
        index.data.notify();
        if index.purges != lease.purges {
            // Purged while it was out: what was not delivered goes, it does not come back.
            // Under the same lock, so no new row can have taken a deleted row's number.
            let seqs: Vec<i64> = lease.rows.iter().map(|r| r.seq).collect();
            if let Err(e) = super::evict::purge_rows(&mut state, self.slot, &seqs) {
                log::warn!("channel {}: purging the rest of a batch taken before a purge failed: {e}", self.name);
            }
        }
        result
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

impl Channel for SqliteChannel {
    fn name(&self) -> &str {
        &self.name
    }

    fn put_waiting(&self, events: Vec<Event>, marks: &[Mark], wait: &Wait) -> Result<bool, PutError> {
        self.put_with_marks(events, marks, wait).map(|_| true)
    }

    fn put_returning(&self, events: Vec<Event>) -> Result<Vec<Event>, PutError> {
        self.put_with_marks(events, &[], &Wait::now())
    }

    fn take(&self, max_events: usize, max_bytes: usize) -> Result<Option<Taken>> {
        match self.take_once(max_events, max_bytes) {
            // A row that cannot be read: salvage the store, then take from the copy.
            Err(e) if e.kind() == ErrorKind::Corrupt && self.store.recover_now(&e) => {
                self.take_once(max_events, max_bytes)
            }
            other => other,
        }
    }

    fn commit_prefix(&self, mut taken: Taken, n: usize, quarantine: Vec<Quarantined>) -> Result<()> {
        let lease = taken.lease.take().ok_or_else(|| Error::storage("batch was already committed"))?;
        let lease =
            lease.into_any().downcast::<SqliteLease>().map_err(|_| Error::storage("batch is from another channel"))?;
        if lease.channel != self.slot || !Arc::ptr_eq(&lease.store, &self.store) {
            lease.release();
            return Err(Error::storage("batch is from another channel"));
        }
        match self.commit_once(&lease, &taken.events, n, &quarantine) {
            Err(e) if e.kind() == ErrorKind::Corrupt && self.store.recover_now(&e) => {
                self.commit_once(&lease, &taken.events, n, &quarantine)
            }
            other => other,
        }
    }

    fn purge(&self) -> Result<u64> {
        let mut state = self.store.lock();
        super::evict::purge(&mut state, self.slot)
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
