//! An incremental decoder for `Transfer-Encoding: chunked` request bodies.
//!
//! [`Decoder::decode`] takes whatever bytes have arrived, appends the data it finds to
//! the body and says how many bytes it used; the caller drops those, reads more and
//! calls again until [`Decoder::is_done`]. Sizes are hex, checked for overflow and
//! against the body limit before any data is taken; chunk extensions and trailer
//! fields are skipped unread, so nothing a client puts there has any effect.

/// Longest size line (with extensions) or trailer line; longer is refused.
const MAX_LINE: usize = 4096;

/// Why a chunked body was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ChunkError {
    /// The framing is broken; the reason is operator-facing.
    Malformed(&'static str),
    /// The body would exceed the limit.
    TooLarge,
}

/// What the decoder waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// A line: `size[;ext]`, the empty line after data, or a trailer field.
    Line(Line),
    /// This many data bytes of the current chunk.
    Data(usize),
    /// The blank line after the trailers was read.
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    Size,
    DataEnd,
    Trailer,
}

/// Decodes one chunked body.
#[derive(Debug)]
pub(super) struct Decoder {
    state: State,
    max_body: usize,
    /// Trailer bytes still allowed.
    trailer_budget: usize,
}

impl Decoder {
    /// A decoder refusing bodies over `max_body` bytes and trailers over `max_trailer`.
    pub fn new(max_body: usize, max_trailer: usize) -> Decoder {
        Decoder { state: State::Line(Line::Size), max_body, trailer_budget: max_trailer }
    }

    /// Whether the whole body, trailers included, was read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes from `input`, appending data to `body`; returns the bytes used. Bytes
    /// after the end of the body are left alone (they are the next request).
    ///
    /// # Errors
    /// [`ChunkError`] on broken framing or a body over the limit.
    pub fn decode(&mut self, input: &[u8], body: &mut Vec<u8>) -> Result<usize, ChunkError> {
        let mut used = 0;
        loop {
            let rest = &input[used..];
            match self.state {
                State::Done => return Ok(used),
                State::Data(left) => {
                    if rest.is_empty() {
                        return Ok(used);
                    }
                    let n = left.min(rest.len());
                    body.extend_from_slice(&rest[..n]);
                    used += n;
                    self.state = if n == left { State::Line(Line::DataEnd) } else { State::Data(left - n) };
                }
                State::Line(kind) => {
                    let Some(end) = rest.iter().take(MAX_LINE + 2).position(|&b| b == b'\n') else {
                        if rest.len() > MAX_LINE {
                            return Err(ChunkError::Malformed("chunk line too long"));
                        }
                        return Ok(used);
                    };
                    let line = rest[..end].strip_suffix(b"\r").unwrap_or(&rest[..end]);
                    self.state = self.after_line(kind, line, body.len())?;
                    used += end + 1;
                }
            }
        }
    }

    /// The state after a complete `line` (without its line ending) of `kind`.
    fn after_line(&mut self, kind: Line, line: &[u8], body_len: usize) -> Result<State, ChunkError> {
        match kind {
            Line::Size => match parse_size(line)? {
                0 => Ok(State::Line(Line::Trailer)),
                n if n > self.max_body.saturating_sub(body_len) => Err(ChunkError::TooLarge),
                n => Ok(State::Data(n)),
            },
            Line::DataEnd if line.is_empty() => Ok(State::Line(Line::Size)),
            Line::DataEnd => Err(ChunkError::Malformed("chunk data longer than its size")),
            Line::Trailer if line.is_empty() => Ok(State::Done),
            Line::Trailer => {
                self.trailer_budget = self
                    .trailer_budget
                    .checked_sub(line.len() + 2)
                    .ok_or(ChunkError::Malformed("chunk trailer section too large"))?;
                Ok(State::Line(Line::Trailer))
            }
        }
    }
}

