//! The sink runner's settings: batching, retry, rate limit — with their defaults.

use super::backoff::Backoff;
use crate::config::sections::{SinkRunnerConfig, MAX_WORKERS};
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
    /// A sink table's defaults.
    fn default() -> Self {
        let config = SinkRunnerConfig::default();
        RunnerOptions {
            max_events: config.batch.max_events,
            max_bytes: config.batch.max_bytes.0 as usize,
            linger: config.batch.linger.0,
            backoff: Backoff { initial: config.retry.initial.0, max: config.retry.max.0 },
            rate: RateLimit::default(),
            workers: config.workers,
        }
    }
}

impl RunnerOptions {
    /// The runner settings of a sink's table, checked.
    ///
    /// # Errors
    /// `(key, message)` for the caller to locate.
    pub fn from_config(config: &SinkRunnerConfig) -> Result<RunnerOptions, (&'static str, String)> {
        let options = RunnerOptions {
            max_events: config.batch.max_events,
            max_bytes: config.batch.max_bytes.0 as usize,
            linger: config.batch.linger.0,
            backoff: Backoff { initial: config.retry.initial.0, max: config.retry.max.0 },
            rate: RateLimit {
                bytes_per_minute: config.rate_limit.bytes_per_minute.map_or(0, |b| b.0),
                requests_per_minute: config.rate_limit.requests_per_minute.unwrap_or(0),
            },
            workers: config.workers,
        };
        if options.max_events == 0 || options.max_bytes == 0 {
            return Err(("batch", "max_events and max_bytes must be greater than 0".into()));
        }
        if options.backoff.initial.is_zero() || options.backoff.initial > options.backoff.max {
            return Err(("retry", "initial must be greater than 0 and at most max".into()));
        }
        if !(1..=MAX_WORKERS).contains(&options.workers) {
            return Err(("workers", format!("expected a whole number from 1 to {MAX_WORKERS}")));
        }
        Ok(options)
    }
}
