//! Sizes (`"512MiB"`) and durations (`"500ms"`) as the configuration writes them.
//!
//! The rule, the same for every key: a size or a duration carries its unit.
//! `KiB`, `MiB`, `GiB` are powers of 1024; `KB`, `MB`, `GB` are powers of 1000,
//! as the SI and IEC write them; a bare `K`, `M` or `G` is refused as
//! ambiguous. Durations take `ms`, `s`, `m`, `h`. A number without a unit is
//! refused, except `0`, which needs none.

use serde::de::{self, Deserializer, Visitor};
use std::fmt;
use std::time::Duration;

/// A size in bytes, written with `B`, `KiB`, `MiB`, `GiB`, `KB`, `MB` or `GB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

/// A duration, written with `ms`, `s`, `m` or `h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span(pub Duration);

const SIZE_FORMS: &str = "a whole number with B, KiB, MiB, GiB (1024) or KB, MB, GB (1000), like \"512MiB\"";
const DURATION_FORMS: &str = "a whole number with ms, s, m or h, like \"500ms\"";

/// Parses `"512MiB"`, `"10 KiB"`, `"100B"`, `"1GB"`, `"0"`.
///
/// # Errors
/// A message naming the accepted forms.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let (number, unit) = split_number(text);
    let factor: u64 = match unit {
        "" if number == "0" => 1,
        "" => return Err(format!("size {text:?} has no unit: write {text}B for bytes, or use KiB, MiB, GiB")),
        "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "K" | "M" | "G" => {
            return Err(format!("size {text:?} is ambiguous: write {number}{unit}iB (1024) or {number}{unit}B (1000)"))
        }
        _ => return Err(format!("invalid size {text:?}: expected {SIZE_FORMS}")),
    };
    let n: u64 = number.parse().map_err(|_| format!("invalid size {text:?}: expected {SIZE_FORMS}"))?;
    n.checked_mul(factor).ok_or_else(|| format!("size {text:?} is too large"))
}

/// Parses `"500ms"`, `"30s"`, `"5m"`, `"1h"`, `"0"`.
///
/// # Errors
/// A message naming the accepted forms.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = split_number(text);
    let n: u64 = number.parse().map_err(|_| format!("invalid duration {text:?}: expected {DURATION_FORMS}"))?;
    let ms = match unit {
        "" if n == 0 => Some(0),
        "" => return Err(format!("duration {text:?} has no unit: write {n}ms, or use s, m, h")),
        "ms" => Some(n),
        "s" => n.checked_mul(1000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        _ => return Err(format!("invalid duration {text:?}: expected {DURATION_FORMS}")),
    };
    ms.map(Duration::from_millis).ok_or_else(|| format!("duration {text:?} is too large"))
}

impl fmt::Display for ByteSize {
    /// The unit that writes the size with the smallest whole number, binary
    /// on a tie: `64KiB`, `512MB`, `1500B`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        let units: [(u64, &str); 6] = [
            (1 << 30, "GiB"),
            (1_000_000_000, "GB"),
            (1 << 20, "MiB"),
            (1_000_000, "MB"),
            (1 << 10, "KiB"),
            (1_000, "KB"),
        ];
        let best = units.iter().filter(|(size, _)| n != 0 && n.is_multiple_of(*size)).min_by_key(|(size, _)| n / size);
        match best {
            Some((size, unit)) => write!(f, "{}{unit}", n / size),
            None => write!(f, "{n}B"),
        }
    }
}

impl fmt::Display for Span {
    /// The largest unit that divides the duration: `5m`, `10s`, `1500ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        for (per, unit) in [(3_600_000, "h"), (60_000, "m"), (1000, "s")] {
            if ms != 0 && ms.is_multiple_of(per) {
                return write!(f, "{}{unit}", ms / per);
            }
        }
        if ms == 0 {
            return f.write_str("0s");
        }
        write!(f, "{ms}ms")
    }
}