/// The size from a size line: hex digits, then optional whitespace and `;extensions`.
fn parse_size(line: &[u8]) -> Result<usize, ChunkError> {
    let digits_end = line.iter().position(|b| !b.is_ascii_hexdigit()).unwrap_or(line.len());
    let (digits, rest) = line.split_at(digits_end);
    let rest = rest.trim_ascii_start();
    if digits.is_empty() || !(rest.is_empty() || rest[0] == b';') {
        return Err(ChunkError::Malformed("invalid chunk size"));
    }
    digits.iter().try_fold(0usize, |size, &d| {
        let digit = (d as char).to_digit(16).ok_or(ChunkError::Malformed("invalid chunk size"))?;
        // A size that overflows is certainly over any body limit.
        size.checked_mul(16).and_then(|s| s.checked_add(digit as usize)).ok_or(ChunkError::TooLarge)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = b"5\r\nhello\r\n6;name=\"v\"\r\n world\r\nA \r\n0123456789\r\n0\r\nX-Sum: 1\r\n\r\nNEXT";

    /// Decodes `input` fed in pieces of `step` bytes, as a connection would.
    fn decode_in_steps(input: &[u8], step: usize, max_body: usize) -> Result<(Vec<u8>, usize), ChunkError> {
        let mut decoder = Decoder::new(max_body, 64);
        let (mut body, mut used, mut arrived) = (Vec::new(), 0, 0);
        while !decoder.is_done() && arrived < input.len() {
            arrived = (arrived + step).min(input.len());
            used += decoder.decode(&input[used..arrived], &mut body)?;
        }
        Ok((body, used))
    }

    #[test]
    fn decodes_whole_and_byte_by_byte() -> Result<(), ChunkError> {
        for step in [1, 2, 3, 7, BODY.len()] {
            let (body, used) = decode_in_steps(BODY, step, 1024)?;
            assert_eq!(body, b"hello world0123456789", "step {step}");
            assert_eq!(&BODY[used..], b"NEXT", "step {step}");
        }
        Ok(())
    }

    #[test]
    fn bare_lf_and_leading_zeros() -> Result<(), ChunkError> {
        let (body, _) = decode_in_steps(b"0003\nabc\n0\n\n", 1, 1024)?;
        assert_eq!(body, b"abc");
        Ok(())
    }

    #[test]
    fn refuses_bad_framing() {
        let cases: &[(&[u8], ChunkError)] = &[
            (b"x\r\n", ChunkError::Malformed("invalid chunk size")),
            (b"\r\n", ChunkError::Malformed("invalid chunk size")),
            (b"-1\r\n", ChunkError::Malformed("invalid chunk size")),
            (b"5 x\r\n", ChunkError::Malformed("invalid chunk size")),
            (b"3\r\nabcdef\r\n", ChunkError::Malformed("chunk data longer than its size")),
            (b"ffffffffffffffffffff\r\n", ChunkError::TooLarge),
            (b"11\r\n", ChunkError::TooLarge),
            (b"8\r\n12345678\r\n9\r\n", ChunkError::TooLarge),
            (
                b"0\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
                ChunkError::Malformed("chunk trailer section too large"),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(decode_in_steps(input, 1, 16), Err(*want), "{:?}", String::from_utf8_lossy(input));
        }
        let long = [b'1'].repeat(MAX_LINE + 10);
        assert_eq!(decode_in_steps(&long, long.len(), 16), Err(ChunkError::Malformed("chunk line too long")));
    }

    #[test]
    fn waits_for_more() -> Result<(), ChunkError> {
        let mut decoder = Decoder::new(16, 64);
        let mut body = Vec::new();
        assert_eq!(decoder.decode(b"5\r\nhel", &mut body)?, 6);
        assert_eq!(decoder.decode(b"lo\r", &mut body)?, 2);
        assert!(!decoder.is_done());
        assert_eq!(body, b"hello");
        Ok(())
    }
}
