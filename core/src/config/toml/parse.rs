//! The TOML grammar by hand: a byte cursor over the text, and tables built as
//! headers and dotted keys arrive, under the spec's rules on what may be defined twice.

mod scalar;

use super::{Kind, Table, Value};
use std::collections::BTreeMap;
use std::ops::Range;

/// Why a text is not TOML, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// What is wrong, lower-case.
    pub message: String,
    /// The bytes it is about.
    pub span: Range<usize>,
}

/// Deepest a value may sit in the document, counting header parts, dotted-key parts
/// and inline arrays and tables together: a configuration never comes near it, and a
/// hostile file must not exhaust the stack (building, cloning and dropping a tree recurse).
const MAX_DEPTH: usize = 64;

/// The message of a document nested past [`MAX_DEPTH`].
pub const TOO_DEEP: &str = "keys, arrays and inline tables nested more than 64 deep";

/// Reads `text` as a TOML document.
///
/// # Errors
/// The first place where `text` is not TOML, or holds a date-time value.
pub fn parse(text: &str) -> Result<Table, ParseError> {
    let mut p = Parser { text, pos: 0, depth: 0, inline: 0 };
    if text.starts_with('\u{feff}') {
        p.pos = '\u{feff}'.len_utf8();
    }
    let mut root = Branch::new(State::Header, 0..0);
    // The table after the last header, out of the tree while its lines are read:
    // finding it from the root for every line would cost the header's length each time.
    let mut section: Option<(Vec<String>, Branch)> = None;
    loop {
        p.skip_blank()?;
        let Some(c) = p.peek() else { break };
        if c == b'[' {
            let (keys, array, span) = p.header()?;
            if let Some((path, branch)) = section.take() {
                *slot(&mut root, &path)? = branch;
            }
            define_table(&mut root, &keys, array, span)?;
            let path: Vec<String> = keys.into_iter().map(|(k, _)| k).collect();
            let branch = std::mem::replace(slot(&mut root, &path)?, Branch::new(State::Header, 0..0));
            p.depth = path.len();
            section = Some((path, branch));
        } else {
            let (keys, value) = p.key_value()?;
            p.end_of_line()?;
            insert(section.as_mut().map_or(&mut root, |(_, b)| b), keys, value)?;
        }
    }
    if let Some((path, branch)) = section.take() {
        *slot(&mut root, &path)? = branch;
    }
    Ok(freeze_table(root.entries))
}

/// A table under construction and how it came to exist.
struct Branch {
    entries: BTreeMap<String, Node>,
    state: State,
    span: Range<usize>,
}

/// How a table was created: what decides whether it may be defined again.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// As a prefix of a header (`a` of `[a.b]`): a later `[a]` may still define it.
    Implicit,
    /// By its own `[header]` (or the root): defined, closed to another header.
    Header,
    /// By dotted keys (`a.b = 1`): closed to headers, open to more dotted keys.
    Dotted,
}

enum Node {
    /// Written inline: scalars, arrays and inline tables, closed to later additions.
    Value(Value),
    Table(Branch),
    /// `[[name]]`: each header appends one table.
    Tables(Vec<Branch>, Range<usize>),
}

impl Branch {
    fn new(state: State, span: Range<usize>) -> Branch {
        Branch { entries: BTreeMap::new(), state, span }
    }
}

type Keys = Vec<(String, Range<usize>)>;

fn error(message: impl Into<String>, span: Range<usize>) -> ParseError {
    ParseError { message: message.into(), span }
}

fn dotted(keys: &[(String, Range<usize>)]) -> String {
    keys.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(".")
}

