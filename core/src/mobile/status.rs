//! The status codes both bindings report: C returns them (`SLUICE_*` in
//! `sluice.h`), Kotlin carries them in `SluiceException.code`, Swift in
//! `SluiceError`. This is their one home: the bindings' copies are checked
//! against these constants by tests.

use super::Network;
use crate::error::{Error, ErrorKind, Result};
use crate::event::Priority;
use crate::sink::platform::UploadResult;

/// Success.
pub const OK: i32 = 0;
/// A flush timed out, or the policy forbids uploading now, with events pending.
pub const PENDING: i32 = 1;
/// An upload's answer came after the SDK stopped waiting for it (timed out, or
/// the SDK is closing): it was dropped, and the batch is sent again under the same
/// batch id. Once the instance is closed the bindings say `CLOSED` instead.
pub const STALE: i32 = 2;
/// `record` while the user turned uploads off: the event was not recorded
/// (counted in stats as `dropped`). Not an error of the app.
pub const DISABLED: i32 = 3;
/// An argument is invalid; nothing was recorded.
pub const ARGUMENT: i32 = -1;
/// The instance is closed (or was never opened).
pub const CLOSED: i32 = -2;
/// The configuration is invalid.
pub const CONFIG: i32 = -3;
/// The store failed (SQLite, disk full, directory in use).
pub const STORAGE: i32 = -4;
/// The quota is full of `high` events (or `on_full = "reject"`), or the disk is full.
pub const FULL: i32 = -5;
/// A panic inside Sluice was caught at the boundary.
pub const PANIC: i32 = -6;
/// Anything else.
pub const OTHER: i32 = -7;

/// The status code of `error`.
pub fn of(error: &Error) -> i32 {
    match error.kind() {
        ErrorKind::Config => CONFIG,
        ErrorKind::Full | ErrorKind::DiskFull => FULL,
        ErrorKind::Decode => ARGUMENT,
        ErrorKind::Closed => CLOSED,
        ErrorKind::Disabled => DISABLED,
        ErrorKind::Storage | ErrorKind::Corrupt | ErrorKind::Io => STORAGE,
        _ => OTHER,
    }
}

/// `SLUICE_PRIORITY_*` / `Priority.code`: 0 low, 1 normal, 2 high.
///
/// # Errors
/// [`ErrorKind::Decode`] for another number.
pub fn priority(code: i32) -> Result<Priority> {
    match code {
        0 => Ok(Priority::Low),
        1 => Ok(Priority::Normal),
        2 => Ok(Priority::High),
        other => Err(Error::decode(format!("priority {other}: expected 0 (low), 1 (normal) or 2 (high)"))),
    }
}

/// `SLUICE_NETWORK_*` / `Network.code`: 0 offline, 1 metered, 2 unmetered.
///
/// # Errors
/// [`ErrorKind::Decode`] for another number.
pub fn network(code: i32) -> Result<Network> {
    Network::from_code(code)
        .ok_or_else(|| Error::decode(format!("network {code}: expected 0 (offline), 1 (metered) or 2 (unmetered)")))
}

/// The app uploader's report: an HTTP status (100–599) with the reply's
/// `Retry-After` and body, or 0 when no answer came, with `error` saying why.
/// Any other status is taken as no answer (the batch is sent again).
///
/// # Errors
/// None today; the signature leaves room for a report that cannot be read.
pub fn upload_result(
    http_status: i32,
    retry_after: Option<&str>,
    body: &[u8],
    error: Option<&str>,
) -> Result<UploadResult> {
    match http_status {
        0 => Ok(UploadResult::Failed(error.filter(|e| !e.is_empty()).unwrap_or("network error").to_string())),
        100..=599 => Ok(UploadResult::Response {
            status: http_status as u16,
            retry_after: retry_after.map(str::to_string),
            body: String::from_utf8_lossy(body).into_owned(),
        }),
        // The uploader's fault policy, here once for both bindings: an answer no
        // HTTP server gives is taken as no answer, so the batch is sent again.
        other => Ok(UploadResult::Failed(format!("the uploader reported HTTP status {other}, outside 100-599"))),
    }
}

/// The message of a panic caught at a binding's boundary.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown".into());
    format!("internal error (please report): {what}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_outside_the_contract_are_argument_errors() {
        assert_eq!(priority(2).ok(), Some(Priority::High));
        assert_eq!(network(0).ok(), Some(Network::Offline));
        for bad in [-1, 3, i32::MAX] {
            assert_eq!(priority(bad).map_err(|e| of(&e)).err(), Some(ARGUMENT));
            assert_eq!(network(bad).map_err(|e| of(&e)).err(), Some(ARGUMENT));
        }
    }

    #[test]
    fn upload_results_are_a_status_or_a_network_error() {
        assert_eq!(
            upload_result(429, Some("3"), b"slow down", None).ok(),
            Some(UploadResult::Response { status: 429, retry_after: Some("3".into()), body: "slow down".into() })
        );
        assert_eq!(upload_result(0, None, b"", Some("timed out")).ok(), Some(UploadResult::Failed("timed out".into())));
        assert_eq!(upload_result(0, None, b"", None).ok(), Some(UploadResult::Failed("network error".into())));
        for bad in [-1, 1, 99, 600] {
            let taken = upload_result(bad, None, b"", None).ok();
            assert!(
                matches!(taken, Some(UploadResult::Failed(ref why)) if why.contains(&bad.to_string())),
                "{bad}: {taken:?}"
            );
        }
    }

    #[test]
    fn panic_messages_carry_the_payload() {
        let payload = std::panic::catch_unwind(|| panic!("boom {}", 1)).unwrap_err();
        assert!(panic_message(payload.as_ref()).contains("boom 1"));
    }
}
