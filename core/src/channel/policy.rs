//! Capacity and what happens when it is reached.

use crate::event::Priority;
use serde::Deserialize;
use std::time::Duration;

/// What `put` does when the channel is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFull {
    /// Wait up to `block_timeout` for space, then refuse (back pressure).
    Block,
    /// Refuse at once.
    Reject,
    /// Evict the lowest-priority, oldest events; `high` is never evicted.
    DropOldest,
}

/// A channel's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    /// Most events held.
    pub max_events: u64,
    /// Most bytes held (as [`crate::Event::size`] counts them).
    pub max_bytes: u64,
    /// The policy when full.
    pub on_full: OnFull,
    /// How long `block` waits for space.
    pub block_timeout: Duration,
    /// Events older than this are expired (counted); `None` keeps them.
    pub max_age: Option<Duration>,
}

crate::key_choices!(OnFull);

impl Default for Capacity {
    /// A `[channels.*]` table's defaults.
    fn default() -> Self {
        crate::config::sections::ChannelConfig::default().capacity()
    }
}

/// Events and bytes per priority, lowest first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    pub events: [u64; 3],
    pub bytes: [u64; 3],
}

impl Usage {
    pub fn total_events(&self) -> u64 {
        self.events.iter().sum()
    }
    pub fn total_bytes(&self) -> u64 {
        self.bytes.iter().sum()
    }
    pub fn add(&mut self, priority: Priority, events: u64, bytes: u64) {
        self.events[priority as usize] += events;
        self.bytes[priority as usize] += bytes;
    }
    pub fn sub(&mut self, priority: Priority, events: u64, bytes: u64) {
        let p = priority as usize;
        self.events[p] = self.events[p].saturating_sub(events);
        self.bytes[p] = self.bytes[p].saturating_sub(bytes);
    }
    /// Whether `events`/`bytes` more fit under `cap`.
    pub fn fits(&self, cap: &Capacity, events: u64, bytes: u64) -> bool {
        self.total_events() + events <= cap.max_events && self.total_bytes() + bytes <= cap.max_bytes
    }
}

/// Why a put was refused at the door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The quota (`max_events` / `max_bytes`) is reached.
    Quota,
    /// The disk is full, or too full to leave the store room to delete and checkpoint.
    Disk,
}

/// What a put may do now: the one admission policy both channels follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Write it.
    Fits,
    /// `drop_oldest`: evict the oldest evictable events first, then write.
    Evict,
    /// `block`: wait for space, then ask again.
    Wait,
    /// Refuse it; the batch goes back to the source.
    Refuse(Refusal),
}

/// The facts an admission rests on, gathered by the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pressure {
    /// What is short, if anything (the quota is checked before the disk).
    pub short: Option<Refusal>,
    /// Whether the put could fit at all: not larger than the whole quota.
    pub could_ever_fit: bool,
    /// Whether evicting every event the put may push out (its priority or lower,
    /// never `high`, not in a sink's hands) would make room.
    pub evictable: bool,
    /// Whether the put may still wait: `block_timeout` since its arrival is not
    /// over and its caller still wants the answer.
    pub may_wait: bool,
}

/// The admission decision: a pure function of `on_full` and the facts.
pub(crate) fn admit(on_full: OnFull, p: Pressure) -> Admission {
    match (p.short, on_full) {
        (None, _) => Admission::Fits,
        // Waiting or evicting cannot make room for a put larger than the quota.
        (Some(why), _) if !p.could_ever_fit => Admission::Refuse(why),
        (Some(_), OnFull::DropOldest) if p.evictable => Admission::Evict,
        (Some(_), OnFull::Block) if p.may_wait => Admission::Wait,
        (Some(why), _) => Admission::Refuse(why),
    }
}

/// How long a put may wait for space under `on_full = "block"`, and whether
/// its caller still wants the answer.
#[derive(Debug, Clone)]
pub struct Wait {
    /// When the request arrived: it waits at most `block_timeout` from then,
    /// however long it queued before the put began.
    pub since: std::time::Instant,
    /// Set by the caller when it no longer wants the answer (its client hung up);
    /// a waiting put then gives up at once.
    pub cancelled: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl Wait {
    /// A wait starting now that nobody cancels.
    pub fn now() -> Wait {
        Wait { since: std::time::Instant::now(), cancelled: None }
    }

    /// Whether the caller gave up.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.as_ref().is_some_and(|c| c.load(std::sync::atomic::Ordering::SeqCst))
    }

    /// When a put under `cap` must stop waiting.
    pub fn deadline(&self, cap: &Capacity) -> std::time::Instant {
        self.since + cap.block_timeout
    }

    /// Whether a put under `cap` may still wait at `now`.
    pub fn may_wait(&self, cap: &Capacity, now: std::time::Instant) -> bool {
        !self.is_cancelled() && now < self.deadline(cap)
    }
}

impl Default for Wait {
    fn default() -> Self {
        Wait::now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admission_table() {
        use Admission::*;
        use OnFull::*;
        let p = |short, could_ever_fit, evictable, may_wait| Pressure { short, could_ever_fit, evictable, may_wait };
        let (quota, disk) = (Some(Refusal::Quota), Some(Refusal::Disk));
        let rows: &[(OnFull, Pressure, Admission)] = &[
            // Room: every policy writes.
            (Block, p(None, true, false, false), Fits),
            (Reject, p(None, true, false, false), Fits),
            (DropOldest, p(None, true, false, false), Fits),
            // Quota reached.
            (Block, p(quota, true, true, true), Wait),
            (Block, p(quota, true, true, false), Refuse(Refusal::Quota)),
            (Reject, p(quota, true, true, true), Refuse(Refusal::Quota)),
            (DropOldest, p(quota, true, true, true), Evict),
            (DropOldest, p(quota, true, false, true), Refuse(Refusal::Quota)),
            // Disk full: the same policy, a different reason.
            (Block, p(disk, true, true, true), Wait),
            (Block, p(disk, true, false, false), Refuse(Refusal::Disk)),
            (Reject, p(disk, true, true, true), Refuse(Refusal::Disk)),
            (DropOldest, p(disk, true, true, false), Evict),
            (DropOldest, p(disk, true, false, true), Refuse(Refusal::Disk)),
            // Larger than the whole quota: no wait, no eviction.
            (Block, p(quota, false, true, true), Refuse(Refusal::Quota)),
            (DropOldest, p(quota, false, true, true), Refuse(Refusal::Quota)),
        ];
        for (on_full, pressure, want) in rows {
            assert_eq!(admit(*on_full, *pressure), *want, "{on_full:?} {pressure:?}");
        }
    }

    #[test]
    fn a_wait_counts_from_arrival_and_ends_when_cancelled() {
        let cap = Capacity { block_timeout: Duration::from_secs(2), ..Capacity::default() };
        let arrived = std::time::Instant::now();
        let wait = Wait { since: arrived, cancelled: Some(Default::default()) };
        assert!(wait.may_wait(&cap, arrived + Duration::from_millis(1999)));
        assert!(!wait.may_wait(&cap, arrived + Duration::from_secs(2)), "queued time counts");
        if let Some(flag) = &wait.cancelled {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        assert!(!wait.may_wait(&cap, arrived), "a caller that hung up waits no more");
    }
}
