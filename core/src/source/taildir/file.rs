//! One followed file: its identity, its committed read position, and reading
//! whole lines from there.
//!
//! A file is known by a *fingerprint*, not by its name: with `content` (the
//! default) a hash of its first line (at most 1 KiB), so a copy made by
//! `copytruncate` is recognised as the file already half read, and a renamed
//! file as the same file; with `inode`, by device and inode number.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::PathBuf;
use std::time::Instant;

/// How many leading bytes a content fingerprint covers at most.
pub const FINGERPRINT_BYTES: usize = 1024;

/// How files are told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fingerprint {
    /// A hash of the first line: survives renames and `copytruncate` copies.
    Content,
    /// Device and inode: for files whose first lines are alike (a fixed header).
    Inode,
}

/// The key of the open file `file`, or `None` while its first line is incomplete.
///
/// # Errors
/// Reading the file fails.
pub fn key_of(file: &File, how: Fingerprint) -> io::Result<Option<String>> {
    match how {
        Fingerprint::Inode => {
            let meta = file.metadata()?;
            Ok(Some(format!("i{:x}:{:x}", meta.dev(), meta.ino())))
        }
        Fingerprint::Content => {
            let mut head = [0u8; FINGERPRINT_BYTES];
            let n = read_full_at(file, &mut head, 0)?;
            let head = &head[..n];
            let end = match head.iter().position(|b| *b == b'\n') {
                Some(at) => at + 1,
                None if n == FINGERPRINT_BYTES => n,
                None => return Ok(None),
            };
            Ok(Some(format!("c{:016x}", fnv1a(&head[..end]))))
        }
    }
}

/// Reads until `buf` is full or the file ends; returns how many bytes were read.
fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// 64-bit FNV-1a: stable across builds (positions outlive the binary that wrote them).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// An open file handle with the identity it had when opened.
pub struct Open {
    /// The handle; kept after a rename or unlink so the rest can still be read.
    pub file: File,
    /// Device number.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
}

impl Open {
    /// Wraps `file`.
    ///
    /// # Errors
    /// `fstat` fails.
    pub fn new(file: File) -> io::Result<Open> {
        let meta = file.metadata()?;
        Ok(Open { dev: meta.dev(), ino: meta.ino(), file })
    }

    /// The file's current size.
    ///
    /// # Errors
    /// `fstat` fails.
    pub fn size(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }
}

/// A file being followed.
pub struct Tracked {
    /// Its fingerprint key (the `source_state` key of its position).
    pub key: String,
    /// The path it was last seen at.
    pub path: PathBuf,
    /// Bytes read and committed: always at a line boundary.
    pub offset: u64,
    /// The open handle, when the file is attached.
    pub open: Option<Open>,
    /// Since when no path matched this file (it was rotated away or deleted).
    pub missing_since: Option<Instant>,
    /// Last time lines were read from it, to close idle handles.
    pub last_read: Instant,
}

/// Lines read in one go.
pub struct Lines {
    /// Line bodies, without the newline (and a `\r` before it).
    pub bodies: Vec<Vec<u8>>,
    /// The offset just after the last line read.
    pub offset: u64,
    /// How many of them were cut to `max_line`.
    pub truncated: u64,
}

/// Reads up to `max_lines` complete lines of `file` from `offset`, cutting each to
/// `max_line` bytes. A last line without its newline is left for later. `scratch`
/// is reused between calls and must be larger than `max_line`.
///
/// # Errors
/// Reading the file fails.
pub fn read_lines(
    file: &File,
    offset: u64,
    max_lines: usize,
    max_line: usize,
    scratch: &mut [u8],
) -> io::Result<Lines> {
    let mut out = Lines { bodies: Vec::new(), offset, truncated: 0 };
    while out.bodies.len() < max_lines {
        let n = read_full_at(file, scratch, out.offset)?;
        if n == 0 {
            break;
        }
        let chunk = &scratch[..n];
        let mut start = 0;
        let mut progressed = false;
        while out.bodies.len() < max_lines {
            let Some(nl) = chunk[start..].iter().position(|b| *b == b'\n') else { break };
            let mut line = &chunk[start..start + nl];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            if line.len() > max_line {
                line = &line[..max_line];
                out.truncated += 1;
            }
            out.bodies.push(line.to_vec());
            start += nl + 1;
            progressed = true;
        }
        out.offset += start as u64;
        if !progressed {
            if n < scratch.len() {
                break; // an incomplete last line: wait for its newline
            }
            // A line longer than the whole buffer: keep its head, skip to its end.
            match skip_long_line(file, out.offset, scratch)? {
                Some(end) => {
                    let head = &scratch[..max_line.min(scratch.len())];
                    out.bodies.push(head.to_vec());
                    out.truncated += 1;
                    out.offset = end;
                }
                None => break,
            }
        } else if n < scratch.len() && start == n {
            break; // read to the end of the file
        }
    }
    Ok(out)
}

