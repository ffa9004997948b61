//! The in-memory index of one channel's rows: order, sizes and leases.
//!
//! Event data stays on disk; the index holds a few numbers per row (one row per
//! put batch), so a million buffered events cost kilobytes of memory, not megabytes.

use super::super::policy::{Capacity, Usage};
use super::super::signal::Signal;
use super::space::Space;
use crate::channel::codec;
use crate::error::Result;
use crate::event::{Event, Priority};
use crate::metrics::ChannelMetrics;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What the index knows of one stored row.
#[derive(Debug, Clone, Copy)]
pub(super) struct RowMeta {
    pub n: u32,
    pub skip: u32,
    pub bytes: u64,
    /// Bytes of the row's encoded data on disk (what deleting it frees, less page overhead).
    pub stored: u64,
    pub created_ms: u64,
    pub leased: bool,
}

/// A row (or its first `taken` remaining events) held by a take.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LeasedRow {
    pub priority: Priority,
    pub seq: i64,
    pub taken: u32,
    pub bytes: u64,
}

/// A take being assembled.
struct TakeBatch {
    events: Vec<Event>,
    leased: Vec<LeasedRow>,
    bytes: usize,
}

/// How often `max_age` is checked at most.
const EXPIRY_CHECK_MS: u64 = 1000;

pub(super) struct ChannelIndex {
    pub name: String,
    pub capacity: Capacity,
    /// Rows per priority (lowest first), by sequence number.
    pub rows: [BTreeMap<i64, RowMeta>; 3],
    pub usage: Usage,
    pub metrics: Arc<ChannelMetrics>,
    /// Notified when events become available.
    pub data: Arc<Signal>,
    /// Notified when space is freed.
    pub space: Arc<Signal>,
    last_expiry_ms: u64,
    /// How many purges this channel has had: a batch taken before the latest
    /// one is deleted, not made available again, when its sink gives it back.
    pub purges: u64,
    /// Flow totals waiting to be written.
    pub flow: super::flow::Unwritten,
}

impl ChannelIndex {
    /// Loads the rows a previous run left; leases are not persisted, so after a
    /// crash every row is available again (the crash rolled back every take).
    pub fn load(conn: &Connection, name: &str, capacity: Capacity) -> Result<ChannelIndex> {
        let mut index = ChannelIndex {
            name: name.to_string(),
            capacity,
            rows: Default::default(),
            usage: Usage::default(),
            metrics: Arc::new(ChannelMetrics::default()),
            data: Arc::new(Signal::default()),
            space: Arc::new(Signal::default()),
            last_expiry_ms: 0,
            purges: 0,
            flow: Default::default(),
        };
        // length() of a blob reads its size from the row's header, not its overflow pages.
        let mut stmt = conn
            .prepare("SELECT seq, priority, n, skip, bytes, created_ms, length(data) FROM rows WHERE channel = ?1")?;
        let rows = stmt.query_map([name], |r| {
            let meta = RowMeta {
                n: r.get(2)?,
                skip: r.get(3)?,
                bytes: r.get(4)?,
                created_ms: r.get(5)?,
                stored: r.get(6)?,
                leased: false,
            };
            Ok((r.get::<_, i64>(0)?, Priority::from_u8(r.get(1)?), meta))
        })?;
        for row in rows {
            let (seq, priority, meta) = row?;
            index.insert(priority, seq, meta);
        }
        index.metrics.capacity.set(capacity.max_events);
        index.metrics.capacity_bytes.set(capacity.max_bytes);
        index.publish();
        Ok(index)
    }

    pub fn insert(&mut self, priority: Priority, seq: i64, meta: RowMeta) {
        self.usage.add(priority, u64::from(meta.n - meta.skip), meta.bytes);
        self.rows[priority as usize].insert(seq, meta);
    }

    /// Updates the size gauges.
    pub fn publish(&self) {
        self.metrics.size.set(self.usage.total_events());
        self.metrics.bytes.set(self.usage.total_bytes());
    }

    pub fn has_available(&self) -> bool {
        self.rows.iter().any(|rows| rows.values().any(|m| !m.leased))
    }

