//! The protobuf wire format, as far as OTLP logs need it: a bounds-checked
//! reader of tagged fields and a writer of the few replies we send.
//!
//! Every length is checked against the bytes that remain before anything is
//! read or allocated, so a lying length is an error, not a large allocation.

use std::fmt;

/// Why a body is not a protobuf message of the expected shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError(pub String);

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A protobuf wire type's payload.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Field<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1.
    Fixed64(u64),
    /// Wire type 2: a string, bytes, an embedded message or a packed field.
    Bytes(&'a [u8]),
    /// Wire type 5.
    Fixed32(u32),
}

/// Reads the fields of one message in order.
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader of the message `bytes`.
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { rest: bytes }
    }

    /// The next field number and its payload; `None` at the end of the message.
    pub fn next_field(&mut self) -> Result<Option<(u32, Field<'a>)>, WireError> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let number =
            u32::try_from(key >> 3).map_err(|_| WireError(format!("field number {} is too large", key >> 3)))?;
        if number == 0 {
            return Err(WireError("field number 0".into()));
        }
        let field = match key & 7 {
            0 => Field::Varint(self.varint()?),
            1 => Field::Fixed64(u64::from_le_bytes(self.take_array::<8>()?)),
            2 => {
                let len = self.varint()?;
                let len = usize::try_from(len)
                    .ok()
                    .filter(|&n| n <= self.rest.len())
                    .ok_or_else(|| WireError(format!("a length of {len} bytes runs past the end of the message")))?;
                let (bytes, rest) = self.rest.split_at(len);
                self.rest = rest;
                Field::Bytes(bytes)
            }
            5 => Field::Fixed32(u32::from_le_bytes(self.take_array::<4>()?)),
            wire => return Err(WireError(format!("field {number}: wire type {wire} is not supported"))),
        };
        Ok(Some((number, field)))
    }

    fn varint(&mut self) -> Result<u64, WireError> {
        let mut value = 0u64;
        for (i, &byte) in self.rest.iter().enumerate().take(10) {
            let bits = u64::from(byte & 0x7f);
            if i == 9 && byte > 1 {
                return Err(WireError("a varint longer than 64 bits".into()));
            }
            value |= bits << (7 * i);
            if byte & 0x80 == 0 {
                self.rest = &self.rest[i + 1..];
                return Ok(value);
            }
        }
        Err(WireError(if self.rest.len() < 10 { "a truncated varint" } else { "a varint longer than 10 bytes" }.into()))
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let (head, rest) =
            self.rest.split_first_chunk::<N>().ok_or_else(|| WireError("a truncated fixed field".into()))?;
        self.rest = rest;
        Ok(*head)
    }
}

impl<'a> Field<'a> {
    /// The payload of a length-delimited field; another wire type is an error naming `what`.
    pub fn bytes(self, what: &str) -> Result<&'a [u8], WireError> {
        match self {
            Field::Bytes(b) => Ok(b),
            _ => Err(WireError(format!("{what}: expected a length-delimited field"))),
        }
    }

    /// A string field's text.
    pub fn text(self, what: &str) -> Result<&'a str, WireError> {
        std::str::from_utf8(self.bytes(what)?).map_err(|_| WireError(format!("{what}: a string that is not utf-8")))
    }

    /// A varint field.
    pub fn varint(self, what: &str) -> Result<u64, WireError> {
        match self {
            Field::Varint(v) => Ok(v),
            _ => Err(WireError(format!("{what}: expected a varint"))),
        }
    }

    /// A fixed64 field.
    pub fn fixed64(self, what: &str) -> Result<u64, WireError> {
        match self {
            Field::Fixed64(v) => Ok(v),
            _ => Err(WireError(format!("{what}: expected a fixed64"))),
        }
    }
}

/// Appends `value` as a varint.
pub fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends a length-delimited field.
pub fn put_bytes(out: &mut Vec<u8>, number: u32, bytes: &[u8]) {
    put_varint(out, u64::from(number) << 3 | 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Appends a varint field.
pub fn put_varint_field(out: &mut Vec<u8>, number: u32, value: u64) {
    put_varint(out, u64::from(number) << 3);
    put_varint(out, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(bytes: &[u8]) -> Result<Vec<(u32, Field<'_>)>, WireError> {
        let mut r = Reader::new(bytes);
        let mut out = Vec::new();
        while let Some(f) = r.next_field()? {
            out.push(f);
        }
        Ok(out)
    }

    #[test]
    fn fields_of_every_wire_type_are_read() {
        let mut msg = Vec::new();
        put_varint_field(&mut msg, 2, 300);
        put_bytes(&mut msg, 3, b"hi");
        msg.extend_from_slice(&[0x09, 1, 0, 0, 0, 0, 0, 0, 0]); // field 1, fixed64 = 1
        msg.extend_from_slice(&[0x45, 7, 0, 0, 0]); // field 8, fixed32 = 7
        assert_eq!(
            fields(&msg),
            Ok(vec![(2, Field::Varint(300)), (3, Field::Bytes(b"hi")), (1, Field::Fixed64(1)), (8, Field::Fixed32(7))])
        );
    }

    #[test]
    fn hostile_bytes_are_errors() {
        let cases: &[(&[u8], &str)] = &[
            (&[0x08, 0x80], "a truncated varint"),
            (&[0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], "a varint longer than 64 bits"),
            (&[0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], "a varint longer than 64 bits"),
            (&[0x0a, 0x05, b'a'], "a length of 5 bytes runs past the end of the message"),
            (&[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f], "a length of 4294967295 bytes runs past the end of the message"),
            (&[0x09, 1, 2], "a truncated fixed field"),
            (&[0x0b], "field 1: wire type 3 is not supported"),
            (&[0x00, 0x00], "field number 0"),
        ];
        for (bytes, want) in cases {
            assert_eq!(fields(bytes).map_err(|e| e.0), Err(want.to_string()), "{bytes:?}");
        }
    }

    #[test]
    fn varints_round_trip_at_the_edges() {
        for v in [0, 1, 127, 128, 16_383, 16_384, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            put_varint_field(&mut out, 1, v);
            assert_eq!(fields(&out), Ok(vec![(1, Field::Varint(v))]), "{v}");
        }
    }
}