/// `[a.b.c]` or `[[a.b.c]]`: walks (creating) `a` and `b`, then defines `c`.
fn define_table(root: &mut Branch, keys: &Keys, array: bool, span: Range<usize>) -> Result<(), ParseError> {
    let Some(((last, last_span), prefix)) = keys.split_last() else {
        return Err(error("expected a table name", span));
    };
    let mut branch = root;
    for (i, (key, key_span)) in prefix.iter().enumerate() {
        let node = branch
            .entries
            .entry(key.clone())
            .or_insert_with(|| Node::Table(Branch::new(State::Implicit, span.clone())));
        branch = match node {
            Node::Table(b) => b,
            Node::Tables(tables, _) => last_of(tables, key_span)?,
            Node::Value(_) => {
                return Err(error(format!("`{}` is a value, not a table", dotted(&keys[..=i])), key_span.clone()))
            }
        };
    }
    match branch.entries.get_mut(last) {
        None if array => {
            branch.entries.insert(last.clone(), Node::Tables(vec![Branch::new(State::Header, span.clone())], span));
        }
        None => {
            branch.entries.insert(last.clone(), Node::Table(Branch::new(State::Header, span)));
        }
        Some(Node::Table(b)) if !array && b.state == State::Implicit => {
            b.state = State::Header;
            b.span = span;
        }
        Some(Node::Tables(tables, _)) if array => tables.push(Branch::new(State::Header, span)),
        Some(_) => return Err(error(format!("`{}` is defined twice", dotted(keys)), last_span.clone())),
    }
    Ok(())
}

/// The table header `path` names: the last of an array of tables.
fn slot<'b>(root: &'b mut Branch, path: &[String]) -> Result<&'b mut Branch, ParseError> {
    let mut branch = root;
    for key in path {
        branch = match branch.entries.get_mut(key) {
            Some(Node::Table(b)) => b,
            Some(Node::Tables(tables, span)) => {
                let span = span.clone();
                last_of(tables, &span)?
            }
            _ => return Err(error(format!("table `{}` vanished while reading it", path.join(".")), 0..0)),
        };
    }
    Ok(branch)
}

fn last_of<'b>(tables: &'b mut [Branch], span: &Range<usize>) -> Result<&'b mut Branch, ParseError> {
    tables.last_mut().ok_or_else(|| error("an array of tables with no table", span.clone()))
}

/// `a.b.c = value` in `branch`: `a` and `b` are created, or must be tables that no
/// header defined (made by dotted keys, or only named as a prefix of a header).
fn insert(branch: &mut Branch, keys: Keys, value: Value) -> Result<(), ParseError> {
    let Some(((last, last_span), prefix)) = keys.split_last() else {
        return Err(error("expected a key", value.span));
    };
    let mut branch = branch;
    for (i, (key, key_span)) in prefix.iter().enumerate() {
        let node = branch
            .entries
            .entry(key.clone())
            .or_insert_with(|| Node::Table(Branch::new(State::Dotted, key_span.clone())));
        branch = match node {
            Node::Table(b) if b.state != State::Header => b,
            _ => {
                return Err(error(
                    format!("`{}` is already defined: dotted keys cannot add to it", dotted(&keys[..=i])),
                    key_span.clone(),
                ))
            }
        };
    }
    if branch.entries.contains_key(last) {
        return Err(error(format!("duplicate key `{}`", dotted(&keys)), last_span.clone()));
    }
    branch.entries.insert(last.clone(), Node::Value(value));
    Ok(())
}

fn freeze_table(entries: BTreeMap<String, Node>) -> Table {
    entries.into_iter().map(|(k, node)| (k, freeze(node))).collect()
}

