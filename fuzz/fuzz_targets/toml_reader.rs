//! Sluice's TOML reader against the `toml` crate on arbitrary UTF-8: both accept
//! with the same values, or both refuse. The exceptions are the reader's stated
//! limits: date-time values, and values nested more than 64 deep (header parts,
//! dotted-key parts and inline arrays and tables counted together), which it refuses.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice::config::toml::{parse, Kind, Value, TOO_DEEP};

/// A value without spans; floats as bits so that NaN equals NaN.
#[derive(Debug, PartialEq)]
enum Plain {
    String(String),
    Integer(i64),
    Float(u64),
    Boolean(bool),
    Array(Vec<Plain>),
    Table(Vec<(String, Plain)>),
}

fn bits(x: f64) -> u64 {
    if x.is_nan() { f64::NAN.to_bits() } else { x.to_bits() }
}

fn ours(v: &Value) -> Plain {
    match &v.kind {
        Kind::String(s) => Plain::String(s.clone()),
        Kind::Integer(n) => Plain::Integer(*n),
        Kind::Float(x) => Plain::Float(bits(*x)),
        Kind::Boolean(b) => Plain::Boolean(*b),
        Kind::Array(a) => Plain::Array(a.iter().map(ours).collect()),
        Kind::Table(t) => Plain::Table(t.iter().map(|(k, v)| (k.clone(), ours(v))).collect()),
    }
}

/// `None` when the reference holds a date-time (which we refuse by design).
fn reference(v: &toml::Value) -> Option<Plain> {
    Some(match v {
        toml::Value::String(s) => Plain::String(s.clone()),
        toml::Value::Integer(n) => Plain::Integer(*n),
        toml::Value::Float(x) => Plain::Float(bits(*x)),
        toml::Value::Boolean(b) => Plain::Boolean(*b),
        toml::Value::Datetime(_) => return None,
        toml::Value::Array(a) => Plain::Array(a.iter().map(reference).collect::<Option<_>>()?),
        toml::Value::Table(t) => {
            Plain::Table(t.iter().map(|(k, v)| Some((k.clone(), reference(v)?))).collect::<Option<_>>()?)
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mine = parse(text).map(|t| ours(&Value { kind: Kind::Table(t), span: 0..0 }));
    let theirs = text.parse::<toml::Table>().map(|t| reference(&toml::Value::Table(t)));
    match (&mine, &theirs) {
        (Ok(a), Ok(Some(b))) => assert_eq!(a, b, "different values for {text:?}"),
        (Ok(a), Ok(None)) => panic!("accepted a date-time in {text:?}: {a:?}"),
        (Ok(a), Err(e)) => panic!("accepted what the reference refuses, {text:?}: {a:?}; reference: {e}"),
        (Err(e), Ok(Some(_))) => {
            let limit = e.message == TOO_DEEP || e.message.starts_with("date and time values are not supported");
            assert!(limit, "refused what the reference accepts, {text:?}: {e:?}");
        }
        (Err(_), Ok(None) | Err(_)) => {}
    }
});
