//! Netty framing of Avro IPC and the `deflate` stream Flume wraps around it.
//!
//! A data pack is `serial:i32 count:i32 { length:i32 bytes }*count`, all
//! big-endian; the receiver concatenates the buffers. With
//! `compression-type = deflate` each direction is one zlib stream for the life
//! of the connection, sync-flushed after every message.

use flate2::write::ZlibEncoder;
use flate2::{Decompress, FlushDecompress, Status};
use std::io::{self, Read, Write};

/// Most buffers a reply may have (Flume sends three).
pub const MAX_BUFFERS: u32 = 64;
/// Largest reply accepted: a status is a few bytes, a handshake under 2 KiB.
pub const MAX_REPLY: usize = 64 * 1024;

/// Writes one data pack of `buffers` and flushes it.
///
/// # Errors
/// What the stream says.
pub fn write_pack(w: &mut dyn Write, serial: i32, buffers: &[&[u8]]) -> io::Result<()> {
    let total = 8 + buffers.iter().map(|b| 4 + b.len()).sum::<usize>();
    let mut pack = Vec::with_capacity(total);
    pack.extend_from_slice(&serial.to_be_bytes());
    pack.extend_from_slice(&(buffers.len() as u32).to_be_bytes());
    for b in buffers {
        pack.extend_from_slice(&(b.len() as u32).to_be_bytes());
        pack.extend_from_slice(b);
    }
    w.write_all(&pack)?;
    w.flush()
}

/// Reads one data pack: its serial and its buffers concatenated.
///
/// # Errors
/// I/O errors, and `InvalidData` for more than [`MAX_BUFFERS`] buffers or more
/// than [`MAX_REPLY`] bytes: an upstream that lies about lengths must not make
/// us allocate or wait for gigabytes.
pub fn read_pack(r: &mut dyn Read) -> io::Result<(i32, Vec<u8>)> {
    let serial = read_u32(r)? as i32;
    let count = read_u32(r)?;
    if count > MAX_BUFFERS {
        return Err(invalid(format!("reply announces {count} buffers")));
    }
    let mut data = Vec::new();
    for _ in 0..count {
        let len = read_u32(r)? as usize;
        if data.len() + len > MAX_REPLY {
            return Err(invalid(format!("reply larger than {MAX_REPLY} bytes")));
        }
        let start = data.len();
        data.resize(start + len, 0);
        r.read_exact(&mut data[start..])?;
    }
    Ok((serial, data))
}

fn read_u32(r: &mut dyn Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_be_bytes(b))
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// A byte stream both ways: TCP, zlib over TCP, or TLS over either.
pub trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// One zlib stream each way over a reader and a writer (two handles of one socket).
pub struct Zlib<R: Read, W: Write> {
    inflate: Inflate<R>,
    deflate: ZlibEncoder<W>,
}

impl<R: Read, W: Write> Zlib<R, W> {
    /// Wraps the two halves; `level` is zlib's 0–9.
    pub fn new(reader: R, writer: W, level: u32) -> Zlib<R, W> {
        Zlib {
            inflate: Inflate::new(reader),
            deflate: ZlibEncoder::new(writer, flate2::Compression::new(level.min(9))),
        }
    }
}

/// Size of the compressed-input buffer.
const INFLATE_BUFFER: usize = 16 * 1024;

/// A zlib stream reader for a socket. Unlike `flate2::read::ZlibDecoder` it
/// hands out output the inflater already holds before it asks the socket for
/// more, so a sync-flushed message never waits for bytes the peer will not
/// send until we answer.
pub struct Inflate<R: Read> {
    inner: R,
    z: Decompress,
    input: Box<[u8]>,
    start: usize,
    end: usize,
}

impl<R: Read> Inflate<R> {
    /// A reader of the zlib stream (RFC 1950) in `inner`.
    pub fn new(inner: R) -> Inflate<R> {
        Inflate { inner, z: Decompress::new(true), input: vec![0; INFLATE_BUFFER].into(), start: 0, end: 0 }
    }

    /// Reads more compressed bytes after those not yet consumed.
    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.input.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.input.len() {
            return Err(invalid("the zlib stream makes no progress".into()));
        }
        match self.inner.read(&mut self.input[self.end..])? {
            0 => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the zlib stream ended early")),
            n => {
                self.end += n;
                Ok(())
            }
        }
    }
}

