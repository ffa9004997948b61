//! Salvage: what is readable in a damaged store is copied into a fresh one;
//! what is not is quarantined as corrupt and counted.
//!
//! SQLite cannot always delete a row it cannot read (freeing a broken overflow
//! chain fails too), so damage is not repaired in place. The store copies every
//! table row by row into a new file, keeping rows' sequence numbers (a batch a
//! sink holds stays valid), and skips what fails to read: a row whose data is
//! unreadable is quarantined with its counts (they sit in the row's cell, apart
//! from the data); a part of the table that cannot even be listed (a damaged
//! interior page) is skipped by probing ahead, and reported as a range.

use super::write::record_loss;
use crate::error::Result;
use crate::event::{now_ms, Priority};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::BTreeSet;

/// Rows per read while listing a table.
const PAGE_ROWS: i64 = 512;
/// Bytes copied per transaction of the fresh store, so its WAL stays small.
const COPY_TX_BYTES: usize = 4 << 20;

/// A row whose data could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostRow {
    /// Its sequence number.
    pub seq: i64,
    /// Its channel.
    pub channel: String,
    /// Its priority.
    pub priority: Priority,
    /// Events it still held.
    pub events: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// What a salvage copied and what it could not.
#[derive(Debug, Default)]
pub struct Report {
    /// Sequence numbers of the event rows copied.
    pub copied: BTreeSet<i64>,
    /// Events in them.
    pub events: u64,
    /// Rows listed but unreadable: quarantined as corrupt.
    pub lost: Vec<LostRow>,
    /// Ranges of row ids of any table that could not be listed (their content is unknown).
    pub unlisted: Vec<(String, i64, i64)>,
    /// Entries of the other tables (quarantine, losses, state) that could not be copied.
    pub other_lost: u64,
    /// Why the copy stopped early, if it did (a full disk): the rest stays in the set-aside file.
    pub stopped: Option<String>,
}

impl Report {
    /// One line for the log.
    pub fn summary(&self) -> String {
        let lost: u64 = self.lost.iter().map(|l| l.events).sum();
        let mut text = format!(
            "{} rows ({} events) copied, {} rows ({lost} events) unreadable and quarantined",
            self.copied.len(),
            self.events,
            self.lost.len()
        );
        for (table, from, to) in &self.unlisted {
            text.push_str(&format!(", {table} ids {from}..={to} unreadable (content unknown)"));
        }
        if self.other_lost > 0 {
            text.push_str(&format!(", {} bookkeeping entries lost", self.other_lost));
        }
        if let Some(why) = &self.stopped {
            text.push_str(&format!("; stopped early: {why}"));
        }
        text
    }
}

/// Copies everything readable from `from` into `to` (a fresh store with the schema in place).
pub fn copy(from: &Connection, to: &Connection) -> Report {
    let mut report = Report::default();
    if let Err(e) = copy_rows(from, to, &mut report) {
        report.stopped = Some(e.to_string());
        return report;
    }
    for table in &OTHER_TABLES {
        if let Err(e) = copy_table(from, to, table, &mut report) {
            report.stopped = Some(e.to_string());
            return report;
        }
    }
    report
}

/// The bookkeeping tables, copied as they are.
const OTHER_TABLES: [Table; 5] = [
    Table { name: "quarantine", columns: "id, channel, sink, reason, at_ms, n, data", arity: 7 },
    Table {
        name: "losses",
        columns: "channel, reason, priority, events, bytes, first_ms, last_ms, reported",
        arity: 8,
    },
    Table { name: "sink_state", columns: "sink, attempts, next_attempt_ms", arity: 3 },
    Table { name: "counters", columns: "name, value", arity: 2 },
    Table { name: "source_state", columns: "source, key, value", arity: 3 },
];

struct Table {
    name: &'static str,
    columns: &'static str,
    arity: usize,
}

/// The cells of one event row, without its data.
struct Head {
    seq: i64,
    channel: String,
    priority: u8,
    n: u32,
    skip: u32,
    bytes: u64,
    created_ms: u64,
}

fn copy_rows(from: &Connection, to: &Connection, report: &mut Report) -> Result<()> {
    let mut tx_bytes = 0usize;
    to.execute_batch("BEGIN")?;
    let listed = list(from, "rows", "seq, channel, priority, n, skip, bytes, created_ms", |r| {
        Ok(Head {
            seq: r.get(1)?,
            channel: r.get(2)?,
            priority: r.get(3)?,
            n: r.get(4)?,
            skip: r.get(5)?,
            bytes: r.get(6)?,
            created_ms: r.get(7)?,
        })
    });
    let (heads, unlisted) = match listed {
        Ok(found) => found,
        Err(e) => {
            to.execute_batch("COMMIT")?;
            log::error!("salvage: the table of events cannot be read at all: {e}");
            report.unlisted.push(("rows".into(), i64::MIN, i64::MAX));
            return Ok(());
        }
    };
    report.unlisted.extend(unlisted.into_iter().map(|(a, b)| ("rows".to_string(), a, b)));
    for head in heads {
        let data: rusqlite::Result<Option<Vec<u8>>> =
            from.query_row("SELECT data FROM rows WHERE seq = ?1", [head.seq], |r| r.get(0)).optional();
        let remaining = u64::from(head.n.saturating_sub(head.skip));
        match data {
            Ok(Some(data)) => {
                to.execute(
                    "INSERT INTO rows (seq, channel, priority, n, skip, bytes, created_ms, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![head.seq, head.channel, head.priority, head.n, head.skip, head.bytes, head.created_ms, data],
                )?;
                report.copied.insert(head.seq);
                report.events += remaining;
                tx_bytes += data.len();
            }
            Ok(None) => {}
            Err(e) => {
                let lost = LostRow {
                    seq: head.seq,
                    channel: head.channel,
                    priority: Priority::from_u8(head.priority),
                    events: remaining,
                    bytes: head.bytes,
                };
                quarantine_lost(to, &lost, &e.to_string())?;
                report.lost.push(lost);
            }
        }
        if tx_bytes >= COPY_TX_BYTES {
            to.execute_batch("COMMIT; BEGIN")?;
            tx_bytes = 0;
        }
    }
    Ok(to.execute_batch("COMMIT")?)
}

