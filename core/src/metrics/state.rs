//! What a sink is doing now, in words: for the status page and `/metrics.json`.

use std::sync::Mutex;

/// A sink's delivery state as the runner last left it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SinkStatus {
    /// Failed attempts in a row (0 after a delivery).
    pub attempts: u32,
    /// When the next attempt may start, ms since the epoch (0: no wait).
    pub next_attempt_ms: u64,
    /// Why the last attempt failed; empty after a delivery.
    pub last_error: String,
    /// When a batch was last delivered, ms since the epoch (0: never).
    pub last_delivered_ms: u64,
}

/// The state word for `status` at `now_ms`.
pub fn state_word(status: &SinkStatus, now_ms: u64) -> &'static str {
    match (status.attempts, status.next_attempt_ms > now_ms) {
        (0, _) if status.last_delivered_ms == 0 => "idle",
        (0, _) => "delivering",
        (_, true) => "backing off",
        (_, false) => "retrying",
    }
}

/// The shared, updatable [`SinkStatus`].
#[derive(Debug, Default)]
pub struct SinkState(Mutex<SinkStatus>);

/// Longest error text kept: a reply body can be long.
const MAX_ERROR: usize = 300;

impl SinkState {
    /// A failed attempt: `attempts` in a row, the next not before `next_attempt_ms`.
    pub fn failed(&self, attempts: u32, next_attempt_ms: u64, reason: &str) {
        let mut s = self.0.lock().unwrap_or_else(|p| p.into_inner());
        s.attempts = attempts;
        s.next_attempt_ms = next_attempt_ms;
        s.last_error = match reason.char_indices().nth(MAX_ERROR) {
            Some((at, _)) => format!("{}…", &reason[..at]),
            None => reason.to_string(),
        };
    }

    /// A delivered batch at `now_ms`.
    pub fn delivered(&self, now_ms: u64) {
        let mut s = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *s = SinkStatus { last_delivered_ms: now_ms, ..SinkStatus::default() };
    }

    /// A copy of the state.
    pub fn get(&self) -> SinkStatus {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_words() {
        let s = |attempts, next_attempt_ms, last_delivered_ms| SinkStatus {
            attempts,
            next_attempt_ms,
            last_delivered_ms,
            last_error: String::new(),
        };
        for (status, now, word) in [
            (s(0, 0, 0), 100, "idle"),
            (s(0, 0, 50), 100, "delivering"),
            (s(3, 200, 50), 100, "backing off"),
            (s(3, 100, 0), 100, "retrying"),
        ] {
            assert_eq!(state_word(&status, now), word, "{status:?}");
        }
    }

    #[test]
    fn long_errors_are_cut_and_a_delivery_clears_them() {
        let state = SinkState::default();
        state.failed(2, 10, &"é".repeat(1000));
        assert_eq!(state.get().last_error.chars().count(), MAX_ERROR + 1);
        state.delivered(20);
        assert_eq!(state.get(), SinkStatus { last_delivered_ms: 20, ..SinkStatus::default() });
    }
}
