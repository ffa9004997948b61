//! Avro binary of Flume's `AvroSourceProtocol`: requests out, replies in.
//!
//! Only what the protocol needs: zig-zag longs, strings, bytes, maps of
//! strings, the handshake records and the `appendBatch` call. The reply
//! decoder is bounds-checked throughout: an upstream's bytes are input.

use crate::event::Event;
use std::fmt;

/// Our protocol, as Avro JSON. Named types keep Flume's full names, which Avro
/// schema resolution matches on; the `doc` (Flume's licence header) is left out.
pub const PROTOCOL_JSON: &str = concat!(
    r#"{"protocol":"AvroSourceProtocol","namespace":"org.apache.flume.source.avro","types":["#,
    r#"{"type":"enum","name":"Status","symbols":["OK","FAILED","UNKNOWN"]},"#,
    r#"{"type":"record","name":"AvroFlumeEvent","fields":[{"name":"headers","type":{"type":"map","values":"string"}},"#,
    r#"{"name":"body","type":"bytes"}]}],"messages":{"append":{"request":[{"name":"event","type":"AvroFlumeEvent"}],"#,
    r#""response":"Status"},"appendBatch":{"request":[{"name":"events","type":{"type":"array","items":"AvroFlumeEvent"}}],"#,
    r#""response":"Status"}}}"#
);

/// MD5 of [`PROTOCOL_JSON`] (checked by a test).
pub const PROTOCOL_MD5: [u8; 16] = hex16("30da54059df72d9584b867d5202e2069");

/// Our guess of Flume's own protocol hash before a server has told us (a wrong
/// guess costs nothing: the server answers `CLIENT` with its real hash).
pub const FLUME_MD5_GUESS: [u8; 16] = hex16("86aadae2c45474c0fe93ffd0f2350a65");

const fn hex16(s: &str) -> [u8; 16] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not lowercase hex"),
        }
    }
    let b = s.as_bytes();
    let mut out = [0u8; 16];
    let mut i = 0;
    while i < 16 {
        out[i] = nibble(b[2 * i]) << 4 | nibble(b[2 * i + 1]);
        i += 1;
    }
    out
}

/// Appends a zig-zag varint long.
pub fn write_long(out: &mut Vec<u8>, n: i64) {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// Appends Avro `bytes` (or `string`: the same encoding).
pub fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    write_long(out, b.len() as i64);
    out.extend_from_slice(b);
}

/// The first buffer of a request: handshake (on a fresh connection), empty
/// call metadata and the message name `appendBatch`.
pub fn write_request_header(out: &mut Vec<u8>, handshake: Option<&[u8; 16]>) {
    if let Some(server_hash) = handshake {
        out.extend_from_slice(&PROTOCOL_MD5);
        out.push(2); // clientProtocol: union branch 1, string
        write_bytes(out, PROTOCOL_JSON.as_bytes());
        out.extend_from_slice(server_hash);
        out.extend_from_slice(&[2, 0]); // meta: union branch 1, empty map
    }
    out.push(0); // call metadata: empty map
    write_bytes(out, b"appendBatch");
}

/// Appends `array<AvroFlumeEvent>` in one block. The event id travels in
/// header `id_header` unless the event already has one (or the name is empty).
pub fn write_events(out: &mut Vec<u8>, events: &[Event], id_header: &str) {
    if !events.is_empty() {
        write_long(out, events.len() as i64);
        for e in events {
            let add_id = !id_header.is_empty() && e.header(id_header).is_none();
            let count = e.headers.len() + usize::from(add_id);
            if count > 0 {
                write_long(out, count as i64);
                for (k, v) in &e.headers {
                    write_bytes(out, k.as_bytes());
                    write_bytes(out, v.as_bytes());
                }
                if add_id {
                    write_bytes(out, id_header.as_bytes());
                    write_bytes(out, &e.id.encode());
                }
            }
            out.push(0);
            write_bytes(out, &e.body);
        }
    }
    out.push(0);
}

/// `appendBatch`'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `Status.OK`: the events are in the upstream's channel.
    Ok,
    /// `Status.FAILED` or `UNKNOWN` (AvroSource: its channel refused the batch).
    Status(&'static str),
    /// An Avro system error, with the upstream's message.
    Error(String),
}

/// How the server matched our handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// It knows both protocols.
    Both,
    /// It knows ours; its hash differs from our guess.
    Client,
    /// It does not know ours: nothing else follows.
    None,
}

/// A decoded reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The handshake answer, when one was expected.
    pub handshake: Option<(Match, Option<[u8; 16]>)>,
    /// The call's answer; `None` only after a `NONE` handshake.
    pub answer: Option<Answer>,
}

/// Why a reply could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed Avro reply: {}", self.0)
    }
}

/// Decodes a reply (the concatenated buffers of one data pack).
///
/// # Errors
/// Truncated, oversized or impossible values, and trailing bytes.
pub fn decode_reply(bytes: &[u8], expect_handshake: bool) -> Result<Reply, DecodeError> {
    let mut r = Reader { buf: bytes, pos: 0 };
    let mut handshake = None;
    if expect_handshake {
        let matched = match r.long()? {
            0 => Match::Both,
            1 => Match::Client,
            2 => Match::None,
            n => return Err(DecodeError(format!("handshake match {n}"))),
        };
        if r.union_branch("serverProtocol")? {
            r.bytes()?;
        }
        let hash = if r.union_branch("serverHash")? { Some(r.fixed16()?) } else { None };
        if r.union_branch("meta")? {
            r.skip_map()?;
        }
        handshake = Some((matched, hash));
        if matched == Match::None {
            r.end()?;
            return Ok(Reply { handshake, answer: None });
        }
    }
    r.skip_map()?; // call metadata
    let answer = match r.byte()? {
        0 => match r.long()? {
            0 => Answer::Ok,
            1 => Answer::Status("FAILED"),
            2 => Answer::Status("UNKNOWN"),
            n => return Err(DecodeError(format!("status {n}"))),
        },
        1 => {
            if r.long()? != 0 {
                return Err(DecodeError("error union branch is not string".into()));
            }
            Answer::Error(String::from_utf8_lossy(r.bytes()?).into_owned())
        }
        b => return Err(DecodeError(format!("boolean byte {b}"))),
    };
    r.end()?;
    Ok(Reply { handshake, answer: Some(answer) })
}

