//! The write paths: group-committed puts, eviction under `drop_oldest`, commits.
//!
//! Every path changes the in-memory index only after SQLite committed, so a
//! failed transaction (disk full, I/O error) leaves index and file in agreement.

use super::flow::Staged;
use super::index::{read_row, ChannelIndex, LeasedRow, RowMeta};
use super::{PendingPut, State};
use crate::channel::policy::{OnFull, Usage};
use crate::channel::{codec, Mark, Quarantined};
use crate::error::{Error, ErrorKind, Result};
use crate::event::{now_ms, Event, Priority};
use rusqlite::{params, Connection, Transaction};
use std::collections::BTreeMap;

/// A row inserted by a transaction, applied to the index after commit.
struct NewRow {
    channel: usize,
    priority: Priority,
    seq: i64,
    meta: RowMeta,
}

/// A row shortened or deleted by eviction, applied after commit.
struct Eviction {
    priority: Priority,
    seq: i64,
    events: u32,
    bytes: u64,
}

/// One stored row of a put (its events of one priority), encoded before the lock.
pub(super) struct EncodedRow {
    priority: Priority,
    n: u32,
    bytes: u64,
    data: Vec<u8>,
}

/// Encodes `events` into one row per priority present, keeping their order.
pub(super) fn encode_rows(events: &[Event]) -> Result<Vec<EncodedRow>> {
    let mut rows = Vec::new();
    for priority in Priority::ALL.into_iter().rev() {
        let group: Vec<&Event> = events.iter().filter(|e| e.priority == priority).collect();
        if group.is_empty() {
            continue;
        }
        let bytes: u64 = group.iter().map(|e| e.size() as u64).sum();
        let data = if group.len() == events.len() { codec::encode(events)? } else { codec::encode(&group)? };
        rows.push(EncodedRow { priority, n: group.len() as u32, bytes, data });
    }
    Ok(rows)
}

/// Writes a group of puts: those that fit in one transaction, the others one by one
/// under their channel's `on_full` policy. Returns the puts, for the caller to
/// free after it released the lock.
pub(super) fn put_group(state: &mut State, group: Vec<PendingPut>) -> Vec<PendingPut> {
    let mut usage: Vec<Usage> = state.channels.iter().map(|c| c.usage).collect();
    let (mut fitting, mut alone, mut done) = (Vec::new(), Vec::new(), Vec::new());
    for put in group {
        let Some(index) = state.channels.get(put.channel) else {
            reply(&put, Err(Error::new(ErrorKind::Closed, "channel is gone")));
            done.push(put);
            continue;
        };
        let (n, bytes) = totals(&put.rows);
        if usage[put.channel].fits(&index.capacity, n, bytes) {
            usage[put.channel].add(Priority::Normal, n, bytes);
            fitting.push(put);
        } else {
            alone.push(put);
        }
    }
    if !fitting.is_empty() {
        match insert_puts(&state.conn, &state.channels, &fitting) {
            Ok((rows, flows)) => {
                for (channel, flow) in flows {
                    if let Some(index) = state.channels.get_mut(channel) {
                        index.flow.committed(flow);
                    }
                }
                apply_new_rows(state, rows);
                fitting.iter().for_each(|p| reply(p, Ok(())));
            }
            // One transaction failed; retry each put alone so one cannot sink the others.
            Err(_) if fitting.len() > 1 => {
                let mut rest = std::mem::take(&mut fitting);
                rest.append(&mut alone);
                alone = rest;
            }
            Err(e) => fitting.iter().for_each(|p| reply(p, Err(e.clone()))),
        }
    }
    for put in alone {
        let result = put_with_policy(state, &put);
        reply(&put, result);
        done.push(put);
    }
    done.append(&mut fitting);
    done
}

fn put_with_policy(state: &mut State, put: &PendingPut) -> Result<()> {
    let index = state.channels.get_mut(put.channel).ok_or_else(|| Error::new(ErrorKind::Closed, "channel is gone"))?;
    let (n, bytes) = totals(&put.rows);
    let mut evictions = Vec::new();
    if !index.usage.fits(&index.capacity, n, bytes) {
        // Stale events go before anything else, even while no sink is taking.
        index.expire(&state.conn)?;
    }
    if !index.usage.fits(&index.capacity, n, bytes) {
        if index.capacity.on_full != OnFull::DropOldest {
            return Err(full(index));
        }
        let ceiling = put.rows.iter().map(|r| r.priority).max().unwrap_or_default();
        evictions = plan_evictions(&state.conn, index, ceiling, n, bytes)?.ok_or_else(|| full(index))?;
    }
    let tx = state.conn.unchecked_transaction()?;
    let rows = insert_rows(&tx, put.channel, &index.name, &put.rows)?;
    write_marks(&tx, &put.marks)?;
    let flow = index.flow.stage(&tx, &index.name, (n, bytes), (0, 0))?;
    for ev in &evictions {
        evict_row(&tx, index, ev)?;
    }
    tx.commit()?;
    index.flow.committed(flow);
    for ev in evictions {
        apply_eviction(index, ev);
    }
    apply_new_rows(state, rows);
    Ok(())
}

