//! Disk space as a resource the store manages, so a full disk pushes back on
//! intake and never stops delivery.
//!
//! SQLite needs free space to *delete*: a commit appends pages to the WAL, and a
//! checkpoint copies WAL pages into the database file, which grows when they are
//! pages the file does not have yet. A store that filled its disk with puts could
//! then neither delete what it delivered nor accept anything new: it wedged for
//! good. Three rules prevent that:
//!
//! 1. **A put is admitted only if the disk keeps room for what follows it** — the
//!    WAL frames it writes, the growth its pages cause at the next checkpoint, the
//!    growth already waiting in the WAL, and the reserve below ([`need`]).
//! 2. **A reserve file** (`sluice.reserve`, [`Plan::reserve_bytes`]) is held while
//!    the disk has room and given back when a delete finds the disk full anyway
//!    (another program filled it): the delete and a checkpoint then fit. It is
//!    taken again once the disk has room, and until then puts count it as needed.
//! 3. **Under pressure** (the disk is tight) every write is followed by a
//!    truncating checkpoint, so the WAL hands its space back at once, and delivered
//!    rows become free pages that new puts reuse.
//!
//! The WAL's checkpoint threshold scales with the filesystem ([`Plan::for_disk`]):
//! a 16 MiB WAL is nothing on an 8 GB card and half of a 32 MiB partition.
//!
//! Flash wear is the other side of space ([`upkeep`]): with `durability =
//! "process"` nothing is fsynced, so what is written stays in the page cache
//! for up to 30 s, and a page truncated before then never reaches the device.
//! The store truncates the WAL and gives free pages back while the data they
//! held is still only in memory: while the upstream keeps up, delivered events
//! cost the device almost nothing.

use crate::error::{Error, ErrorKind, Result};
use rusqlite::Connection;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The reserve's file name in the data directory.
pub const RESERVE_FILE: &str = "sluice.reserve";

/// Most WAL pages before SQLite checkpoints (16 MiB at the gateway's 16 KiB
/// pages): fewer, larger checkpoints on disks that can afford them.
const WAL_PAGES_MAX: u64 = 1000;
/// Fewest WAL pages before a checkpoint, however small the disk.
const WAL_PAGES_MIN: u64 = 16;
/// The WAL may take at most this fraction (1/64) of the filesystem.
const WAL_SHARE_OF_DISK: u64 = 64;
/// Pages kept beyond a full WAL's checkpoint: room for a few commits (one
/// commit of a delivered batch rewrites ~5–10 pages: leaves, the freelist
/// trunk, the pointer map, page 1, the counters).
const RESERVE_SLACK_PAGES: u64 = 16;
/// Bytes a WAL frame adds to its page.
const WAL_FRAME_HEADER: u64 = 24;
/// Pages a put rewrites besides its own: its leaf, an interior page, the
/// pointer map, page 1, the counters.
const PUT_EXTRA_PAGES: u64 = 4;
/// Pages a step of giving free pages back to the filesystem moves at most:
/// each step's WAL must fit in what is free.
const VACUUM_STEP_PAGES: u64 = 16;
/// Free pages are handed back to the filesystem from this much on (and
/// whenever the store is empty): see [`upkeep`].
const SHRINK_MIN_BYTES: u64 = 1 << 20;
/// Free pages are not given back while more than this much is live (giving
/// back moves live pages from the file's end into the free ones).
const SHRINK_MAX_MOVE_BYTES: u64 = 2 << 20;
/// A WAL is checkpointed and truncated once this old, well inside the kernel's
/// 30 s before it writes a dirty file back: see [`upkeep`].
const WAL_MAX_AGE: Duration = Duration::from_secs(5);
/// The filesystem is read again at least this often (other programs write too).
const READ_EVERY: Duration = Duration::from_millis(250);

/// The space settings of one store, from its page size and its filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// The store's page size.
    pub page_size: u64,
    /// WAL pages before an automatic checkpoint.
    pub wal_pages: u64,
    /// The reserve file's size: a full WAL's checkpoint plus a few commits.
    pub reserve_bytes: u64,
}

impl Plan {
    /// The plan for a store of `page_size` on a filesystem of `disk_bytes`.
    pub fn for_disk(page_size: u64, disk_bytes: u64) -> Plan {
        let page_size = page_size.max(512);
        let wal_pages = (disk_bytes / WAL_SHARE_OF_DISK / page_size).clamp(WAL_PAGES_MIN, WAL_PAGES_MAX);
        Plan { page_size, wal_pages, reserve_bytes: (wal_pages + RESERVE_SLACK_PAGES) * page_size }
    }

