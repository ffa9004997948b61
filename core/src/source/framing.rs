//! Splitting a byte stream into messages: newline-delimited lines, and syslog
//! over TCP (RFC 6587), where each frame is either octet-counted (`LEN SP MSG`)
//! or newline-delimited, decided frame by frame as rsyslog does.
//!
//! Frames longer than the limit are cut (and flagged), the rest skipped; a
//! stream can never make the buffer grow past the limit plus one read.

/// How a stream is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One message per line.
    Lines,
    /// RFC 6587: octet counting when a frame starts with a digit, else a line.
    Syslog,
}

/// One message taken from the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The message, without its newline or length prefix.
    pub data: Vec<u8>,
    /// Whether it was cut to the limit.
    pub truncated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skip {
    Nothing,
    ToNewline,
    Bytes(u64),
}

/// Accumulates bytes and hands out frames.
pub struct Framer {
    framing: Framing,
    max: usize,
    buf: Vec<u8>,
    start: usize,
    skip: Skip,
}

/// Longest length prefix accepted (digits): 999,999,999 bytes.
const MAX_LEN_DIGITS: usize = 9;

impl Framer {
    /// A framer cutting messages at `max` bytes.
    pub fn new(framing: Framing, max: usize) -> Framer {
        Framer { framing, max: max.max(1), buf: Vec::new(), start: 0, skip: Skip::Nothing }
    }

    /// Adds bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start * 2 >= self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, if the bytes so far hold one. Syslog skips
    /// empty frames (blank lines), as Flume does: they are not messages.
    pub fn next_frame(&mut self) -> Option<Frame> {
        loop {
            let frame = self.next_any()?;
            if self.framing == Framing::Lines || !frame.data.is_empty() {
                return Some(frame);
            }
        }
    }

    fn next_any(&mut self) -> Option<Frame> {
        loop {
            let pending = &self.buf[self.start..];
            match self.skip {
                Skip::ToNewline => match pending.iter().position(|b| *b == b'\n') {
                    Some(at) => {
                        self.start += at + 1;
                        self.skip = Skip::Nothing;
                    }
                    None => {
                        self.start = self.buf.len();
                        return None;
                    }
                },
                Skip::Bytes(n) => {
                    let k = (pending.len() as u64).min(n);
                    self.start += k as usize;
                    self.skip = if k == n { Skip::Nothing } else { Skip::Bytes(n - k) };
                    if self.skip != Skip::Nothing {
                        return None;
                    }
                }
                Skip::Nothing => break,
            }
        }
        let pending = &self.buf[self.start..];
        if pending.is_empty() {
            return None;
        }
        if self.framing == Framing::Syslog && pending[0].is_ascii_digit() {
            if let Some(frame) = self.octet_counted() {
                return frame;
            }
        }
        self.line()
    }

    /// `Some(result)` when the frame is octet-counted; `None` to read it as a line.
    fn octet_counted(&mut self) -> Option<Option<Frame>> {
        let pending = &self.buf[self.start..];
        let digits = pending.iter().take(MAX_LEN_DIGITS + 1).take_while(|b| b.is_ascii_digit()).count();
        match pending.get(digits) {
            Some(b' ') if digits <= MAX_LEN_DIGITS => {}
            None if digits <= MAX_LEN_DIGITS => return Some(None), // the prefix is still arriving
            _ => return None,                                      // not a length: a line
        }
        let len: usize = std::str::from_utf8(&pending[..digits]).ok()?.parse().ok()?;
        let body_at = digits + 1;
        let want = len.min(self.max);
        if pending.len() < body_at + want {
            return Some(None);
        }
        let data = pending[body_at..body_at + want].to_vec();
        self.start += body_at + want;
        let truncated = len > self.max;
        if truncated {
            self.skip = Skip::Bytes((len - want) as u64);
        }
        Some(Some(Frame { data, truncated }))
    }

