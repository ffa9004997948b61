//! JVM values to Rust values: nulls, lengths and UTF-8 checked.

use jni::objects::{JByteArray, JObjectArray, JString};
use jni::JNIEnv;
use sluice::mobile::{handles, Network, Sdk, MAX_EVENT_BYTES, MAX_HEADERS};
use sluice::{Error, ErrorKind, Priority};
use std::sync::Arc;

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Decode, message)
}

fn jni_error(e: jni::errors::Error) -> Error {
    Error::new(ErrorKind::Other, format!("JNI: {e}"))
}

/// The open instance numbered `handle`.
///
/// # Errors
/// Not open (closed, or never returned by `open`).
pub fn sdk(handle: i64) -> Result<Arc<Sdk>, Error> {
    u64::try_from(handle)
        .ok()
        .and_then(handles::get)
        .ok_or_else(|| Error::new(ErrorKind::Closed, "this Sluice instance is closed"))
}

/// A Java string.
///
/// # Errors
/// `null`; `what` names the argument.
pub fn string(env: &mut JNIEnv<'_>, s: &JString<'_>, what: &str) -> Result<String, Error> {
    if s.is_null() {
        return Err(invalid(format!("{what} is null")));
    }
    Ok(env.get_string(s).map_err(jni_error)?.into())
}

/// A Java `byte[]`.
///
/// # Errors
/// `null`, or longer than an event may be.
pub fn bytes(env: &mut JNIEnv<'_>, array: &JByteArray<'_>) -> Result<Vec<u8>, Error> {
    if array.is_null() {
        return Err(invalid("body is null"));
    }
    let len = env.get_array_length(array).map_err(jni_error)?;
    if usize::try_from(len).unwrap_or(usize::MAX) > MAX_EVENT_BYTES {
        return Err(invalid(format!("body is {len} bytes: at most {MAX_EVENT_BYTES} are allowed")));
    }
    env.convert_byte_array(array).map_err(jni_error)
}

/// Headers from two parallel `String[]` (keys, values).
///
/// # Errors
/// `null` arrays or items, different lengths, too many, an empty key.
pub fn headers(
    env: &mut JNIEnv<'_>,
    keys: &JObjectArray<'_>,
    values: &JObjectArray<'_>,
) -> Result<Vec<(String, String)>, Error> {
    if keys.is_null() || values.is_null() {
        return Err(invalid("headers are null"));
    }
    let n = env.get_array_length(keys).map_err(jni_error)?;
    if n != env.get_array_length(values).map_err(jni_error)? {
        return Err(invalid("header keys and values differ in length"));
    }
    if usize::try_from(n).unwrap_or(usize::MAX) > MAX_HEADERS {
        return Err(invalid(format!("{n} headers: at most {MAX_HEADERS} are allowed")));
    }
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n {
        let key = JString::from(env.get_object_array_element(keys, i).map_err(jni_error)?);
        let value = JString::from(env.get_object_array_element(values, i).map_err(jni_error)?);
        let pair = (string(env, &key, &format!("header key {i}"))?, string(env, &value, &format!("header value {i}"))?);
        env.delete_local_ref(key).map_err(jni_error)?;
        env.delete_local_ref(value).map_err(jni_error)?;
        out.push(pair);
    }
    Ok(out)
}

/// `Priority.code`.
///
/// # Errors
/// Another number.
pub fn priority(code: i32) -> Result<Priority, Error> {
    match code {
        0 => Ok(Priority::Low),
        1 => Ok(Priority::Normal),
        2 => Ok(Priority::High),
        other => Err(invalid(format!("priority {other}: expected 0 (low), 1 (normal) or 2 (high)"))),
    }
}

/// `Network.code`.
///
/// # Errors
/// Another number.
pub fn network(code: i32) -> Result<Network, Error> {
    Network::from_code(code)
        .ok_or_else(|| invalid(format!("network {code}: expected 0 (offline), 1 (metered) or 2 (unmetered)")))
}