    /// The WAL's size at which SQLite checkpoints, in bytes.
    pub fn wal_bytes(&self) -> u64 {
        self.wal_pages * self.page_size
    }
}

/// One reading of the filesystem and the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reading {
    /// Bytes the filesystem lets this user write.
    pub avail: u64,
    /// The database file's length.
    pub db_len: u64,
    /// Pages the database has, as the WAL sees it.
    pub page_count: u64,
    /// Of those, pages free for reuse.
    pub freelist: u64,
    /// The WAL file's length.
    pub wal_len: u64,
    /// Rows of events in the store (0 or 1: whether it holds any).
    pub live_rows: u64,
}

/// Bytes of free disk a put of `put_bytes` (encoded) needs so that everything
/// after it still fits: its WAL frames, its pages' growth at the next
/// checkpoint (free pages are reused first), the growth already waiting in the
/// WAL, and the reserve when it is not held. A pure function of the reading.
pub fn need(plan: &Plan, r: &Reading, put_bytes: u64, reserve_held: bool) -> u64 {
    let ps = plan.page_size;
    // A page holds its size less a few header bytes; count 7/8 to stay on the safe side.
    let new_pages = if put_bytes == 0 { 0 } else { (put_bytes * 8).div_ceil(ps * 7) };
    let wal = if put_bytes == 0 { 0 } else { (new_pages + PUT_EXTRA_PAGES) * (ps + WAL_FRAME_HEADER) };
    let growth = new_pages.saturating_sub(r.freelist) * ps;
    let waiting = (r.page_count * ps).saturating_sub(r.db_len);
    let reserve = if reserve_held { 0 } else { plan.reserve_bytes };
    wal + growth + waiting + reserve
}

/// Whether the disk is too tight for a full WAL cycle (the WAL growing to its
/// checkpoint size, plus the growth already waiting in it): then every write
/// gives the WAL's space back at once.
pub fn is_tight(plan: &Plan, r: &Reading) -> bool {
    let waiting = (r.page_count * plan.page_size).saturating_sub(r.db_len);
    r.avail < plan.reserve_bytes + waiting
}

/// What the store does after a write so that, while the upstream keeps up,
/// delivered data never reaches the storage device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upkeep {
    /// Nothing now.
    Nothing,
    /// Checkpoint and truncate the WAL to zero bytes.
    TruncateWal,
    /// Give this many free pages back to the filesystem (`incremental_vacuum`),
    /// then checkpoint and truncate the WAL, which truncates the file.
    Shrink(u64),
}

/// The upkeep after a write, from the store's reading and the time since the
/// WAL was last truncated. A pure function.
///
/// With `durability = "process"` nothing forces written pages out, so the
/// kernel writes a dirty page back only once its file has been dirty for 30 s
/// (`vm.dirty_expire_centisecs`), and a page truncated before that is never
/// written: `cancelled_write_bytes` in `/proc/PID/io`. So:
/// - free pages are given back (the file truncated) once they are at least
///   [`SHRINK_MIN_BYTES`] and the live pages, which giving back may move, at
///   most [`SHRINK_MAX_MOVE_BYTES`], or whenever the store is empty: a burst
///   grows the file, delivery frees its pages, and truncating them cancels
///   their writes. A long backlog being drained is not moved again and again:
///   its live rows sit at the file's end, behind the pages delivery freed;
/// - the WAL is truncated once it is [`WAL_MAX_AGE`] old, so it never lives
///   long enough to be written back at a low event rate.
pub fn upkeep(plan: &Plan, r: &Reading, wal_age: Duration) -> Upkeep {
    let free = r.freelist * plan.page_size;
    let live = r.page_count.saturating_sub(r.freelist) * plan.page_size;
    let empty = r.live_rows == 0;
    if r.freelist > 0 && (empty || (free >= SHRINK_MIN_BYTES && live <= SHRINK_MAX_MOVE_BYTES)) {
        return Upkeep::Shrink(r.freelist);
    }
    if r.wal_len > 0 && (empty || wal_age >= WAL_MAX_AGE) {
        return Upkeep::TruncateWal;
    }
    Upkeep::Nothing
}

/// Free bytes the disk must have to take the reserve back and still have room
/// for a full WAL cycle after it.
pub fn rearm_needs(plan: &Plan, r: &Reading) -> u64 {
    2 * plan.reserve_bytes + need(plan, r, 0, true)
}

