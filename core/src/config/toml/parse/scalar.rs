//! Strings (four quotings, escapes) and numbers (integers in four bases, floats).

use super::{is_control, Kind, ParseError, Parser};

impl Parser<'_> {
    /// `"..."` with escapes, on one line.
    pub(super) fn basic_string(&mut self) -> Result<String, ParseError> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let run = self.plain_run();
            out.push_str(run);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => out.push(self.escape()?),
                Some(b'\n' | b'\r') | None => {
                    return Err(self.error("unterminated string: expected `\"` before the end of the line"))
                }
                Some(_) => return Err(self.error("control characters must be escaped in strings")),
            }
        }
    }

    /// `"""..."""`: escapes, new lines, and `\` at a line's end joining it to the next.
    pub(super) fn multiline_basic_string(&mut self) -> Result<String, ParseError> {
        self.pos += 3;
        self.skip_first_newline();
        let mut out = String::new();
        loop {
            out.push_str(self.plain_run());
            match self.peek() {
                Some(b'"') => {
                    if let Some(quotes) = self.closing_quotes(b'"')? {
                        out.push_str(&"\"".repeat(quotes));
                        return Ok(out);
                    }
                    out.push('"');
                    self.pos += 1;
                }
                Some(b'\\') if self.line_ending_backslash() => self.skip_joined_whitespace(),
                Some(b'\\') => out.push(self.escape()?),
                Some(_) => match self.newline() {
                    Some(n) => {
                        out.push_str(&self.text[self.pos..self.pos + n]);
                        self.pos += n;
                    }
                    None => return Err(self.error("control characters must be escaped in strings")),
                },
                None => return Err(self.error("unterminated string: expected `\"\"\"`")),
            }
        }
    }

    /// `'...'`: no escapes, on one line.
    pub(super) fn literal_string(&mut self) -> Result<String, ParseError> {
        self.pos += 1;
        let start = self.pos;
        loop {
            match self.peek() {
                Some(b'\'') => {
                    self.pos += 1;
                    return Ok(self.text[start..self.pos - 1].to_string());
                }
                Some(b'\n' | b'\r') | None => {
                    return Err(self.error("unterminated string: expected `'` before the end of the line"))
                }
                Some(c) if is_control(c) => {
                    return Err(self.error("control characters are not allowed in literal strings"))
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    /// `'''...'''`: no escapes, new lines kept.
    pub(super) fn multiline_literal_string(&mut self) -> Result<String, ParseError> {
        self.pos += 3;
        self.skip_first_newline();
        let start = self.pos;
        loop {
            match self.peek() {
                Some(b'\'') => {
                    let end = self.pos;
                    if let Some(quotes) = self.closing_quotes(b'\'')? {
                        return Ok(format!("{}{}", &self.text[start..end], "'".repeat(quotes)));
                    }
                    self.pos += 1;
                }
                Some(_) if self.newline().is_some() => self.pos += self.newline().unwrap_or(1),
                Some(c) if is_control(c) => {
                    return Err(self.error("control characters are not allowed in literal strings"))
                }
                Some(_) => self.pos += 1,
                None => return Err(self.error("unterminated string: expected `'''`")),
            }
        }
    }

    /// Bytes up to the next quote, backslash or control character (new lines
    /// included); multi-byte UTF-8 is never split, since every stop is ASCII.
    fn plain_run(&mut self) -> &str {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c == b'"' || c == b'\\' || is_control(c) {
                break;
            }
            self.pos += 1;
        }
        &self.text[start..self.pos]
    }

    /// At a quote inside a multi-line string: `Some(n)` if three or more end it,
    /// with `n` (0–2) quotes that belong to the content; the cursor moves past them.
    fn closing_quotes(&mut self, quote: u8) -> Result<Option<usize>, ParseError> {
        let run = self.text.as_bytes()[self.pos..].iter().take_while(|&&c| c == quote).count();
        match run {
            0..=2 => Ok(None),
            3..=5 => {
                self.pos += run;
                Ok(Some(run - 3))
            }
            _ => Err(self.error("more than five quotes in a row: escape some")),
        }
    }

    /// A new line right after the opening quotes is not part of the string.
    fn skip_first_newline(&mut self) {
        if let Some(n) = self.newline() {
            self.pos += n;
        }
    }

    /// A `\` followed by nothing but spaces up to the end of its line.
    fn line_ending_backslash(&self) -> bool {
        let rest = &self.text.as_bytes()[self.pos + 1..];
        let spaces = rest.iter().take_while(|&&c| c == b' ' || c == b'\t').count();
        matches!((rest.get(spaces), rest.get(spaces + 1)), (Some(b'\n'), _) | (Some(b'\r'), Some(b'\n')))
    }

    fn skip_joined_whitespace(&mut self) {
        self.pos += 1;
        loop {
            self.skip_ws();
            match self.newline() {
                Some(n) => self.pos += n,
                None => return,
            }
        }
    }

    /// `\n`, `\"`, `\u00e9`, ...: the character it stands for.
    fn escape(&mut self) -> Result<char, ParseError> {
        let at = self.pos;
        self.pos += 2;
        let simple = match self.text.as_bytes().get(at + 1) {
            Some(b'b') => '\u{8}',
            Some(b't') => '\t',
            Some(b'n') => '\n',
            Some(b'f') => '\u{c}',
            Some(b'r') => '\r',
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'e') => '\u{1b}',
            Some(b'x') => return self.unicode_escape(at, 2),
            Some(b'u') => return self.unicode_escape(at, 4),
            Some(b'U') => return self.unicode_escape(at, 8),
            _ => {
                return Err(super::error(
                    "invalid escape: expected one of \\b \\t \\n \\f \\r \\e \\\" \\\\ \\xXX \\uXXXX \\UXXXXXXXX",
                    self.span(at, at + 2),
                ))
            }
        };
        Ok(simple)
    }

    fn unicode_escape(&mut self, at: usize, digits: usize) -> Result<char, ParseError> {
        let hex = self.text.get(self.pos..self.pos + digits).filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()));
        let c = hex.and_then(|h| u32::from_str_radix(h, 16).ok()).and_then(char::from_u32);
        let span = self.span(at, self.pos + digits);
        let c = c.ok_or_else(|| {
            super::error("invalid unicode escape: expected hex digits of a Unicode scalar value", span)
        })?;
        self.pos += digits;
        Ok(c)
    }

    /// An integer (`42`, `-1_000`, `0xff`, `0o17`, `0b101`) or float (`1.5`, `-2e-3`, `inf`, `nan`).
    pub(super) fn number(&mut self) -> Result<Kind, ParseError> {
        let start = self.pos;
        if looks_like_date_time(self.text.as_bytes().get(start..).unwrap_or_default()) {
            return Err(self.error(
                "date and time values are not supported: no Sluice key takes one (quote it to make it a string)",
            ));
        }
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'+' | b'-' | b'.')) {
            self.pos += 1;
        }
        let token = &self.text[start..self.pos];
        number(token)
            .ok_or_else(|| super::error(format!("`{token}` is not a valid number"), start..self.pos))?
            .map_err(|m| super::error(m, start..self.pos))
    }
}