    fn line(&mut self) -> Option<Frame> {
        let pending = &self.buf[self.start..];
        match pending.iter().position(|b| *b == b'\n') {
            Some(at) => {
                let mut line = &pending[..at];
                if line.last() == Some(&b'\r') {
                    line = &line[..line.len() - 1];
                }
                let truncated = line.len() > self.max;
                let data = line[..line.len().min(self.max)].to_vec();
                self.start += at + 1;
                Some(Frame { data, truncated })
            }
            None if pending.len() > self.max => {
                let data = pending[..self.max].to_vec();
                self.start = self.buf.len();
                self.skip = Skip::ToNewline;
                Some(Frame { data, truncated: true })
            }
            None => None,
        }
    }

    /// At the end of the stream: a last line without its newline, if any.
    pub fn finish(&mut self) -> Option<Frame> {
        if self.skip != Skip::Nothing {
            return None;
        }
        let pending = &self.buf[self.start..];
        if pending.is_empty() {
            return None;
        }
        let mut data = pending.to_vec();
        self.start = self.buf.len();
        let mut truncated = false;
        // An octet-counted frame cut short by the end of the stream: its body, marked incomplete.
        if self.framing == Framing::Syslog {
            let digits = data.iter().take(MAX_LEN_DIGITS + 1).take_while(|b| b.is_ascii_digit()).count();
            if (1..=MAX_LEN_DIGITS).contains(&digits) && data.get(digits) == Some(&b' ') {
                data.drain(..=digits);
                truncated = true;
            }
        }
        if data.last() == Some(&b'\r') {
            data.pop();
        }
        if data.len() > self.max {
            data.truncate(self.max);
            truncated = true;
        }
        Some(Frame { data, truncated })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(framing: Framing, max: usize, chunks: &[&[u8]]) -> Vec<(String, bool)> {
        let mut f = Framer::new(framing, max);
        let mut out = Vec::new();
        for chunk in chunks {
            f.push(chunk);
            while let Some(frame) = f.next_frame() {
                out.push((String::from_utf8_lossy(&frame.data).into_owned(), frame.truncated));
            }
        }
        out.extend(f.finish().map(|frame| (String::from_utf8_lossy(&frame.data).into_owned(), frame.truncated)));
        out
    }

    #[test]
    fn lines_across_reads_with_long_lines_cut() {
        let got = frames(Framing::Lines, 5, &[b"ab", b"c\r\nlonger line\nx", b"y\nlast"]);
        let want = [("abc", false), ("longe", true), ("xy", false), ("last", false)];
        assert_eq!(got, want.map(|(s, t)| (s.to_string(), t)));
        // A long line split over reads is cut once and its tail skipped.
        let got = frames(Framing::Lines, 3, &[b"abcdef", b"ghi\nok\n"]);
        assert_eq!(got, [("abc".to_string(), true), ("ok".to_string(), false)]);
    }

    #[test]
    fn syslog_mixes_octet_counting_and_newlines() {
        let got = frames(Framing::Syslog, 100, &[b"11 <13>1 - - x", b"<13>hello\n5 ab", b"\ncd"]);
        assert_eq!(
            got,
            [("<13>1 - - x", false), ("<13>hello", false), ("ab\ncd", false)].map(|(s, t)| (s.to_string(), t))
        );
        // Too long: cut, and exactly the rest of that frame skipped.
        let got = frames(Framing::Syslog, 4, &[b"10 0123456789", b"3 abc"]);
        assert_eq!(got, [("0123".to_string(), true), ("abc".to_string(), false)]);
        // A frame cut short by the end of the stream: its body, marked incomplete, within the limit.
        let got = frames(Framing::Syslog, 4, &[b"9 abcdefg"]);
        assert_eq!(got, [("abcd".to_string(), true)]);
        // A digit that is not a length prefix is a line.
        let got = frames(Framing::Syslog, 100, &[b"2024x message\n"]);
        assert_eq!(got, [("2024x message".to_string(), false)]);
        // Blank lines are not messages.
        let got = frames(Framing::Syslog, 100, &[b"\n\r\n<13>a\n\n", b"\n<13>b\n"]);
        assert_eq!(got, [("<13>a".to_string(), false), ("<13>b".to_string(), false)]);
    }
}
