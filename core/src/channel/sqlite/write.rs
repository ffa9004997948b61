//! The write path of puts: group commit, admission by quota and disk, and the
//! loss counters every path shares.
//!
//! Every path changes the in-memory index only after SQLite committed, so a
//! failed transaction (disk full, I/O error) leaves index and file in agreement.

use super::evict::{self, Eviction};
use super::index::{ChannelIndex, RowMeta};
use super::space::Short;
use super::{PendingPut, State};
use crate::channel::policy::{admit, Admission, OnFull, Pressure, Refusal, Usage};
use crate::channel::{codec, Mark};
use crate::error::{Error, ErrorKind, Result};
use crate::event::{now_ms, Event, Priority};
use rusqlite::{params, Connection, Transaction};
use std::collections::BTreeMap;

/// Rounds of disk eviction one put may take before it is refused: each round
/// reads the disk again, as evicted rows become free pages.
const DISK_EVICTION_ROUNDS: usize = 4;

/// A row inserted by a transaction, applied to the index after commit.
struct NewRow {
    channel: usize,
    priority: Priority,
    seq: i64,
    meta: RowMeta,
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

/// Writes a group of puts: those that fit (quota and disk) in one transaction,
/// the others one by one under their channel's `on_full` policy. Returns the
/// puts, for the caller to free after it released the lock.
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
        let stored: u64 = fitting.iter().map(|p| stored_bytes(&p.rows)).sum();
        let room = state.space.admit(&state.conn, stored);
        let written = match room {
            Ok(()) => insert_puts(&state.conn, &state.channels, &fitting),
            Err(short) => Err(short.into_error()),
        };
        match written {
            Ok((rows, flows)) => {
                for (channel, flow) in flows {
                    if let Some(index) = state.channels.get_mut(channel) {
                        index.flow.committed(flow);
                    }
                }
                apply_new_rows(state, rows);
                state.space.after_write(&state.conn);
                fitting.iter().for_each(|p| reply(p, Ok(())));
            }
            // The group did not fit (or its transaction failed): each put on its own,
            // under its policy, so that one cannot sink the others.
            Err(_) => {
                let mut rest = std::mem::take(&mut fitting);
                rest.append(&mut alone);
                alone = rest;
            }
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

/// Puts one batch under its channel's `on_full` policy: the facts are gathered
/// here, the decision is [`admit`]'s.
fn put_with_policy(state: &mut State, put: &PendingPut) -> Result<()> {
    let (n, bytes) = totals(&put.rows);
    let stored = stored_bytes(&put.rows);
    let ceiling = put.rows.iter().map(|r| r.priority).max().unwrap_or_default();
    for _ in 0..DISK_EVICTION_ROUNDS {
        let State { conn, channels, space, .. } = &mut *state;
        let index = channels.get_mut(put.channel).ok_or_else(|| Error::new(ErrorKind::Closed, "channel is gone"))?;
        if !index.usage.fits(&index.capacity, n, bytes) {
            // Stale events go before anything else, even while no sink is taking.
            index.expire(conn, space)?;
        }
        let cap = index.capacity;
        let quota_short = !index.usage.fits(&cap, n, bytes);
        let disk = if quota_short { Ok(()) } else { space.admit(conn, stored) };
        let short = match (&disk, quota_short) {
            (_, true) => Some(Refusal::Quota),
            (Err(_), false) => Some(Refusal::Disk),
            (Ok(()), false) => None,
        };
        // Planned only where it can matter: under drop_oldest, when something is short.
        let plan = match (short, cap.on_full) {
            (Some(Refusal::Quota), OnFull::DropOldest) => evict::plan_quota(conn, space, index, ceiling, n, bytes)?,
            (Some(Refusal::Disk), OnFull::DropOldest) => {
                disk.as_ref().err().and_then(|s| evict::plan_disk(index, ceiling, s.bytes()))
            }
            _ => None,
        };
        let could_ever_fit = n <= cap.max_events && bytes <= cap.max_bytes;
        let pressure = Pressure { short, could_ever_fit, evictable: plan.is_some(), may_wait: put.may_wait };
        match admit(cap.on_full, pressure) {
            Admission::Fits => return insert_alone(state, put, &[]),
            Admission::Evict if short == Some(Refusal::Quota) => {
                return insert_alone(state, put, &plan.unwrap_or_default());
            }
            // A full disk: evict in a transaction of its own (the deletes free
            // pages the put then reuses), and ask again.
            Admission::Evict => evict::evict_alone(state, put.channel, &plan.unwrap_or_default())?,
            Admission::Wait => return Err(waiting(index, short)),
            Admission::Refuse(Refusal::Quota) => return Err(full(index)),
            Admission::Refuse(Refusal::Disk) => {
                return Err(disk.err().map_or_else(|| full(index), Short::into_error));
            }
        }
    }
    let index = state.channels.get(put.channel).ok_or_else(|| Error::new(ErrorKind::Closed, "channel is gone"))?;
    Err(Error::new(ErrorKind::DiskFull, format!("channel {}: disk full after evicting", index.name)))
}

/// Inserts one put, evicting `evictions` in the same transaction.
fn insert_alone(state: &mut State, put: &PendingPut, evictions: &[Eviction]) -> Result<()> {
    let State { conn, channels, space, .. } = &mut *state;
    let index = channels.get_mut(put.channel).ok_or_else(|| Error::new(ErrorKind::Closed, "channel is gone"))?;
    let tx = conn.unchecked_transaction()?;
    let rows = insert_rows(&tx, put.channel, &index.name, &put.rows)?;
    write_marks(&tx, &put.marks)?;
    let flow = index.flow.stage(&tx, &index.name, totals(&put.rows), (0, 0))?;
    for ev in evictions {
        evict::evict_row(&tx, index, ev)?;
    }
    tx.commit()?;
    index.flow.committed(flow);
    for ev in evictions {
        evict::apply(index, ev);
    }
    space.after_write(conn);
    apply_new_rows(state, rows);
    Ok(())
}

/// The answer of a put that should wait for space (`block`): a full-channel error.
fn waiting(index: &ChannelIndex, short: Option<Refusal>) -> Error {
    match short {
        Some(Refusal::Disk) => {
            Error::new(ErrorKind::DiskFull, format!("channel {}: waiting for disk space", index.name))
        }
        _ => full(index),
    }
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

/// A channel (by slot) and what a transaction added to its flow totals.
type ChannelFlow = (usize, super::flow::Staged);

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
        let meta = RowMeta {
            n: row.n,
            skip: 0,
            bytes: row.bytes,
            stored: row.data.len() as u64,
            created_ms: now,
            leased: false,
        };
        rows.push(NewRow { channel, priority: row.priority, seq: tx.last_insert_rowid(), meta });
    }
    Ok(rows)
}

/// Writes (or, for `None`, deletes) source state entries, and remembers stored
/// event ids, inside a put's transaction.
pub(super) fn write_marks(tx: &Connection, marks: &[Mark]) -> Result<()> {
    for m in marks {
        match m {
            Mark::State { source, key, value: Some(value) } => tx
                .prepare_cached(
                    "INSERT INTO source_state (source, key, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (source, key) DO UPDATE SET value = ?3",
                )?
                .execute(params![source, key, value])?,
            Mark::State { source, key, value: None } => tx
                .prepare_cached("DELETE FROM source_state WHERE source = ?1 AND key = ?2")?
                .execute(params![source, key])?,
            Mark::Seen { source, ids, window_ms, max_ids } => {
                super::seen::remember(tx, source, ids, *window_ms, *max_ids)?;
                0
            }
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

/// Bytes a put's rows take on disk before page overhead.
fn stored_bytes(rows: &[EncodedRow]) -> u64 {
    rows.iter().map(|r| r.data.len() as u64).sum()
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
