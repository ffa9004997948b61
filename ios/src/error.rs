//! Status codes, the thread-local last error, and the boundary guard that
//! turns errors and panics into codes (a panic never crosses into C).

use sluice::mobile::status;
use sluice::Error;
use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Success.
pub const SLUICE_OK: i32 = 0;
/// `sluice_flush`: the timeout passed (or the policy forbids uploading now) with events still pending.
pub const SLUICE_PENDING: i32 = 1;
/// `sluice_upload_finish`: the SDK no longer waited for this answer (the request timed
/// out, or the SDK is closing); it was dropped and the batch will be sent again.
/// Once the handle is closed the call returns `SLUICE_ERR_CLOSED` instead: treat
/// both as "too late".
pub const SLUICE_STALE: i32 = 2;
/// `sluice_record`: the user turned uploads off (`sluice_set_upload_enabled`), so
/// the event was not recorded; counted in stats as `dropped`.
pub const SLUICE_DISABLED: i32 = 3;
/// An argument is invalid (NULL, bad UTF-8, unknown code, too large); nothing was recorded.
pub const SLUICE_ERR_ARGUMENT: i32 = -1;
/// The handle is closed (or was never opened).
pub const SLUICE_ERR_CLOSED: i32 = -2;
/// The configuration is invalid; the message names the line and key.
pub const SLUICE_ERR_CONFIG: i32 = -3;
/// The store failed (an SQLite error, damage, the directory in use).
pub const SLUICE_ERR_STORAGE: i32 = -4;
/// The disk quota is full of `high` events (or `on_full = "reject"`), or the
/// disk itself is full: the event was refused; record it again later.
pub const SLUICE_ERR_FULL: i32 = -5;
/// A bug inside Sluice was caught at the boundary; the app keeps running.
pub const SLUICE_ERR_PANIC: i32 = -6;
/// Anything else.
pub const SLUICE_ERR_OTHER: i32 = -7;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Remembers `message` as this thread's last error.
pub(crate) fn set_last_error(message: &str) {
    let text = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = text);
}

/// This thread's last error message; valid until the next failing call on this thread.
pub(crate) fn last_error_ptr() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// Runs `f` at the boundary: an error becomes its code and this thread's last
/// error; a panic becomes [`SLUICE_ERR_PANIC`].
pub(crate) fn guard(f: impl FnOnce() -> Result<i32, Error>) -> i32 {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => {
            set_last_error(&e.to_string());
            status::of(&e)
        }
        Err(panic) => {
            set_last_error(&status::panic_message(panic.as_ref()));
            SLUICE_ERR_PANIC
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header's literals (cbindgen needs literals) are the core's codes.
    #[test]
    fn header_codes_are_the_cores() {
        let pairs = [
            (SLUICE_OK, status::OK),
            (SLUICE_PENDING, status::PENDING),
            (SLUICE_STALE, status::STALE),
            (SLUICE_DISABLED, status::DISABLED),
            (SLUICE_ERR_ARGUMENT, status::ARGUMENT),
            (SLUICE_ERR_CLOSED, status::CLOSED),
            (SLUICE_ERR_CONFIG, status::CONFIG),
            (SLUICE_ERR_STORAGE, status::STORAGE),
            (SLUICE_ERR_FULL, status::FULL),
            (SLUICE_ERR_PANIC, status::PANIC),
            (SLUICE_ERR_OTHER, status::OTHER),
        ];
        for (c, core) in pairs {
            assert_eq!(c, core);
        }
    }

    #[test]
    fn a_panic_becomes_a_code_and_a_message() {
        let code = guard(|| panic!("boom"));
        assert_eq!(code, SLUICE_ERR_PANIC);
        // SAFETY: last_error_ptr returns this thread's NUL-terminated message.
        let message = unsafe { std::ffi::CStr::from_ptr(last_error_ptr()) };
        assert!(message.to_string_lossy().contains("boom"));
    }
}
