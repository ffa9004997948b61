//! Read-only views and operator actions on a store: `inspect` and `quarantine`.
//!
//! These open the file directly (WAL lets them read while the agent runs).
//! Replaying quarantine changes rows under a running agent's index, so the CLI
//! refuses to replay while the agent holds the data directory lock.

use super::schema;
use crate::channel::codec;
use crate::error::{Error, Result};
use crate::event::{now_ms, Priority};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use serde::Serialize;
use std::path::Path;

/// What `sluice inspect` reports for a data directory.
#[derive(Debug, Serialize)]
pub struct Inspection {
    /// Per channel: events, bytes and age of the oldest row.
    pub channels: Vec<ChannelUsage>,
    /// Events lost on purpose or by damage, by channel, reason and priority.
    pub losses: Vec<Loss>,
    /// Quarantined batches.
    pub quarantine: Vec<QuarantineEntry>,
    /// Sinks waiting to retry.
    pub retries: Vec<RetryState>,
    /// Corrupt stores set aside in this directory.
    pub set_aside: Vec<String>,
}

/// One channel's backlog.
#[derive(Debug, Serialize)]
pub struct ChannelUsage {
    /// Channel name.
    pub channel: String,
    /// Events waiting.
    pub events: u64,
    /// Bytes waiting.
    pub bytes: u64,
    /// Events waiting per priority (low, normal, high).
    pub by_priority: [u64; 3],
    /// Age of the oldest waiting batch in milliseconds.
    pub oldest_age_ms: u64,
    /// Ingest and drain rates over the sampling window, with the time to full or empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow: Option<super::flow::Flow>,
}

impl ChannelUsage {
    /// A channel with nothing waiting (counts are added as rows are read).
    fn empty(channel: String) -> ChannelUsage {
        ChannelUsage { channel, events: 0, bytes: 0, by_priority: [0; 3], oldest_age_ms: 0, flow: None }
    }
}

/// A loss counter.
#[derive(Debug, Serialize)]
pub struct Loss {
    /// Channel name.
    pub channel: String,
    /// `evicted`, `expired`, `quarantined` or `corrupt`.
    pub reason: String,
    /// Priority of the events.
    pub priority: Priority,
    /// How many events.
    pub events: u64,
    /// How many bytes.
    pub bytes: u64,
    /// First and last occurrence (ms since epoch).
    pub first_ms: u64,
    /// Last occurrence.
    pub last_ms: u64,
}

/// One quarantined batch.
#[derive(Debug, Serialize)]
pub struct QuarantineEntry {
    /// Id for `replay` and `drop`.
    pub id: i64,
    /// The channel it came from.
    pub channel: String,
    /// The sink that gave up (empty for corrupt rows).
    pub sink: String,
    /// Why.
    pub reason: String,
    /// When (ms since epoch).
    pub at_ms: u64,
    /// Events in the batch.
    pub events: u64,
}

/// A sink's persisted retry state.
#[derive(Debug, Serialize)]
pub struct RetryState {
    /// Sink name.
    pub sink: String,
    /// Failed attempts in a row.
    pub attempts: u64,
    /// Next attempt (ms since epoch).
    pub next_attempt_ms: u64,
}

