//! What the platform's signals mean for uploads: the decisions both bindings
//! would otherwise each make (and make differently). Android and iOS report
//! raw facts (a network's capabilities, a battery level, power saving, whether
//! events are pending in the background); these pure functions decide.

use super::Network;
use crate::config::UploadOn;

/// At or below this charge (percent) the battery counts as low, as Android's
/// own `ACTION_BATTERY_LOW` does (15 %); iOS reports no such threshold.
pub const LOW_BATTERY_PERCENT: i32 = 15;

/// The network uploads see, from what the platform says of the default network:
/// none, or one not yet validated (a captive portal, a Wi-Fi without internet),
/// is offline; a metered one (cellular, a hotspot; iOS `isExpensive` or Low
/// Data Mode's `isConstrained`) is metered.
pub fn network_from(available: bool, validated: bool, metered: bool) -> Network {
    match (available && validated, metered) {
        (false, _) => Network::Offline,
        (true, true) => Network::Metered,
        (true, false) => Network::Unmetered,
    }
}

/// Whether the battery counts as low: power saving is on (Android's battery
/// saver, iOS Low Power Mode), or the charge is known (`level_percent` ≥ 0) and
/// at most [`LOW_BATTERY_PERCENT`].
pub fn battery_low(level_percent: i32, power_save: bool) -> bool {
    power_save || (0..=LOW_BATTERY_PERCENT).contains(&level_percent)
}

/// How long a background delivery job flushes before it gives the platform
/// back its time: within iOS's app-refresh task (about 30 s) and far within
/// Android's job limit (10 minutes).
pub const BACKGROUND_JOB_BUDGET: std::time::Duration = std::time::Duration::from_secs(25);

/// The network a background delivery job must wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobNetwork {
    /// Any connected network.
    Any = 1,
    /// An unmetered one (the policy says `upload_on = "unmetered"`).
    Unmetered = 2,
}

/// Whether the app should schedule a background delivery job (Android's
/// `JobScheduler`, iOS's `BGTaskScheduler`) and on which network: only when
/// events are pending and uploads are enabled.
pub fn background_job(pending_events: u64, upload_enabled: bool, upload_on: UploadOn) -> Option<JobNetwork> {
    if pending_events == 0 || !upload_enabled {
        return None;
    }
    Some(match upload_on {
        UploadOn::Any => JobNetwork::Any,
        UploadOn::Unmetered => JobNetwork::Unmetered,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_network_maps_to_what_uploads_see() {
        let table = [
            // available, validated, metered → network
            (false, false, false, Network::Offline),
            (false, true, true, Network::Offline),
            (true, false, false, Network::Offline),
            (true, false, true, Network::Offline),
            (true, true, true, Network::Metered),
            (true, true, false, Network::Unmetered),
        ];
        for (available, validated, metered, want) in table {
            assert_eq!(network_from(available, validated, metered), want, "{available} {validated} {metered}");
        }
    }

    #[test]
    fn the_battery_is_low_at_fifteen_percent_or_when_saving_power() {
        let table = [
            (-1, false, false),
            (-1, true, true),
            (0, false, true),
            (15, false, true),
            (16, false, false),
            (100, false, false),
            (100, true, true),
        ];
        for (level, saving, want) in table {
            assert_eq!(battery_low(level, saving), want, "{level}% saving={saving}");
        }
    }

    #[test]
    fn a_job_is_wanted_only_for_pending_events_that_may_leave() {
        let table = [
            (0, true, UploadOn::Any, None),
            (5, false, UploadOn::Any, None),
            (5, true, UploadOn::Any, Some(JobNetwork::Any)),
            (5, true, UploadOn::Unmetered, Some(JobNetwork::Unmetered)),
        ];
        for (pending, enabled, on, want) in table {
            assert_eq!(background_job(pending, enabled, on), want, "{pending} {enabled} {on:?}");
        }
    }
}
