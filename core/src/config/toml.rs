//! A TOML reader made for configuration files: every value keeps its byte span.
//!
//! Why not the `toml` crate: it was the largest single piece of the phone
//! libraries after SQLite and std (≈ 0.26 MB of code in `libsluice_android.so`,
//! BENCHMARKS.md), for files of a few dozen keys. This reader takes what that
//! crate (0.9) took: TOML 1.0 plus TOML 1.1's multi-line inline tables with
//! trailing commas and its `\e` and `\xXX` escapes. Date-time values are the one
//! exception: no Sluice key takes one, so they are refused with a message that
//! says so. So are values nested more than 64 deep (header parts, dotted-key parts
//! and inline arrays and tables counted together), so that a hostile file cannot
//! exhaust the stack. A differential test and fuzz target hold it to the `toml`
//! crate's answers.
//!
//! [`parse`] turns text into a [`Table`] of [`Value`]s; `&Value` is a serde
//! [`serde::Deserializer`] whose errors carry the span and key path of the value
//! that was wrong, so a configuration error names its line and key exactly.

mod de;
mod parse;
#[cfg(test)]
mod tests;

pub use de::{from_table, from_value, Error};
pub use parse::{parse, ParseError, TOO_DEEP};

use std::collections::BTreeMap;
use std::ops::Range;

/// A table: keys in sorted order, each with its value.
pub type Table = BTreeMap<String, Value>;

/// A parsed value and the bytes of the text it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    /// What the value is.
    pub kind: Kind,
    /// Where it is: the value itself; for a table made by a `[header]` the header
    /// (for one only named in a header's path, the first header naming it); for a
    /// table made by a dotted key, that key part; for an array of tables, its first
    /// `[[header]]`.
    pub span: Range<usize>,
}

/// The kinds of TOML values Sluice reads (TOML's date-times are refused).
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A string of any of the four quotings.
    String(String),
    /// A 64-bit integer.
    Integer(i64),
    /// A float, `inf` and `nan` included.
    Float(f64),
    /// `true` or `false`.
    Boolean(bool),
    /// An inline array or an array of tables.
    Array(Vec<Value>),
    /// A table, inline or not.
    Table(Table),
}

impl Value {
    /// A string value at `span`.
    pub fn string(s: impl Into<String>, span: Range<usize>) -> Value {
        Value { kind: Kind::String(s.into()), span }
    }

    /// An empty table at `span`.
    pub fn empty_table(span: Range<usize>) -> Value {
        Value { kind: Kind::Table(Table::new()), span }
    }

    /// The table, if this is one.
    pub fn as_table(&self) -> Option<&Table> {
        match &self.kind {
            Kind::Table(t) => Some(t),
            _ => None,
        }
    }
}

/// A value with the span it was read from.
#[derive(Debug, Clone)]
pub struct Spanned<T> {
    value: T,
    span: Range<usize>,
}

impl<T> Spanned<T> {
    /// `value`, read from `span`.
    pub fn new(value: T, span: Range<usize>) -> Spanned<T> {
        Spanned { value, span }
    }

    /// The value.
    pub fn get_ref(&self) -> &T {
        &self.value
    }

    /// The value, to change.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.value
    }

    /// Where it was read from.
    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }
}

/// A table as it was written, compared by content only: moving it to another
/// line, or reordering its keys, does not change it. A reload compares these to
/// tell a changed component from an unchanged one.
#[derive(Debug, Clone, Default)]
pub struct Written(Table);

impl Written {
    /// `table`, to be compared by content.
    pub fn new(table: Table) -> Written {
        Written(table)
    }
}

impl PartialEq for Written {
    fn eq(&self, other: &Written) -> bool {
        same_tables(&self.0, &other.0)
    }
}

fn same_tables(a: &Table, b: &Table) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|((ka, va), (kb, vb))| ka == kb && same(va, vb))
}

/// Whether two values are equal, wherever they were written.
fn same(a: &Value, b: &Value) -> bool {
    match (&a.kind, &b.kind) {
        (Kind::Array(x), Kind::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q)),
        (Kind::Table(x), Kind::Table(y)) => same_tables(x, y),
        // Bits, so that `nan` equals itself: the text did not change.
        (Kind::Float(x), Kind::Float(y)) => x.to_bits() == y.to_bits(),
        (x, y) => x == y,
    }
}
