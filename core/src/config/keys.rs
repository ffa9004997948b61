//! One home per configuration key: a component's settings are one typed
//! struct, declared with [`settings!`](crate::settings), whose `Default` is the
//! only default and whose keys carry their one-line meaning. From that struct
//! come the strict reader (unknown keys name the known ones), `sluice help
//! TYPE` and the README's reference table.

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// One key of a component's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// The key as written in the file.
    pub name: &'static str,
    /// What it takes: `size`, `duration`, `string`, `one of a, b`, …
    pub kind: String,
    /// Its default as it would be written in the file, or `required`.
    pub default: String,
    /// What it does, in one line.
    pub meaning: &'static str,
}

/// A settings struct: its keys, in declaration order.
pub trait Settings: DeserializeOwned + Default {
    /// The table of keys, defaults taken from `Default`.
    fn keys() -> Vec<Key>;
}

/// A value a key can take: how its type is named and its default written.
pub trait KeyValue {
    /// The type as the reference names it.
    fn kind() -> String;
    /// The value as the configuration file would write it.
    fn show(&self) -> String;
}

/// A key without a default: reading fails with "missing key" when absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Required<T>(pub Option<T>);

impl<T> Default for Required<T> {
    fn default() -> Self {
        Required(None)
    }
}

impl<T> Required<T> {
    /// The value; `Err` with "missing key" when the file did not set it.
    ///
    /// # Errors
    /// The key was absent.
    pub fn get(&self) -> Result<&T, String> {
        self.0.as_ref().ok_or_else(|| "missing: this key has no default".to_string())
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Required<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(|v| Required(Some(v)))
    }
}

impl<T: KeyValue> KeyValue for Required<T> {
    fn kind() -> String {
        T::kind()
    }
    fn show(&self) -> String {
        "required".into()
    }
}

impl Key {
    /// A key of type `T` with default `default`.
    pub fn new<T: KeyValue>(name: &'static str, default: &T, meaning: &'static str) -> Key {
        Key { name, kind: T::kind(), default: default.show(), meaning }
    }
}

/// Declares a component's settings: the struct (every field public, documented
/// with its meaning, read with `deny_unknown_fields`), its `Default` (the only
/// place a default is written) and its [`Settings`] key table.
///
/// ```ignore
/// settings! {
///     /// `[sources.NAME]` keys of `type = "tcp"`.
///     pub struct TcpSettings {
///         listen: String = "127.0.0.1:5141".into(), "Address to bind.";
///     }
/// }
/// ```
#[macro_export]
macro_rules! settings {
    (
        $(#[$outer:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[$attr:meta])*
                $field:ident : $ty:ty = $default:expr, $meaning:literal;
            )*
        }
    ) => {
        $(#[$outer])*
        #[derive(Debug, Clone, serde::Deserialize)]
        #[serde(default, deny_unknown_fields)]
        $vis struct $name {
            $(
                #[doc = $meaning]
                $(#[$attr])*
                pub $field: $ty,
            )*
        }

        impl Default for $name {
            fn default() -> Self {
                $name { $($field: $default,)* }
            }
        }

        impl $crate::config::keys::Settings for $name {
            #[allow(unused_variables, unused_mut, clippy::vec_init_then_push)]
            fn keys() -> Vec<$crate::config::keys::Key> {
                let defaults = <$name as Default>::default();
                let names = $crate::config::keys::field_names::<$name>();
                let mut names = names.iter().copied();
                vec![$(
                    $crate::config::keys::Key::new::<$ty>(
                        names.next().unwrap_or(stringify!($field)),
                        &defaults.$field,
                        $meaning,
                    ),
                )*]
            }
        }
    };
}

/// Implements [`KeyValue`] for a `snake_case` serde enum: its type is the list
/// of its spellings, its value the spelling of the variant.
#[macro_export]
macro_rules! key_choices {
    ($($ty:ty),* $(,)?) => {$(
        impl $crate::config::keys::KeyValue for $ty {
            fn kind() -> String {
                format!("one of {}", $crate::config::keys::variant_names::<$ty>().join(", "))
            }
            fn show(&self) -> String {
                format!("\"{}\"", $crate::config::keys::snake_case(&format!("{self:?}")))
            }
        }
    )*};
}

/// Implements [`KeyValue`] for a nested table: its type names its keys.
#[macro_export]
macro_rules! key_table {
    ($($ty:ty),* $(,)?) => {$(
        impl $crate::config::keys::KeyValue for $ty {
            fn kind() -> String {
                format!("table {{ {} }}", $crate::config::keys::field_names::<$ty>().join(", "))
            }
            fn show(&self) -> String {
                "{}".into()
            }
        }
    )*};
}

/// `FlumeJson` → `flume_json`.
pub fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The keys of struct `T`, as serde reads them (renames applied).
pub fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    let probe = Probe::default();
    let _ = T::deserialize(&probe);
    probe.fields.get()
}

/// The spellings of enum `T`, as serde reads them.
pub fn variant_names<T: DeserializeOwned>() -> &'static [&'static str] {
    let probe = Probe::default();
    let _ = T::deserialize(&probe);
    probe.variants.get()
}

/// A deserializer that only records the names serde asks for, then fails.
#[derive(Default)]
struct Probe {
    fields: Cell<&'static [&'static str]>,
    variants: Cell<&'static [&'static str]>,
}

