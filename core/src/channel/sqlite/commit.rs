//! Commits of taken batches: the delivered rows go, the refused events go to the
//! quarantine, in one transaction that a full disk cannot stop (see `space`).

use super::index::{ChannelIndex, LeasedRow};
use super::space::Space;
use super::write::record_loss;
use crate::channel::{codec, Quarantined};
use crate::error::Result;
use crate::event::{now_ms, Event, Priority};
use rusqlite::{params, Connection};

/// Commits a take: deletes (or shortens) the leased rows and quarantines what the
/// sink gave up on, in one transaction; the index follows only after it committed.
pub(super) fn commit(
    conn: &Connection,
    space: &mut Space,
    index: &mut ChannelIndex,
    rows: &[LeasedRow],
    quarantine: &[Quarantined],
) -> Result<()> {
    let taken = rows.iter().fold((0u64, 0u64), |(n, b), r| (n + u64::from(r.taken), b + r.bytes));
    let flow = super::freeing(conn, space, |conn| {
        let tx = conn.unchecked_transaction()?;
        delete_rows(&tx, index, rows)?;
        let flow = index.flow.stage(&tx, &index.name, (0, 0), taken)?;
        for q in quarantine {
            insert_quarantine(&tx, &index.name, q)?;
        }
        tx.commit()?;
        Ok(flow)
    })?;
    index.flow.committed(flow);
    let mut delivered = 0u64;
    for row in rows {
        index.consume(row.priority, row.seq, row.taken, row.bytes);
        delivered += u64::from(row.taken);
    }
    let quarantined: u64 = quarantine.iter().map(|q| q.events.len() as u64).sum();
    index.metrics.take_success.add(delivered.saturating_sub(quarantined));
    index.publish();
    index.space.notify();
    index.data.notify();
    Ok(())
}

/// Deletes the rows a batch used up and shortens the one it took part of.
fn delete_rows(tx: &Connection, index: &ChannelIndex, rows: &[LeasedRow]) -> Result<()> {
    for row in rows {
        let Some(meta) = index.rows[row.priority as usize].get(&row.seq) else { continue };
        if meta.skip + row.taken >= meta.n {
            tx.prepare_cached("DELETE FROM rows WHERE seq = ?1")?.execute([row.seq])?;
        } else {
            tx.prepare_cached("UPDATE rows SET skip = skip + ?1, bytes = bytes - ?2 WHERE seq = ?3")?
                .execute(params![row.taken, row.bytes, row.seq])?;
        }
    }
    Ok(())
}

/// Keeps events a sink gave up on, with the reason, and counts them by priority.
fn insert_quarantine(tx: &Connection, channel: &str, q: &Quarantined) -> Result<()> {
    let data = codec::encode(&q.events)?;
    tx.prepare_cached(
        "INSERT INTO quarantine (channel, sink, reason, at_ms, n, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![channel, q.sink, q.reason, now_ms(), q.events.len() as u32, data])?;
    for priority in Priority::ALL {
        let group: Vec<&Event> = q.events.iter().filter(|e| e.priority == priority).collect();
        if !group.is_empty() {
            let bytes = group.iter().map(|e| e.size() as u64).sum();
            record_loss(tx, channel, "quarantined", priority, group.len() as u64, bytes)?;
        }
    }
    Ok(())
}
