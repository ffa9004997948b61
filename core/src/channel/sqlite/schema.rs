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
pub const VERSION: i64 = 4;

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

/// Version 4: event ids a de-duplicating source has stored (`dedup`), written in
/// the transaction of the put that stored them. About 115 bytes on disk a
/// remembered id, with its time index (`tests/bench/dedup.sh`).
const SCHEMA_V4: &str = "
CREATE TABLE seen_ids (
    source TEXT    NOT NULL,
    id     BLOB    NOT NULL,
    at_ms  INTEGER NOT NULL,
    PRIMARY KEY (source, id)
) WITHOUT ROWID;
CREATE INDEX seen_ids_by_age ON seen_ids (source, at_ms);
";

/// The file name of the store inside the data directory.
pub const FILE_NAME: &str = "sluice.db";

/// The page size of a new store. Large pages suit the gateway's large batch
/// rows; small ones write less per small commit (a phone's record buffer).
pub const GATEWAY_PAGE_SIZE: u32 = 16384;

/// A store opened, and what was found damaged on the way.
pub struct Opened {
    /// The connection to `sluice.db`.
    pub conn: Connection,
    /// Where a damaged store was moved to, if one was.
    pub set_aside: Option<PathBuf>,
    /// What was copied out of it, and what could not be.
    pub salvage: Option<super::salvage::Report>,
    /// Damage found whose events cannot be counted (a damaged WAL, an
    /// unreadable part of a table): reported in the quarantine with no events.
    pub notes: Vec<String>,
}

/// Opens (creating private to this user) the store in `dir`; a new file gets `page_size`-byte pages.
///
/// A store that SQLite cannot open as a database, that fails `PRAGMA
/// quick_check`, or whose file is empty (this version never leaves an empty
/// one: see [`create`]) is renamed to `sluice.db.corrupt-<ms>` with its WAL, a
/// fresh store is created, and every readable row is copied into it
/// ([`super::salvage`]). A damaged store never blocks startup and loses only
/// what it cannot read.
///
/// # Errors
/// The directory cannot be created or is not safe (see [`prepare_dir`]), or
/// SQLite fails for a reason other than damage.
pub fn open(dir: &Path, power_safe: bool, page_size: u32) -> Result<Opened> {
    prepare_dir(dir)?;
    let path = dir.join(FILE_NAME);
    let mut notes = Vec::new();
    if let Some(damage) = super::wal::check(&side_file(&path, "-wal")) {
        notes.push(report_wal_damage(dir, &path, &damage));
    }
    let damage = match std::fs::metadata(&path) {
        Ok(m) if m.len() == 0 => Some("the file is empty".to_string()),
        Ok(_) => match open_file(&path, power_safe, page_size) {
            Ok(conn) => match quick_check(&conn) {
                Ok(()) => return Ok(Opened { conn, set_aside: None, salvage: None, notes }),
                Err(why) => Some(why),
            },
            Err(e) if is_corruption(&e) => Some(e.to_string()),
            Err(e) => return Err(Error::from(e).context(path.display())),
        },
        // No database, but a WAL: the file was lost, the WAL may hold its pages.
        Err(_) if side_file(&path, "-wal").metadata().is_ok_and(|m| m.len() > 0) => {
            Some("the database file is missing beside its WAL".to_string())
        }
        Err(_) => None,
    };
    let Some(why) = damage else {
        return Ok(Opened { conn: create(&path, power_safe, page_size)?, set_aside: None, salvage: None, notes });
    };
    let aside = set_aside(dir, &path)?;
    log::error!(
        "store {} is damaged ({why}); set aside as {}, salvaging what is readable",
        path.display(),
        aside.display()
    );
    let conn = create(&path, power_safe, page_size)?;
    let report = salvage_from(&aside, &conn);
    log::error!("store {}: salvage of {}: {}", path.display(), aside.display(), report.summary());
    for (table, from, to) in &report.unlisted {
        notes.push(format!("corrupt: {table} ids {from}..={to} of {} unreadable (events unknown)", aside.display()));
    }
    Ok(Opened { conn, set_aside: Some(aside), salvage: Some(report), notes })
}

/// Keeps a copy of a WAL SQLite is about to cut short and says what is lost.
fn report_wal_damage(dir: &Path, path: &Path, damage: &super::wal::WalDamage) -> String {
    let wal = side_file(path, "-wal");
    let copy = dir.join(format!("{FILE_NAME}-wal.damaged-{}", crate::event::now_ms()));
    let kept = match std::fs::copy(&wal, &copy) {
        Ok(_) => format!("a copy is {}", copy.display()),
        Err(e) => format!("no copy kept: {e}"),
    };
    let note = format!(
        "corrupt: WAL frame {} fails its checksum; the {} frames after it ({} commits) are dropped by SQLite (events unknown; {kept})",
        damage.bad_frame, damage.later_frames, damage.later_commits
    );
    log::error!("store {}: {note}", path.display());
    note
}

