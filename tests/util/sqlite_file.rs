//! Just enough of SQLite's file format to find pages worth damaging: the
//! B-tree of the `rows` table, its leaves, and the overflow chains of its rows.
//! (<https://www.sqlite.org/fileformat.html>.)

use std::path::Path;

/// A store file read into memory.
pub struct File {
    /// The whole file.
    pub bytes: Vec<u8>,
    /// Its page size.
    pub page_size: usize,
}

/// A cell of a table leaf: a row.
#[derive(Debug, Clone)]
pub struct Row {
    /// The rowid (the `seq` of `rows`).
    pub rowid: i64,
    /// The leaf page it sits on.
    pub leaf: u32,
    /// Its overflow pages, in chain order.
    pub overflow: Vec<u32>,
}

impl File {
    /// Reads `path`.
    pub fn read(path: &Path) -> File {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let raw = u16::from_be_bytes([bytes[16], bytes[17]]) as usize;
        File { page_size: if raw == 1 { 65536 } else { raw }, bytes }
    }

    /// The bytes of page `n` (1-based).
    pub fn page(&self, n: u32) -> &[u8] {
        let start = (n as usize - 1) * self.page_size;
        &self.bytes[start..start + self.page_size]
    }

    /// Offset of page `n` in the file.
    pub fn offset(&self, n: u32) -> usize {
        (n as usize - 1) * self.page_size
    }

    /// The B-tree header of page `n` (page 1's starts after the 100-byte file header).
    fn header_at(n: u32) -> usize {
        if n == 1 {
            100
        } else {
            0
        }
    }

    /// The child pages of interior page `n`, left to right, with where each
    /// left-child pointer sits in the file (the right-most pointer last).
    pub fn children(&self, n: u32) -> Vec<(u32, usize)> {
        let page = self.page(n);
        let h = Self::header_at(n);
        assert_eq!(page[h], 0x05, "page {n} is not an interior table page");
        let cells = u16::from_be_bytes([page[h + 3], page[h + 4]]) as usize;
        let mut out = Vec::new();
        for i in 0..cells {
            let at = u16::from_be_bytes([page[h + 12 + 2 * i], page[h + 13 + 2 * i]]) as usize;
            out.push((u32::from_be_bytes([page[at], page[at + 1], page[at + 2], page[at + 3]]), self.offset(n) + at));
        }
        let right = u32::from_be_bytes([page[h + 8], page[h + 9], page[h + 10], page[h + 11]]);
        out.push((right, self.offset(n) + h + 8));
        out
    }

    /// Every row under page `n`, with its leaf and overflow chain.
    pub fn rows(&self, n: u32) -> Vec<Row> {
        let page = self.page(n);
        let h = Self::header_at(n);
        match page[h] {
            0x05 => self.children(n).into_iter().flat_map(|(child, _)| self.rows(child)).collect(),
            0x0d => {
                let cells = u16::from_be_bytes([page[h + 3], page[h + 4]]) as usize;
                (0..cells)
                    .map(|i| {
                        let at = u16::from_be_bytes([page[h + 8 + 2 * i], page[h + 9 + 2 * i]]) as usize;
                        self.leaf_cell(n, at)
                    })
                    .collect()
            }
            other => panic!("page {n} has type {other:#x}, not a table page"),
        }
    }

    fn leaf_cell(&self, leaf: u32, at: usize) -> Row {
        let page = self.page(leaf);
        let (payload, a) = varint(&page[at..]);
        let (rowid, b) = varint(&page[at + a..]);
        let usable = self.page_size - self.bytes[20] as usize;
        let local = local_payload(payload as usize, usable);
        let mut overflow = Vec::new();
        if local < payload as usize {
            let p = at + a + b + local;
            let mut next = u32::from_be_bytes([page[p], page[p + 1], page[p + 2], page[p + 3]]);
            while next != 0 && overflow.len() < 100_000 {
                overflow.push(next);
                let o = self.page(next);
                next = u32::from_be_bytes([o[0], o[1], o[2], o[3]]);
            }
        }
        Row { rowid: rowid as i64, leaf, overflow }
    }
}

/// How much of a table-leaf payload of `p` bytes is stored on the leaf page.
fn local_payload(p: usize, usable: usize) -> usize {
    let x = usable - 35;
    if p <= x {
        return p;
    }
    let m = ((usable - 12) * 32 / 255) - 23;
    let k = m + ((p - m) % (usable - 4));
    if k <= x {
        k
    } else {
        m
    }
}

/// An SQLite varint and its length.
fn varint(b: &[u8]) -> (u64, usize) {
    let mut v = 0u64;
    for (i, byte) in b.iter().take(8).enumerate() {
        v = (v << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            return (v, i + 1);
        }
    }
    ((v << 8) | u64::from(b[8]), 9)
}

/// Copies everything in the WAL of the store at `path` into the file, so the
/// file alone holds the store (a stopped agent may leave a WAL behind).
pub fn checkpoint(path: &Path) {
    let conn = rusqlite::Connection::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap_or_else(|e| panic!("checkpoint: {e}"));
}

/// The root page of table `name` in the store at `path`.
pub fn root_page(path: &Path, name: &str) -> u32 {
    let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    conn.query_row("SELECT rootpage FROM sqlite_schema WHERE name = ?1", [name], |r| r.get(0))
        .unwrap_or_else(|e| panic!("root page of {name}: {e}"))
}

/// `(seq, n - skip)` of every row of the store at `path`.
pub fn row_events(path: &Path) -> std::collections::BTreeMap<i64, u64> {
    let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut stmt = conn.prepare("SELECT seq, n - skip FROM rows").unwrap_or_else(|e| panic!("{e}"));
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap_or_else(|e| panic!("{e}"));
    rows.map(|r| r.unwrap_or_else(|e| panic!("{e}"))).collect()
}

/// Overwrites `bytes` at `offset` of the file at `path`.
pub fn overwrite(path: &Path, offset: usize, bytes: &[u8]) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap_or_else(|e| panic!("{e}"));
    f.seek(SeekFrom::Start(offset as u64)).unwrap_or_else(|e| panic!("{e}"));
    f.write_all(bytes).unwrap_or_else(|e| panic!("{e}"));
}
