//! The SQLite schema, its version, the pragmas, and opening a store safely.
//!
//! A row of `rows` holds a whole put batch of one priority (see `codec`), so a
//! put of 1,000 events is one insert and a take of them one read. `skip` counts
//! events of a row already taken and committed, so a sink can take part of a row.

use crate::error::{Error, Result};
use rusqlite::{Connection, OpenFlags};
use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The schema version this build writes, kept in `PRAGMA user_version`.
pub const VERSION: i64 = 3;

const SCHEMA_V1: &str = "
CREATE TABLE rows (
    seq        INTEGER PRIMARY KEY,
    channel    TEXT    NOT NULL,
    priority   INTEGER NOT NULL,
    n          INTEGER NOT NULL,
    skip       INTEGER NOT NULL DEFAULT 0,
    bytes      INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    data       BLOB    NOT NULL
);
CREATE TABLE quarantine (
    id         INTEGER PRIMARY KEY,
    channel    TEXT    NOT NULL,
    sink       TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    at_ms      INTEGER NOT NULL,
    n          INTEGER NOT NULL,
    data       BLOB    NOT NULL
);
CREATE TABLE losses (
    channel    TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    priority   INTEGER NOT NULL,
    events     INTEGER NOT NULL,
    bytes      INTEGER NOT NULL,
    first_ms   INTEGER NOT NULL,
    last_ms    INTEGER NOT NULL,
    reported   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (channel, reason, priority)
);
CREATE TABLE sink_state (
    sink            TEXT PRIMARY KEY,
    attempts        INTEGER NOT NULL,
    next_attempt_ms INTEGER NOT NULL
);
";

/// Version 2: named counters that must survive a restart (the mobile metered budget).
const SCHEMA_V2: &str = "
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
";

/// Version 3: what sources must remember across restarts (taildir read positions),
/// written in the same transaction as the events they produced.
const SCHEMA_V3: &str = "
CREATE TABLE source_state (
    source TEXT NOT NULL,
    key    TEXT NOT NULL,
    value  BLOB NOT NULL,
    PRIMARY KEY (source, key)
);
";

/// The file name of the store inside the data directory.
pub const FILE_NAME: &str = "sluice.db";

/// The page size of a new store. Large pages suit the gateway's large batch
/// rows; small ones write less per small commit (a phone's record buffer).
pub const GATEWAY_PAGE_SIZE: u32 = 16384;

/// Opens (creating private to this user) the store in `dir`; a new file gets `page_size`-byte pages.
///
/// A file SQLite reports as corrupt or not a database is renamed to
/// `sluice.db.corrupt-<ms>` and a fresh store opened; the renamed path is returned
/// so the caller can report it. A damaged store never blocks startup.
///
/// # Errors
/// The directory cannot be created, or SQLite fails for a reason other than corruption.
pub fn open(dir: &Path, power_safe: bool, page_size: u32) -> Result<(Connection, Option<PathBuf>)> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| Error::from(e).context(dir.display()))?;
    let path = dir.join(FILE_NAME);
    match open_file(&path, power_safe, page_size) {
        Ok(conn) => Ok((conn, None)),
        Err(e) if is_corruption(&e) => {
            let aside = dir.join(format!("{FILE_NAME}.corrupt-{}", crate::event::now_ms()));
            log::error!(
                "store {} is corrupt ({e}); set aside as {}, starting a fresh one",
                path.display(),
                aside.display()
            );
            std::fs::rename(&path, &aside)?;
            for suffix in ["-wal", "-shm"] {
                let side = dir.join(format!("{FILE_NAME}{suffix}"));
                if side.exists() {
                    std::fs::rename(&side, dir.join(format!("{}{suffix}", aside.display())))?;
                }
            }
            Ok((open_file(&path, power_safe, page_size).map_err(Error::from)?, Some(aside)))
        }
        Err(e) => Err(Error::from(e).context(path.display())),
    }
}

fn is_corruption(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if matches!(f.code, rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase))
}

fn open_file(path: &Path, power_safe: bool, page_size: u32) -> rusqlite::Result<Connection> {
    // Create the file ourselves so it is 0600; SQLite gives -wal and -shm the same mode.
    if !path.exists() {
        let created = OpenOptions::new().write(true).create_new(true).mode(0o600).open(path);
        if let Err(e) = created {
            if e.kind() != std::io::ErrorKind::AlreadyExists {
                return Err(rusqlite::Error::InvalidPath(path.to_path_buf()));
            }
        }
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags)?;
    setup(&conn, power_safe, page_size)?;
    migrate(&mut conn)?;
    // Touch every table so a corrupt file is found now, not mid-run.
    conn.query_row("SELECT count(*) FROM rows", [], |_| Ok(()))?;
    Ok(conn)
}

/// All pragmas in one place.
fn setup(conn: &Connection, power_safe: bool, page_size: u32) -> rusqlite::Result<()> {
    // Only takes effect on a new file. 16 KiB for the gateway: rows hold compressed
    // batches of tens of KiB, fewer overflow pages. 4 KiB for phones: a commit of
    // a small record buffer writes a quarter of the bytes (tests/bench/mobile.sh).
    conn.pragma_update(None, "page_size", page_size)?;
    // Freed pages are reused and can be returned with `incremental_vacuum`.
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    // WAL: readers never block the writer; a commit is one append.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // The `durability` knob: NORMAL survives a killed process, FULL also power loss.
    conn.pragma_update(None, "synchronous", if power_safe { "FULL" } else { "NORMAL" })?;
    // Another process (the CLI's `inspect`) may hold a read lock briefly.
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // Keep the WAL from growing past 64 MiB after a burst.
    conn.pragma_update(None, "journal_size_limit", 64 << 20)?;
    // Checkpoint after ~16 MiB of WAL (1,000 pages of 16 KiB): fewer, larger checkpoints.
    conn.pragma_update(None, "wal_autocheckpoint", 1000)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    Ok(())
}

/// Steps `user_version` up to [`VERSION`] in one exclusive transaction.
fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version < 1 {
        tx.execute_batch(SCHEMA_V1)?;
    }
    if version < 2 {
        tx.execute_batch(SCHEMA_V2)?;
    }
    if version < 3 {
        tx.execute_batch(SCHEMA_V3)?;
    }
    if version > VERSION {
        log::warn!("store schema version {version} is newer than this build's {VERSION}; opening anyway");
    } else {
        tx.pragma_update(None, "user_version", VERSION)?;
    }
    tx.commit()
}
