//! What the workers of one sink share: the rate limit, the count of failed
//! attempts in a row, and the time before which none of them may send.
//!
//! Without it, a 429 or an outage seen by one worker would be ignored by the
//! others, which would resend the rolled-back batch at once, each with a backoff
//! of its own starting from zero.

use super::rate::Limiter;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub(super) struct Shared {
    pub rate: Limiter,
    attempts: AtomicU32,
    hold_until: Mutex<Option<Instant>>,
}

impl Shared {
    pub fn new(rate: Limiter) -> Shared {
        Shared { rate, attempts: AtomicU32::new(0), hold_until: Mutex::new(None) }
    }

    /// Failed attempts in a row.
    pub fn attempts(&self) -> u32 {
        self.attempts.load(Ordering::SeqCst)
    }

    pub fn set_attempts(&self, n: u32) {
        self.attempts.store(n, Ordering::SeqCst);
    }

    /// Counts one more failed attempt; returns the new count.
    pub fn failed(&self) -> u32 {
        self.attempts.fetch_add(1, Ordering::SeqCst).saturating_add(1)
    }

    /// No worker sends for `wait` from now (or longer, if already held longer).
    pub fn hold(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut held = self.hold_until.lock().unwrap_or_else(|p| p.into_inner());
        *held = Some(held.map_or(until, |h| h.max(until)));
    }

    /// Lifts the hold (a delivery went through, or the network came back).
    pub fn release(&self) {
        *self.hold_until.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// How long sending is still held off, if at all.
    pub fn held(&self) -> Option<Duration> {
        let held = *self.hold_until.lock().unwrap_or_else(|p| p.into_inner());
        held.map(|h| h.saturating_duration_since(Instant::now())).filter(|d| !d.is_zero())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::RateLimit;

    #[test]
    fn the_longest_hold_wins_and_release_lifts_it() {
        let s = Shared::new(Limiter::new(RateLimit::default()));
        assert_eq!(s.held(), None);
        s.hold(Duration::from_secs(30));
        s.hold(Duration::from_secs(1));
        assert!(s.held().is_some_and(|d| d > Duration::from_secs(20)), "a shorter hold does not shorten a longer one");
        assert_eq!((s.failed(), s.failed()), (1, 2));
        s.release();
        assert_eq!(s.held(), None);
    }
}
