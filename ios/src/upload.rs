//! The uploader loop's exports: the app's HTTP stack (URLSession on iOS) sends
//! what the SDK's sinks want sent (`transport = "platform"`, the default).
//!
//! A loop on one app thread: `sluice_upload_take` a request, send it,
//! `sluice_upload_finish` it with the status or the network error,
//! `sluice_upload_task_free` it. `take` blocks without waking while nothing is
//! pending, and returns `SLUICE_ERR_CLOSED` once the handle closes.

use crate::convert::{self, SluiceHeader};
use crate::error::{self, SLUICE_ERR_CLOSED, SLUICE_OK, SLUICE_PENDING, SLUICE_STALE};
use sluice::mobile::status;
use sluice::sink::platform::{Taken, UploadTask, BODY_LIMIT};
use std::ffi::{c_char, CString};
use std::time::Duration;

/// One request to send: POST `body` to `url` with `headers`. Owned by Sluice
/// until `sluice_upload_task_free`; every pointer stays valid until then.
#[repr(C)]
#[derive(Debug)]
pub struct SluiceUploadTask {
    /// Names this attempt in `sluice_upload_finish`.
    pub id: u64,
    /// Where to POST (NUL-terminated).
    pub url: *const c_char,
    /// Request headers, `Content-Type` and `X-Sluice-Batch` among them; send them all as given.
    pub headers: *const SluiceHeader,
    /// How many headers.
    pub n_headers: usize,
    /// The body (already gzipped when a `Content-Encoding` header says so).
    pub body: *const u8,
    /// Bytes of body.
    pub body_len: usize,
    /// Give up on the request after this long and report a network error.
    pub timeout_ms: u32,
}

/// A task and the memory its pointers point into. `repr(C)` with the public
/// part first, so a pointer to it is a pointer to that part.
#[repr(C)]
struct OwnedTask {
    task: SluiceUploadTask,
    _url: CString,
    _strings: Vec<(CString, CString)>,
    _headers: Vec<SluiceHeader>,
    _body: Vec<u8>,
}

/// A C string of `text`, NULs (which no header or URL may hold) dropped.
fn c_string(text: &str) -> CString {
    CString::new(text.replace('\0', "")).unwrap_or_default()
}

fn owned(task: UploadTask) -> Box<OwnedTask> {
    let url = c_string(&task.url);
    let strings: Vec<(CString, CString)> = task.headers.iter().map(|(k, v)| (c_string(k), c_string(v))).collect();
    let headers: Vec<SluiceHeader> =
        strings.iter().map(|(k, v)| SluiceHeader { key: k.as_ptr(), value: v.as_ptr() }).collect();
    // The heap buffers behind these pointers do not move when the Vecs and CStrings move into the box.
    let public = SluiceUploadTask {
        id: task.id,
        url: url.as_ptr(),
        headers: headers.as_ptr(),
        n_headers: headers.len(),
        body: task.body.as_ptr(),
        body_len: task.body.len(),
        timeout_ms: u32::try_from(task.timeout.as_millis()).unwrap_or(u32::MAX),
    };
    Box::new(OwnedTask { task: public, _url: url, _strings: strings, _headers: headers, _body: task.body })
}

/// Waits up to `wait_ms` (negative: until there is one) for a request to send.
/// `SLUICE_OK` with `*out` set (free it with `sluice_upload_task_free`),
/// `SLUICE_PENDING` when the wait passed, `SLUICE_ERR_CLOSED` once the handle
/// is closed: end the loop then.
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sluice_upload_take(
    handle: *mut crate::SluiceHandle,
    wait_ms: i32,
    out: *mut *mut SluiceUploadTask,
) -> i32 {
    error::guard(|| {
        if out.is_null() {
            return Err(sluice::Error::decode("out is NULL"));
        }
        // Only the queue is held while waiting, so closing the handle is never held up.
        let uploads = convert::sdk(handle)?.uploads();
        let wait = u64::try_from(wait_ms).ok().map(Duration::from_millis);
        match uploads.take(wait) {
            Taken::Task(task) => {
                let task = Box::into_raw(owned(task)).cast::<SluiceUploadTask>();
                // SAFETY: `out` is not NULL and the caller promises it is writable.
                unsafe { out.write(task) };
                Ok(SLUICE_OK)
            }
            Taken::Idle => Ok(SLUICE_PENDING),
            Taken::Closed => Ok(SLUICE_ERR_CLOSED),
        }
    })
}

/// Reports what became of request `id`: `http_status` 100–599 with the reply's
/// `Retry-After` (NULL if none) and up to 16 KiB of its body, or 0 when no
/// answer came (DNS, connection, TLS, timeout) with `error` saying why; any
/// other status is taken as no answer, so the batch is sent again.
/// `SLUICE_OK`, or `SLUICE_STALE` when the SDK no longer waited for it
/// (`SLUICE_ERR_CLOSED` once the handle is closed: too late as well).
///
/// # Safety
/// `retry_after` and `error` are NULL or NUL-terminated; `body` is NULL (with
/// `body_len` 0) or points to `body_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn sluice_upload_finish(
    handle: *mut crate::SluiceHandle,
    id: u64,
    http_status: i32,
    retry_after: *const c_char,
    body: *const u8,
    body_len: usize,
    error: *const c_char,
) -> i32 {
    error::guard(|| {
        let uploads = convert::sdk(handle)?.uploads();
        // SAFETY: the caller promises NULL or a NUL-terminated string.
        let retry_after = unsafe { convert::optional_text(retry_after, "retry_after") }?;
        // SAFETY: as above.
        let error = unsafe { convert::optional_text(error, "error") }?;
        // SAFETY: the caller promises NULL or body_len readable bytes.
        let body = unsafe { convert::bytes(body, body_len.min(BODY_LIMIT), "body") }?;
        let result = status::upload_result(http_status, retry_after, body, error)?;
        Ok(if uploads.finish(id, result) { SLUICE_OK } else { SLUICE_STALE })
    })
}

/// Frees a task from `sluice_upload_take`. NULL is ignored.
///
/// # Safety
/// `task` is NULL or a task from `sluice_upload_take`, not freed before.
#[no_mangle]
pub unsafe extern "C" fn sluice_upload_task_free(task: *mut SluiceUploadTask) {
    if !task.is_null() {
        // SAFETY: the caller promises `task` came from Box::into_raw of an OwnedTask (whose first
        // field it points to, repr(C)) in sluice_upload_take, and is freed once.
        drop(unsafe { Box::from_raw(task.cast::<OwnedTask>()) });
    }
}
