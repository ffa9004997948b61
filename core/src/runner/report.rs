//! Loss reports: the upstream learns what it will never receive.
//!
//! Every `report_interval`, if the channel lost events since the last report
//! (evicted, expired, quarantined, corrupt), the runner ships one event with
//! header `sluice.kind: report` and a JSON body of counts by reason, priority and
//! time range. The counts are marked reported only once the upstream acknowledged.

use crate::channel::sqlite::UnreportedLoss;
use crate::channel::Store;
use crate::event::{Event, Priority};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(super) struct Reporter {
    store: Arc<Store>,
    channel: String,
    interval: Duration,
    next: Instant,
}

pub(super) struct Report {
    pub event: Event,
    losses: Vec<UnreportedLoss>,
}

impl Reporter {
    pub fn new(store: Arc<Store>, channel: String, interval: Duration) -> Reporter {
        Reporter { store, channel, interval, next: Instant::now() }
    }

    /// How long until the next report is due; `None` when nothing is waiting to be told.
    pub fn due_in(&self) -> Option<Duration> {
        let pending = self.store.unreported_losses(&self.channel).is_ok_and(|l| !l.is_empty());
        pending.then(|| self.next.saturating_duration_since(Instant::now()).max(Duration::from_millis(10)))
    }

    /// The report event, if one is due and there is something to report.
    pub fn take_due(&mut self) -> Option<Report> {
        if Instant::now() < self.next {
            return None;
        }
        let losses = self.store.unreported_losses(&self.channel).ok()?;
        if losses.is_empty() {
            return None;
        }
        self.next = Instant::now() + self.interval;
        let body = serde_json::json!({ "channel": self.channel, "losses": losses }).to_string();
        let event = Event::new(body)
            .with_header("sluice.kind", "report")
            .with_header("channel", self.channel.clone())
            .with_priority(Priority::High);
        Some(Report { event, losses })
    }

    pub fn finish(&mut self, report: Report, delivered: bool) {
        if delivered {
            if let Err(e) = self.store.mark_reported(&self.channel, &report.losses) {
                log::warn!("channel {}: cannot mark loss report as sent: {e}", self.channel);
            }
            log::info!("channel {}: loss report delivered", self.channel);
        }
    }
}
