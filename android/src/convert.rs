//! JVM values to Rust values: nulls, lengths and UTF-8 checked.

use jni::objects::{JByteArray, JString};
use jni::JNIEnv;
use sluice::mobile::{handles, Sdk, MAX_EVENT_BYTES, MAX_HEADERS};
use sluice::{Error, ErrorKind};
use std::sync::Arc;

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Decode, message)
}

/// A JNI failure as an error.
pub fn jni_error(e: jni::errors::Error) -> Error {
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

/// A Java string that may be `null`.
///
/// # Errors
/// The JVM failed to hand over its characters.
pub fn optional_string(env: &mut JNIEnv<'_>, s: &JString<'_>) -> Result<Option<String>, Error> {
    if s.is_null() {
        return Ok(None);
    }
    Ok(Some(env.get_string(s).map_err(jni_error)?.into()))
}

/// The start of a reply's body, as much as the core keeps (the rest is not needed to classify it).
///
/// # Errors
/// The JVM failed to hand over the bytes.
pub fn reply_body(env: &mut JNIEnv<'_>, array: &JByteArray<'_>) -> Result<Vec<u8>, Error> {
    let len = usize::try_from(env.get_array_length(array).map_err(jni_error)?)
        .unwrap_or(0)
        .min(sluice::sink::platform::BODY_LIMIT);
    let mut buffer = vec![0i8; len];
    env.get_byte_array_region(array, 0, &mut buffer).map_err(jni_error)?;
    Ok(buffer.into_iter().map(|b| b as u8).collect())
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

/// Headers packed by the Kotlin side (`packHeaders`): for each key, then its
/// value, a big-endian `u32` length and that many UTF-8 bytes.
///
/// # Errors
/// `null`, a truncated or over-long entry, too many headers, bad UTF-8, an empty key.
pub fn headers(env: &mut JNIEnv<'_>, packed: &JByteArray<'_>) -> Result<Vec<(String, String)>, Error> {
    if packed.is_null() {
        return Err(invalid("headers are null"));
    }
    let bytes = env.convert_byte_array(packed).map_err(jni_error)?;
    unpack_headers(&bytes)
}

/// Decodes [`headers`]' packing.
///
/// # Errors
/// As [`headers`].
pub fn unpack_headers(mut bytes: &[u8]) -> Result<Vec<(String, String)>, Error> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        if out.len() == MAX_HEADERS {
            return Err(invalid(format!("too many headers: at most {MAX_HEADERS} are allowed")));
        }
        let key = take_text(&mut bytes, "a key")?;
        let value = take_text(&mut bytes, "a value")?;
        if key.is_empty() {
            return Err(invalid("a header key is empty"));
        }
        out.push((key, value));
    }
    Ok(out)
}

/// One length-prefixed UTF-8 string off the front of `bytes`.
fn take_text(bytes: &mut &[u8], what: &str) -> Result<String, Error> {
    let (len, rest) = bytes.split_first_chunk::<4>().ok_or_else(|| invalid(format!("headers: {what} is cut short")))?;
    let len = u32::from_be_bytes(*len) as usize;
    if len > rest.len() {
        return Err(invalid(format!("headers: {what} is longer than the data")));
    }
    let (text, rest) = rest.split_at(len);
    *bytes = rest;
    String::from_utf8(text.to_vec()).map_err(|_| invalid(format!("headers: {what} is not UTF-8")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack(pairs: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, v) in pairs {
            for part in [k, v] {
                out.extend_from_slice(&(part.len() as u32).to_be_bytes());
                out.extend_from_slice(part.as_bytes());
            }
        }
        out
    }

    #[test]
    fn packed_headers_round_trip() {
        let got = unpack_headers(&pack(&[("screen", "home"), ("ü", "")])).unwrap();
        assert_eq!(got, vec![("screen".to_string(), "home".to_string()), ("ü".to_string(), String::new())]);
        assert!(unpack_headers(&[]).unwrap().is_empty());
    }

    #[test]
    fn broken_packing_is_an_error_not_a_panic() {
        let good = pack(&[("k", "v")]);
        for cut in 0..good.len() {
            if cut > 0 {
                assert!(unpack_headers(&good[..cut]).is_err(), "cut at {cut} accepted");
            }
        }
        assert!(unpack_headers(&[0, 0, 0, 9, b'a']).is_err());
        assert!(unpack_headers(&[0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(unpack_headers(&pack(&[("", "v")])).is_err());
        let mut bad = pack(&[("k", "v")]);
        bad[4] = 0xff;
        assert!(unpack_headers(&bad).is_err());
        let many: Vec<(String, String)> = (0..=MAX_HEADERS).map(|i| (format!("k{i}"), String::new())).collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert!(unpack_headers(&pack(&many)).is_err());
    }
}
