//! When the agent went quiet after moving events: the moment to hand memory a
//! burst left behind back to the system (SQLite's page cache, the allocator's
//! free pages). One tick is one poll of the agent's run loop.

/// Watches the count of events moved (put plus taken) from tick to tick.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IdleWatch {
    /// The count at the last tick.
    seen: u64,
    /// The count when memory was last released.
    released: u64,
}

impl IdleWatch {
    /// Takes the count of events moved so far; true once per quiet spell: the
    /// count did not change since the last tick but did since the last release.
    pub fn tick(&mut self, moved: u64) -> bool {
        let quiet = moved == self.seen && moved != self.released;
        self.seen = moved;
        if quiet {
            self.released = moved;
        }
        quiet
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_once_per_quiet_spell() {
        // (moved at this tick, release now?)
        let ticks: &[(u64, bool)] = &[
            (0, false),   // a fresh agent that never moved anything
            (0, false),   // still nothing moved: nothing to give back
            (500, false), // busy
            (900, false), // busy
            (900, true),  // quiet for one tick after moving: release
            (900, false), // still quiet: released already
            (901, false), // one more event
            (901, true),  // quiet again
            (1000, false),
            (2000, false),
        ];
        let mut watch = IdleWatch::default();
        for (i, &(moved, want)) in ticks.iter().enumerate() {
            assert_eq!(watch.tick(moved), want, "tick {i} at {moved}");
        }
    }
}
