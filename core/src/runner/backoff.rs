//! Exponential backoff with full jitter (AWS's "full jitter": sleep = random(0, min(max, initial·2ⁿ))).
//!
//! Full jitter spreads a fleet of edges that failed together, so a recovering
//! collector is not met by all of them at the same instant.

use std::time::Duration;

/// Backoff bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Ceiling of the first wait.
    pub initial: Duration,
    /// Largest ceiling.
    pub max: Duration,
}

impl Backoff {
    /// The ceiling after `attempts` failures in a row (1 → `initial`).
    pub fn ceiling(&self, attempts: u32) -> Duration {
        let factor = 1u32.checked_shl(attempts.saturating_sub(1).min(30)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// A random wait in `[ceiling/2, ceiling]` after `attempts` failures.
    ///
    /// Half of full jitter's range: a floor keeps a failing upstream from being
    /// retried within microseconds by an unlucky draw (no busy loop), the other
    /// half still spreads a fleet.
    pub fn delay(&self, attempts: u32) -> Duration {
        self.delay_at(attempts, fastrand::f64())
    }

    /// [`Backoff::delay`] for a given draw in `[0, 1)`: `ceiling/2 + draw·ceiling/2`.
    pub fn delay_at(&self, attempts: u32, draw: f64) -> Duration {
        let ceiling = self.ceiling(attempts).as_millis() as u64;
        let half = ceiling / 2;
        let spread = ((ceiling - half) as f64 * draw.clamp(0.0, 1.0)) as u64;
        Duration::from_millis((half + spread).clamp(1, ceiling.max(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_caps() {
        let b = Backoff { initial: Duration::from_millis(500), max: Duration::from_secs(300) };
        assert_eq!(b.ceiling(1), Duration::from_millis(500));
        assert_eq!(b.ceiling(2), Duration::from_secs(1));
        assert_eq!(b.ceiling(11), Duration::from_secs(300));
        assert_eq!(b.ceiling(10_000), Duration::from_secs(300));
        for attempt in 1..20 {
            let d = b.delay(attempt);
            assert!(d <= b.ceiling(attempt) && d >= b.ceiling(attempt) / 2, "{attempt}: {d:?}");
        }
    }
}