impl<R: Read> Read for Inflate<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let (in_before, out_before) = (self.z.total_in(), self.z.total_out());
            let status = self
                .z
                .decompress(&self.input[self.start..self.end], buf, FlushDecompress::None)
                .map_err(|e| invalid(format!("zlib: {e}")))?;
            let consumed = (self.z.total_in() - in_before) as usize;
            let produced = (self.z.total_out() - out_before) as usize;
            self.start += consumed;
            if produced > 0 {
                return Ok(produced);
            }
            if status == Status::StreamEnd {
                return Ok(0);
            }
            if consumed == 0 || self.start == self.end {
                self.fill()?;
            }
        }
    }
}

impl<R: Read, W: Write> Read for Zlib<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inflate.read(buf)
    }
}

impl<R: Read, W: Write> Write for Zlib<R, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.deflate.write(buf)
    }

    /// A zlib sync flush (`00 00 FF FF`), then the socket's flush: what Netty's
    /// `JZlibEncoder` does after every message.
    fn flush(&mut self) -> io::Result<()> {
        self.deflate.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_round_trip_and_split_buffers_concatenate() {
        let mut wire = Vec::new();
        write_pack(&mut wire, 7, &[b"ab", b"", b"cde"]).unwrap();
        assert_eq!(&wire[..12], &[0, 0, 0, 7, 0, 0, 0, 3, 0, 0, 0, 2]);
        let (serial, data) = read_pack(&mut &wire[..]).unwrap();
        assert_eq!((serial, data.as_slice()), (7, &b"abcde"[..]));
    }

    #[test]
    fn lying_lengths_are_refused_without_allocating() {
        let many = [0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(read_pack(&mut &many[..]).unwrap_err().kind(), io::ErrorKind::InvalidData);
        let huge = [0, 0, 0, 1, 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff];
        assert_eq!(read_pack(&mut &huge[..]).unwrap_err().kind(), io::ErrorKind::InvalidData);
        let short = [0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 1, 2];
        assert_eq!(read_pack(&mut &short[..]).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn zlib_messages_are_sync_flushed_and_read_back_one_by_one() {
        let mut wire = Vec::new();
        {
            let mut z = Zlib::new(&[][..], &mut wire, 6);
            write_pack(&mut z, 1, &[b"first"]).unwrap();
            assert_eq!(&z.deflate.get_ref()[..2], &[0x78, 0x9c], "zlib header, level 6");
            assert!(z.deflate.get_ref().ends_with(&[0, 0, 0xff, 0xff]), "sync flush marker");
            write_pack(&mut z, 2, &[b"sec", b"ond"]).unwrap();
        }
        let mut z = Zlib::new(&wire[..], Vec::new(), 6);
        assert_eq!(read_pack(&mut z).unwrap(), (1, b"first".to_vec()));
        assert_eq!(read_pack(&mut z).unwrap(), (2, b"second".to_vec()));
        assert_eq!(read_pack(&mut z).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }

    /// A socket that has sent one sync-flushed message and then nothing: the
    /// whole message must be readable without another read of the socket.
    #[test]
    fn a_flushed_message_is_read_without_waiting_for_more_bytes() {
        struct Then<'a>(&'a [u8]);
        impl Read for Then<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() {
                    return Err(io::Error::new(io::ErrorKind::WouldBlock, "the peer waits for us"));
                }
                let n = buf.len().min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut z = Zlib::new(&[][..], Vec::new(), 6);
        write_pack(&mut z, 9, &[&[0u8; 27], &[1u8; 3000]]).unwrap();
        let wire = z.deflate.get_ref().clone(); // flushed, not finished: the stream goes on
        let mut z = Zlib::new(Then(&wire), Vec::new(), 6);
        let (serial, data) = read_pack(&mut z).unwrap();
        assert_eq!((serial, data.len()), (9, 3027));
    }

    #[test]
    fn garbage_is_an_error_not_a_hang() {
        let mut z = Zlib::new(&b"\x78\x9cnot deflate at all, just bytes"[..], Vec::new(), 6);
        assert!(read_pack(&mut z).is_err());
    }
}
