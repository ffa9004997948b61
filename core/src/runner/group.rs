//! Sink group members: which one to try, and penalties for those that fail.

use crate::config::Processor;
use crate::event::{now_ms, Event};
use crate::metrics::SinkMetrics;
use crate::sink::{Batch, Outcome, Sink};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// First penalty of a failed member; it doubles per failure up to the group's `max_penalty`.
const FIRST_PENALTY: Duration = Duration::from_secs(1);

/// One sink in a group, with its metrics and health.
pub struct Member {
    /// The sink's configured name.
    pub name: String,
    sink: Box<dyn Sink>,
    metrics: Arc<SinkMetrics>,
    penalty_until: Option<Instant>,
    failures: u32,
}

impl Member {
    /// A member around a built sink.
    pub fn new(name: String, sink: Box<dyn Sink>, metrics: Arc<SinkMetrics>) -> Member {
        Member { name, sink, metrics, penalty_until: None, failures: 0 }
    }

    pub(super) fn ship(&mut self, batch: &Batch<'_>) -> Outcome {
        self.metrics.drain_attempt.add(batch.events.len() as u64);
        let outcome = self.sink.ship(batch);
        if let Outcome::Retry { .. } = outcome {
            self.metrics.connection_failed.add(1);
        }
        outcome
    }

    pub(super) fn delivered(&mut self, events: &[Event]) {
        self.failures = 0;
        self.penalty_until = None;
        self.metrics.drain_success.add(events.len() as u64);
        self.metrics.batch_complete.add(1);
        let now = now_ms();
        self.metrics.state.delivered(now);
        for e in events {
            self.metrics.latency_ms.record_n(now.saturating_sub(e.timestamp_ms), 1);
        }
    }

    /// Tells the member's status that the batch failed: `attempts` in a row,
    /// the next not before `next_ms`.
    pub(super) fn note_failure(&self, attempts: u32, next_ms: u64, reason: &str) {
        self.metrics.state.failed(attempts, next_ms, reason);
    }

    pub(super) fn rejected_upstream(&mut self, n: u64, reason: &str) {
        self.metrics.rejected_upstream.add(n);
        log::warn!("sink {}: the upstream accepted a batch but dropped {n} of its events: {reason}", self.name);
    }

    pub(super) fn quarantined(&mut self, n: usize, reason: &str) {
        self.metrics.quarantined.add(n as u64);
        log::error!("sink {}: {n} events quarantined: {reason}", self.name);
    }

    pub(super) fn penalise(&mut self, max: Duration) {
        self.failures = self.failures.saturating_add(1);
        let factor = 1u32.checked_shl(self.failures.saturating_sub(1).min(20)).unwrap_or(u32::MAX);
        let penalty = FIRST_PENALTY.saturating_mul(factor).min(max);
        self.penalty_until = Some(Instant::now() + penalty);
        log::warn!("sink {}: penalised for {} ms after {} failures", self.name, penalty.as_millis(), self.failures);
    }

    fn available(&self, now: Instant) -> bool {
        self.penalty_until.is_none_or(|until| until <= now)
    }
}

/// The members to try for one batch, in order.
pub(super) fn order(members: &mut [Member], processor: Processor, next: &mut usize) -> Vec<usize> {
    let now = Instant::now();
    let healthy: Vec<usize> = (0..members.len()).filter(|i| members[*i].available(now)).collect();
    match processor {
        Processor::Failover => healthy,
        Processor::RoundRobin => {
            let start = *next % members.len().max(1);
            *next = next.wrapping_add(1);
            let mut rotated: Vec<usize> = healthy.iter().copied().filter(|i| *i >= start).collect();
            rotated.extend(healthy.iter().copied().filter(|i| *i < start));
            rotated
        }
        Processor::Random => {
            let mut shuffled = healthy;
            fastrand::shuffle(&mut shuffled);
            shuffled
        }
    }
}

/// How long until the first penalised member is available again.
pub(super) fn earliest_penalty_end(members: &[Member]) -> Option<Duration> {
    let now = Instant::now();
    members.iter().filter_map(|m| m.penalty_until).map(|until| until.saturating_duration_since(now)).min()
}
