//! C arguments to Rust values: every pointer checked for NULL, every string
//! for UTF-8, every count bounded before any memory is touched.

use sluice::mobile::{handles, Sdk, MAX_EVENT_BYTES, MAX_HEADERS};
use sluice::{Error, ErrorKind};
use std::ffi::{c_char, CStr};
use std::sync::Arc;

/// One header of an event: two NUL-terminated UTF-8 strings.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SluiceHeader {
    /// Header name; not NULL, not empty.
    pub key: *const c_char,
    /// Header value; not NULL (may be empty).
    pub value: *const c_char,
}

/// The opaque handle of an open instance. Its address is a number in the
/// core's handle table, never dereferenced: a closed or made-up handle is an error, not a crash.
/// Not `repr(C)`: the header declares it opaque.
pub struct SluiceHandle {
    _private: [u8; 0],
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Decode, message)
}

/// The number behind a handle.
pub fn handle_id(handle: *const SluiceHandle) -> u64 {
    handle as usize as u64
}

/// A handle for number `id`.
pub fn handle_for(id: u64) -> *mut SluiceHandle {
    id as usize as *mut SluiceHandle
}

/// The open instance behind `handle`.
///
/// # Errors
/// NULL, or not open (closed, or never returned by `sluice_open`).
pub fn sdk(handle: *const SluiceHandle) -> Result<Arc<Sdk>, Error> {
    if handle.is_null() {
        return Err(invalid("handle is NULL"));
    }
    handles::get(handle_id(handle)).ok_or_else(|| Error::new(ErrorKind::Closed, "the handle is closed or invalid"))
}

/// A NUL-terminated UTF-8 string.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that stays valid for `'a`.
///
/// # Errors
/// NULL or not UTF-8; `what` names the argument.
pub unsafe fn text<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, Error> {
    if ptr.is_null() {
        return Err(invalid(format!("{what} is NULL")));
    }
    // SAFETY: not NULL, and the caller promises a NUL-terminated string valid for 'a.
    let c = unsafe { CStr::from_ptr(ptr) };
    c.to_str().map_err(|e| invalid(format!("{what} is not UTF-8 (byte {})", e.valid_up_to())))
}

/// `None` for NULL, else the UTF-8 text.
///
/// # Safety
/// As [`text`].
///
/// # Errors
/// Not UTF-8; `what` names the argument.
pub unsafe fn optional_text<'a>(ptr: *const c_char, what: &str) -> Result<Option<&'a str>, Error> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded from the caller's promise.
    unsafe { text(ptr, what) }.map(Some)
}

/// `len` bytes at `ptr`; NULL is allowed when `len` is 0.
///
/// # Safety
/// `ptr` is NULL or points to `len` readable bytes.
///
/// # Errors
/// NULL with a length, or longer than an event may be.
pub unsafe fn body<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8], Error> {
    if len > MAX_EVENT_BYTES {
        return Err(invalid(format!("body is {len} bytes: at most {MAX_EVENT_BYTES} are allowed")));
    }
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(invalid(format!("body is NULL but len is {len}")));
    }
    // SAFETY: not NULL, len ≤ MAX_EVENT_BYTES (so ≤ isize::MAX), and the caller promises len readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// `len` bytes at `ptr` (any length); NULL is allowed when `len` is 0.
///
/// # Safety
/// `ptr` is NULL or points to `len` readable bytes.
///
/// # Errors
/// NULL with a length; `what` names the argument.
pub unsafe fn bytes<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a [u8], Error> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(invalid(format!("{what} is NULL but its length is {len}")));
    }
    if isize::try_from(len).is_err() {
        return Err(invalid(format!("{what} length {len} is too large")));
    }
    // SAFETY: not NULL, len ≤ isize::MAX, and the caller promises len readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// `n` headers at `ptr`; NULL is allowed when `n` is 0.
///
/// # Safety
/// `ptr` is NULL or points to `n` headers whose strings are NULL or NUL-terminated.
///
/// # Errors
/// NULL with a count, too many headers, a NULL or non-UTF-8 key or value, an empty key.
pub unsafe fn headers(ptr: *const SluiceHeader, n: usize) -> Result<Vec<(String, String)>, Error> {
    if n > MAX_HEADERS {
        return Err(invalid(format!("n_headers is {n}: at most {MAX_HEADERS} are allowed")));
    }
    if n == 0 {
        return Ok(Vec::new());
    }
    if ptr.is_null() {
        return Err(invalid(format!("headers is NULL but n_headers is {n}")));
    }
    // SAFETY: not NULL, n ≤ MAX_HEADERS, and the caller promises n readable headers.
    let items = unsafe { std::slice::from_raw_parts(ptr, n) };
    items
        .iter()
        .enumerate()
        .map(|(i, h)| {
            // SAFETY: the caller promises each string is NULL or NUL-terminated.
            let key = unsafe { text(h.key, &format!("headers[{i}].key")) }?;
            // SAFETY: as above.
            let value = unsafe { text(h.value, &format!("headers[{i}].value")) }?;
            if key.is_empty() {
                return Err(invalid(format!("headers[{i}].key is empty")));
            }
            Ok((key.to_string(), value.to_string()))
        })
        .collect()
}
