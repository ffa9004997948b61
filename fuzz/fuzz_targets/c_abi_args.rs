//! The C ABI's argument decoding under AddressSanitizer: header arrays with
//! NULL keys and values, invalid UTF-8, lengths that disagree with pointers,
//! unknown priority and network codes, NULL, closed and made-up handles, and the
//! uploader's calls (made-up ids, statuses out of range, NULL and non-UTF-8 texts).
//! Every call must return a status code; none may crash, leak or read out of bounds.
//!
//! Pointers handed over are always valid for what they claim (that is the C
//! caller's side of the contract); everything else is hostile.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_ios::*;
use std::ffi::{c_char, CString};
use std::sync::OnceLock;

struct Open(usize);

fn handle() -> *mut SluiceHandle {
    static OPEN: OnceLock<Open> = OnceLock::new();
    let open = OPEN.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("sluice-fuzz-abi-{}", std::process::id()));
        let dir = CString::new(dir.to_string_lossy().into_owned()).unwrap();
        let config = CString::new("[mobile]\nmax_bytes = \"4MiB\"\n[sinks.void]\ntype = \"null\"\n").unwrap();
        let mut h: *mut SluiceHandle = std::ptr::null_mut();
        // SAFETY: valid NUL-terminated strings and a writable out pointer.
        let status = unsafe { sluice_open(dir.as_ptr(), config.as_ptr(), &mut h) };
        assert_eq!(status, SLUICE_OK, "fuzz setup: open failed");
        Open(h as usize)
    });
    open.0 as *mut SluiceHandle
}

/// Reads fuzz bytes front to back.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let (b, rest) = self.0.split_first().map_or((0, &[][..]), |(b, r)| (*b, r));
        self.0 = rest;
        b
    }
    fn i32(&mut self) -> i32 {
        i32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }
    fn bytes(&mut self) -> Vec<u8> {
        let n = (self.byte() as usize).min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head.to_vec()
    }
    /// NULL (None) or a C string with the bytes up to the first NUL (maybe not UTF-8).
    fn c_string(&mut self) -> Option<CString> {
        if self.byte() % 8 == 0 {
            return None;
        }
        let mut b = self.bytes();
        b.truncate(b.iter().position(|&c| c == 0).unwrap_or(b.len()));
        CString::new(b).ok()
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let handle = match input.byte() % 8 {
        0 => std::ptr::null_mut(),
        1 => input.i32() as usize as *mut SluiceHandle,
        _ => handle(),
    };
    let n = (input.byte() % 8) as usize;
    let strings: Vec<(Option<CString>, Option<CString>)> =
        (0..n).map(|_| (input.c_string(), input.c_string())).collect();
    let ptr = |s: &Option<CString>| s.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()) as *const c_char;
    let headers: Vec<SluiceHeader> = strings.iter().map(|(k, v)| SluiceHeader { key: ptr(k), value: ptr(v) }).collect();
    let body = input.bytes();
    let null_body = input.byte() % 8 == 0;
    let null_headers = input.byte() % 8 == 0;
    // A NULL pointer may come with any length; a real one only with its own (or a shorter) one.
    let len =
        if null_body { input.i32() as u32 as usize } else { body.len().saturating_sub(input.byte() as usize % 2) };
    let n_headers = if null_headers { input.i32() as u32 as usize } else { headers.len() };
    let body_ptr = if null_body { std::ptr::null() } else { body.as_ptr() };
    let headers_ptr = if null_headers { std::ptr::null() } else { headers.as_ptr() };
    let priority = if input.byte() % 4 == 0 { input.i32() } else { i32::from(input.byte() % 3) };
    let status = match input.byte() % 16 {
        // SAFETY: every pointer is NULL or valid for the length passed with it.
        0 => unsafe { sluice_record_sync(handle, body_ptr, len, headers_ptr, n_headers, priority) },
        1 => sluice_set_network(handle, input.i32()),
        2 => sluice_set_power(handle, input.byte() % 2 == 0, input.byte() % 2 == 0),
        3 => sluice_flush(handle, 0),
        4 => {
            let s = sluice_stats_json(handle);
            // SAFETY: `s` is NULL or came from sluice_stats_json.
            unsafe { sluice_string_free(s) };
            SLUICE_OK
        }
        5 => {
            let (retry_after, error) = strings.first().map_or((std::ptr::null(), std::ptr::null()), |(k, v)| (ptr(k), ptr(v)));
            let http_status = if input.byte() % 2 == 0 { input.i32() } else { 200 };
            let id = u64::from(input.i32() as u32);
            // SAFETY: every pointer is NULL or valid for the length passed with it.
            unsafe { sluice_upload_finish(handle, id, http_status, retry_after, body_ptr, len, error) }
        }
        6 => {
            let mut task: *mut SluiceUploadTask = std::ptr::null_mut();
            // SAFETY: `task` is writable; whatever comes back is freed once.
            unsafe {
                let status = sluice_upload_take(handle, 0, &mut task);
                sluice_upload_task_free(task);
                status
            }
        }
        // SAFETY: every pointer is NULL or valid for the length passed with it.
        _ => unsafe { sluice_record(handle, body_ptr, len, headers_ptr, n_headers, priority) },
    };
    assert!((SLUICE_ERR_OTHER..=SLUICE_STALE).contains(&status), "status {status} is not a SLUICE_* code");
    assert_ne!(status, SLUICE_ERR_PANIC, "a panic was caught at the boundary");
    if status < 0 {
        // SAFETY: sluice_last_error returns a valid NUL-terminated string.
        let message = unsafe { std::ffi::CStr::from_ptr(sluice_last_error()) };
        assert!(!message.to_bytes().is_empty(), "an error without a message");
    }
});