/// The store's view of its disk: the plan, the reserve, the last reading.
#[derive(Debug)]
pub(super) struct Space {
    dir: PathBuf,
    plan: Plan,
    reserve_held: bool,
    pressure: bool,
    last: Option<(Instant, Reading)>,
    /// Whether to carry out [`upkeep`]: not with `durability = "power"`, whose
    /// fsync at every commit writes every page anyway.
    cancel_writes: bool,
    truncated_at: Instant,
}

impl Space {
    /// The space of a store in `dir` with `page_size`-byte pages; sets the WAL
    /// limits on `conn` and takes the reserve if the disk has room for it.
    pub fn open(dir: &Path, conn: &Connection, page_size: u64, power_safe: bool) -> Space {
        let disk = disk_size(dir).unwrap_or(u64::MAX);
        let plan = Plan::for_disk(page_size, disk);
        if let Err(e) = apply_wal_limits(conn, &plan, !power_safe) {
            log::warn!("store {}: cannot set the WAL limits: {e}", dir.display());
        }
        let mut space = Space {
            dir: dir.to_path_buf(),
            plan,
            reserve_held: false,
            pressure: false,
            last: None,
            cancel_writes: !power_safe,
            truncated_at: Instant::now(),
        };
        space.reserve_held = reserve_path(dir).metadata().is_ok_and(|m| m.len() >= plan.reserve_bytes);
        space.rearm(conn);
        // A killed run may have left a WAL (or free pages) that no write of this
        // run would give back if it has nothing to do.
        if space.cancel_writes {
            space.upkeep(conn);
        }
        space
    }

    /// The plan in force.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Reads the filesystem and the store now.
    fn read(&mut self, conn: &Connection) -> Result<Reading> {
        let reading = Reading {
            avail: avail_bytes(&self.dir)?,
            db_len: std::fs::metadata(self.dir.join(super::schema::FILE_NAME)).map_or(0, |m| m.len()),
            page_count: pragma_u64(conn, "page_count")?,
            freelist: pragma_u64(conn, "freelist_count")?,
            wal_len: std::fs::metadata(self.dir.join(format!("{}-wal", super::schema::FILE_NAME)))
                .map_or(0, |m| m.len()),
            live_rows: u64::from(!store_is_empty(conn)),
        };
        self.last = Some((Instant::now(), reading));
        self.pressure = is_tight(&self.plan, &reading);
        Ok(reading)
    }

    /// A reading no older than [`READ_EVERY`], less what was written since.
    fn fresh(&mut self, conn: &Connection) -> Result<Reading> {
        match self.last {
            Some((at, reading)) if at.elapsed() < READ_EVERY && !self.pressure => Ok(reading),
            _ => self.read(conn),
        }
    }

    /// Whether a put of `put_bytes` (encoded) fits on the disk now; [`Short`]
    /// says by how much it does not. Takes the reserve back first when it was
    /// given away and there is room again.
    ///
    /// # Errors
    /// [`Short`] when the disk has no room for the put; an unreadable
    /// filesystem or store counts as no room.
    pub fn admit(&mut self, conn: &Connection, put_bytes: u64) -> Result<(), Short> {
        if let Ok(reading) = self.fresh(conn) {
            if reading.avail >= need(&self.plan, &reading, put_bytes, self.reserve_held) {
                self.charge(put_bytes);
                return Ok(());
            }
        }
        // A truncating checkpoint may give the WAL's space back; read again after it.
        checkpoint_truncate(conn);
        if !self.reserve_held {
            self.rearm(conn);
        }
        let reading = self.read(conn).unwrap_or_default();
        let needed = need(&self.plan, &reading, put_bytes, self.reserve_held);
        if reading.avail >= needed {
            self.charge(put_bytes);
            return Ok(());
        }
        self.pressure = true;
        Err(Short { dir: self.dir.clone(), avail: reading.avail, needed })
    }

    /// Counts a put against the last reading, so a burst between readings is seen.
    fn charge(&mut self, put_bytes: u64) {
        let spent = need(&self.plan, &Reading::default(), put_bytes, true);
        if let Some((_, reading)) = &mut self.last {
            reading.avail = reading.avail.saturating_sub(spent);
        }
    }

