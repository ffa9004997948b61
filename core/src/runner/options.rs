//! The sink runner's settings: batching, retry, rate limit — with their defaults.

use super::backoff::Backoff;
use crate::config::raw::{RawBatch, RawRateLimit, RawRetry};
use std::time::Duration;

/// Settings of one sink's runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunnerOptions {
    /// Most events per batch (default 1000).
    pub max_events: usize,
    /// Most bytes per batch (default 1 MiB).
    pub max_bytes: usize,
    /// Wait this long for a batch to fill before sending a partial one (default 200 ms).
    pub linger: Duration,
    /// Retry backoff (default 500 ms … 5 min).
    pub backoff: Backoff,
    /// Upload limits.
    pub rate: RateLimit,
    /// Batches in flight at once, each on its own thread and connection
    /// (default 1: batches arrive upstream in channel order).
    pub workers: usize,
}

/// Upload caps for metered links; zero means no cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimit {
    /// Encoded bytes a minute (approximated by event sizes).
    pub bytes_per_minute: u64,
    /// Requests a minute.
    pub requests_per_minute: u32,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        RunnerOptions {
            max_events: 1000,
            max_bytes: 1 << 20,
            linger: Duration::from_millis(200),
            backoff: Backoff { initial: Duration::from_millis(500), max: Duration::from_secs(300) },
            rate: RateLimit::default(),
            workers: 1,
        }
    }
}

impl RunnerOptions {
    /// Applies the raw keys over the defaults.
    ///
    /// # Errors
    /// `(key, message)` for the caller to locate.
    pub fn from_raw(
        batch: RawBatch,
        retry: RawRetry,
        rate: RawRateLimit,
    ) -> Result<RunnerOptions, (&'static str, String)> {
        let d = RunnerOptions::default();
        let options = RunnerOptions {
            max_events: batch.max_events.unwrap_or(d.max_events),
            max_bytes: batch.max_bytes.map_or(d.max_bytes, |b| b.0 as usize),
            linger: batch.linger.map_or(d.linger, |s| s.0),
            backoff: Backoff {
                initial: retry.initial.map_or(d.backoff.initial, |s| s.0),
                max: retry.max.map_or(d.backoff.max, |s| s.0),
            },
            rate: RateLimit {
                bytes_per_minute: rate.bytes_per_minute.map_or(0, |b| b.0),
                requests_per_minute: rate.requests_per_minute.unwrap_or(0),
            },
            workers: d.workers,
        };
        if options.max_events == 0 || options.max_bytes == 0 {
            return Err(("batch", "max_events and max_bytes must be greater than 0".into()));
        }
        if options.backoff.initial.is_zero() || options.backoff.initial > options.backoff.max {
            return Err(("retry", "initial must be greater than 0 and at most max".into()));
        }
        Ok(options)
    }
}
