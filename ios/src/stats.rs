//! Typed stats for C and Swift: a struct of numbers, filled from the core's
//! [`Stats::numbers`](sluice::mobile::Stats::numbers), so no JSON is parsed.

use crate::convert::{self, SluiceHandle};
use crate::error::{self, SLUICE_OK};
use sluice::mobile::stats::{ABSENT, NUMBERS};

/// `uploads_paused`: uploads are not paused.
pub const SLUICE_PAUSED_NO: i32 = 0;
/// `uploads_paused`: the user turned uploads off.
pub const SLUICE_PAUSED_UPLOAD_DISABLED: i32 = 1;
/// `uploads_paused`: no usable network.
pub const SLUICE_PAUSED_OFFLINE: i32 = 2;
/// `uploads_paused`: the battery is low and not charging.
pub const SLUICE_PAUSED_LOW_BATTERY: i32 = 3;
/// `uploads_paused`: the network is metered and the policy wants unmetered.
pub const SLUICE_PAUSED_METERED_NETWORK: i32 = 4;
/// `uploads_paused`: today's metered budget is spent.
pub const SLUICE_PAUSED_METERED_BUDGET_SPENT: i32 = 5;

/// The counters of `sluice_stats` (the JSON of `sluice_stats_json` has the same
/// fields, with `last_error`).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct SluiceStats {
    /// Events not yet acknowledged upstream (stored plus buffered).
    pub pending_events: u64,
    /// Bytes of the events in the store.
    pub pending_bytes: u64,
    /// Events in the write buffer, not yet committed.
    pub buffered_events: u64,
    /// Events recorded since open.
    pub recorded: u64,
    /// Events acknowledged upstream since open.
    pub delivered: u64,
    /// Events dropped by the disk quota (`drop_oldest`) since open.
    pub evicted: u64,
    /// Events expired by `max_age` since open.
    pub expired: u64,
    /// Events refused at commit since open.
    pub refused: u64,
    /// Events the upstream refused for good (kept in quarantine) since open.
    pub quarantined: u64,
    /// Events `sluice_record` did not take since open (invalid, buffer full past its bound, uploads off).
    pub dropped: u64,
    /// Events deleted by `sluice_purge` or by turning uploads off, since open.
    pub purged: u64,
    /// Bytes uploaded on metered networks today (UTC).
    pub metered_bytes_today: u64,
    /// When the last batch was acknowledged (ms since the epoch); 0 if none yet.
    pub last_upload_ms: u64,
    /// `SLUICE_NETWORK_*` as last reported.
    pub network: i32,
    /// Whether the user lets uploads happen.
    pub upload_enabled: bool,
    /// Why uploads are paused (`SLUICE_PAUSED_*`).
    pub uploads_paused: i32,
}

/// Fills `*out` with the counters now (`SLUICE_ERR_ARGUMENT` for a NULL `out`).
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sluice_stats(handle: *mut SluiceHandle, out: *mut SluiceStats) -> i32 {
    error::guard(|| {
        if out.is_null() {
            return Err(sluice::Error::decode("out is NULL"));
        }
        let n: [u64; NUMBERS] = convert::sdk(handle)?.stats().numbers();
        let stats = SluiceStats {
            pending_events: n[0],
            pending_bytes: n[1],
            buffered_events: n[2],
            recorded: n[3],
            delivered: n[4],
            evicted: n[5],
            expired: n[6],
            refused: n[7],
            quarantined: n[8],
            dropped: n[9],
            purged: n[10],
            metered_bytes_today: n[11],
            last_upload_ms: if n[12] == ABSENT { 0 } else { n[12] },
            network: i32::try_from(n[13]).unwrap_or(0),
            upload_enabled: n[14] == 1,
            uploads_paused: i32::try_from(n[15]).unwrap_or(0),
        };
        // SAFETY: not NULL, and the caller promises it is writable.
        unsafe { out.write(stats) };
        Ok(SLUICE_OK)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::mobile::stats::{pause_code, PAUSE_REASONS};

    #[test]
    fn pause_codes_are_the_cores() {
        let c = [
            SLUICE_PAUSED_NO,
            SLUICE_PAUSED_UPLOAD_DISABLED,
            SLUICE_PAUSED_OFFLINE,
            SLUICE_PAUSED_LOW_BATTERY,
            SLUICE_PAUSED_METERED_NETWORK,
            SLUICE_PAUSED_METERED_BUDGET_SPENT,
        ];
        assert_eq!(c.len(), PAUSE_REASONS.len());
        for (code, reason) in c.iter().zip(PAUSE_REASONS) {
            assert_eq!(i64::from(*code), pause_code(Some(reason)) as i64, "{reason}");
        }
    }
}