/// A bounds-checked cursor.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = *self.buf.get(self.pos).ok_or_else(|| DecodeError("truncated".into()))?;
        self.pos += 1;
        Ok(b)
    }

    fn long(&mut self) -> Result<i64, DecodeError> {
        let mut z: u64 = 0;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            if shift == 63 && b > 1 {
                return Err(DecodeError("varint overflows 64 bits".into()));
            }
            z |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok((z >> 1) as i64 ^ -((z & 1) as i64));
            }
        }
        Err(DecodeError("varint longer than 10 bytes".into()))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or_else(|| DecodeError(format!("length {n} beyond the reply")))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.long()?;
        let n = usize::try_from(n).map_err(|_| DecodeError(format!("negative length {n}")))?;
        self.take(n)
    }

    fn fixed16(&mut self) -> Result<[u8; 16], DecodeError> {
        let mut out = [0u8; 16];
        out.copy_from_slice(self.take(16)?);
        Ok(out)
    }

    /// `["null", T]`: false for null, true when a `T` follows.
    fn union_branch(&mut self, what: &str) -> Result<bool, DecodeError> {
        match self.long()? {
            0 => Ok(false),
            1 => Ok(true),
            n => Err(DecodeError(format!("{what}: union branch {n}"))),
        }
    }

    /// Skips a `map<bytes>` or `map<string>`, in any block layout.
    fn skip_map(&mut self) -> Result<(), DecodeError> {
        loop {
            let count = self.long()?;
            if count == 0 {
                return Ok(());
            }
            if count < 0 {
                self.long()?; // block size in bytes, which we do not need
            }
            for _ in 0..count.unsigned_abs() {
                // Every entry takes at least two bytes: a hostile count cannot spin.
                self.bytes()?;
                self.bytes()?;
            }
        }
    }

    fn end(&self) -> Result<(), DecodeError> {
        match self.buf.len() - self.pos {
            0 => Ok(()),
            n => Err(DecodeError(format!("{n} bytes after the reply"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_hash_is_the_md5_of_the_protocol() {
        use md5::{Digest, Md5};
        assert_eq!(Md5::digest(PROTOCOL_JSON.as_bytes()).as_slice(), &PROTOCOL_MD5);
    }

    #[test]
    fn longs_round_trip_through_zigzag() {
        for n in [0i64, 1, -1, 63, -64, 64, 300, i64::MAX, i64::MIN] {
            let mut out = Vec::new();
            write_long(&mut out, n);
            let mut r = Reader { buf: &out, pos: 0 };
            assert_eq!(r.long(), Ok(n));
            assert!(r.end().is_ok());
        }
        let mut out = Vec::new();
        write_long(&mut out, 11);
        assert_eq!(out, [0x16]);
    }

    /// The byte walkthrough of the reference notes (flume-protocol.md 1.7).
    #[test]
    fn one_event_payload_matches_the_reference_bytes() {
        let e = Event::new("hello").with_header("host", "web01");
        let mut out = Vec::new();
        write_events(&mut out, std::slice::from_ref(&e), "");
        let want = [
            0x02, 0x02, 0x08, b'h', b'o', b's', b't', 0x0a, b'w', b'e', b'b', b'0', b'1', 0x00, 0x0a, b'h', b'e', b'l',
            b'l', b'o', 0x00,
        ];
        assert_eq!(out, want);
        let mut header = Vec::new();
        write_request_header(&mut header, None);
        assert_eq!(header, b"\x00\x16appendBatch");
    }

    #[test]
    fn replies_decode() {
        let both = [0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            decode_reply(&both, true),
            Ok(Reply { handshake: Some((Match::Both, None)), answer: Some(Answer::Ok) })
        );
        assert_eq!(decode_reply(&[0, 0, 2], false).map(|r| r.answer), Ok(Some(Answer::Status("FAILED"))));
        let mut err = vec![0, 1, 0];
        write_bytes(&mut err, b"No such remote message: foo");
        assert_eq!(
            decode_reply(&err, false).map(|r| r.answer),
            Ok(Some(Answer::Error("No such remote message: foo".into())))
        );
        let mut none = vec![4, 2];
        write_bytes(&mut none, b"{}");
        none.push(2);
        none.extend_from_slice(&[7; 16]);
        none.push(0);
        assert_eq!(
            decode_reply(&none, true),
            Ok(Reply { handshake: Some((Match::None, Some([7; 16]))), answer: None })
        );
    }

    #[test]
    fn hostile_replies_are_errors() {
        let cases: &[&[u8]] = &[
            &[],
            &[0],
            &[0, 0, 0, 0, 0, 0],
            &[0, 0, 0, 0, 0, 0, 0, 9],
            &[6, 0, 0, 0, 0, 0, 0],
            &[0, 0, 0, 0, 0, 7, 0],
            &[0, 2, 0xff, 0xff, 0xff, 0xff, 0x0f],
            &[0, 0, 0, 0, 0x7f, 0, 0, 0],
            &[0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
        ];
        for bytes in cases {
            assert!(decode_reply(bytes, true).is_err(), "{bytes:?}");
        }
    }
}
