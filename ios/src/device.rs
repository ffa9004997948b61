//! What the platform reports (iOS: `NWPathMonitor`, `UIDevice` battery,
//! `ProcessInfo.isLowPowerModeEnabled`) and the user's consent. The Swift layer
//! passes the platform's facts as they are; `sluice::mobile::device` decides
//! what they mean.

use crate::convert::{self, SluiceHandle};
use crate::error::{self, SLUICE_OK, SLUICE_PENDING};

/// No background delivery task is wanted now.
pub const SLUICE_JOB_NONE: i32 = 0;
/// Schedule a background delivery task that needs any network.
pub const SLUICE_JOB_ANY_NETWORK: i32 = 1;
/// Schedule a background delivery task that needs an unmetered network.
pub const SLUICE_JOB_UNMETERED: i32 = 2;

/// The app reports the default network as the platform describes it: whether
/// there is one, whether it reaches the internet (iOS: path status
/// `.satisfied`), and whether it is metered (iOS: `isExpensive` or
/// `isConstrained`). Not validated counts as offline.
#[no_mangle]
pub extern "C" fn sluice_set_network_state(
    handle: *mut SluiceHandle,
    available: bool,
    validated: bool,
    metered: bool,
) -> i32 {
    error::guard(|| {
        convert::sdk(handle)?.set_network_state(available, validated, metered);
        Ok(SLUICE_OK)
    })
}

/// The app reports the battery: charging, the charge in percent (−1 when
/// unknown) and whether power saving (Low Power Mode) is on. Low is at most
/// 15 % or power saving; with `pause_on_low_battery`, uploads pause then unless charging.
#[no_mangle]
pub extern "C" fn sluice_set_battery(
    handle: *mut SluiceHandle,
    charging: bool,
    level_percent: i32,
    power_save: bool,
) -> i32 {
    error::guard(|| {
        convert::sdk(handle)?.set_battery(charging, level_percent, power_save);
        Ok(SLUICE_OK)
    })
}

/// The user's consent (Glean's `setUploadEnabled`). `false`: no upload starts
/// from now on, everything stored is purged, `sluice_record` returns
/// `SLUICE_DISABLED`; kept across restarts. `true`: starts afresh, empty.
#[no_mangle]
pub extern "C" fn sluice_set_upload_enabled(handle: *mut SluiceHandle, enabled: bool) -> i32 {
    error::guard(|| {
        convert::sdk(handle)?.set_upload_enabled(enabled)?;
        Ok(SLUICE_OK)
    })
}

/// Deletes everything stored that is not at the app's uploader now; `*purged`
/// (if not NULL) is how many events went. Counted in stats as `purged`.
///
/// # Safety
/// `purged` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sluice_purge(handle: *mut SluiceHandle, purged: *mut u64) -> i32 {
    error::guard(|| {
        let n = convert::sdk(handle)?.purge()?;
        if !purged.is_null() {
            // SAFETY: not NULL, and the caller promises it is writable.
            unsafe { purged.write(n) };
        }
        Ok(SLUICE_OK)
    })
}

/// Whether the app should schedule a background delivery task now
/// (`SLUICE_JOB_*`): events are pending and uploads are enabled; the value says
/// which network the task must require. Negative: an error code.
#[no_mangle]
pub extern "C" fn sluice_background_job(handle: *mut SluiceHandle) -> i32 {
    error::guard(|| Ok(convert::sdk(handle)?.background_job().map_or(SLUICE_JOB_NONE, |n| n as i32)))
}

/// What a background delivery task (`BGTaskScheduler`) runs: flushes for at
/// most 25 s; `SLUICE_OK` when nothing is left to deliver, `SLUICE_PENDING` when
/// the task should be scheduled again.
#[no_mangle]
pub extern "C" fn sluice_run_background_task(handle: *mut SluiceHandle) -> i32 {
    error::guard(|| Ok(if convert::sdk(handle)?.run_background_job()? { SLUICE_PENDING } else { SLUICE_OK }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::mobile::device::JobNetwork;

    #[test]
    fn job_codes_are_the_cores() {
        assert_eq!(SLUICE_JOB_ANY_NETWORK, JobNetwork::Any as i32);
        assert_eq!(SLUICE_JOB_UNMETERED, JobNetwork::Unmetered as i32);
    }
}