    /// After a write transaction: under pressure, give the WAL's space back now.
    /// Then, at most every [`READ_EVERY`] or whenever the store is empty, the
    /// [`upkeep`] that lets the kernel cancel writes of delivered data.
    pub fn after_write(&mut self, conn: &Connection) {
        if self.pressure {
            checkpoint_truncate(conn);
            self.last = None;
        }
        let due = self.last.is_none_or(|(at, _)| at.elapsed() >= READ_EVERY);
        if self.cancel_writes && (due || store_is_empty(conn)) {
            self.upkeep(conn);
        }
        if !self.reserve_held && due {
            self.rearm(conn);
        }
    }

    /// Carries out [`upkeep`].
    fn upkeep(&mut self, conn: &Connection) {
        let Ok(reading) = self.read(conn) else { return };
        match upkeep(&self.plan, &reading, self.truncated_at.elapsed()) {
            Upkeep::Nothing => return,
            Upkeep::TruncateWal => {}
            Upkeep::Shrink(pages) => {
                if let Err(e) = incremental_vacuum(conn, pages) {
                    log::debug!("incremental vacuum: {e}");
                }
            }
        }
        checkpoint_truncate(conn);
        self.truncated_at = Instant::now();
        self.last = None;
    }

    /// A delete found the disk full: give the reserve back and checkpoint, so
    /// the retried delete fits. Returns whether there was a reserve to give.
    pub fn release_reserve(&mut self, conn: &Connection) -> bool {
        let had = self.reserve_held;
        if had {
            match std::fs::remove_file(reserve_path(&self.dir)) {
                Ok(()) => {
                    log::warn!("store {}: disk full; the space reserve was given back to delete", self.dir.display())
                }
                Err(e) => log::error!("store {}: cannot give the space reserve back: {e}", self.dir.display()),
            }
            self.reserve_held = false;
        }
        self.pressure = true;
        checkpoint_truncate(conn);
        self.last = None;
        had
    }

    /// Takes the reserve (again) if the disk has room for it and a put after it.
    fn rearm(&mut self, conn: &Connection) {
        if self.reserve_held {
            return;
        }
        let Ok(mut reading) = self.read(conn) else { return };
        // Delivered rows left free pages inside the file: give some back to the
        // filesystem, a few pages a step so each step's WAL fits.
        while reading.avail < rearm_needs(&self.plan, &reading) && reading.freelist > 0 {
            let step = reading.freelist.min(VACUUM_STEP_PAGES);
            if let Err(e) = incremental_vacuum(conn, step) {
                log::debug!("incremental vacuum: {e}");
                return;
            }
            checkpoint_truncate(conn);
            let before = reading.freelist;
            let Ok(next) = self.read(conn) else { return };
            reading = next;
            if reading.freelist >= before {
                return;
            }
        }
        if reading.avail < rearm_needs(&self.plan, &reading) {
            return;
        }
        match write_reserve(&reserve_path(&self.dir), self.plan.reserve_bytes) {
            Ok(()) => {
                self.reserve_held = true;
                self.last = None;
                let size = crate::units::ByteSize(self.plan.reserve_bytes);
                log::info!("store {}: {size} set aside as the space reserve (sluice.reserve)", self.dir.display());
            }
            Err(e) => log::warn!("store {}: cannot take the space reserve: {e}", self.dir.display()),
        }
    }
}

/// What the disk of `dir` says about channel quotas totalling `quota_bytes`:
/// a warning when they cannot all be held, `None` when they can or the disk
/// cannot be read. `dir` need not exist yet (its nearest existing parent is read).
pub fn outlook(dir: &Path, quota_bytes: u64) -> Option<String> {
    let existing = dir.ancestors().find(|d| d.exists())?;
    let avail = avail_bytes(existing).ok()?;
    let store: u64 = ["", "-wal"]
        .iter()
        .filter_map(|s| std::fs::metadata(dir.join(format!("{}{s}", super::schema::FILE_NAME))).ok())
        .map(|m| m.len())
        .sum();
    outlook_message(dir, avail + store, quota_bytes)
}

/// The warning for quotas of `quota_bytes` on a disk where the store may take
/// `room` bytes (what is free plus what it holds). A pure function.
pub fn outlook_message(dir: &Path, room: u64, quota_bytes: u64) -> Option<String> {
    (quota_bytes > room).then(|| {
        format!(
            "the sqlite channels' max_bytes total {} MiB but the disk of {} has room for {} MiB: the disk fills first,              and then intake is refused (block, reject) or the oldest events are evicted (drop_oldest), counted;              lower max_bytes to keep other programs' space",
            quota_bytes >> 20,
            dir.display(),
            room >> 20
        )
    })
}

