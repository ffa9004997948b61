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

    /// How long to wait before the next batch may go, if at all. When it may go
    /// now, its request is counted at once, so workers asking together cannot
    /// all take the window's last request.
    pub fn wait(&self) -> Option<Duration> {
        if self.limit == RateLimit::default() {
            return None;
        }
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        let elapsed = w.start.elapsed();
        if elapsed >= WINDOW {
            *w = Window { start: Instant::now(), bytes: 0, requests: 1 };
            return None;
        }
        let over_bytes = self.limit.bytes_per_minute > 0 && w.bytes >= self.limit.bytes_per_minute;
        let over_requests = self.limit.requests_per_minute > 0 && w.requests >= self.limit.requests_per_minute;
        if over_bytes || over_requests {
            return Some(WINDOW - elapsed);
        }
        w.requests += 1;
        None
    }

    /// Gives back the request [`Limiter::wait`] counted, when there was nothing to send.
    pub fn unused(&self) {
        if self.limit == RateLimit::default() {
            return;
        }
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        w.requests = w.requests.saturating_sub(1);
    }

    /// Counts the bytes of a batch that went.
    pub fn record(&self, bytes: usize) {
        if self.limit == RateLimit::default() {
            return;
        }
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        w.bytes += bytes as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_at_the_cap() {
        let l = Limiter::new(RateLimit { bytes_per_minute: 0, requests_per_minute: 2 });
        assert!(l.wait().is_none());
        assert!(l.wait().is_none());
        assert!(l.wait().is_some_and(|d| d <= WINDOW), "the third request in the minute waits");
        l.unused();
        assert!(l.wait().is_none(), "a request given back may be used");
        let b = Limiter::new(RateLimit { bytes_per_minute: 100, requests_per_minute: 0 });
        assert!(b.wait().is_none());
        b.record(100);
        assert!(b.wait().is_some(), "over the byte cap");
    }
}
