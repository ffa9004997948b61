//! The status codes both bindings report: C returns them (`SLUICE_*` in
//! `sluice.h`), Kotlin carries them in `SluiceException.code`.

use crate::error::{Error, ErrorKind};

/// Success.
pub const OK: i32 = 0;
/// A flush timed out, or the policy forbids uploading now, with events pending.
pub const PENDING: i32 = 1;
/// An argument is invalid; nothing was recorded.
pub const ARGUMENT: i32 = -1;
/// The instance is closed (or was never opened).
pub const CLOSED: i32 = -2;
/// The configuration is invalid.
pub const CONFIG: i32 = -3;
/// The store failed (SQLite, disk full, directory in use).
pub const STORAGE: i32 = -4;
/// The quota is full of `high` events (or `on_full = "reject"`).
pub const FULL: i32 = -5;
/// A panic inside Sluice was caught at the boundary.
pub const PANIC: i32 = -6;
/// Anything else.
pub const OTHER: i32 = -7;

/// The status code of `error`.
pub fn of(error: &Error) -> i32 {
    match error.kind() {
        ErrorKind::Config => CONFIG,
        ErrorKind::Full => FULL,
        ErrorKind::Decode => ARGUMENT,
        ErrorKind::Closed => CLOSED,
        ErrorKind::Storage | ErrorKind::DiskFull | ErrorKind::Io => STORAGE,
        _ => OTHER,
    }
}