fn full(index: &ChannelIndex) -> Error {
    Error::new(
        ErrorKind::Full,
        format!(
            "channel {} is full ({} events, {} bytes)",
            index.name,
            index.usage.total_events(),
            index.usage.total_bytes()
        ),
    )
}

/// Chooses the oldest events of priority ≤ `ceiling` (never `high`) to evict so that
/// `n` events of `bytes` fit; `None` if evicting everything allowed is not enough.
fn plan_evictions(
    conn: &Connection,
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
    for priority in [Priority::Low, Priority::Normal].into_iter().filter(|p| *p <= ceiling) {
        let candidates: Vec<(i64, RowMeta)> =
            index.rows[priority as usize].iter().filter(|(_, m)| !m.leased).map(|(s, m)| (*s, *m)).collect();
        for (seq, meta) in candidates {
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
            let Some(events) = read_row(conn, index, priority, seq, meta)? else { continue };
            let (mut k, mut freed) = (0u32, 0u64);
            for event in &events[meta.skip as usize..] {
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
    }
    Ok((need_events == 0 && need_bytes == 0).then_some(plan))
}

fn evict_row(tx: &Transaction<'_>, index: &ChannelIndex, ev: &Eviction) -> Result<()> {
    let meta = index.rows[ev.priority as usize].get(&ev.seq).copied();
    match meta {
        Some(m) if m.n - m.skip > ev.events => {
            tx.execute(
                "UPDATE rows SET skip = skip + ?1, bytes = bytes - ?2 WHERE seq = ?3",
                params![ev.events, ev.bytes, ev.seq],
            )?;
        }
        _ => {
            tx.execute("DELETE FROM rows WHERE seq = ?1", [ev.seq])?;
        }
    }
    record_loss(tx, &index.name, "evicted", ev.priority, u64::from(ev.events), ev.bytes)
}

fn apply_eviction(index: &mut ChannelIndex, ev: Eviction) {
    consume(index, ev.priority, ev.seq, ev.events, ev.bytes);
    index.metrics.evicted.add(u64::from(ev.events));
    log::warn!("channel {}: evicted {} {} events (drop_oldest)", index.name, ev.events, ev.priority.name());
}

/// Removes `events` from the front of a row in the index (the whole row when none remain).
fn consume(index: &mut ChannelIndex, priority: Priority, seq: i64, events: u32, bytes: u64) {
    let rows = &mut index.rows[priority as usize];
    let Some(meta) = rows.get_mut(&seq) else { return };
    meta.skip += events;
    meta.bytes = meta.bytes.saturating_sub(bytes);
    meta.leased = false;
    if meta.skip >= meta.n {
        rows.remove(&seq);
    }
    index.usage.sub(priority, u64::from(events), bytes);
}

/// A channel (by slot) and what a transaction added to its flow totals.
type ChannelFlow = (usize, Staged);

/// Writes a group of puts in one transaction; returns their rows and flow totals
/// for the index, to apply once it committed.
fn insert_puts(
    conn: &Connection,
    channels: &[ChannelIndex],
    puts: &[PendingPut],
) -> Result<(Vec<NewRow>, Vec<ChannelFlow>)> {
    let tx = conn.unchecked_transaction()?;
    let mut rows = Vec::new();
    let mut put_totals: BTreeMap<usize, (u64, u64)> = BTreeMap::new();
    for put in puts {
        let name = channels.get(put.channel).map(|c| c.name.as_str()).unwrap_or_default();
        rows.extend(insert_rows(&tx, put.channel, name, &put.rows)?);
        write_marks(&tx, &put.marks)?;
        let (n, bytes) = totals(&put.rows);
        let sum = put_totals.entry(put.channel).or_default();
        *sum = (sum.0 + n, sum.1 + bytes);
    }
    let mut flows = Vec::with_capacity(put_totals.len());
    for (channel, put) in put_totals {
        let Some(index) = channels.get(channel) else { continue };
        flows.push((channel, index.flow.stage(&tx, &index.name, put, (0, 0))?));
    }
    tx.commit()?;
    Ok((rows, flows))
}

/// Inserts a put's encoded rows.
fn insert_rows(tx: &Transaction<'_>, channel: usize, name: &str, encoded: &[EncodedRow]) -> Result<Vec<NewRow>> {
    let now = now_ms();
    let mut rows = Vec::with_capacity(encoded.len());
    let mut insert = tx.prepare_cached(
        "INSERT INTO rows (channel, priority, n, skip, bytes, created_ms, data) VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6)",
    )?;
    for row in encoded {
        insert.execute(params![name, row.priority as u8, row.n, row.bytes, now, row.data])?;
        let meta = RowMeta { n: row.n, skip: 0, bytes: row.bytes, created_ms: now, leased: false };
        rows.push(NewRow { channel, priority: row.priority, seq: tx.last_insert_rowid(), meta });
    }
    Ok(rows)
}

/// Writes (or, for `None`, deletes) source state entries inside a put's transaction.
pub(super) fn write_marks(tx: &Connection, marks: &[Mark]) -> Result<()> {
    for m in marks {
        match &m.value {
            Some(value) => tx
                .prepare_cached(
                    "INSERT INTO source_state (source, key, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (source, key) DO UPDATE SET value = ?3",
                )?
                .execute(params![m.source, m.key, value])?,
            None => tx
                .prepare_cached("DELETE FROM source_state WHERE source = ?1 AND key = ?2")?
                .execute(params![m.source, m.key])?,
        };
    }
    Ok(())
}

fn apply_new_rows(state: &mut State, rows: Vec<NewRow>) {
    for row in rows {
        if let Some(index) = state.channels.get_mut(row.channel) {
            index.insert(row.priority, row.seq, row.meta);
            index.metrics.put_success.add(u64::from(row.meta.n));
        }
    }
    for index in &state.channels {
        index.publish();
        index.data.notify();
    }
}

fn reply(put: &PendingPut, result: Result<()>) {
    *put.slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
}

fn totals(rows: &[EncodedRow]) -> (u64, u64) {
    rows.iter().fold((0, 0), |(n, bytes), r| (n + u64::from(r.n), bytes + r.bytes))
}

/// Commits a take: deletes (or shortens) the leased rows and quarantines what the
/// sink gave up on, in one transaction; the index follows only after it committed.
pub(super) fn commit(
    conn: &Connection,
    index: &mut ChannelIndex,
    rows: &[LeasedRow],
    quarantine: &[Quarantined],
) -> Result<()> {
    let tx = conn.unchecked_transaction()?;
    for row in rows {
        let Some(meta) = index.rows[row.priority as usize].get(&row.seq) else { continue };
        if meta.skip + row.taken >= meta.n {
            tx.prepare_cached("DELETE FROM rows WHERE seq = ?1")?.execute([row.seq])?;
        } else {
            tx.prepare_cached("UPDATE rows SET skip = skip + ?1, bytes = bytes - ?2 WHERE seq = ?3")?
                .execute(params![row.taken, row.bytes, row.seq])?;
        }
    }
    let taken = rows.iter().fold((0u64, 0u64), |(n, b), r| (n + u64::from(r.taken), b + r.bytes));
    let flow = index.flow.stage(&tx, &index.name, (0, 0), taken)?;
    let now = now_ms();
    for q in quarantine {
        let data = codec::encode(&q.events)?;
        tx.prepare_cached(
            "INSERT INTO quarantine (channel, sink, reason, at_ms, n, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![index.name, q.sink, q.reason, now, q.events.len() as u32, data])?;
        for priority in Priority::ALL {
            let group: Vec<&Event> = q.events.iter().filter(|e| e.priority == priority).collect();
            if !group.is_empty() {
                let bytes = group.iter().map(|e| e.size() as u64).sum();
                record_loss(&tx, &index.name, "quarantined", priority, group.len() as u64, bytes)?;
            }
        }
    }
    tx.commit()?;
    index.flow.committed(flow);
    let mut delivered = 0u64;
    for row in rows {
        consume(index, row.priority, row.seq, row.taken, row.bytes);
        delivered += u64::from(row.taken);
    }
    let quarantined: u64 = quarantine.iter().map(|q| q.events.len() as u64).sum();
    index.metrics.take_success.add(delivered.saturating_sub(quarantined));
    index.publish();
    index.space.notify();
    index.data.notify();
    Ok(())
}

/// Adds to the persistent loss counters (evicted, expired, quarantined, corrupt),
/// which `sluice inspect` shows and loss reports tell upstream.
pub(super) fn record_loss(
    tx: &Connection,
    channel: &str,
    reason: &str,
    priority: Priority,
    events: u64,
    bytes: u64,
) -> Result<()> {
    let now = now_ms();
    tx.prepare_cached(
        "INSERT INTO losses (channel, reason, priority, events, bytes, first_ms, last_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
         ON CONFLICT (channel, reason, priority) DO UPDATE SET events = events + ?4, bytes = bytes + ?5, last_ms = ?6",
    )?
    .execute(params![channel, reason, priority as u8, events, bytes, now])?;
    Ok(())
}
