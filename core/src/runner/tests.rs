//! The runner against a scripted sink over a real (SQLite) channel: batch
//! identity across any sequence of outcomes, and nothing lost.

use super::*;
use crate::channel::{Capacity, SqliteChannel};
use crate::event::{EventId, Priority};
use crate::metrics::SinkMetrics;
use crate::sink::{Outcome, Sink};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

/// What the upstream does with one request.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// 2xx.
    Accept,
    /// 5xx, or the connection dropped: retry.
    Fail,
    /// 413: split.
    TooLarge,
    /// Another 4xx: bisect to the refused event, quarantine it.
    Refuse,
    /// `n` high-priority events arrive while the request fails: the next take
    /// starts with them.
    ArriveThenFail(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => Just(Step::Accept),
        3 => Just(Step::Fail),
        1 => Just(Step::TooLarge),
        1 => Just(Step::Refuse),
        2 => (1usize..4).prop_map(Step::ArriveThenFail),
    ]
}

/// Every request the upstream saw: its `X-Sluice-Batch` and its event ids.
type Seen = Arc<Mutex<Vec<(String, Vec<EventId>)>>>;

struct Scripted {
    script: Vec<Step>,
    next: usize,
    channel: SqliteChannel,
    seen: Seen,
    accepted: Arc<Mutex<BTreeSet<EventId>>>,
}

impl Sink for Scripted {
    fn ship(&mut self, batch: &Batch<'_>) -> Outcome {
        let ids: Vec<EventId> = batch.events.iter().map(|e| e.id).collect();
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).push((batch.id.to_string(), ids.clone()));
        // Loss reports are not channel events: always taken.
        let step = if batch.events.iter().any(|e| e.header("sluice.kind") == Some("report")) {
            Step::Accept
        } else {
            let step = self.script.get(self.next).copied().unwrap_or(Step::Accept);
            self.next += 1;
            step
        };
        let fail = || Outcome::Retry { after: None, reason: "upstream answered 503".into() };
        match step {
            Step::Accept => {
                self.accepted.lock().unwrap_or_else(|p| p.into_inner()).extend(ids);
                Outcome::Delivered
            }
            Step::Fail => fail(),
            Step::TooLarge => Outcome::TooLarge,
            Step::Refuse => Outcome::Permanent { reason: "upstream answered 400".into() },
            Step::ArriveThenFail(n) => {
                let high: Vec<Event> =
                    (0..n).map(|i| Event::new(format!("urgent {i}")).with_priority(Priority::High)).collect();
                let _ = self.channel.put(high);
                fail()
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// Over any sequence of outcomes, each `X-Sluice-Batch` the upstream sees
    /// names exactly one set of events, and every event is delivered or
    /// quarantined (a retry used to reuse an id for other events).
    #[test]
    fn a_batch_id_names_one_set_of_events_whatever_happens(script in proptest::collection::vec(step(), 1..40), n in 1usize..40) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let store = crate::channel::Store::open(dir.path(), false).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let channel = store.channel("main", Capacity::default()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let put: Vec<Event> = (0..n).map(|i| Event::new(format!("event {i}"))).collect();
        let mut all: BTreeSet<EventId> = put.iter().map(|e| e.id).collect();
        channel.put(put).map_err(|e| TestCaseError::fail(e.to_string()))?;

        let (seen, accepted): (Seen, Arc<Mutex<BTreeSet<EventId>>>) = Default::default();
        let sink = Scripted { script: script.clone(), next: 0, channel: channel.clone(), seen: seen.clone(), accepted: accepted.clone() };
        let member = Member::new("up".into(), Box::new(sink), Arc::new(SinkMetrics::default()));
        let options = RunnerOptions {
            max_events: 8,
            linger: Duration::ZERO,
            backoff: Backoff { initial: Duration::from_millis(1), max: Duration::from_millis(2) },
            ..RunnerOptions::default()
        };
        let stop = Arc::new(Stop::default());
        let shared: Arc<dyn Channel> = Arc::new(channel.clone());
        let runner = Runner::new("up".into(), shared, vec![member], Processor::Failover, Duration::ZERO, options, None, stop.clone());
        let thread = std::thread::spawn(move || runner.run());
        let deadline = Instant::now() + Duration::from_secs(30);
        while channel.metrics().size.get() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        stop.stop();
        channel.wake();
        let _ = thread.join();

        let mut names: BTreeMap<String, Vec<EventId>> = BTreeMap::new();
        for (id, events) in seen.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let first = names.entry(id.clone()).or_insert_with(|| events.clone());
            prop_assert_eq!(&*first, events, "X-Sluice-Batch {} named two sets of events", id);
        }
        // Everything that arrived (the put and the high-priority arrivals) left:
        // delivered, or refused and quarantined.
        for (_, events) in seen.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            all.extend(events.iter().copied());
        }
        let quarantined: u64 = crate::channel::sqlite::quarantine_list(dir.path())
            .map_err(|e| TestCaseError::fail(e.to_string()))?
            .iter()
            .map(|q| q.events)
            .sum();
        let delivered = accepted.lock().unwrap_or_else(|p| p.into_inner()).len() as u64;
        prop_assert_eq!(channel.metrics().size.get(), 0, "the channel drained");
        prop_assert_eq!(delivered + quarantined, all.len() as u64, "every event delivered or quarantined");
    }
}
