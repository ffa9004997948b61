//! The C ABI of Sluice: the iOS library, and any C caller.
//!
//! Three thin layers: these exports, [`convert`] (C arguments to Rust values)
//! and [`error`] (status codes, last error, panics caught). Behaviour lives in
//! `sluice::mobile`. Every function is safe to call from any thread; a handle
//! used after `sluice_close` returns `SLUICE_ERR_CLOSED`, never crashes.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod convert;
pub mod device;
pub mod error;
pub mod log_callback;
pub mod stats;
pub mod upload;

pub use convert::{SluiceHandle, SluiceHeader};
pub use device::*;
pub use error::*;
pub use log_callback::*;
pub use stats::*;
pub use upload::*;

use sluice::mobile::{handles, status, Sdk};
use std::ffi::{c_char, CString};
use std::path::Path;
use std::time::Duration;

/// Priority of an event: evicted first when the disk quota is full.
pub const SLUICE_PRIORITY_LOW: i32 = 0;
/// The default priority.
pub const SLUICE_PRIORITY_NORMAL: i32 = 1;
/// Never evicted: when the quota holds only `high` events, new events are refused.
pub const SLUICE_PRIORITY_HIGH: i32 = 2;

/// No connection: no upload is attempted and no retry scheduled.
pub const SLUICE_NETWORK_OFFLINE: i32 = 0;
/// A metered connection (cellular): `upload_on` and `metered_daily_budget` apply.
pub const SLUICE_NETWORK_METERED: i32 = 1;
/// An unmetered connection (Wi-Fi, Ethernet). Assumed until the app reports otherwise.
pub const SLUICE_NETWORK_UNMETERED: i32 = 2;

static VERSION: &std::ffi::CStr = c"sluice 0.1.0";

/// The library version, a static string (do not free).
#[no_mangle]
pub extern "C" fn sluice_version() -> *const c_char {
    VERSION.as_ptr()
}

/// Opens (or recovers) the store in directory `data_dir` and starts uploading
/// per `config_toml` (`[mobile]` and `[sinks.*]`). On success `*out` is the handle.
///
/// Returns `SLUICE_OK`, or an error code with `sluice_last_error()` saying why
/// (`SLUICE_ERR_CONFIG` names the line and key).
///
/// # Safety
/// `data_dir` and `config_toml` are NULL or NUL-terminated; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sluice_open(
    data_dir: *const c_char,
    config_toml: *const c_char,
    out: *mut *mut SluiceHandle,
) -> i32 {
    error::guard(|| {
        if out.is_null() {
            return Err(sluice::Error::decode("out is NULL"));
        }
        // SAFETY: the caller promises NULL or a NUL-terminated string.
        let dir = unsafe { convert::text(data_dir, "data_dir") }?;
        // SAFETY: as above.
        let config = unsafe { convert::text(config_toml, "config_toml") }?;
        let sdk = Sdk::open(Path::new(dir), config)?;
        let id = handles::insert(sdk);
        // SAFETY: `out` is not NULL and the caller promises it is writable.
        unsafe { out.write(convert::handle_for(id)) };
        Ok(SLUICE_OK)
    })
}

/// Both record calls: the event checked, then buffered (`sync`: and committed).
///
/// # Safety
/// As [`sluice_record`].
unsafe fn record(
    handle: *mut SluiceHandle,
    body: *const u8,
    len: usize,
    headers: *const SluiceHeader,
    n_headers: usize,
    priority: i32,
    sync: bool,
) -> i32 {
    error::guard(|| {
        let sdk = convert::sdk(handle)?;
        // SAFETY: forwarded from the caller's promise.
        let body = unsafe { convert::body(body, len) };
        // SAFETY: forwarded from the caller's promise.
        let headers = unsafe { convert::headers(headers, n_headers) };
        let parts = body.and_then(|body| Ok((body.to_vec(), headers?, status::priority(priority)?)));
        match parts {
            Ok((body, headers, priority)) => sdk.record_event(body, headers, priority, sync)?,
            Err(e) => {
                sdk.not_taken(&e);
                return Err(e);
            }
        }
        Ok(SLUICE_OK)
    })
}

/// Records an event: `len` bytes of `body`, `n_headers` headers, a `SLUICE_PRIORITY_*`.
/// Returns once the event is in the write buffer (committed within `commit_interval`,
/// default 50 ms); never waits on the network, and waits for room in a full
/// buffer at most 500 ms (`SLUICE_ERR_FULL` then). An event not taken is
/// counted in stats (`dropped`); `SLUICE_DISABLED` while the user turned uploads off.
///
/// # Safety
/// `body` is NULL (with `len` 0) or points to `len` bytes; `headers` is NULL
/// (with `n_headers` 0) or points to `n_headers` headers of NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn sluice_record(
    handle: *mut SluiceHandle,
    body: *const u8,
    len: usize,
    headers: *const SluiceHeader,
    n_headers: usize,
    priority: i32,
) -> i32 {
    // SAFETY: forwarded from the caller's promise.
    unsafe { record(handle, body, len, headers, n_headers, priority, false) }
}