fn open_existing(dir: &Path) -> Result<Connection> {
    let path = dir.join(schema::FILE_NAME);
    if !path.exists() {
        return Err(Error::storage(format!("no store at {}", path.display())));
    }
    let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

/// Reads what a data directory holds.
///
/// # Errors
/// No store in `dir`, or SQLite fails.
pub fn inspect(dir: &Path) -> Result<Inspection> {
    inspect_with(&open_existing(dir)?, dir)
}

/// As [`inspect`], also measuring each channel's ingest and drain over `window`
/// (the agent must be running for them to be other than zero).
///
/// # Errors
/// No store in `dir`, or SQLite fails.
pub fn inspect_with_rates(dir: &Path, window: std::time::Duration) -> Result<Inspection> {
    let conn = open_existing(dir)?;
    let before = super::flow::Sample::read(&conn)?;
    std::thread::sleep(window);
    let after = super::flow::Sample::read(&conn)?;
    let mut report = inspect_with(&conn, dir)?;
    // Channels that are empty now still have a flow worth showing.
    let mut names: Vec<String> = after.channels();
    names.retain(|n| !report.channels.iter().any(|c| &c.channel == n));
    for channel in names {
        report.channels.push(ChannelUsage::empty(channel));
    }
    for c in &mut report.channels {
        c.flow = super::flow::flow(&c.channel, c.events, c.bytes, &before, &after);
    }
    report.channels.sort_by(|a, b| a.channel.cmp(&b.channel));
    Ok(report)
}

fn inspect_with(conn: &Connection, dir: &Path) -> Result<Inspection> {
    let now = now_ms();
    let mut channels: Vec<ChannelUsage> = Vec::new();
    let mut stmt = conn.prepare(
        "SELECT channel, priority, sum(n - skip), sum(bytes), min(created_ms) FROM rows GROUP BY channel, priority ORDER BY channel",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, u8>(1)?, r.get::<_, u64>(2)?, r.get::<_, u64>(3)?, r.get::<_, u64>(4)?))
    })?;
    for row in rows {
        let (channel, priority, events, bytes, oldest) = row?;
        if channels.last().is_none_or(|c| c.channel != channel) {
            channels.push(ChannelUsage::empty(channel));
        }
        if let Some(c) = channels.last_mut() {
            c.events += events;
            c.bytes += bytes;
            c.by_priority[Priority::from_u8(priority) as usize] += events;
            c.oldest_age_ms = c.oldest_age_ms.max(now.saturating_sub(oldest));
        }
    }
    let losses = conn
        .prepare("SELECT channel, reason, priority, events, bytes, first_ms, last_ms FROM losses ORDER BY channel, reason, priority")?
        .query_map([], |r| {
            Ok(Loss {
                channel: r.get(0)?,
                reason: r.get(1)?,
                priority: Priority::from_u8(r.get(2)?),
                events: r.get(3)?,
                bytes: r.get(4)?,
                first_ms: r.get(5)?,
                last_ms: r.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let retries = conn
        .prepare("SELECT sink, attempts, next_attempt_ms FROM sink_state WHERE attempts > 0 ORDER BY sink")?
        .query_map([], |r| Ok(RetryState { sink: r.get(0)?, attempts: r.get(1)?, next_attempt_ms: r.get(2)? }))?
        .collect::<rusqlite::Result<_>>()?;
    let set_aside = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.starts_with(&format!("{}.corrupt-", schema::FILE_NAME)) && !n.ends_with("-wal") && !n.ends_with("-shm")
        })
        .collect();
    Ok(Inspection { channels, losses, quarantine: quarantine_list_with(conn)?, retries, set_aside })
}

/// Lists quarantined batches, oldest first.
///
/// # Errors
/// No store in `dir`, or SQLite fails.
pub fn quarantine_list(dir: &Path) -> Result<Vec<QuarantineEntry>> {
    quarantine_list_with(&open_existing(dir)?)
}

fn quarantine_list_with(conn: &Connection) -> Result<Vec<QuarantineEntry>> {
    let list = conn
        .prepare("SELECT id, channel, sink, reason, at_ms, n FROM quarantine ORDER BY id")?
        .query_map([], |r| {
            Ok(QuarantineEntry {
                id: r.get(0)?,
                channel: r.get(1)?,
                sink: r.get(2)?,
                reason: r.get(3)?,
                at_ms: r.get(4)?,
                events: r.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(list)
}

/// Moves quarantined batch `id` (or all, if `None`) back into its channel, at the
/// end of the queue. Returns how many events went back.
///
/// # Errors
/// A batch that does not decode (a corrupt row) stays in quarantine; SQLite errors.
pub fn quarantine_replay(dir: &Path, id: Option<i64>) -> Result<u64> {
    let mut conn = open_existing(dir)?;
    let tx = conn.transaction()?;
    let ids = select_ids(&tx, id)?;
    let mut moved = 0;
    for id in ids {
        let (channel, data): (String, Vec<u8>) =
            tx.query_row("SELECT channel, data FROM quarantine WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let events = codec::decode(&data).map_err(|e| e.context(format!("quarantine {id} cannot be replayed")))?;
        for priority in Priority::ALL.into_iter().rev() {
            let group: Vec<_> = events.iter().filter(|e| e.priority == priority).collect();
            if group.is_empty() {
                continue;
            }
            let bytes: u64 = group.iter().map(|e| e.size() as u64).sum();
            tx.execute(
                "INSERT INTO rows (channel, priority, n, skip, bytes, created_ms, data) VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6)",
                params![channel, priority as u8, group.len() as u32, bytes, now_ms(), codec::encode(&group)?],
            )?;
        }
        tx.execute("DELETE FROM quarantine WHERE id = ?1", [id])?;
        moved += events.len() as u64;
    }
    tx.commit()?;
    Ok(moved)
}

/// Deletes quarantined batch `id` (or all). Returns how many batches were dropped.
///
/// # Errors
/// SQLite errors.
pub fn quarantine_drop(dir: &Path, id: Option<i64>) -> Result<u64> {
    let conn = open_existing(dir)?;
    let n = match id {
        Some(id) => conn.execute("DELETE FROM quarantine WHERE id = ?1", [id])?,
        None => conn.execute("DELETE FROM quarantine", [])?,
    };
    Ok(n as u64)
}

fn select_ids(conn: &Connection, id: Option<i64>) -> Result<Vec<i64>> {
    match id {
        Some(id) => {
            let found: Option<i64> =
                conn.query_row("SELECT id FROM quarantine WHERE id = ?1", [id], |r| r.get(0)).optional()?;
            found.map(|i| vec![i]).ok_or_else(|| Error::storage(format!("no quarantined batch with id {id}")))
        }
        None => Ok(conn
            .prepare("SELECT id FROM quarantine ORDER BY id")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?),
    }
}
