//! A check of the WAL before SQLite recovers it: SQLite stops at the first frame
//! whose checksum fails and silently drops every frame after it, committed or
//! not. A torn last write after a power cut looks like that and loses nothing
//! that was committed; a bad frame *followed by* valid frames of the same WAL
//! means committed transactions are being thrown away. That is found here, so
//! it is reported (and the WAL kept aside for forensics), not silent.
//!
//! The format is SQLite's (<https://www.sqlite.org/fileformat.html#the_write_ahead_log>):
//! a 32-byte header, then frames of a 24-byte header and one page, each frame's
//! checksum running on from the previous one.

use std::path::Path;

const HEADER: usize = 32;
const FRAME_HEADER: usize = 24;
const MAGIC_LE: u32 = 0x377f_0682;
const MAGIC_BE: u32 = 0x377f_0683;

/// Committed frames SQLite will drop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalDamage {
    /// The first frame (1-based) whose checksum fails.
    pub bad_frame: u64,
    /// Frames of this WAL after it (SQLite drops them all).
    pub later_frames: u64,
    /// Of those, commit frames: transactions lost.
    pub later_commits: u64,
}

/// Reads the WAL at `path`; `None` when it is absent, empty, intact, or ends in
/// a torn write.
pub fn check(path: &Path) -> Option<WalDamage> {
    let bytes = std::fs::read(path).ok()?;
    check_bytes(&bytes)
}

/// As [`check`], on the WAL's bytes.
pub fn check_bytes(bytes: &[u8]) -> Option<WalDamage> {
    let header = bytes.get(..HEADER)?;
    let magic = be32(header, 0);
    let big_endian = match magic {
        MAGIC_LE => false,
        MAGIC_BE => true,
        _ => return None,
    };
    let page_size = be32(header, 8) as usize;
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return None;
    }
    let salts = (be32(header, 16), be32(header, 20));
    let mut sum = checksum(big_endian, (0, 0), &header[..24]);
    if sum != (be32(header, 24), be32(header, 28)) {
        return None;
    }
    let frame_len = FRAME_HEADER + page_size;
    let frames = bytes[HEADER..].chunks_exact(frame_len);
    let mut bad: Option<WalDamage> = None;
    for (i, frame) in (1u64..).zip(frames) {
        let ours = (be32(frame, 8), be32(frame, 12)) == salts;
        if let Some(damage) = &mut bad {
            // Frames of this WAL after the bad one were written after it: they are lost.
            if ours {
                damage.later_frames += 1;
                damage.later_commits += u64::from(be32(frame, 4) != 0);
            }
            continue;
        }
        if !ours {
            return None;
        }
        let next = checksum(big_endian, checksum(big_endian, sum, &frame[..8]), &frame[FRAME_HEADER..]);
        if next != (be32(frame, 16), be32(frame, 20)) {
            bad = Some(WalDamage { bad_frame: i, later_frames: 0, later_commits: 0 });
            continue;
        }
        sum = next;
    }
    bad.filter(|d| d.later_frames > 0)
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// SQLite's WAL checksum over `data` (a multiple of 8 bytes), continuing from `s`.
fn checksum(big_endian: bool, s: (u32, u32), data: &[u8]) -> (u32, u32) {
    let (mut s0, mut s1) = s;
    for pair in data.chunks_exact(8) {
        let word = |i: usize| {
            let w = [pair[i], pair[i + 1], pair[i + 2], pair[i + 3]];
            if big_endian {
                u32::from_be_bytes(w)
            } else {
                u32::from_le_bytes(w)
            }
        };
        s0 = s0.wrapping_add(word(0)).wrapping_add(s1);
        s1 = s1.wrapping_add(word(4)).wrapping_add(s0);
    }
    (s0, s1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    /// A real WAL from SQLite with a few committed transactions, kept by not checkpointing.
    fn wal_of_three_commits() -> rusqlite::Result<(tempfile::TempDir, Vec<u8>, usize)> {
        let dir = tempfile::tempdir().map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        let path = dir.path().join("t.db");
        let conn = Connection::open(&path)?;
        conn.pragma_update(None, "page_size", 4096)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        conn.execute_batch("CREATE TABLE t (x BLOB)")?;
        for i in 0..3 {
            conn.execute("INSERT INTO t VALUES (?1)", [vec![i as u8; 9000]])?;
        }
        let wal = std::fs::read(dir.path().join("t.db-wal"))
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        // The connection stays open until here: closing would checkpoint and remove the WAL.
        drop(conn);
        Ok((dir, wal, 4096 + FRAME_HEADER))
    }

    #[test]
    fn an_intact_wal_and_a_torn_tail_are_not_damage() -> rusqlite::Result<()> {
        let (_dir, wal, frame) = wal_of_three_commits()?;
        assert_eq!(check_bytes(&wal), None);
        let frames = (wal.len() - HEADER) / frame;
        assert!(frames >= 6, "{frames} frames");
        // The last frame half written: a torn write, nothing committed after it.
        let mut torn = wal.clone();
        let last = HEADER + (frames - 1) * frame;
        torn[last + FRAME_HEADER + 100] ^= 0xff;
        assert_eq!(check_bytes(&torn), None);
        Ok(())
    }

    #[test]
    fn a_bad_frame_followed_by_commits_is_damage() -> rusqlite::Result<()> {
        let (_dir, mut wal, frame) = wal_of_three_commits()?;
        let frames = ((wal.len() - HEADER) / frame) as u64;
        wal[HEADER + frame + FRAME_HEADER + 7] ^= 0x55;
        let damage = check_bytes(&wal).ok_or(rusqlite::Error::InvalidQuery)?;
        assert_eq!(damage.bad_frame, 2);
        assert_eq!(damage.later_frames, frames - 2);
        assert!(damage.later_commits >= 2, "{damage:?}");
        Ok(())
    }
}