/// As [`sluice_record`], returning only once the event is committed to the store.
///
/// # Safety
/// As [`sluice_record`].
#[no_mangle]
pub unsafe extern "C" fn sluice_record_sync(
    handle: *mut SluiceHandle,
    body: *const u8,
    len: usize,
    headers: *const SluiceHeader,
    n_headers: usize,
    priority: i32,
) -> i32 {
    // SAFETY: forwarded from the caller's promise.
    unsafe { record(handle, body, len, headers, n_headers, priority, true) }
}

/// Commits the buffer and uploads now if the policy allows, waiting up to
/// `timeout_ms`. `SLUICE_OK` when everything was acknowledged; `SLUICE_PENDING`
/// when the timeout passed, or at once when the policy forbids uploading
/// (offline, metered budget spent, low battery), now or during the flush;
/// `SLUICE_ERR_CLOSED` when the handle is closed, before or during the flush.
#[no_mangle]
pub extern "C" fn sluice_flush(handle: *mut SluiceHandle, timeout_ms: u32) -> i32 {
    error::guard(|| {
        let sdk = convert::sdk(handle)?;
        let drained = sdk.flush(Duration::from_millis(u64::from(timeout_ms)))?;
        Ok(if drained { SLUICE_OK } else { SLUICE_PENDING })
    })
}

/// The app reports connectivity (`SLUICE_NETWORK_*`). Offline stops uploads and
/// retries: once this returns, no request reaches the app's uploader until the
/// network is reported back; coming back resets the backoff.
#[no_mangle]
pub extern "C" fn sluice_set_network(handle: *mut SluiceHandle, network: i32) -> i32 {
    error::guard(|| {
        let sdk = convert::sdk(handle)?;
        sdk.set_network(status::network(network)?);
        Ok(SLUICE_OK)
    })
}

/// The app reports power; with `pause_on_low_battery`, uploads pause on low battery unless charging.
#[no_mangle]
pub extern "C" fn sluice_set_power(handle: *mut SluiceHandle, charging: bool, low_battery: bool) -> i32 {
    error::guard(|| {
        convert::sdk(handle)?.set_power(charging, low_battery);
        Ok(SLUICE_OK)
    })
}

/// The app reports its lifecycle; going to background commits the buffer and
/// starts an upload within `flush_on_background`.
#[no_mangle]
pub extern "C" fn sluice_set_foreground(handle: *mut SluiceHandle, foreground: bool) -> i32 {
    error::guard(|| {
        convert::sdk(handle)?.set_foreground(foreground);
        Ok(SLUICE_OK)
    })
}

/// Moves the SDK to a new configuration (the same TOML as `sluice_open`): a
/// changed sink is rebuilt after its upload in flight finishes, a changed
/// `[mobile]` policy applies at once, and everything recorded stays.
/// `SLUICE_ERR_CONFIG` when the text is invalid or changes what takes effect only
/// at the next open (the store's limits, the record buffer): nothing changed
/// then (see `sluice_last_error()`). With an upload out at the app's uploader it
/// waits for the answer, at most the close bound (at most 5 s): do not call it
/// from the thread that finishes uploads.
///
/// # Safety
/// `config_toml` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn sluice_set_config(handle: *mut SluiceHandle, config_toml: *const c_char) -> i32 {
    error::guard(|| {
        let sdk = convert::sdk(handle)?;
        // SAFETY: the caller promises NULL or a NUL-terminated string.
        let config = unsafe { convert::text(config_toml, "config_toml") }?;
        sdk.set_config(config)?;
        Ok(SLUICE_OK)
    })
}

/// Counters as a JSON object (queue depth, bytes, drops, last error, last upload);
/// free with [`sluice_string_free`]. NULL on error (see `sluice_last_error()`).
#[no_mangle]
pub extern "C" fn sluice_stats_json(handle: *mut SluiceHandle) -> *mut c_char {
    let mut json = None;
    let status = error::guard(|| {
        let text = convert::sdk(handle)?.stats_json();
        json = Some(CString::new(text).map_err(|_| sluice::Error::new(sluice::ErrorKind::Other, "NUL in stats"))?);
        Ok(SLUICE_OK)
    });
    match json {
        Some(s) if status == SLUICE_OK => s.into_raw(),
        _ => std::ptr::null_mut(),
    }
}

/// Frees a string returned by Sluice. NULL is ignored.
///
/// # Safety
/// `s` is NULL or a string returned by [`sluice_stats_json`], not freed before.
#[no_mangle]
pub unsafe extern "C" fn sluice_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: the caller promises `s` came from CString::into_raw in this library and is freed once.
        drop(unsafe { CString::from_raw(s) });
    }
}

/// Commits the buffer, stops uploading (an upload in flight finishes or is
/// sent again next time) and releases the store. Later calls on the handle
/// return `SLUICE_ERR_CLOSED`, except a second close, which does nothing
/// (`SLUICE_OK`).
#[no_mangle]
pub extern "C" fn sluice_close(handle: *mut SluiceHandle) -> i32 {
    error::guard(|| {
        if handle.is_null() {
            return Err(sluice::Error::decode("handle is NULL"));
        }
        handles::close(convert::handle_id(handle))?;
        Ok(SLUICE_OK)
    })
}

/// The message of the last failed call on this thread ("" if none). Valid
/// until the next failing call on this thread; do not free.
#[no_mangle]
pub extern "C" fn sluice_last_error() -> *const c_char {
    error::last_error_ptr()
}