    /// Removes `events` from the front of a row (the whole row when none remain).
    pub fn consume(&mut self, priority: Priority, seq: i64, events: u32, bytes: u64) {
        let rows = &mut self.rows[priority as usize];
        let Some(meta) = rows.get_mut(&seq) else { return };
        meta.skip += events;
        meta.bytes = meta.bytes.saturating_sub(bytes);
        meta.leased = false;
        if meta.skip >= meta.n {
            rows.remove(&seq);
        }
        self.usage.sub(priority, u64::from(events), bytes);
    }

    /// Forgets a row the store lost (damaged beyond reading); returns its remaining events and bytes.
    pub fn forget(&mut self, priority: Priority, seq: i64) -> Option<(u64, u64)> {
        let meta = self.rows[priority as usize].remove(&seq)?;
        let n = u64::from(meta.n - meta.skip);
        self.usage.sub(priority, n, meta.bytes);
        Some((n, meta.bytes))
    }

    pub fn unlease(&mut self, leased: &[LeasedRow]) {
        for l in leased {
            if let Some(meta) = self.rows[l.priority as usize].get_mut(&l.seq) {
                meta.leased = false;
            }
        }
    }

    /// Leases up to `max_events` (about `max_bytes`) of the oldest available events,
    /// higher priorities first. Rows that fail to decode are quarantined on the way.
    pub fn take(
        &mut self,
        conn: &Connection,
        space: &mut Space,
        max_events: usize,
        max_bytes: usize,
    ) -> Result<(Vec<Event>, Vec<LeasedRow>)> {
        let mut batch = TakeBatch { events: Vec::new(), leased: Vec::new(), bytes: 0 };
        let result = self.fill(conn, space, &mut batch, max_events, max_bytes);
        if let Err(e) = result {
            // Rows leased before the failure must not stay leased for the rest of the run.
            self.unlease(&batch.leased);
            return Err(e);
        }
        Ok((batch.events, batch.leased))
    }

