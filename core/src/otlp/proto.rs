//! `ExportLogsServiceRequest` in protobuf (opentelemetry-proto `logs/v1`,
//! `common/v1`, `resource/v1`). Unknown fields are skipped, as protobuf asks;
//! a known field of the wrong wire type is malformed.

use super::wire::{Field, Reader, WireError};
use super::{Budget, Origin, Record, Value, MAX_DEPTH};
use std::rc::Rc;

type Result<T> = std::result::Result<T, String>;

impl From<WireError> for String {
    fn from(e: WireError) -> String {
        e.0
    }
}

/// Where each record goes, with its resource and scope, as soon as it is read.
pub(super) type Take<'a> = dyn FnMut(&Origin, Record) -> Result<()> + 'a;

/// Reads a request, handing each record to `take`.
pub(super) fn decode(body: &[u8], budget: &mut Budget, take: &mut Take<'_>) -> Result<()> {
    let mut fields = Reader::new(body);
    while let Some((number, field)) = fields.next_field()? {
        if number == 1 {
            resource_logs(field.bytes("resource_logs")?, budget, take)?;
        }
    }
    Ok(())
}

fn resource_logs(bytes: &[u8], budget: &mut Budget, take: &mut Take<'_>) -> Result<()> {
    // The resource may come after its scope logs: read it first.
    let mut resource = Vec::new();
    let mut fields = Reader::new(bytes);
    while let Some((number, field)) = fields.next_field()? {
        if number == 1 {
            let mut inner = Reader::new(field.bytes("resource")?);
            while let Some((number, field)) = inner.next_field()? {
                if number == 1 {
                    resource.push(key_value(field.bytes("resource.attributes")?, budget, 0)?);
                }
            }
        }
    }
    let resource: Rc<[(String, Value)]> = resource.into();
    let mut fields = Reader::new(bytes);
    while let Some((number, field)) = fields.next_field()? {
        if number == 2 {
            scope_logs(field.bytes("scope_logs")?, resource.clone(), budget, take)?;
        }
    }
    Ok(())
}

fn scope_logs(bytes: &[u8], resource: Rc<[(String, Value)]>, budget: &mut Budget, take: &mut Take<'_>) -> Result<()> {
    // The scope may come after its records: read it first.
    let mut origin = Origin { resource, ..Origin::default() };
    let mut fields = Reader::new(bytes);
    while let Some((number, field)) = fields.next_field()? {
        if number == 1 {
            let mut scope = Reader::new(field.bytes("scope")?);
            while let Some((number, field)) = scope.next_field()? {
                match number {
                    1 => origin.scope_name = text(field, "scope.name", budget)?,
                    2 => origin.scope_version = text(field, "scope.version", budget)?,
                    _ => {}
                }
            }
        }
    }
    let mut fields = Reader::new(bytes);
    while let Some((number, field)) = fields.next_field()? {
        if number == 2 {
            budget.record()?;
            take(&origin, log_record(field.bytes("log_records")?, budget)?)?;
        }
    }
    Ok(())
}

fn log_record(bytes: &[u8], budget: &mut Budget) -> Result<Record> {
    let mut r = Record::default();
    let mut fields = Reader::new(bytes);
    while let Some((number, field)) = fields.next_field()? {
        match number {
            1 => r.time_unix_nano = field.fixed64("time_unix_nano")?,
            11 => r.observed_time_unix_nano = field.fixed64("observed_time_unix_nano")?,
            // An enum is an int32 on the wire: a negative one is sign-extended to 64 bits.
            2 => r.severity_number = field.varint("severity_number")? as i64,
            3 => r.severity_text = text(field, "severity_text", budget)?,
            5 => r.body = Some(any_value(field.bytes("body")?, budget, 0)?),
            6 => r.attributes.push(key_value(field.bytes("attributes")?, budget, 0)?),
            8 => match field {
                Field::Fixed32(flags) => r.flags = flags,
                _ => return Err("flags: expected a fixed32".into()),
            },
            9 => r.trace_id = owned(field.bytes("trace_id")?, budget)?,
            10 => r.span_id = owned(field.bytes("span_id")?, budget)?,
            12 => r.event_name = text(field, "event_name", budget)?,
            _ => {}
        }
    }
    Ok(r)
}

fn key_value(bytes: &[u8], budget: &mut Budget, depth: usize) -> Result<(String, Value)> {
    budget.charge(0)?;
    let (mut key, mut value) = (String::new(), Value::Empty);
    let mut fields = Reader::new(bytes);
    while let Some((number, field)) = fields.next_field()? {
        match number {
            1 => key = text(field, "key", budget)?,
            2 => value = any_value(field.bytes("value")?, budget, depth)?,
            _ => {}
        }
    }
    Ok((key, value))
}

fn any_value(bytes: &[u8], budget: &mut Budget, depth: usize) -> Result<Value> {
    if depth >= MAX_DEPTH {
        return Err(format!("values nested deeper than {MAX_DEPTH} levels"));
    }
    budget.charge(0)?;
    let mut value = Value::Empty;
    let mut fields = Reader::new(bytes);
    while let Some((number, field)) = fields.next_field()? {
        value = match number {
            1 => Value::Str(text(field, "stringValue", budget)?),
            2 => Value::Bool(field.varint("boolValue")? != 0),
            3 => Value::Int(field.varint("intValue")? as i64),
            4 => Value::Double(f64::from_bits(field.fixed64("doubleValue")?)),
            5 => {
                let mut items = Vec::new();
                let mut inner = Reader::new(field.bytes("arrayValue")?);
                while let Some((number, field)) = inner.next_field()? {
                    if number == 1 {
                        items.push(any_value(field.bytes("arrayValue.values")?, budget, depth + 1)?);
                    }
                }
                Value::Array(items)
            }
            6 => {
                let mut pairs = Vec::new();
                let mut inner = Reader::new(field.bytes("kvlistValue")?);
                while let Some((number, field)) = inner.next_field()? {
                    if number == 1 {
                        pairs.push(key_value(field.bytes("kvlistValue.values")?, budget, depth + 1)?);
                    }
                }
                Value::Map(pairs)
            }
            7 => Value::Bytes(owned(field.bytes("bytesValue")?, budget)?),
            _ => value,
        };
    }
    Ok(value)
}

fn text(field: Field<'_>, what: &str, budget: &mut Budget) -> Result<String> {
    let text = field.text(what)?;
    budget.charge(text.len())?;
    Ok(text.to_owned())
}

fn owned(bytes: &[u8], budget: &mut Budget) -> Result<Vec<u8>> {
    budget.charge(bytes.len())?;
    Ok(bytes.to_vec())
}
