//! The write paths: group-committed puts, eviction under `drop_oldest`, commits.
//!
//! Every path changes the in-memory index only after SQLite committed, so a
//! failed transaction (disk full, I/O error) leaves index and file in agreement.

use super::index::{read_row, ChannelIndex, LeasedRow, RowMeta};
use super::{PendingPut, State};
use crate::channel::policy::{OnFull, Usage};
use crate::channel::{codec, Mark, PutError, Quarantined};
use crate::error::{Error, ErrorKind, Result};
use crate::event::{now_ms, Event, Priority};
use rusqlite::{params, Connection, Transaction};

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

/// Writes a group of puts: those that fit in one transaction, the others one by one
/// under their channel's `on_full` policy.
pub(super) fn put_group(state: &mut State, group: Vec<PendingPut>) {
    let mut usage: Vec<Usage> = state.channels.iter().map(|c| c.usage).collect();
    let (mut fitting, mut alone) = (Vec::new(), Vec::new());
    for put in group {
        let Some(index) = state.channels.get(put.channel) else {
            reply(&put, Err(Error::new(ErrorKind::Closed, "channel is gone")));
            continue;
        };
        let (n, bytes) = totals(&put.events);
        if usage[put.channel].fits(&index.capacity, n, bytes) {
            usage[put.channel].add(Priority::Normal, n, bytes);
            fitting.push(put);
        } else {
            alone.push(put);
        }
    }
    if !fitting.is_empty() {
        match insert_puts(&state.conn, &state.channels, &fitting) {
            Ok(rows) => {
                apply_new_rows(state, rows);
                fitting.iter().for_each(|p| reply(p, Ok(())));
            }
            // One transaction failed; retry each put alone so one cannot sink the others.
            Err(_) if fitting.len() > 1 => fitting.into_iter().for_each(|p| put_alone(state, p)),
            Err(e) => fitting.iter().for_each(|p| reply(p, Err(e.clone()))),
        }
    }
    alone.into_iter().for_each(|p| put_alone(state, p));
}

fn put_alone(state: &mut State, put: PendingPut) {
    let result = put_with_policy(state, &put);
    reply(&put, result);
}

fn put_with_policy(state: &mut State, put: &PendingPut) -> Result<()> {
    let index = state.channels.get_mut(put.channel).ok_or_else(|| Error::new(ErrorKind::Closed, "channel is gone"))?;
    let (n, bytes) = totals(&put.events);
    let mut evictions = Vec::new();
    if !index.usage.fits(&index.capacity, n, bytes) {
        // Stale events go before anything else, even while no sink is taking.
        index.expire(&state.conn)?;
    }
    if !index.usage.fits(&index.capacity, n, bytes) {
        if index.capacity.on_full != OnFull::DropOldest {
            return Err(full(index));
        }
        let ceiling = put.events.iter().map(|e| e.priority).max().unwrap_or_default();
        evictions = plan_evictions(&state.conn, index, ceiling, n, bytes)?.ok_or_else(|| full(index))?;
    }
    let tx = state.conn.unchecked_transaction()?;
    let rows = insert_events(&tx, put.channel, &index.name, &put.events)?;
    write_marks(&tx, &put.marks)?;
    super::flow::add(&tx, &index.name, (n, bytes), (0, 0))?;
    for ev in &evictions {
        evict_row(&tx, index, ev)?;
    }
    tx.commit()?;
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

fn insert_puts(conn: &Connection, channels: &[ChannelIndex], puts: &[PendingPut]) -> Result<Vec<NewRow>> {
    let tx = conn.unchecked_transaction()?;
    let mut rows = Vec::new();
    for put in puts {
        let name = channels.get(put.channel).map(|c| c.name.as_str()).unwrap_or_default();
        rows.extend(insert_events(&tx, put.channel, name, &put.events)?);
        write_marks(&tx, &put.marks)?;
        super::flow::add(&tx, name, totals(&put.events), (0, 0))?;
    }
    tx.commit()?;
    Ok(rows)
}

/// Inserts one row per priority present in `events`, keeping their order.
fn insert_events(tx: &Transaction<'_>, channel: usize, name: &str, events: &[Event]) -> Result<Vec<NewRow>> {
    let now = now_ms();
    let mut rows = Vec::new();
    for priority in Priority::ALL.into_iter().rev() {
        let group: Vec<&Event> = events.iter().filter(|e| e.priority == priority).collect();
        if group.is_empty() {
            continue;
        }
        let bytes: u64 = group.iter().map(|e| e.size() as u64).sum();
        let data = if group.len() == events.len() { codec::encode(events)? } else { codec::encode(&group)? };
        tx.prepare_cached(
            "INSERT INTO rows (channel, priority, n, skip, bytes, created_ms, data) VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6)",
        )?
        .execute(params![name, priority as u8, group.len() as u32, bytes, now, data])?;
        let meta = RowMeta { n: group.len() as u32, skip: 0, bytes, created_ms: now, leased: false };
        rows.push(NewRow { channel, priority, seq: tx.last_insert_rowid(), meta });
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
    let result = result.map_err(|error| PutError::new(error, put.events.clone()));
    *put.slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
}

fn totals(events: &[Event]) -> (u64, u64) {
    (events.len() as u64, events.iter().map(|e| e.size() as u64).sum())
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
    super::flow::add(&tx, &index.name, (0, 0), taken)?;
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
