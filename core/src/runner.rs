//! The sink runner: takes batches, ships them through a sink (or a sink group),
//! commits on acknowledgement, rolls back and backs off on failure.
//!
//! One runner per sink group (a lone sink is a group of one) on its own
//! thread. The decisions live here, not in sinks: [`crate::sink::Outcome`]
//! says what happened, the runner decides to commit, split, quarantine or wait.

mod backoff;
mod decide;
mod group;
mod options;
mod rate;
mod report;
mod shared;

pub use backoff::Backoff;
pub use decide::batch_id;
pub use group::Member;
pub use options::{RateLimit, RunnerOptions};

use crate::channel::{Channel, Quarantined, Store};
use crate::config::Processor;
use crate::event::{now_ms, Event};
use crate::mobile::{Gate, Wake};
use crate::sink::Batch;
use crate::stop::Stop;
use decide::{decide, retry_wait, settle, Decision, Facts, Settle};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long an idle runner sleeps between checks of an empty channel. Puts wake
/// it at once; this bound only matters if a wake-up is ever missed.
const IDLE_WAIT: Duration = Duration::from_secs(3600);

/// How often a lingering runner checks whether its batch is full.
const LINGER_POLL: Duration = Duration::from_millis(5);

/// Drives one sink group.
pub struct Runner {
    name: String,
    channel: Arc<dyn Channel>,
    members: Vec<Member>,
    processor: Processor,
    max_penalty: Duration,
    options: RunnerOptions,
    store: Option<Arc<Store>>,
    stop: Arc<Stop>,
    /// Rate limit, failed attempts and backoff, shared by the sink's workers.
    shared: Arc<shared::Shared>,
    next_member: usize,
    /// Lowered after a 413 so later batches are not refused again.
    batch_cap: usize,
    reports: Option<report::Reporter>,
    /// The phone's upload policy (mobile SDK only).
    gate: Option<Arc<Gate>>,
}

