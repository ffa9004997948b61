//! Java `.properties` files as Flume reads them: `key=value`, `key: value` or
//! `key value`; `#` and `!` comments; a trailing backslash continues a line;
//! `\t \n \r \f \uXXXX` escapes. Each entry keeps the line it started on.

use std::collections::BTreeMap;

/// A value and the line (1-based) its key is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The unescaped value, trimmed at its start.
    pub value: String,
    /// Where the key is.
    pub line: usize,
}

/// Parses `text`; a later duplicate key wins, as in `java.util.Properties`.
pub fn parse(text: &str) -> BTreeMap<String, Entry> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines().enumerate();
    while let Some((index, first)) = lines.next() {
        let trimmed = first.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('!') {
            continue;
        }
        let mut logical = String::from(trimmed);
        while ends_in_continuation(&logical) {
            logical.pop();
            match lines.next() {
                Some((_, next)) => logical.push_str(next.trim_start()),
                None => break,
            }
        }
        let (key, value) = split_key(&logical);
        out.insert(unescape(key), Entry { value: unescape(value), line: index + 1 });
    }
    out
}

/// An odd number of trailing backslashes continues the line.
fn ends_in_continuation(line: &str) -> bool {
    line.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1
}

/// Splits at the first unescaped `=`, `:` or whitespace; the separator's surrounding blanks go.
fn split_key(line: &str) -> (&str, &str) {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'=' | b':' | b' ' | b'\t' | b'\x0c' => break,
            _ => i += 1,
        }
    }
    let key = &line[..i.min(line.len())];
    let mut rest = line.get(i..).unwrap_or("").trim_start_matches([' ', '\t', '\x0c']);
    if let Some(after) = rest.strip_prefix(['=', ':']) {
        rest = after.trim_start_matches([' ', '\t', '\x0c']);
    }
    (key, rest)
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) if hex.len() == 4 => out.push(ch),
                    _ => out.push_str(&hex),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_forms_java_accepts() {
        let text = "# comment\n! other\na1.sources = r1 r2\na1.x:colon\na1.y spaced value\n\
                    a1.long = one \\\n    two\na1.esc = tab\\there \\u00e9\na1.sources = r1\n  \na1.key\\=eq = v\n";
        let p = parse(text);
        assert_eq!(p["a1.sources"], Entry { value: "r1".into(), line: 9 }, "the last duplicate wins");
        assert_eq!(p["a1.x"].value, "colon");
        assert_eq!(p["a1.y"].value, "spaced value");
        assert_eq!(p["a1.long"].value, "one two");
        assert_eq!(p["a1.long"].line, 6);
        assert_eq!(p["a1.esc"].value, "tab\there é");
        assert_eq!(p["a1.key=eq"].value, "v");
    }
}