/// The offset after the newline ending the line that starts at `offset`, or `None`
/// if it has no newline yet. Leaves the line's first bytes in `scratch`.
fn skip_long_line(file: &File, offset: u64, scratch: &mut [u8]) -> io::Result<Option<u64>> {
    let mut probe = vec![0u8; 64 * 1024];
    let mut at = offset + scratch.len() as u64;
    loop {
        let n = read_full_at(file, &mut probe, at)?;
        if let Some(nl) = probe[..n].iter().position(|b| *b == b'\n') {
            // Restore the head of the line for the caller.
            read_full_at(file, scratch, offset)?;
            return Ok(Some(at + nl as u64 + 1));
        }
        if n < probe.len() {
            return Ok(None);
        }
        at += n as u64;
    }
}

/// Encodes a position for `source_state`: the offset (8 bytes, big-endian), then the path.
pub fn encode_position(offset: u64, path: &std::path::Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    let mut value = offset.to_be_bytes().to_vec();
    value.extend_from_slice(path.as_os_str().as_bytes());
    value
}

/// Decodes [`encode_position`]; `None` for a value too short to be one.
pub fn decode_position(value: &[u8]) -> Option<(u64, PathBuf)> {
    use std::os::unix::ffi::OsStrExt;
    let offset = u64::from_be_bytes(value.get(..8)?.try_into().ok()?);
    let path = std::path::Path::new(std::ffi::OsStr::from_bytes(value.get(8..)?)).to_path_buf();
    Some((offset, path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(bytes: &[u8]) -> io::Result<(tempfile::NamedTempFile, File)> {
        let mut tmp = tempfile::NamedTempFile::new()?;
        tmp.write_all(bytes)?;
        let file = File::open(tmp.path())?;
        Ok((tmp, file))
    }

    #[test]
    fn reads_whole_lines_and_leaves_a_partial_one() -> io::Result<()> {
        let (_tmp, file) = file_with(b"one\r\ntwo\nthr")?;
        let mut scratch = vec![0u8; 8];
        let lines = read_lines(&file, 0, 100, 100, &mut scratch)?;
        assert_eq!(lines.bodies, [b"one".to_vec(), b"two".to_vec()]);
        assert_eq!(lines.offset, 9);
        let again = read_lines(&file, lines.offset, 100, 100, &mut scratch)?;
        assert!(again.bodies.is_empty());
        assert_eq!(again.offset, 9);
        Ok(())
    }

    #[test]
    fn cuts_long_lines_and_counts_them() -> io::Result<()> {
        let mut data = vec![b'x'; 50];
        data.push(b'\n');
        data.extend_from_slice(b"short\n");
        let (_tmp, file) = file_with(&data)?;
        // A line longer than max_line within the buffer, and longer than the buffer.
        for size in [64, 16] {
            let mut scratch = vec![0u8; size];
            let lines = read_lines(&file, 0, 100, 10, &mut scratch)?;
            assert_eq!(lines.bodies, [vec![b'x'; 10], b"short".to_vec()], "buffer {size}");
            assert_eq!(lines.truncated, 1);
            assert_eq!(lines.offset, data.len() as u64);
        }
        Ok(())
    }

    #[test]
    fn stops_at_max_lines() -> io::Result<()> {
        let (_tmp, file) = file_with(b"a\nb\nc\n")?;
        let mut scratch = vec![0u8; 4];
        let lines = read_lines(&file, 0, 2, 10, &mut scratch)?;
        assert_eq!(lines.bodies.len(), 2);
        assert_eq!(lines.offset, 4);
        Ok(())
    }

    #[test]
    fn content_keys_wait_for_the_first_line_and_follow_it() -> io::Result<()> {
        let (_tmp, partial) = file_with(b"no newline yet")?;
        assert_eq!(key_of(&partial, Fingerprint::Content)?, None);
        let (_a, a) = file_with(b"first\nsecond\n")?;
        let (_b, b) = file_with(b"first\nother\n")?;
        let (_c, c) = file_with(b"else\n")?;
        assert_eq!(key_of(&a, Fingerprint::Content)?, key_of(&b, Fingerprint::Content)?);
        assert_ne!(key_of(&a, Fingerprint::Content)?, key_of(&c, Fingerprint::Content)?);
        assert!(key_of(&partial, Fingerprint::Inode)?.is_some());
        Ok(())
    }

    #[test]
    fn positions_round_trip() {
        let value = encode_position(1234, std::path::Path::new("/var/log/app.log"));
        assert_eq!(decode_position(&value), Some((1234, PathBuf::from("/var/log/app.log"))));
        assert_eq!(decode_position(b"short"), None);
    }
}