    fn fill(
        &mut self,
        conn: &Connection,
        space: &mut Space,
        batch: &mut TakeBatch,
        max_events: usize,
        max_bytes: usize,
    ) -> Result<()> {
        for priority in Priority::ALL.into_iter().rev() {
            // Only as many rows as could fill the batch, not the whole backlog.
            let mut wanted = max_events.saturating_sub(batch.events.len());
            let candidates: Vec<(i64, RowMeta)> = self.rows[priority as usize]
                .iter()
                .filter(|(_, m)| !m.leased)
                .take_while(|(_, m)| {
                    let more = wanted > 0;
                    wanted = wanted.saturating_sub((m.n - m.skip) as usize);
                    more
                })
                .map(|(s, m)| (*s, *m))
                .collect();
            for (seq, meta) in candidates {
                if batch.events.len() >= max_events || batch.bytes >= max_bytes {
                    return Ok(());
                }
                let Some(mut stored) = read_row(conn, space, self, priority, seq, meta)? else { continue };
                let remaining = stored.len().saturating_sub(meta.skip as usize);
                let (mut taken, mut taken_bytes) = (0u32, 0u64);
                for event in stored.drain(meta.skip as usize..) {
                    let size = event.size();
                    if batch.events.len() >= max_events || (!batch.events.is_empty() && batch.bytes + size > max_bytes)
                    {
                        break;
                    }
                    batch.bytes += size;
                    taken += 1;
                    taken_bytes += size as u64;
                    batch.events.push(event);
                }
                if taken > 0 {
                    if let Some(m) = self.rows[priority as usize].get_mut(&seq) {
                        m.leased = true;
                    }
                    batch.leased.push(LeasedRow { priority, seq, taken, bytes: taken_bytes });
                }
                if (taken as usize) < remaining {
                    // The rest of this row comes first next time: later rows must wait (FIFO).
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Expires rows older than `max_age` (not leased), at most once a second.
    pub fn expire(&mut self, conn: &Connection, space: &mut Space) -> Result<()> {
        let Some(max_age) = self.capacity.max_age else { return Ok(()) };
        let now = crate::event::now_ms();
        if now < self.last_expiry_ms + EXPIRY_CHECK_MS {
            return Ok(());
        }
        self.last_expiry_ms = now;
        let cutoff = now.saturating_sub(max_age.as_millis() as u64);
        let victims: Vec<(Priority, i64, RowMeta)> = Priority::ALL
            .into_iter()
            .flat_map(|p| self.rows[p as usize].iter().map(move |(s, m)| (p, *s, *m)))
            .filter(|(_, _, m)| !m.leased && m.created_ms < cutoff)
            .collect();
        if victims.is_empty() {
            return Ok(());
        }
        let name = self.name.clone();
        super::freeing(conn, space, |conn| {
            let tx = conn.unchecked_transaction()?;
            for (priority, seq, meta) in &victims {
                tx.execute("DELETE FROM rows WHERE seq = ?1", [seq])?;
                let n = u64::from(meta.n - meta.skip);
                super::write::record_loss(&tx, &name, "expired", *priority, n, meta.bytes)?;
            }
            Ok(tx.commit()?)
        })?;
        for (priority, seq, meta) in victims {
            self.rows[priority as usize].remove(&seq);
            let n = u64::from(meta.n - meta.skip);
            self.usage.sub(priority, n, meta.bytes);
            self.metrics.expired.add(n);
            log::warn!("channel {}: expired {n} events older than max_age", self.name);
        }
        self.publish();
        self.space.notify();
        Ok(())
    }
}

/// Reads and decodes one row; a row that does not decode is moved to quarantine.
///
/// # Errors
/// SQLite errors; [`crate::ErrorKind::Corrupt`] when the row cannot be read
/// (the store then salvages itself: see `salvage`).
pub(super) fn read_row(
    conn: &Connection,
    space: &mut Space,
    index: &mut ChannelIndex,
    priority: Priority,
    seq: i64,
    meta: RowMeta,
) -> Result<Option<Vec<Event>>> {
    let data: Option<Vec<u8>> =
        conn.prepare_cached("SELECT data FROM rows WHERE seq = ?1")?.query_row([seq], |r| r.get(0)).optional()?;
    let Some(data) = data else {
        index.rows[priority as usize].remove(&seq);
        index.usage.sub(priority, u64::from(meta.n - meta.skip), meta.bytes);
        index.publish();
        return Ok(None);
    };
    match codec::decode(&data) {
        Ok(events) if events.len() == meta.n as usize => Ok(Some(events)),
        Ok(events) => quarantine_corrupt(
            conn,
            space,
            index,
            priority,
            seq,
            meta,
            &data,
            &format!("corrupt row: {} events, index says {}", events.len(), meta.n),
        ),
        Err(e) => quarantine_corrupt(conn, space, index, priority, seq, meta, &data, e.message()),
    }
}

#[allow(clippy::too_many_arguments)]
fn quarantine_corrupt(
    conn: &Connection,
    space: &mut Space,
    index: &mut ChannelIndex,
    priority: Priority,
    seq: i64,
    meta: RowMeta,
    data: &[u8],
    reason: &str,
) -> Result<Option<Vec<Event>>> {
    log::error!("channel {}: row {seq} is corrupt ({reason}); moved to quarantine", index.name);
    let n = u64::from(meta.n - meta.skip);
    super::freeing(conn, space, |conn| {
        let tx = conn.unchecked_transaction()?;
        tx.execute(
            "INSERT INTO quarantine (channel, sink, reason, at_ms, n, data) VALUES (?1, '', ?2, ?3, ?4, ?5)",
            params![index.name, reason, crate::event::now_ms(), n, data],
        )?;
        tx.execute("DELETE FROM rows WHERE seq = ?1", [seq])?;
        super::write::record_loss(&tx, &index.name, "corrupt", priority, n, meta.bytes)?;
        Ok(tx.commit()?)
    })?;
    index.rows[priority as usize].remove(&seq);
    index.usage.sub(priority, n, meta.bytes);
    index.metrics.corrupt.add(n);
    index.publish();
    Ok(None)
}
