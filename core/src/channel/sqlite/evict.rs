//! Eviction under `drop_oldest`: which rows make room for a put, by quota or by
//! disk, and removing them with their loss counted; and the purge, which
//! removes every row no sink holds.
//!
//! The oldest events of the put's priority or lower go first, lowest priority
//! first; `high` events and rows a sink holds are never evicted. A quota
//! shortfall is met event by event (part of a row may go); a disk shortfall only
//! by whole rows, as only deleting a row frees its pages.

use super::index::{read_row, ChannelIndex, RowMeta};
use super::space::Space;
use super::write::record_loss;
use super::State;
use crate::error::{Error, ErrorKind, Result};
use crate::event::Priority;
use rusqlite::{params, Connection};

/// A row (or its first `events`) to evict.
#[derive(Debug, Clone, Copy)]
pub(super) struct Eviction {
    priority: Priority,
    seq: i64,
    events: u32,
    bytes: u64,
}

/// The rows an eviction may take, oldest first by priority.
fn candidates(index: &ChannelIndex, ceiling: Priority) -> Vec<(Priority, i64, RowMeta)> {
    [Priority::Low, Priority::Normal]
        .into_iter()
        .filter(|p| *p <= ceiling)
        .flat_map(|p| index.rows[p as usize].iter().filter(|(_, m)| !m.leased).map(move |(s, m)| (p, *s, *m)))
        .collect()
}

/// Chooses the oldest events of priority ≤ `ceiling` (never `high`) to evict so that
/// `n` events of `bytes` fit the quota; `None` if evicting everything allowed is not enough.
pub(super) fn plan_quota(
    conn: &Connection,
    space: &mut Space,
    index: &mut ChannelIndex,
    ceiling: Priority,
    n: u64,
    bytes: u64,
) -> Result<Option<Vec<Eviction>>> {
    let cap = index.capacity;
    if n > cap.max_events || bytes > cap.max_bytes {
        return Ok(None);
    }
    let mut need_events = (index.usage.total_events() + n).saturating_sub(cap.max_events);
    let mut need_bytes = (index.usage.total_bytes() + bytes).saturating_sub(cap.max_bytes);
    let mut plan = Vec::new();
    for (priority, seq, meta) in candidates(index, ceiling) {
        if need_events == 0 && need_bytes == 0 {
            return Ok(Some(plan));
        }
        let remaining = u64::from(meta.n - meta.skip);
        if remaining <= need_events || meta.bytes <= need_bytes {
            need_events = need_events.saturating_sub(remaining);
            need_bytes = need_bytes.saturating_sub(meta.bytes);
            plan.push(Eviction { priority, seq, events: meta.n - meta.skip, bytes: meta.bytes });
            continue;
        }
        // Only part of this row has to go: count event by event.
        let Some(events) = read_row(conn, space, index, priority, seq, meta)? else { continue };
        let (mut k, mut freed) = (0u32, 0u64);
        for event in events.iter().skip(meta.skip as usize) {
            if need_events <= u64::from(k) && need_bytes <= freed {
                break;
            }
            k += 1;
            freed += event.size() as u64;
        }
        need_events = need_events.saturating_sub(u64::from(k));
        need_bytes = need_bytes.saturating_sub(freed);
        plan.push(Eviction { priority, seq, events: k, bytes: freed });
    }
    Ok((need_events == 0 && need_bytes == 0).then_some(plan))
}

/// Chooses whole rows of priority ≤ `ceiling` (never `high`), oldest first, whose
/// stored bytes add up to `short` bytes of disk; `None` if they do not.
pub(super) fn plan_disk(index: &ChannelIndex, ceiling: Priority, short: u64) -> Option<Vec<Eviction>> {
    let mut plan = Vec::new();
    let mut freed = 0u64;
    for (priority, seq, meta) in candidates(index, ceiling) {
        if freed >= short {
            break;
        }
        freed += meta.stored;
        plan.push(Eviction { priority, seq, events: meta.n - meta.skip, bytes: meta.bytes });
    }
    (freed >= short && !plan.is_empty()).then_some(plan)
}