/// `1979-05-27...` or `07:32...` at the start of a value.
fn looks_like_date_time(b: &[u8]) -> bool {
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    (digit(0) && digit(1) && digit(2) && digit(3) && b.get(4) == Some(&b'-'))
        || (digit(0) && digit(1) && b.get(2) == Some(&b':'))
}

/// `None` when `token` is not a number at all; `Some(Err)` when it is one out of range.
fn number(token: &str) -> Option<Result<Kind, String>> {
    let (sign, body) = match token.as_bytes().first() {
        Some(b'+') => ("", &token[1..]),
        Some(b'-') => ("-", &token[1..]),
        _ => ("", token),
    };
    match body {
        "inf" => return Some(Ok(Kind::Float(if sign.is_empty() { f64::INFINITY } else { f64::NEG_INFINITY }))),
        "nan" => return Some(Ok(Kind::Float(if sign.is_empty() { f64::NAN } else { -f64::NAN }))),
        _ => {}
    }
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(digits) = body.strip_prefix(prefix) {
            if body.len() != token.len() {
                return None; // no sign on these
            }
            let clean = grouped_digits(digits, radix)?;
            return Some(i64::from_str_radix(&clean, radix).map(Kind::Integer).map_err(|_| out_of_range(token)));
        }
    }
    let int_end = body.find(['.', 'e', 'E']).unwrap_or(body.len());
    let int = grouped_digits(&body[..int_end], 10)?;
    if int.len() > 1 && int.starts_with('0') {
        return None; // leading zeros
    }
    if int_end == body.len() {
        return Some(format!("{sign}{int}").parse().map(Kind::Integer).map_err(|_| out_of_range(token)));
    }
    let mut rest = &body[int_end..];
    let mut clean = format!("{sign}{int}");
    if let Some(after_dot) = rest.strip_prefix('.') {
        let frac_end = after_dot.find(['e', 'E']).unwrap_or(after_dot.len());
        clean.push('.');
        clean.push_str(&grouped_digits(&after_dot[..frac_end], 10)?);
        rest = &after_dot[frac_end..];
    }
    if let Some(exponent) = rest.strip_prefix(['e', 'E']) {
        let (exp_sign, digits) = match exponent.as_bytes().first() {
            Some(b'+') => ("", &exponent[1..]),
            Some(b'-') => ("-", &exponent[1..]),
            _ => ("", exponent),
        };
        clean.push('e');
        clean.push_str(exp_sign);
        clean.push_str(&grouped_digits(digits, 10)?);
    } else if !rest.is_empty() {
        return None;
    }
    match clean.parse::<f64>() {
        Ok(x) if x.is_finite() => Some(Ok(Kind::Float(x))),
        _ => Some(Err(format!("`{token}` is too large for a 64-bit float"))),
    }
}

/// Digits of `radix` with single `_` between them: the digits alone.
fn grouped_digits(s: &str, radix: u32) -> Option<String> {
    let ok = !s.is_empty()
        && !s.starts_with('_')
        && !s.ends_with('_')
        && !s.contains("__")
        && s.chars().all(|c| c == '_' || c.is_digit(radix));
    ok.then(|| s.replace('_', ""))
}

fn out_of_range(token: &str) -> String {
    format!("`{token}` does not fit in a 64-bit integer")
}
