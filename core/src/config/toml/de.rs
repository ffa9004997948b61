//! `&Value` as a serde deserializer whose errors say which key and which bytes were wrong.

use super::{Kind, Table, Value};
use serde::de::{self, DeserializeOwned, Error as _, IntoDeserializer, Visitor};
use std::fmt;
use std::ops::Range;

/// A value that did not fit the type asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
    span: Option<Range<usize>>,
    /// Keys from the innermost out, as the error travelled up.
    path: Vec<String>,
}

impl Error {
    /// What was wrong (serde's words or a `Deserialize` impl's).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The bytes of the innermost value involved, when known.
    pub fn span(&self) -> Option<Range<usize>> {
        self.span.clone()
    }

    /// The keys from the deserialized value down to the wrong one: `batch.linger`,
    /// `channels[1]`; empty when the value itself was wrong.
    pub fn path(&self) -> String {
        let mut out = String::new();
        for key in self.path.iter().rev() {
            if !key.starts_with('[') && !out.is_empty() {
                out.push('.');
            }
            out.push_str(key);
        }
        out
    }

    /// The error, placed at `span` unless an inner value already placed it.
    pub fn at(mut self, span: &Range<usize>) -> Error {
        self.span.get_or_insert_with(|| span.clone());
        self
    }

    /// The same error in other words.
    pub fn reworded(mut self, message: String) -> Error {
        self.message = message;
        self
    }

    /// For an unknown key of the outermost table, the key; `None` otherwise.
    pub fn unknown_top_level_key(&self) -> Option<&str> {
        let rest = self.message.strip_prefix("unknown field `")?;
        (self.path.len() <= 1).then(|| rest.split('`').next()).flatten()
    }

    /// The error, as one about the value of `key` (at `span` unless placed already).
    pub fn in_key(mut self, key: &str, span: &Range<usize>) -> Error {
        self.path.push(key.to_string());
        self.at(span)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(message: T) -> Error {
        Error { message: message.to_string(), span: None, path: Vec::new() }
    }
}

/// Deserializes `value` into `T`.
///
/// # Errors
/// The first key whose value does not fit, with its span and path.
pub fn from_value<T: DeserializeOwned>(value: &Value) -> Result<T, Error> {
    T::deserialize(value)
}

impl<'de> de::Deserializer<'de> for &'de Value {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let result = match &self.kind {
            Kind::String(s) => visitor.visit_borrowed_str(s),
            Kind::Integer(n) => visitor.visit_i64(*n),
            Kind::Float(x) => visitor.visit_f64(*x),
            Kind::Boolean(b) => visitor.visit_bool(*b),
            Kind::Array(items) => visitor.visit_seq(Items { iter: items.iter().enumerate() }),
            Kind::Table(table) => visitor.visit_map(Entries { iter: table.iter(), pending: None }),
        };
        result.map_err(|e| e.at(&self.span))
    }

    /// TOML has no null: a key that is present is `Some`.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    /// A string names a unit variant; a one-key table `{ variant = value }` a variant with data.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let result = match &self.kind {
            Kind::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            Kind::Table(table) if table.len() == 1 => match table.iter().next() {
                Some((variant, value)) => visitor.visit_enum(Variant { name: variant, value }),
                None => Err(de::Error::custom("expected a variant name")),
            },
            _ => Err(de::Error::custom("expected a string naming one of the choices")),
        };
        result.map_err(|e| e.at(&self.span))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
    }
}

/// An array's items, numbered for error paths.
struct Items<'de> {
    iter: std::iter::Enumerate<std::slice::Iter<'de, Value>>,
}

impl<'de> de::SeqAccess<'de> for Items<'de> {
    type Error = Error;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        match self.iter.next() {
            Some((i, item)) => seed.deserialize(item).map(Some).map_err(|e| e.in_key(&format!("[{i}]"), &item.span)),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// A table's entries; the key's value waits in `pending` for `next_value_seed`.
struct Entries<'de> {
    iter: std::collections::btree_map::Iter<'de, String, Value>,
    pending: Option<(&'de String, &'de Value)>,
}

impl<'de> de::MapAccess<'de> for Entries<'de> {
    type Error = Error;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        let Some((key, value)) = self.iter.next() else { return Ok(None) };
        self.pending = Some((key, value));
        let name: de::value::BorrowedStrDeserializer<'de, Error> = de::value::BorrowedStrDeserializer::new(key);
        seed.deserialize(name).map(Some).map_err(|e| e.in_key(key, &value.span))
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.pending.take() {
            Some((key, value)) => seed.deserialize(value).map_err(|e| e.in_key(key, &value.span)),
            None => Err(de::Error::custom("a value was asked for before its key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// `{ variant = value }` as an enum.
struct Variant<'de> {
    name: &'de String,
    value: &'de Value,
}

impl<'de> de::EnumAccess<'de> for Variant<'de> {
    type Error = Error;
    type Variant = Variant<'de>;

    fn variant_seed<S: de::DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Variant<'de>), Error> {
        let name: de::value::BorrowedStrDeserializer<'de, Error> = de::value::BorrowedStrDeserializer::new(self.name);
        let variant = seed.deserialize(name).map_err(|e| e.in_key(self.name, &self.value.span))?;
        Ok((variant, self))
    }
}

/// The variant's data; errors in it name the variant in their path.
impl<'de> de::VariantAccess<'de> for Variant<'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        Err(Error::custom("expected the variant's name as a string").in_key(self.name, &self.value.span))
    }

    fn newtype_variant_seed<T: de::DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self.value).map_err(|e| e.in_key(self.name, &self.value.span))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_any(self.value, visitor).map_err(|e| e.in_key(self.name, &self.value.span))
    }

    fn struct_variant<V: Visitor<'de>>(self, _fields: &'static [&'static str], visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_any(self.value, visitor).map_err(|e| e.in_key(self.name, &self.value.span))
    }
}

/// Deserializes a whole table (a component's keys) into `T`.
///
/// # Errors
/// As [`from_value`]; a table-level error (a missing key) has no span.
pub fn from_table<T: DeserializeOwned>(table: &Table) -> Result<T, Error> {
    T::deserialize(TableRef(table))
}

/// A bare table (no span of its own) as a deserializer.
struct TableRef<'de>(&'de Table);

impl<'de> de::Deserializer<'de> for TableRef<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_map(Entries { iter: self.0.iter(), pending: None })
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
        enum ignored_any
    }
}