/// Creates the data directory (0700), or checks an existing one: it must be a
/// directory, owned by this user, and not writable by others.
/// An existing directory of ours open to the group or others is tightened to
/// 0700, with a warning.
///
/// # Errors
/// Not a directory, owned by another user, or cannot be created or tightened.
pub fn prepare_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => {
            Err(Error::new(crate::ErrorKind::Io, format!("data_dir {} exists and is not a directory", dir.display())))
        }
        Ok(m) => {
            let me = rustix::process::geteuid().as_raw();
            if m.uid() != me {
                return Err(Error::new(
                    crate::ErrorKind::Io,
                    format!(
                        "data_dir {} belongs to uid {}, not to this user (uid {me}): refusing a store another user can swap",
                        dir.display(),
                        m.uid()
                    ),
                ));
            }
            let mode = m.mode() & 0o777;
            if mode & 0o077 != 0 {
                log::warn!("data_dir {} was open to others (mode {mode:o}); tightened to 0700", dir.display());
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                    .map_err(|e| Error::from(e).context(format!("cannot tighten {}", dir.display())))?;
            }
            Ok(())
        }
        Err(_) => DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::from(e).context(format!("cannot create data_dir {}", dir.display()))),
    }
}

/// `PRAGMA quick_check`: every page of every table and index is read and its
/// structure checked, overflow chains included.
fn quick_check(conn: &Connection) -> Result<(), String> {
    let started = std::time::Instant::now();
    let first: rusqlite::Result<String> = conn.query_row("PRAGMA quick_check(1)", [], |r| r.get(0));
    let took = started.elapsed();
    if took > std::time::Duration::from_secs(1) {
        log::info!("store check took {} ms", took.as_millis());
    }
    match first {
        Ok(text) if text == "ok" => Ok(()),
        Ok(text) => Err(format!("quick_check: {text}")),
        Err(e) => Err(format!("quick_check: {e}")),
    }
}

/// `path` with `suffix` appended (`-wal`, `-shm`).
fn side_file(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Renames the store (and its WAL and shared memory, where they exist) to
/// `sluice.db.corrupt-<ms>`, so SQLite still pairs them when salvaging.
pub(super) fn set_aside(dir: &Path, path: &Path) -> Result<PathBuf> {
    let aside = dir.join(format!("{FILE_NAME}.corrupt-{}", crate::event::now_ms()));
    for suffix in ["", "-wal", "-shm"] {
        let from = side_file(path, suffix);
        if from.exists() {
            std::fs::rename(&from, side_file(&aside, suffix))
                .map_err(|e| Error::from(e).context(format!("cannot set {} aside", from.display())))?;
        }
    }
    Ok(aside)
}

/// Copies what is readable of the store set aside at `aside` into `fresh`.
fn salvage_from(aside: &Path, fresh: &Connection) -> super::salvage::Report {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    match Connection::open_with_flags(aside, flags) {
        Ok(damaged) => {
            // Keep the evidence as found: no checkpoint into the damaged file on close.
            let _ = damaged.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true);
            let _ = damaged.busy_timeout(std::time::Duration::from_secs(5));
            super::salvage::copy(&damaged, fresh)
        }
        Err(e) => super::salvage::Report {
            stopped: Some(format!("cannot open it: {e}")),
            unlisted: vec![("rows".into(), i64::MIN, i64::MAX)],
            ..Default::default()
        },
    }
}

/// Creates a store at `path`: schema and pragmas are set up under a temporary
/// name first, so that `sluice.db` is never an empty file (an empty one always
/// means damage).
///
/// # Errors
/// SQLite or the file system fails.
fn create(path: &Path, power_safe: bool, page_size: u32) -> Result<Connection> {
    let temp = side_file(path, ".new");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(side_file(&temp, suffix));
    }
    let conn = open_file(&temp, power_safe, page_size).map_err(|e| Error::from(e).context(temp.display()))?;
    // Closing the only connection checkpoints the WAL into the file and removes it.
    conn.close().map_err(|(_, e)| Error::from(e).context(temp.display()))?;
    if side_file(&temp, "-wal").exists() {
        return Err(Error::storage(format!("{}: the new store kept its WAL after close", temp.display())));
    }
    std::fs::rename(&temp, path).map_err(|e| Error::from(e).context(path.display()))?;
    let _ = std::fs::remove_file(side_file(&temp, "-shm"));
    open_file(path, power_safe, page_size).map_err(|e| Error::from(e).context(path.display()))
}

pub(super) fn is_corruption(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if matches!(f.code, rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase))
}

/// Opens a store file and brings its schema up to date.
pub(super) fn open_file(path: &Path, power_safe: bool, page_size: u32) -> rusqlite::Result<Connection> {
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
    // Touch every table so a file that is not a store is found now, not mid-run.
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
    // The `durability` knob. "process": OFF, never an fsync. Everything committed
    // is in the page cache, so a killed process loses nothing; the kernel writes
    // it out within 30 s, and what the store truncates before then (delivered
    // data: see `space::upkeep`) is never written at all. NORMAL fsynced at every
    // checkpoint, so every byte reached the device (~160 bytes per event of
    // `tests/bench/flash.sh`, against 0.4 now). A power cut may lose the last 30 s
    // and can damage the file, which the next open salvages (`salvage`).
    // "power": FULL, an fsync at every commit.
    conn.pragma_update(None, "synchronous", if power_safe { "FULL" } else { "OFF" })?;
    // Another process (the CLI's `inspect`) may hold a read lock briefly.
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // The WAL's checkpoint threshold and size limit follow the disk: see `space`.
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
    if version < 4 {
        tx.execute_batch(SCHEMA_V4)?;
    }
    if version > VERSION {
        log::warn!("store schema version {version} is newer than this build's {VERSION}; opening anyway");
    } else if version < VERSION {
        tx.pragma_update(None, "user_version", VERSION)?;
    }
    // An up-to-date store is not written at all: it must open on a full disk.
    tx.commit()
}
