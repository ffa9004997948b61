//! Capacity and what happens when it is reached.

use crate::event::Priority;
use serde::Deserialize;
use std::time::Duration;

/// What `put` does when the channel is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFull {
    /// Wait up to `block_timeout` for space, then refuse (back pressure).
    #[default]
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

impl Default for Capacity {
    fn default() -> Self {
        Capacity {
            max_events: 10_000_000,
            max_bytes: 512 << 20,
            on_full: OnFull::Block,
            block_timeout: Duration::from_secs(2),
            max_age: None,
        }
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
