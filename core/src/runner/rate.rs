//! An upload rate limit in fixed one-minute windows (metered links).

use super::options::RateLimit;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

pub(super) struct Limiter {
    limit: RateLimit,
    window_start: Instant,
    bytes: u64,
    requests: u32,
}

impl Limiter {
    pub fn new(limit: RateLimit) -> Limiter {
        Limiter { limit, window_start: Instant::now(), bytes: 0, requests: 0 }
    }

    /// How long to wait before the next batch may go, if at all.
    pub fn wait(&mut self) -> Option<Duration> {
        let elapsed = self.window_start.elapsed();
        if elapsed >= WINDOW {
            self.window_start = Instant::now();
            self.bytes = 0;
            self.requests = 0;
            return None;
        }
        let over_bytes = self.limit.bytes_per_minute > 0 && self.bytes >= self.limit.bytes_per_minute;
        let over_requests = self.limit.requests_per_minute > 0 && self.requests >= self.limit.requests_per_minute;
        (over_bytes || over_requests).then(|| WINDOW - elapsed)
    }

    pub fn record(&mut self, bytes: usize) {
        self.bytes += bytes as u64;
        self.requests += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_at_the_cap() {
        let mut l = Limiter::new(RateLimit { bytes_per_minute: 0, requests_per_minute: 2 });
        assert!(l.wait().is_none());
        l.record(10);
        l.record(10);
        assert!(l.wait().is_some_and(|d| d <= WINDOW));
    }
}