/// Deletes (or shortens) one row inside a transaction and counts the loss.
pub(super) fn evict_row(tx: &Connection, index: &ChannelIndex, ev: &Eviction) -> Result<()> {
    let meta = index.rows[ev.priority as usize].get(&ev.seq).copied();
    match meta {
        Some(m) if m.n - m.skip > ev.events => {
            tx.prepare_cached("UPDATE rows SET skip = skip + ?1, bytes = bytes - ?2 WHERE seq = ?3")?
                .execute(params![ev.events, ev.bytes, ev.seq])?;
        }
        _ => {
            tx.prepare_cached("DELETE FROM rows WHERE seq = ?1")?.execute([ev.seq])?;
        }
    }
    record_loss(tx, &index.name, "evicted", ev.priority, u64::from(ev.events), ev.bytes)
}

/// Applies a committed eviction to the index and counts it.
pub(super) fn apply(index: &mut ChannelIndex, ev: &Eviction) {
    index.consume(ev.priority, ev.seq, ev.events, ev.bytes);
    index.metrics.evicted.add(u64::from(ev.events));
    log::warn!("channel {}: evicted {} {} events (drop_oldest)", index.name, ev.events, ev.priority.name());
}

/// Evicts `plan` from channel `slot` in a transaction of its own (a full disk:
/// the put follows once the freed pages can be reused).
pub(super) fn evict_alone(state: &mut State, slot: usize, plan: &[Eviction]) -> Result<()> {
    let State { conn, channels, space, .. } = &mut *state;
    let index = channels.get_mut(slot).ok_or_else(|| Error::new(ErrorKind::Closed, "channel is gone"))?;
    super::freeing(conn, space, |conn| {
        let tx = conn.unchecked_transaction()?;
        for ev in plan {
            evict_row(&tx, index, ev)?;
        }
        Ok(tx.commit()?)
    })?;
    for ev in plan {
        apply(index, ev);
    }
    index.publish();
    index.space.notify();
    Ok(())
}

/// Deletes every row of channel `slot` that no sink holds, of every priority,
/// in one transaction, counted as `purged` losses. Rows a sink holds now are
/// deleted when it gives them back (see [`ChannelIndex::purges`]). Returns the
/// events removed now.
pub(super) fn purge(state: &mut State, slot: usize) -> Result<u64> {
    let purged = delete_where(state, slot, |_, meta| !meta.leased)?;
    if let Some(index) = state.channels.get_mut(slot) {
        index.purges += 1;
        log::info!("channel {}: purged {purged} events", index.name);
    }
    Ok(purged)
}

/// Deletes what is left of rows `seqs` (a batch taken before a purge and given
/// back, or committed only in part), counted as `purged` losses.
pub(super) fn purge_rows(state: &mut State, slot: usize, seqs: &[i64]) -> Result<u64> {
    delete_where(state, slot, |seq, _| seqs.contains(&seq))
}

fn delete_where(state: &mut State, slot: usize, doomed: impl Fn(i64, &RowMeta) -> bool) -> Result<u64> {
    let State { conn, channels, space, .. } = &mut *state;
    let index = channels.get_mut(slot).ok_or_else(|| Error::new(ErrorKind::Closed, "channel is gone"))?;
    let rows: Vec<(Priority, i64, u64, u64)> = Priority::ALL
        .into_iter()
        .flat_map(|p| {
            index.rows[p as usize]
                .iter()
                .filter(|(seq, m)| doomed(**seq, m))
                .map(move |(seq, m)| (p, *seq, u64::from(m.n - m.skip), m.bytes))
        })
        .collect();
    if rows.is_empty() {
        return Ok(0);
    }
    super::freeing(conn, space, |conn| {
        let tx = conn.unchecked_transaction()?;
        for (_, seq, _, _) in &rows {
            tx.prepare_cached("DELETE FROM rows WHERE seq = ?1")?.execute([seq])?;
        }
        for priority in Priority::ALL {
            let (n, bytes) = rows.iter().filter(|r| r.0 == priority).fold((0, 0), |(n, b), r| (n + r.2, b + r.3));
            if n > 0 {
                record_loss(&tx, &index.name, "purged", priority, n, bytes)?;
            }
        }
        Ok(tx.commit()?)
    })?;
    let mut purged = 0;
    for (priority, seq, _, _) in &rows {
        purged += index.forget(*priority, *seq).map_or(0, |(n, _)| n);
    }
    index.publish();
    index.space.notify();
    Ok(purged)
}
