//! `ExportLogsServiceRequest` in the OTLP JSON mapping: lowerCamelCase names
//! (the proto's snake_case names are read too), 64-bit integers as strings or
//! numbers, trace and span ids in hex, bytes in base64; unknown fields are
//! ignored, as the OTLP specification asks of receivers.
//!
//! Every array is read through [`Counted`], which charges the request's
//! [`Budget`] per element, so a body of a million `{}` is refused before it
//! becomes a million records.

use super::{Budget, Origin, Record, Value};
use base64::Engine as _;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::rc::Rc;

type Result<T> = std::result::Result<T, String>;

thread_local! {
    /// The budget of the request being decoded on this thread.
    static BUDGET: RefCell<Option<Budget>> = const { RefCell::new(None) };
}

/// The resource-and-scope runs of records in a request.
pub(super) fn decode(body: &[u8], budget: &mut Budget) -> Result<Vec<(Origin, Vec<Record>)>> {
    let taken = Budget { used: budget.used, max: budget.max, records: budget.records, max_records: budget.max_records };
    BUDGET.with(|b| *b.borrow_mut() = Some(taken));
    let parsed = serde_json::from_slice::<Request>(body);
    if let Some(left) = BUDGET.with(|b| b.borrow_mut().take()) {
        *budget = left;
    }
    let request = parsed.map_err(|e| format!("invalid OTLP JSON: {e}"))?;
    let mut out = Vec::new();
    for rl in request.resource_logs.0 {
        let resource = rl.resource.map(|r| r.attributes.0).unwrap_or_default();
        let resource: Rc<[(String, Value)]> =
            resource.into_iter().map(KeyValue::into_pair).collect::<Result<Vec<_>>>()?.into();
        for sl in rl.scope_logs.0 {
            let scope = sl.scope.unwrap_or_default();
            let records = sl.log_records.0.into_iter().map(LogRecord::into_record).collect::<Vec<_>>();
            out.push((
                Origin { resource: resource.clone(), scope_name: scope.name, scope_version: scope.version },
                records,
            ));
        }
    }
    Ok(out)
}

/// A JSON array whose elements are charged to the thread's budget as they are read.
struct Counted<T, const RECORDS: bool = false>(Vec<T>);