/// Puts an unreadable row in the quarantine (no data: it could not be read) and counts it.
pub(super) fn quarantine_lost(to: &Connection, lost: &LostRow, why: &str) -> Result<()> {
    to.execute(
        "INSERT INTO quarantine (channel, sink, reason, at_ms, n, data) VALUES (?1, '', ?2, ?3, ?4, x'')",
        params![lost.channel, format!("corrupt: row {} unreadable ({why})", lost.seq), now_ms(), lost.events],
    )?;
    record_loss(to, &lost.channel, "corrupt", lost.priority, lost.events, lost.bytes)
}

/// Records damage whose events cannot be counted as a quarantine entry of no
/// events, so `sluice inspect` and `sluice quarantine list` show it.
pub fn note(to: &Connection, reason: &str) -> Result<()> {
    to.execute(
        "INSERT INTO quarantine (channel, sink, reason, at_ms, n, data) VALUES ('', '', ?1, ?2, 0, x'')",
        params![reason, now_ms()],
    )?;
    Ok(())
}

fn copy_table(from: &Connection, to: &Connection, table: &Table, report: &mut Report) -> Result<()> {
    let arity = table.arity;
    let listed = list(from, table.name, table.columns, |r| {
        (1..=arity).map(|i| r.get::<_, rusqlite::types::Value>(i)).collect::<rusqlite::Result<Vec<_>>>()
    });
    let (values, unlisted) = match listed {
        Ok(found) => found,
        Err(e) => {
            log::error!("salvage: table {} cannot be read: {e}", table.name);
            report.unlisted.push((table.name.to_string(), i64::MIN, i64::MAX));
            return Ok(());
        }
    };
    report.other_lost += unlisted.len() as u64;
    report.unlisted.extend(unlisted.into_iter().map(|(a, b)| (table.name.to_string(), a, b)));
    let marks = vec!["?"; arity].join(", ");
    let sql = format!("INSERT OR REPLACE INTO {} ({}) VALUES ({marks})", table.name, table.columns);
    to.execute_batch("BEGIN")?;
    for row in values {
        to.execute(&sql, rusqlite::params_from_iter(row))?;
    }
    Ok(to.execute_batch("COMMIT")?)
}

/// Lists a table by rowid, skipping what cannot be read. `read` gets each row
/// with its columns from index 1 (index 0 is the rowid). Returns the rows read
/// and the rowid ranges that could not be (a damaged part of the table's tree).
///
/// # Errors
/// Only when nothing can be read at all (the schema or the table's root is damaged).
#[allow(clippy::type_complexity)]
fn list<T>(
    from: &Connection,
    table: &str,
    columns: &str,
    read: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<(Vec<T>, Vec<(i64, i64)>)> {
    let sql = format!("SELECT rowid, {columns} FROM {table} WHERE rowid >= ?1 ORDER BY rowid LIMIT {PAGE_ROWS}");
    let mut stmt = from.prepare(&sql)?;
    let (mut found, mut unlisted) = (Vec::new(), Vec::new());
    let mut next = i64::MIN;
    loop {
        let mut rows = stmt.query([next])?;
        let (mut got, mut failed) = (0, false);
        loop {
            match rows.next() {
                Ok(Some(row)) => {
                    let rowid: i64 = row.get(0)?;
                    match read(row) {
                        Ok(value) => found.push(value),
                        Err(e) => log::error!("salvage: {table} row {rowid} unreadable: {e}"),
                    }
                    got += 1;
                    match rowid.checked_add(1) {
                        Some(n) => next = n,
                        None => return Ok((found, unlisted)),
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        if failed {
            match skip_damage(from, table, next) {
                Some(resume) => {
                    unlisted.push((next, resume - 1));
                    next = resume;
                }
                None => {
                    unlisted.push((next, i64::MAX));
                    return Ok((found, unlisted));
                }
            }
        } else if got < PAGE_ROWS {
            return Ok((found, unlisted));
        }
    }
}

/// The first readable rowid past a damaged part of `table` that starts at
/// `start`: probes ahead in doubling steps, then narrows to the boundary.
/// `None` when nothing readable lies past the damage.
fn skip_damage(from: &Connection, table: &str, start: i64) -> Option<i64> {
    let sql = format!("SELECT rowid FROM {table} WHERE rowid >= ?1 ORDER BY rowid LIMIT 1");
    let probe = |at: i64| -> Result<Option<i64>, ()> {
        from.query_row(&sql, [at], |r| r.get::<_, i64>(0)).optional().map_err(|_| ())
    };
    let (mut failed, mut ok) = (start, None);
    for k in 0..63 {
        let Some(at) = start.checked_add(1i64 << k) else { break };
        match probe(at) {
            Ok(found) => {
                ok = Some((at, found));
                break;
            }
            Err(()) => failed = at,
        }
    }
    let (mut good, mut found) = ok?;
    while good - failed > 1 {
        let mid = failed + (good - failed) / 2;
        match probe(mid) {
            Ok(f) => (good, found) = (mid, f),
            Err(()) => failed = mid,
        }
    }
    found
}