impl crate::config::keys::KeyValue for ByteSize {
    fn kind() -> String {
        "size".into()
    }
    fn show(&self) -> String {
        format!("\"{self}\"")
    }
}

impl crate::config::keys::KeyValue for Span {
    fn kind() -> String {
        "duration".into()
    }
    fn show(&self) -> String {
        format!("\"{self}\"")
    }
}

fn split_number(text: &str) -> (&str, &str) {
    let text = text.trim();
    let at = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    (&text[..at], text[at..].trim())
}

struct UnitVisitor<F>(F, &'static str);

impl<T, F: Fn(&str) -> Result<T, String>> Visitor<'_> for UnitVisitor<F> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.1)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.0)(v).map_err(E::custom)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        if v < 0 {
            return Err(E::custom(format!("{v} is negative: expected {}", self.1)));
        }
        (self.0)(&v.to_string()).map_err(E::custom)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        (self.0)(&v.to_string()).map_err(E::custom)
    }
}

impl<'de> serde::Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UnitVisitor(|s: &str| parse_size(s).map(ByteSize), "a size like \"512MiB\""))
    }
}

impl<'de> serde::Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UnitVisitor(|s: &str| parse_duration(s).map(Span), "a duration like \"500ms\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_carry_their_unit() {
        let cases: [(&str, Result<u64, &str>); 12] = [
            ("512MiB", Ok(512 << 20)),
            ("10 KiB", Ok(10 << 10)),
            ("100B", Ok(100)),
            ("2GB", Ok(2_000_000_000)),
            ("5MB", Ok(5_000_000)),
            ("0", Ok(0)),
            ("100", Err("no unit: write 100B")),
            ("512M", Err("ambiguous: write 512MiB (1024) or 512MB (1000)")),
            ("12 parsecs", Err("KiB")),
            ("-1MiB", Err("whole number")),
            ("1.5MiB", Err("whole number")),
            ("99999999999GiB", Err("too large")),
        ];
        for (text, expected) in cases {
            match (parse_size(text), expected) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{text}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{text}: {got}"),
                (got, want) => panic!("{text}: {got:?}, expected {want:?}"),
            }
        }
    }

    #[test]
    fn durations_carry_their_unit() {
        let cases: [(&str, Result<u64, &str>); 7] = [
            ("500ms", Ok(500)),
            ("5m", Ok(300_000)),
            ("2h", Ok(7_200_000)),
            ("0", Ok(0)),
            ("200", Err("no unit: write 200ms")),
            ("fast", Err("ms, s, m or h")),
            ("1.5s", Err("whole number")),
        ];
        for (text, expected) in cases {
            match (parse_duration(text).map(|d| d.as_millis() as u64), expected) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{text}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{text}: {got}"),
                (got, want) => panic!("{text}: {got:?}, expected {want:?}"),
            }
        }
    }

    #[test]
    fn values_are_written_back_in_their_largest_unit() {
        assert_eq!(ByteSize(64 << 10).to_string(), "64KiB");
        assert_eq!(ByteSize(1500).to_string(), "1500B");
        assert_eq!(ByteSize(512_000_000).to_string(), "512MB");
        assert_eq!(ByteSize(1000 << 20).to_string(), "1000MiB");
        assert_eq!(ByteSize(3_000).to_string(), "3KB");
        assert_eq!(ByteSize(0).to_string(), "0B");
        assert_eq!(Span(Duration::from_secs(300)).to_string(), "5m");
        assert_eq!(Span(Duration::from_millis(1500)).to_string(), "1500ms");
        assert_eq!(Span(Duration::ZERO).to_string(), "0s");
        for text in ["64KiB", "1500B", "5m", "1500ms", "2h"] {
            let back = parse_size(text).map(|n| ByteSize(n).to_string());
            let back = back.or_else(|_| parse_duration(text).map(|d| Span(d).to_string()));
            assert_eq!(back.as_deref(), Ok(text));
        }
    }
}