#[derive(Debug)]
struct Probed;

impl fmt::Display for Probed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("probed")
    }
}

impl std::error::Error for Probed {}

impl de::Error for Probed {
    fn custom<M: fmt::Display>(_: M) -> Self {
        Probed
    }
}

impl<'de> Deserializer<'de> for &Probe {
    type Error = Probed;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Probed> {
        Err(Probed)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Probed> {
        self.fields.set(fields);
        Err(Probed)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Probed> {
        self.variants.set(variants);
        Err(Probed)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map identifier ignored_any
    }
}

macro_rules! key_numbers {
    ($($ty:ty),*) => {$(
        impl KeyValue for $ty {
            fn kind() -> String {
                "integer".into()
            }
            fn show(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
key_numbers!(u16, u32, u64, usize, i64);

impl KeyValue for bool {
    fn kind() -> String {
        "boolean".into()
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

impl KeyValue for String {
    fn kind() -> String {
        "string".into()
    }
    fn show(&self) -> String {
        format!("{self:?}")
    }
}

impl KeyValue for PathBuf {
    fn kind() -> String {
        "path".into()
    }
    fn show(&self) -> String {
        format!("{:?}", self.display().to_string())
    }
}

impl<T: KeyValue> KeyValue for Option<T> {
    fn kind() -> String {
        T::kind()
    }
    fn show(&self) -> String {
        self.as_ref().map_or_else(|| "none".into(), KeyValue::show)
    }
}

impl<T: KeyValue> KeyValue for Vec<T> {
    fn kind() -> String {
        let item = T::kind();
        match item.strip_prefix("one of ") {
            Some(choices) => format!("list of any of {choices}"),
            None => format!("list of {item}"),
        }
    }
    fn show(&self) -> String {
        format!("[{}]", self.iter().map(KeyValue::show).collect::<Vec<_>>().join(", "))
    }
}

impl<V: KeyValue> KeyValue for BTreeMap<String, V> {
    fn kind() -> String {
        format!("table of {}", V::kind())
    }
    fn show(&self) -> String {
        let pairs: Vec<String> = self.iter().map(|(k, v)| format!("{k} = {}", v.show())).collect();
        format!("{{{}}}", pairs.join(", "))
    }
}

/// The reference of one component type as a Markdown table.
pub fn markdown(keys: &[Key]) -> String {
    let mut out = String::from("| key | type | default | meaning |\n|---|---|---|---|\n");
    for k in keys {
        let cell = |s: &str| s.replace('|', "\\|");
        out.push_str(&format!("| `{}` | {} | `{}` | {} |\n", k.name, cell(&k.kind), cell(&k.default), cell(k.meaning)));
    }
    out
}

/// The reference of one component type as terminal text, one key a line.
pub fn text(keys: &[Key]) -> String {
    let width = keys.iter().map(|k| k.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for k in keys {
        let default = match k.default.as_str() {
            "required" => "(required)".to_string(),
            d => format!("(default {d})"),
        };
        out.push_str(&format!("  {:width$}  {} {default}\n  {:width$}    {}\n", k.name, k.kind, "", k.meaning));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::{ByteSize, Span};
    use std::time::Duration;

    #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Colour {
        DeepRed,
        Blue,
    }
    key_choices!(Colour);

    crate::settings! {
        /// A test component.
        struct Sample {
            #[serde(rename = "type")]
            kind: String = "x".into(), "Its type.";
            size: ByteSize = ByteSize(64 << 10), "How big.";
            wait: Span = Span(Duration::from_millis(1500)), "How long.";
            colour: Colour = Colour::DeepRed, "Which colour.";
            url: Required<String> = Required::default(), "Where to.";
            tags: Vec<String> = vec!["a".into()], "Labels.";
            peer: Option<String> = None, "Peer header.";
        }
    }

    #[test]
    fn the_table_comes_from_the_struct_and_its_default() {
        let rows: Vec<(&str, String, String)> =
            Sample::keys().into_iter().map(|k| (k.name, k.kind, k.default)).collect();
        let expected = [
            ("type", "string", "\"x\""),
            ("size", "size", "\"64KiB\""),
            ("wait", "duration", "\"1500ms\""),
            ("colour", "one of deep_red, blue", "\"deep_red\""),
            ("url", "string", "required"),
            ("tags", "list of string", "[\"a\"]"),
            ("peer", "string", "none"),
        ];
        let expected: Vec<(&str, String, String)> =
            expected.iter().map(|(n, k, d)| (*n, k.to_string(), d.to_string())).collect();
        assert_eq!(rows, expected);
    }

    #[test]
    fn absent_keys_take_the_default_and_required_ones_say_so() {
        let sample: Sample =
            crate::config::toml::from_table(&crate::config::toml::parse("size = \"1KiB\"").unwrap_or_default())
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sample.size, ByteSize(1024));
        assert_eq!(sample.colour, Colour::DeepRed);
        assert!(sample.url.get().is_err());
        let unknown =
            crate::config::toml::from_table::<Sample>(&crate::config::toml::parse("colur = 1").unwrap_or_default())
                .err()
                .map(|e| e.message().to_string())
                .unwrap_or_default();
        assert!(unknown.contains("expected one of") && unknown.contains("colour"), "{unknown}");
    }
}
