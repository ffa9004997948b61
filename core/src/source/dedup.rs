//! The de-duplication window of a source receiving events that carry their id
//! (an edge's `http` sink sends each event's id in its `id` header). An edge
//! that retries a batch whose acknowledgement was lost sends the same ids
//! again; ids stored within `window` are not stored twice.
//!
//! Ids are asked of the store before the put and remembered in the put's own
//! transaction ([`Mark::Seen`]); a request racing another with the same ids
//! meets a [`Duplicate`](crate::error::ErrorKind::Duplicate) there and asks again.

use crate::channel::sqlite::Store;
use crate::channel::Mark;
use crate::error::Result;
use crate::event::{Event, EventId};
use crate::units::Span;
use std::collections::HashSet;
use std::time::Duration;

crate::settings! {
    /// `dedup = { … }` of a source.
    pub struct DedupConfig {
        window: Span = Span(Duration::from_secs(600)), "How long a stored event id is remembered.";
        max_ids: u64 = 1_000_000, "Most ids remembered; beyond it the oldest are forgotten first.";
    }
}

crate::key_table!(DedupConfig);

/// The header carrying an event's id between tiers.
const ID_HEADER: &str = "id";

/// One source's window.
#[derive(Debug, Clone)]
pub struct Dedup {
    source: String,
    window_ms: u64,
    max_ids: u64,
}

/// What a batch holds that was not stored before.
#[derive(Debug)]
pub struct Fresh {
    /// The events to store: those without an id, and the first of each id not seen.
    pub events: Vec<Event>,
    /// Their ids, to remember in the put's transaction.
    pub mark: Mark,
    /// Events left out as duplicates.
    pub duplicates: u64,
}

impl Dedup {
    /// The window of source `source`.
    pub fn new(source: &str, config: &DedupConfig) -> Dedup {
        let window_ms = u64::try_from(config.window.0.as_millis()).unwrap_or(u64::MAX);
        Dedup { source: source.to_string(), window_ms, max_ids: config.max_ids }
    }

    /// Leaves out the events of `events` whose id `store` remembers, and
    /// repeats of an id within the batch.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn fresh(&self, store: &Store, events: Vec<Event>) -> Result<Fresh> {
        let carried: Vec<Option<u128>> = events.iter().map(carried_id).collect();
        let ids: Vec<u128> = carried.iter().flatten().copied().collect();
        let seen = store.seen(&self.source, &ids, self.window_ms)?;
        let mut seen = seen.into_iter();
        let mut in_batch = HashSet::with_capacity(ids.len());
        let mut kept_ids = Vec::with_capacity(ids.len());
        let mut kept = Vec::with_capacity(events.len());
        let mut duplicates = 0;
        for (event, id) in events.into_iter().zip(carried) {
            match id {
                None => kept.push(event),
                Some(id) => {
                    let stored_before = seen.next().unwrap_or(false);
                    if stored_before || !in_batch.insert(id) {
                        duplicates += 1;
                    } else {
                        kept_ids.push(id);
                        kept.push(event);
                    }
                }
            }
        }
        let mark =
            Mark::Seen { source: self.source.clone(), ids: kept_ids, window_ms: self.window_ms, max_ids: self.max_ids };
        Ok(Fresh { events: kept, mark, duplicates })
    }
}

/// The id an event carries from the tier before: its `id` header, when that is its id.
fn carried_id(event: &Event) -> Option<u128> {
    event.header(ID_HEADER).and_then(EventId::parse).filter(|id| *id == event.id).map(|id| id.0)
}