impl<T, const R: bool> Default for Counted<T, R> {
    fn default() -> Self {
        Counted(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>, const RECORDS: bool> Deserialize<'de> for Counted<T, RECORDS> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct Elements<T, const R: bool>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>, const RECORDS: bool> Visitor<'de> for Elements<T, RECORDS> {
            type Value = Counted<T, RECORDS>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_unit<E: de::Error>(self) -> std::result::Result<Self::Value, E> {
                Ok(Counted(Vec::new()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                loop {
                    // What an element takes decoded, its text aside (the body bounds that),
                    // charged before it is read.
                    let charged = BUDGET.with(|b| match b.borrow_mut().as_mut() {
                        Some(budget) => budget.charge(size_of::<T>()),
                        None => Ok(()),
                    });
                    charged.map_err(de::Error::custom)?;
                    let Some(item) = seq.next_element()? else { return Ok(Counted(items)) };
                    if RECORDS {
                        let counted = BUDGET.with(|b| b.borrow_mut().as_mut().map_or(Ok(()), Budget::record));
                        counted.map_err(de::Error::custom)?;
                    }
                    items.push(item);
                }
            }
        }
        // `null` is an empty array (the protobuf JSON mapping's default).
        deserializer.deserialize_any(Elements::<T, RECORDS>(PhantomData))
    }
}

#[derive(Deserialize)]
struct Request {
    #[serde(default, rename = "resourceLogs", alias = "resource_logs")]
    resource_logs: Counted<ResourceLogs>,
}

#[derive(Deserialize)]
struct ResourceLogs {
    #[serde(default)]
    resource: Option<Resource>,
    #[serde(default, rename = "scopeLogs", alias = "scope_logs")]
    scope_logs: Counted<ScopeLogs>,
}

#[derive(Deserialize)]
struct Resource {
    #[serde(default)]
    attributes: Counted<KeyValue>,
}

#[derive(Deserialize)]
struct ScopeLogs {
    #[serde(default)]
    scope: Option<Scope>,
    #[serde(default, rename = "logRecords", alias = "log_records")]
    log_records: Counted<LogRecord, true>,
}

#[derive(Deserialize, Default)]
struct Scope {
    #[serde(default, deserialize_with = "or_default")]
    name: String,
    #[serde(default, deserialize_with = "or_default")]
    version: String,
}

#[derive(Deserialize)]
struct LogRecord {
    #[serde(default, rename = "timeUnixNano", alias = "time_unix_nano", deserialize_with = "int64")]
    time_unix_nano: i128,
    #[serde(default, rename = "observedTimeUnixNano", alias = "observed_time_unix_nano", deserialize_with = "int64")]
    observed_time_unix_nano: i128,
    #[serde(default, rename = "severityNumber", alias = "severity_number", deserialize_with = "int64")]
    severity_number: i128,
    #[serde(default, rename = "severityText", alias = "severity_text", deserialize_with = "or_default")]
    severity_text: String,
    #[serde(default)]
    body: Option<AnyValue>,
    #[serde(default)]
    attributes: Counted<KeyValue>,
    #[serde(default, deserialize_with = "int64")]
    flags: i128,
    #[serde(default, rename = "traceId", alias = "trace_id", deserialize_with = "or_default")]
    trace_id: String,
    #[serde(default, rename = "spanId", alias = "span_id", deserialize_with = "or_default")]
    span_id: String,
    #[serde(default, rename = "eventName", alias = "event_name", deserialize_with = "or_default")]
    event_name: String,
}

impl LogRecord {
    /// The record; what breaks a rule in it refuses it alone (`problem`), not the request.
    fn into_record(self) -> Record {
        let mut record = Record { severity_text: self.severity_text, event_name: self.event_name, ..Record::default() };
        let decoded = (|| -> Result<()> {
            let number = |n: i128, what: &str| format!("{what} {n} is out of range");
            record.time_unix_nano =
                u64::try_from(self.time_unix_nano).map_err(|_| number(self.time_unix_nano, "timeUnixNano"))?;
            record.observed_time_unix_nano = u64::try_from(self.observed_time_unix_nano)
                .map_err(|_| number(self.observed_time_unix_nano, "observedTimeUnixNano"))?;
            record.severity_number =
                i32::try_from(self.severity_number).map_err(|_| number(self.severity_number, "severityNumber"))?.into();
            record.flags = u32::try_from(self.flags).map_err(|_| number(self.flags, "flags"))?;
            record.body = self.body.map(AnyValue::into_value).transpose()?;
            record.attributes = self.attributes.0.into_iter().map(KeyValue::into_pair).collect::<Result<_>>()?;
            match (unhex(&self.trace_id), unhex(&self.span_id)) {
                (Some(trace), Some(span)) => (record.trace_id, record.span_id) = (trace, span),
                _ => return Err("traceId and spanId must be hex".into()),
            }
            Ok(())
        })();
        record.problem = decoded.err();
        record
    }
}

#[derive(Deserialize)]
struct KeyValue {
    #[serde(default, deserialize_with = "or_default")]
    key: String,
    #[serde(default)]
    value: Option<AnyValue>,
}

impl KeyValue {
    fn into_pair(self) -> Result<(String, Value)> {
        let value = self.value.map(AnyValue::into_value).transpose()?.unwrap_or(Value::Empty);
        Ok((self.key, value))
    }
}

#[derive(Deserialize)]
struct AnyValue {
    #[serde(default, rename = "stringValue", alias = "string_value")]
    string_value: Option<String>,
    #[serde(default, rename = "boolValue", alias = "bool_value")]
    bool_value: Option<bool>,
    #[serde(default, rename = "intValue", alias = "int_value", deserialize_with = "some_int64")]
    int_value: Option<i128>,
    #[serde(default, rename = "doubleValue", alias = "double_value", deserialize_with = "some_double")]
    double_value: Option<f64>,
    #[serde(default, rename = "arrayValue", alias = "array_value")]
    array_value: Option<ArrayValue>,
    #[serde(default, rename = "kvlistValue", alias = "kvlist_value")]
    kvlist_value: Option<KeyValueList>,
    #[serde(default, rename = "bytesValue", alias = "bytes_value")]
    bytes_value: Option<String>,
}

#[derive(Deserialize)]
struct ArrayValue {
    #[serde(default)]
    values: Counted<AnyValue>,
}

#[derive(Deserialize)]
struct KeyValueList {
    #[serde(default)]
    values: Counted<KeyValue>,
}

impl AnyValue {
    fn into_value(self) -> Result<Value> {
        Ok(if let Some(s) = self.string_value {
            Value::Str(s)
        } else if let Some(b) = self.bool_value {
            Value::Bool(b)
        } else if let Some(i) = self.int_value {
            Value::Int(i64::try_from(i).map_err(|_| format!("intValue {i} is out of range"))?)
        } else if let Some(d) = self.double_value {
            Value::Double(d)
        } else if let Some(a) = self.array_value {
            Value::Array(a.values.0.into_iter().map(AnyValue::into_value).collect::<Result<_>>()?)
        } else if let Some(m) = self.kvlist_value {
            Value::Map(m.values.0.into_iter().map(KeyValue::into_pair).collect::<Result<_>>()?)
        } else if let Some(b) = self.bytes_value {
            Value::Bytes(unbase64(&b).ok_or_else(|| "bytesValue is not valid base64".to_owned())?)
        } else {
            Value::Empty
        })
    }
}

/// Base64 as protobuf JSON parsers read it: standard or URL-safe alphabet, padded or not.
fn unbase64(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD].iter().find_map(|engine| engine.decode(text).ok())
}

/// A field's value, `null` read as its default (the protobuf JSON mapping's rule).
fn or_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> std::result::Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Hex digits as bytes; `None` when they are not hex.
fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| char::from(c).to_digit(16).map(|d| d as u8);
    text.as_bytes().chunks_exact(2).map(|p| Some(digit(p[0])? << 4 | digit(p[1])?)).collect()
}

/// An int64 or uint64 as protobuf JSON writes it: a decimal string or a number.
fn int64<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<i128, D::Error> {
    struct Int;
    impl Visitor<'_> for Int {
        type Value = i128;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an integer or a string of one")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<i128, E> {
            Ok(i128::from(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<i128, E> {
            Ok(i128::from(v))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<i128, E> {
            // 1e3 is an integer written with an exponent; 1.5 is not one.
            if v.fract() == 0.0 && v.abs() < 1e38 {
                Ok(v as i128)
            } else {
                Err(E::custom(format!("{v} is not an integer")))
            }
        }
        fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<i128, E> {
            v.trim().parse().map_err(|_| E::custom(format!("{v:?} is not an integer")))
        }
        fn visit_unit<E: de::Error>(self) -> std::result::Result<i128, E> {
            Ok(0)
        }
    }
    d.deserialize_any(Int)
}

fn some_int64<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<i128>, D::Error> {
    int64(d).map(Some)
}

/// A double as protobuf JSON writes it: a number, or "NaN", "Infinity", "-Infinity".
fn some_double<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<f64>, D::Error> {
    struct Double;
    impl Visitor<'_> for Double {
        type Value = f64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a number, \"NaN\", \"Infinity\" or \"-Infinity\"")
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<f64, E> {
            Ok(v)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<f64, E> {
            match v {
                "NaN" => Ok(f64::NAN),
                "Infinity" => Ok(f64::INFINITY),
                "-Infinity" => Ok(f64::NEG_INFINITY),
                _ => v.parse().map_err(|_| E::custom(format!("{v:?} is not a number"))),
            }
        }
    }
    d.deserialize_any(Double).map(Some)
}
