//! What `stats()` reports, and its packing for the bindings' typed stats: one
//! array crosses JNI (and one struct the C ABI) instead of JSON to parse.

use serde::Serialize;

/// What `stats()` reports (serialised as JSON for logs and `stats_json`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Events not yet acknowledged upstream: in the store plus in the write buffer.
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
    /// Events refused at commit (quota full of `high` events, storage failure) since open.
    pub refused: u64,
    /// Events the upstream refused for good, kept in quarantine, since open.
    pub quarantined: u64,
    /// Events `record` did not take since open: invalid, the buffer full past
    /// its bound, or uploads turned off by the user.
    pub dropped: u64,
    /// Events deleted by `purge` or by turning uploads off, since open.
    pub purged: u64,
    /// Reported connectivity: `offline`, `metered` or `unmetered`.
    pub network: &'static str,
    /// Whether the user lets uploads happen (`set_upload_enabled`).
    pub upload_enabled: bool,
    /// Why uploads are paused, if they are: `upload_disabled`, `offline`,
    /// `low_battery`, `metered_network`, `metered_budget_spent`.
    pub uploads_paused: Option<&'static str>,
    /// Bytes uploaded on metered networks today (UTC).
    pub metered_bytes_today: u64,
    /// The last failure (upload, commit, or an event `record` did not take).
    pub last_error: Option<String>,
    /// When the last batch was acknowledged, ms since the epoch.
    pub last_upload_ms: Option<u64>,
}

/// The pause reasons by code (index): what [`Stats::pack`] and the C struct carry.
pub const PAUSE_REASONS: [&str; 6] =
    ["", "upload_disabled", "offline", "low_battery", "metered_network", "metered_budget_spent"];

/// The code of a pause reason in [`PAUSE_REASONS`] (0: not paused).
pub fn pause_code(reason: Option<&str>) -> u64 {
    reason.and_then(|r| PAUSE_REASONS.iter().position(|p| *p == r)).unwrap_or(0) as u64
}

/// How many numbers [`Stats::numbers`] gives.
pub const NUMBERS: usize = 16;

/// Marks an absent number (`last_upload_ms` before the first upload).
pub const ABSENT: u64 = u64::MAX;

impl Stats {
    /// The numbers, in this order: pending_events, pending_bytes,
    /// buffered_events, recorded, delivered, evicted, expired, refused,
    /// quarantined, dropped, purged, metered_bytes_today, last_upload_ms
    /// ([`ABSENT`] if none), network (0 offline, 1 metered, 2 unmetered),
    /// upload_enabled (0 or 1), uploads_paused ([`pause_code`]).
    pub fn numbers(&self) -> [u64; NUMBERS] {
        let network = match self.network {
            "offline" => 0,
            "metered" => 1,
            _ => 2,
        };
        [
            self.pending_events,
            self.pending_bytes,
            self.buffered_events,
            self.recorded,
            self.delivered,
            self.evicted,
            self.expired,
            self.refused,
            self.quarantined,
            self.dropped,
            self.purged,
            self.metered_bytes_today,
            self.last_upload_ms.unwrap_or(ABSENT),
            network,
            u64::from(self.upload_enabled),
            pause_code(self.uploads_paused),
        ]
    }

    /// [`Stats::numbers`] as big-endian `u64`s, then `last_error` as a `u32`
    /// length and UTF-8 (length `u32::MAX` when there is none).
    pub fn pack(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(NUMBERS * 8 + 64);
        for n in self.numbers() {
            out.extend_from_slice(&n.to_be_bytes());
        }
        match &self.last_error {
            Some(e) => {
                out.extend_from_slice(&u32::try_from(e.len()).unwrap_or(u32::MAX - 1).to_be_bytes());
                out.extend_from_slice(e.as_bytes());
            }
            None => out.extend_from_slice(&u32::MAX.to_be_bytes()),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_stats_have_the_documented_layout() {
        let stats = Stats {
            pending_events: 3,
            dropped: 7,
            network: "metered",
            upload_enabled: true,
            uploads_paused: Some("metered_budget_spent"),
            last_error: Some("boom".into()),
            ..Stats::default()
        };
        let packed = stats.pack();
        assert_eq!(packed.len(), NUMBERS * 8 + 4 + 4);
        let number = |i: usize| u64::from_be_bytes(packed[i * 8..i * 8 + 8].try_into().unwrap());
        assert_eq!(number(0), 3);
        assert_eq!(number(9), 7);
        assert_eq!(number(12), ABSENT);
        assert_eq!(number(13), 1);
        assert_eq!(number(14), 1);
        assert_eq!(number(15), 5);
        assert_eq!(&packed[NUMBERS * 8..], b"\0\0\0\x04boom");
        let none = Stats::default().pack();
        assert_eq!(&none[NUMBERS * 8..], &[0xff; 4]);
    }

    #[test]
    fn every_pause_reason_has_a_code_and_none_is_zero() {
        assert_eq!(pause_code(None), 0);
        for (i, reason) in PAUSE_REASONS.iter().enumerate().skip(1) {
            assert_eq!(pause_code(Some(reason)), i as u64);
        }
    }
}