impl Runner {
    /// A runner for `members` draining `channel`. `store` persists retry state.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: String,
        channel: Arc<dyn Channel>,
        members: Vec<Member>,
        processor: Processor,
        max_penalty: Duration,
        options: RunnerOptions,
        store: Option<Arc<Store>>,
        stop: Arc<Stop>,
    ) -> Runner {
        let shared = Arc::new(shared::Shared::new(rate::Limiter::new(options.rate)));
        Runner {
            name,
            channel,
            members,
            processor,
            max_penalty,
            options,
            store,
            stop,
            shared,
            next_member: 0,
            batch_cap: usize::MAX,
            reports: None,
            gate: None,
        }
    }

    /// Also tells the upstream, every `interval`, what this channel lost
    /// (evicted, expired, quarantined), as an event with header `sluice.kind: report`.
    pub fn with_loss_reports(mut self, interval: Duration) -> Runner {
        if let Some(store) = &self.store {
            self.reports = Some(report::Reporter::new(store.clone(), self.channel.name().to_string(), interval));
        }
        self
    }

    /// Asks `gate` before every upload: no network use while the phone's policy
    /// forbids it, and a backoff wait ends when the network comes back.
    pub fn with_gate(mut self, gate: Arc<Gate>) -> Runner {
        self.gate = Some(gate);
        self
    }

    /// Another worker of this runner with its own `members` (its own connections):
    /// it drains the same channel under the same rate limit, so batches go up
    /// `options.workers` at a time. Retry state and loss reports stay with the first.
    pub fn worker(&self, members: Vec<Member>) -> Runner {
        Runner {
            name: self.name.clone(),
            channel: self.channel.clone(),
            members,
            processor: self.processor,
            max_penalty: self.max_penalty,
            options: self.options,
            store: None,
            stop: self.stop.clone(),
            shared: self.shared.clone(),
            next_member: 0,
            batch_cap: usize::MAX,
            reports: None,
            gate: self.gate.clone(),
        }
    }

    /// Runs until the stop token is set; the batch in flight then finishes or rolls back.
    pub fn run(mut self) {
        if let Some(wait) = self.resume_backoff() {
            log::info!("sink {}: resuming backoff of the previous run ({} ms)", self.name, wait.as_millis());
            self.pause(wait);
        }
        while !self.stop.is_stopped() {
            let allowance = match &self.gate {
                Some(gate) => match gate.wait_open(&self.stop) {
                    Some(bytes) => usize::try_from(bytes).unwrap_or(usize::MAX),
                    None => break,
                },
                None => usize::MAX,
            };
            self.send_loss_report();
            if self.channel.metrics().size.get() == 0 {
                if !self.channel.wait_for_events(self.idle_wait()) {
                    continue;
                }
                // Woken from idle: give the batch `linger` to fill (a backlog never waits),
                // then ask the gate again: the phone's state may have changed meanwhile.
                if self.linger_until_full() {
                    break;
                }
                if self.gate.is_some() {
                    continue;
                }
            }
            // Another worker's failure holds this one back too (never set without siblings).
            if let Some(wait) = self.shared.held() {
                self.pause(wait);
                continue;
            }
            if let Some(wait) = self.shared.rate.wait() {
                self.pause(wait);
                continue;
            }
            let max_bytes = self.options.max_bytes.min(allowance);
            match self.channel.take(self.options.max_events.min(self.batch_cap).max(1), max_bytes) {
                Ok(Some(taken)) => self.run_batch(taken),
                // Everything buffered is in another worker's batch: wait for its
                // commit or rollback instead of asking again at once.
                Ok(None) => {
                    self.shared.rate.unused();
                    self.channel.wait_for_events(self.idle_wait());
                }
                Err(e) => {
                    // Failed takes count like failed uploads: the wait grows, nothing spins.
                    self.shared.rate.unused();
                    let attempts = self.shared.failed();
                    let wait = retry_wait(&self.options.backoff, &self.facts(0, 0, attempts), None);
                    log::error!(
                        "sink {}: take from channel {} failed: {e}; next in {} ms",
                        self.name,
                        self.channel.name(),
                        wait.as_millis()
                    );
                    self.pause(wait);
                }
            }
        }
    }

    /// Waits up to `linger` for a full batch; returns whether the runner was stopped.
    fn linger_until_full(&self) -> bool {
        let deadline = Instant::now() + self.options.linger;
        while self.channel.metrics().size.get() < self.options.max_events as u64 {
            if self.gate.as_ref().is_some_and(|g| g.is_urgent()) {
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            if self.stop.sleep(left.min(LINGER_POLL)) {
                return true;
            }
        }
        self.stop.is_stopped()
    }

    fn run_batch(&mut self, taken: crate::channel::Taken) {
        let id = batch_id(&taken.events);
        let bytes: usize = taken.events.iter().map(Event::size).sum();
        self.shared.rate.record(bytes);
        let mut quarantine = Vec::new();
        let (done, failure) = match self.deliver(&taken.events, &id, &mut quarantine) {
            Ok(()) => (taken.events.len(), None),
            Err((done, wait, reason)) => (done, Some((wait, reason))),
        };
        let n = taken.events.len();
        let settled = match settle(done, n) {
            Settle::Rollback => {
                self.channel.rollback(taken);
                Ok(())
            }
            Settle::CommitPrefix(k) => self.channel.commit_prefix(taken, k, quarantine.clone()),
            Settle::Commit => self.channel.commit(taken, quarantine.clone()),
        };
        match (settled, failure) {
            (Err(e), _) => {
                // Back off like a failed upload: retrying at once would resend at full speed.
                let attempts = self.shared.failed();
                let facts = self.facts(1, 0, attempts);
                let wait = retry_wait(&self.options.backoff, &facts, None);
                log::error!(
                    "sink {}: commit of {done} delivered events failed ({e}); they will be sent again in {} ms",
                    self.name,
                    wait.as_millis()
                );
                self.hold_siblings(wait);
                self.pause(wait);
            }
            (Ok(()), failure) => {
                // Counted once they are kept: a quarantine that did not commit is not one.
                self.count_quarantined(&quarantine);
                match failure {
                    None => self.delivered(&id, n, bytes),
                    Some((wait, reason)) => self.failed(&id, wait, &reason),
                }
            }
        }
    }

    /// A batch went through.
    fn delivered(&mut self, id: &str, n: usize, bytes: usize) {
        if let Some(gate) = &self.gate {
            gate.uploaded(bytes as u64);
        }
        let attempts = self.shared.attempts();
        if attempts > 0 {
            log::info!("sink {}: delivering again after {attempts} failed attempts", self.name);
            // A hold another worker set stays: a sibling's success does not cancel a Retry-After.
            self.shared.set_attempts(0);
            self.save_backoff(0);
        }
        log::debug!("sink {}: batch {id} of {n} events committed", self.name);
    }

    /// A batch (or its rest) did not go: wait, persisting the retry state.
    fn failed(&mut self, id: &str, wait: Duration, reason: &str) {
        let attempts = self.shared.attempts();
        log::warn!(
            "sink {}: batch {id} not delivered ({reason}); attempt {attempts}, next in {} ms",
            self.name,
            wait.as_millis()
        );
        let next_ms = now_ms() + wait.as_millis() as u64;
        self.save_backoff(next_ms);
        for member in &self.members {
            member.note_failure(attempts, next_ms, reason);
        }
        if let Some(gate) = &self.gate {
            gate.failed(reason);
        }
        self.hold_siblings(wait);
        self.pause(wait);
    }

    fn count_quarantined(&mut self, quarantine: &[Quarantined]) {
        for q in quarantine {
            if let Some(member) = self.members.iter_mut().find(|m| m.name == q.sink) {
                member.quarantined(q.events.len(), &q.reason);
            }
        }
    }

    /// The facts of a decision about `events` events with `members_left` to try after this one.
    fn facts(&self, events: usize, members_left: usize, attempts: u32) -> Facts {
        Facts {
            events,
            in_group: self.members.len() > 1,
            members_left,
            attempts,
            penalty_end: group::earliest_penalty_end(&self.members),
            jitter: fastrand::f64(),
        }
    }

    /// Ships `events` through the group as [`decide`] says: the next member on a
    /// retryable failure, halves on 413 and on refusals (bisecting to the refused
    /// events), quarantine for a single refused event.
    ///
    /// On failure, returns how many leading events were delivered or quarantined,
    /// the wait before the next attempt (the failed attempt is counted) and why.
    fn deliver(
        &mut self,
        events: &[Event],
        id: &str,
        quarantine: &mut Vec<Quarantined>,
    ) -> Result<(), (usize, Duration, String)> {
        let order = group::order(&mut self.members, self.processor, &mut self.next_member);
        for (k, &i) in order.iter().enumerate() {
            let outcome = self.members[i].ship(&Batch { id, events });
            let facts = self.facts(events.len(), order.len() - k - 1, self.shared.attempts() + 1);
            match decide(&outcome, &facts, &self.options.backoff) {
                Decision::Done => {
                    self.members[i].delivered(events);
                    return Ok(());
                }
                Decision::DoneRejected { rejected, reason } => {
                    self.members[i].delivered(events);
                    self.members[i].rejected_upstream(rejected, &reason);
                    return Ok(());
                }
                Decision::TryNext { penalise } => {
                    if penalise {
                        self.members[i].penalise(self.max_penalty);
                    }
                }
                Decision::Split { shrink } => {
                    if shrink {
                        // Later batches start at the size that may fit, not at the one refused.
                        self.batch_cap = self.batch_cap.min(events.len() / 2);
                    }
                    let (left, right) = events.split_at(events.len() / 2);
                    self.deliver(left, &batch_id(left), quarantine)?;
                    return self
                        .deliver(right, &batch_id(right), quarantine)
                        .map_err(|(done, w, r)| (left.len() + done, w, r));
                }
                Decision::Quarantine { reason } => {
                    quarantine.push(Quarantined {
                        sink: self.members[i].name.clone(),
                        events: events.to_vec(),
                        reason,
                    });
                    return Ok(());
                }
                Decision::BackOff { wait, reason } => {
                    self.shared.failed();
                    if self.members.len() > 1 {
                        self.members[i].penalise(self.max_penalty);
                    }
                    return Err((0, wait, format!("{}: {reason}", self.members[i].name)));
                }
            }
        }
        // Every member is penalised: wait for the first to come back.
        let attempts = self.shared.failed();
        let wait = retry_wait(&self.options.backoff, &self.facts(events.len(), 0, attempts), None);
        Err((0, wait, "no sink available".into()))
    }

    /// Holds the sink's other workers back for `wait` too: the batch rolled back
    /// here would otherwise go straight to a sibling and out again.
    fn hold_siblings(&self, wait: Duration) {
        if self.options.workers > 1 {
            self.shared.hold(wait);
        }
    }

    /// How long to wait for events when there is nothing to take: until the next
    /// loss report is due, else (practically) until woken.
    fn idle_wait(&self) -> Duration {
        self.reports.as_ref().and_then(report::Reporter::due_in).unwrap_or(IDLE_WAIT)
    }

    /// Sleeps a backoff or rate wait. With a gate, the network coming back
    /// starts the backoff over, and a flush cuts the wait short.
    fn pause(&mut self, wait: Duration) {
        let Some(gate) = &self.gate else {
            self.stop.sleep(wait);
            return;
        };
        if gate.pause(wait, &self.stop) == Wake::Reset && self.shared.attempts() > 0 {
            log::info!("sink {}: network is back; retrying now", self.name);
            self.shared.set_attempts(0);
            self.shared.release();
            self.save_backoff(0);
        }
    }

    fn send_loss_report(&mut self) {
        let Some(report) = self.reports.as_mut().and_then(report::Reporter::take_due) else { return };
        let mut refused = Vec::new();
        let events = [report.event.clone()];
        let delivered = self.shared.attempts() == 0 && self.deliver(&events, &batch_id(&events), &mut refused).is_ok();
        // A refused report is not an event of the channel: it is neither kept nor
        // counted as quarantined; its losses stay unreported and go in the next one.
        if let Some(q) = refused.first() {
            log::warn!(
                "sink {}: the upstream refused the loss report ({}); it is sent again later",
                self.name,
                q.reason
            );
        }
        if let Some(reporter) = self.reports.as_mut() {
            reporter.finish(report, delivered && refused.is_empty());
        }
    }

    fn resume_backoff(&mut self) -> Option<Duration> {
        let store = self.store.as_ref()?;
        let (attempts, next_ms) = store.load_retry(&self.name).ok()??;
        self.shared.set_attempts(attempts);
        let wait = next_ms.saturating_sub(now_ms());
        (wait > 0).then(|| Duration::from_millis(wait).min(self.options.backoff.max))
    }

    fn save_backoff(&self, next_ms: u64) {
        if let Some(store) = &self.store {
            if let Err(e) = store.save_retry(&self.name, self.shared.attempts(), next_ms) {
                log::warn!("sink {}: cannot persist retry state: {e}", self.name);
            }
        }
    }
}

#[cfg(test)]
mod tests;