/// A put the disk has no room for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Short {
    dir: PathBuf,
    /// Bytes free on the disk.
    pub avail: u64,
    /// Bytes the put would need free.
    pub needed: u64,
}

impl Short {
    /// How many bytes are missing.
    pub fn bytes(&self) -> u64 {
        self.needed.saturating_sub(self.avail)
    }

    /// The error a refused put carries.
    pub fn into_error(self) -> Error {
        Error::new(
            ErrorKind::DiskFull,
            format!(
                "disk full: {} has {} bytes free; the store needs {} to take this put and still delete and checkpoint",
                self.dir.display(),
                self.avail,
                self.needed
            ),
        )
    }
}

/// The path of the reserve file in `dir`.
pub fn reserve_path(dir: &Path) -> PathBuf {
    dir.join(RESERVE_FILE)
}

/// Sets the automatic checkpoint and the WAL's size after a checkpoint: zero
/// when the store lets the kernel cancel writes (the WAL's dirty pages go with
/// the truncation), a full WAL with `durability = "power"` (its fsyncs wrote the
/// pages anyway, and a WAL that keeps its length is overwritten in place, with
/// no file size change to commit at every fsync).
fn apply_wal_limits(conn: &Connection, plan: &Plan, cancel_writes: bool) -> rusqlite::Result<()> {
    conn.pragma_update(None, "wal_autocheckpoint", plan.wal_pages)?;
    conn.pragma_update(None, "journal_size_limit", if cancel_writes { 0 } else { plan.wal_bytes() })
}

/// Checkpoints everything and truncates the WAL to zero bytes; a busy reader
/// (`sluice inspect`) or a full disk makes it a partial checkpoint, which is fine.
pub(super) fn checkpoint_truncate(conn: &Connection) {
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
        log::debug!("checkpoint: {e}");
    }
}

/// Writes the reserve: allocated blocks (not a sparse file), so deleting it frees
/// them. Not synced: the blocks count as used from the call on, and a reserve
/// lost in a crash is simply taken again at the next open.
fn write_reserve(path: &Path, bytes: u64) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    if rustix::fs::fallocate(&file, rustix::fs::FallocateFlags::empty(), 0, bytes).is_ok() {
        return Ok(());
    }
    // No fallocate here: write bytes that a compressing filesystem cannot shrink.
    let mut block = vec![0u8; 64 << 10];
    fastrand::fill(&mut block);
    let mut left = bytes;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        if let Err(e) = file.write_all(&block[..n]) {
            let _ = std::fs::remove_file(path);
            return Err(e);
        }
        left -= n as u64;
    }
    Ok(())
}

/// Bytes this user may still write on the filesystem of `dir`.
pub fn avail_bytes(dir: &Path) -> Result<u64> {
    let s = rustix::fs::statvfs(dir).map_err(|e| Error::from(std::io::Error::from(e)).context(dir.display()))?;
    Ok(s.f_bavail.saturating_mul(s.f_frsize))
}

/// The size of the filesystem of `dir`.
pub fn disk_size(dir: &Path) -> Result<u64> {
    let s = rustix::fs::statvfs(dir).map_err(|e| Error::from(std::io::Error::from(e)).context(dir.display()))?;
    Ok(s.f_blocks.saturating_mul(s.f_frsize))
}

/// Gives up to `pages` free pages back to the filesystem (at the next
/// checkpoint). The pragma frees one page per step, each step yielding a row:
/// run once (`execute_batch`), it freed a single page.
fn incremental_vacuum(conn: &Connection, pages: u64) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(&format!("PRAGMA incremental_vacuum({pages})"))?;
    let mut rows = stmt.query([])?;
    while rows.next()?.is_some() {}
    Ok(())
}

/// Whether the store holds no events (a failed read counts as not empty).
fn store_is_empty(conn: &Connection) -> bool {
    let empty =
        conn.prepare_cached("SELECT NOT EXISTS (SELECT 1 FROM rows)").and_then(|mut s| s.query_row([], |r| r.get(0)));
    empty.unwrap_or(false)
}

fn pragma_u64(conn: &Connection, name: &str) -> Result<u64> {
    let n: i64 = conn.pragma_query_value(None, name, |r| r.get(0))?;
    Ok(n.max(0) as u64)
}

#[cfg(test)]
mod tests;