fn freeze(node: Node) -> Value {
    match node {
        Node::Value(v) => v,
        Node::Table(b) => Value { kind: Kind::Table(freeze_table(b.entries)), span: b.span },
        Node::Tables(tables, span) => {
            Value { kind: Kind::Array(tables.into_iter().map(|b| freeze(Node::Table(b))).collect()), span }
        }
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    /// How deep the table being filled sits: its header's parts, plus the dotted
    /// keys and inline values around the cursor.
    depth: usize,
    /// Inline tables open around the cursor: inside one, new lines and comments
    /// may stand around `=` too (as the `toml` crate reads them), not inside a dotted key.
    inline: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.text.as_bytes().get(self.pos + ahead).copied()
    }

    fn rest(&self) -> &str {
        self.text.get(self.pos..).unwrap_or("")
    }

    fn error(&self, message: impl Into<String>) -> ParseError {
        error(message, self.span(self.pos, self.pos + 1))
    }

    /// `start..end`, kept inside the text and on character boundaries, so that
    /// `&text[span]` never panics.
    fn span(&self, start: usize, end: usize) -> Range<usize> {
        let len = self.text.len();
        let (mut start, mut end) = (start.min(len), end.min(len));
        while !self.text.is_char_boundary(start) {
            start -= 1;
        }
        while !self.text.is_char_boundary(end) {
            end += 1;
        }
        start..end
    }

    fn expect(&mut self, byte: u8, message: &str) -> Result<(), ParseError> {
        if self.peek() != Some(byte) {
            return Err(self.error(message));
        }
        self.pos += 1;
        Ok(())
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// Spaces around `=`; inside an inline table, new lines and comments too.
    fn skip_key_space(&mut self) -> Result<(), ParseError> {
        match self.inline {
            0 => {
                self.skip_ws();
                Ok(())
            }
            _ => self.skip_blank(),
        }
    }

    /// A newline (`\n` or `\r\n`) at the cursor: its length.
    fn newline(&self) -> Option<usize> {
        match (self.peek(), self.peek_at(1)) {
            (Some(b'\n'), _) => Some(1),
            (Some(b'\r'), Some(b'\n')) => Some(2),
            _ => None,
        }
    }

    /// Whitespace, newlines and comments.
    fn skip_blank(&mut self) -> Result<(), ParseError> {
        loop {
            self.skip_ws();
            if self.peek() == Some(b'#') {
                self.comment()?;
            }
            match self.newline() {
                Some(n) => self.pos += n,
                None => return Ok(()),
            }
        }
    }

    /// `# ...` up to the end of the line.
    fn comment(&mut self) -> Result<(), ParseError> {
        self.pos += 1;
        while let Some(c) = self.peek() {
            if self.newline().is_some() {
                break;
            }
            if is_control(c) {
                return Err(self.error("control characters are not allowed in comments"));
            }
            self.pos += 1;
        }
        Ok(())
    }

    /// After a value or a header: spaces, an optional comment, then a new line or the end.
    fn end_of_line(&mut self) -> Result<(), ParseError> {
        self.skip_ws();
        if self.peek() == Some(b'#') {
            self.comment()?;
        }
        match self.newline() {
            Some(n) => {
                self.pos += n;
                Ok(())
            }
            None if self.peek().is_none() => Ok(()),
            None => Err(self.error("expected a new line after this")),
        }
    }

    /// `[a.b]` or `[[a.b]]`, with the rest of its line.
    fn header(&mut self) -> Result<(Keys, bool, Range<usize>), ParseError> {
        let start = self.pos;
        self.depth = 0;
        let array = self.peek_at(1) == Some(b'[');
        self.pos += if array { 2 } else { 1 };
        let keys = self.key()?;
        self.expect(b']', "expected `]` after a table name")?;
        if array {
            self.expect(b']', "expected `]]` after an array-of-tables name")?;
        }
        let span = start..self.pos;
        self.end_of_line()?;
        Ok((keys, array, span))
    }

    /// A bare, quoted or dotted key, with the spaces around it.
    fn key(&mut self) -> Result<Keys, ParseError> {
        let mut keys = Vec::new();
        loop {
            self.skip_ws();
            let start = self.pos;
            let key = match self.peek() {
                Some(b'"') if !self.rest().starts_with("\"\"\"") => self.basic_string()?,
                Some(b'\'') if !self.rest().starts_with("'''") => self.literal_string()?,
                Some(c) if is_bare(c) => {
                    while self.peek().is_some_and(is_bare) {
                        self.pos += 1;
                    }
                    self.text[start..self.pos].to_string()
                }
                _ => return Err(self.error("expected a key (letters, digits, `_`, `-`, or a quoted string)")),
            };
            keys.push((key, start..self.pos));
            self.skip_ws();
            if self.depth + keys.len() > MAX_DEPTH {
                return Err(error(TOO_DEEP, start..self.pos));
            }
            if self.peek() != Some(b'.') {
                return Ok(keys);
            }
            self.pos += 1;
        }
    }

    fn key_value(&mut self) -> Result<(Keys, Value), ParseError> {
        let keys = self.key()?;
        self.skip_key_space()?;
        self.expect(b'=', "expected `=` after a key")?;
        self.skip_key_space()?;
        let outer = self.depth;
        self.depth += keys.len();
        let value = self.value();
        self.depth = outer;
        Ok((keys, value?))
    }

    fn value(&mut self) -> Result<Value, ParseError> {
        let start = self.pos;
        let rest = self.rest();
        let kind = match self.peek() {
            Some(b'"') if rest.starts_with("\"\"\"") => Kind::String(self.multiline_basic_string()?),
            Some(b'"') => Kind::String(self.basic_string()?),
            Some(b'\'') if rest.starts_with("'''") => Kind::String(self.multiline_literal_string()?),
            Some(b'\'') => Kind::String(self.literal_string()?),
            Some(b'[') => Kind::Array(self.nested(Parser::array)?),
            Some(b'{') => {
                self.inline += 1;
                let table = self.nested(Parser::inline_table);
                self.inline -= 1;
                Kind::Table(table?)
            }
            Some(b't') if rest.starts_with("true") => {
                self.pos += 4;
                Kind::Boolean(true)
            }
            Some(b'f') if rest.starts_with("false") => {
                self.pos += 5;
                Kind::Boolean(false)
            }
            Some(c) if c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'i' | b'n') => self.number()?,
            _ => return Err(self.error("expected a value (a string, number, boolean, array or inline table)")),
        };
        Ok(Value { kind, span: start..self.pos })
    }

    /// Runs `f` one level deeper, refusing to nest past [`MAX_DEPTH`].
    fn nested<T>(&mut self, f: fn(&mut Self) -> Result<T, ParseError>) -> Result<T, ParseError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(TOO_DEEP));
        }
        self.depth += 1;
        let result = f(self);
        self.depth -= 1;
        result
    }

    /// `[ value, value, ]`, across lines and comments.
    fn array(&mut self) -> Result<Vec<Value>, ParseError> {
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_blank()?;
            if self.peek() == Some(b']') {
                self.pos += 1;
                return Ok(items);
            }
            items.push(self.value()?);
            self.skip_blank()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(items);
                }
                _ => return Err(self.error("expected `,` or `]` in an array")),
            }
        }
    }

    /// `{ key = value, key = value }`; as TOML 1.1 allows, across lines and with a trailing comma.
    fn inline_table(&mut self) -> Result<Table, ParseError> {
        let start = self.pos;
        self.pos += 1;
        let mut branch = Branch::new(State::Dotted, start..start + 1);
        loop {
            self.skip_blank()?;
            if self.peek() == Some(b'}') {
                self.pos += 1;
                return Ok(freeze_table(branch.entries));
            }
            let (keys, value) = self.key_value()?;
            insert(&mut branch, keys, value)?;
            self.skip_blank()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(freeze_table(branch.entries));
                }
                _ => return Err(self.error("expected `,` or `}` in an inline table")),
            }
        }
    }
}

/// Letters, digits, `_` and `-`: what a key may be without quotes.
fn is_bare(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

/// What TOML allows nowhere outside escapes: controls but tab, and DEL.
fn is_control(c: u8) -> bool {
    (c < 0x20 && c != b'\t') || c == 0x7f
}
