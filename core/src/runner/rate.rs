//! An upload rate limit in fixed one-minute windows (metered links), shared by
//! the workers of one sink.

use super::options::RateLimit;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

pub(super) struct Limiter {
    limit: RateLimit,
    window: Mutex<Window>,
}

struct Window {
    start: Instant,
    bytes: u64,
    requests: u32,
}

impl Limiter {
    pub fn new(limit: RateLimit) -> Limiter {
        Limiter { limit, window: Mutex::new(Window { start: Instant::now(), bytes: 0, requests: 0 }) }
    }

    /// How long to wait before the next batch may go, if at all.
    pub fn wait(&self) -> Option<Duration> {
        if self.limit == RateLimit::default() {
            return None;
        }
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        let elapsed = w.start.elapsed();
        if elapsed >= WINDOW {
            *w = Window { start: Instant::now(), bytes: 0, requests: 0 };
            return None;
        }
        let over_bytes = self.limit.bytes_per_minute > 0 && w.bytes >= self.limit.bytes_per_minute;
        let over_requests = self.limit.requests_per_minute > 0 && w.requests >= self.limit.requests_per_minute;
        (over_bytes || over_requests).then(|| WINDOW - elapsed)
    }

    pub fn record(&self, bytes: usize) {
        if self.limit == RateLimit::default() {
            return;
        }
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        w.bytes += bytes as u64;
        w.requests += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_at_the_cap() {
        let l = Limiter::new(RateLimit { bytes_per_minute: 0, requests_per_minute: 2 });
        assert!(l.wait().is_none());
        l.record(10);
        l.record(10);
        assert!(l.wait().is_some_and(|d| d <= WINDOW));
    }
}
