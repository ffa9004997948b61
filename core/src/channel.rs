//! Channels: where accepted events wait, with Flume's transactional semantics.
//!
//! A source [`Channel::put`]s a batch; the events are *accepted* only when that
//! returns `Ok`. A sink [`Channel::take`]s a batch, ships it, and [`Channel::commit`]s
//! only after the upstream acknowledged it; [`Channel::rollback`] (or dropping the
//! [`Taken`] batch, or a crash) makes the events available again in their original
//! order. Nothing is deleted before an acknowledgement, except by the explicit,
//! counted `drop_oldest` and `max_age` policies.

pub mod codec;
mod memory;
mod policy;
mod signal;
pub mod sqlite;

pub use memory::MemoryChannel;
pub use policy::{Capacity, OnFull, Wait};
pub use sqlite::{SqliteChannel, Store};

use crate::error::{Error, ErrorKind, Result};
use crate::event::Event;
use crate::metrics::ChannelMetrics;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A put that was refused: the error and every event of the batch, handed back.
pub struct PutError {
    /// Why the put was refused.
    pub error: Error,
    /// The events, none of which was accepted.
    pub events: Vec<Event>,
}

impl fmt::Debug for PutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PutError({}, {} events)", self.error, self.events.len())
    }
}

impl fmt::Display for PutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} events not accepted)", self.error, self.events.len())
    }
}

impl std::error::Error for PutError {}

impl PutError {
    /// A refusal of `events` for `error`.
    pub fn new(error: Error, events: Vec<Event>) -> PutError {
        PutError { error, events }
    }

    /// Whether the channel refused because it is full (back pressure), not because it broke.
    pub fn is_full(&self) -> bool {
        matches!(self.error.kind(), ErrorKind::Full | ErrorKind::DiskFull)
    }
}

/// A piece of source state to write together with a put: a taildir read
/// position, or the event ids a de-duplicating source stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    /// A state entry.
    State {
        /// The source it belongs to.
        source: String,
        /// What it is about (a file's identity).
        key: String,
        /// The new value; `None` deletes the entry.
        value: Option<Vec<u8>>,
    },
    /// Event ids stored by this put. If one was already remembered within
    /// `window_ms`, the put fails with [`ErrorKind::Duplicate`](crate::error::ErrorKind):
    /// another request stored it meanwhile.
    Seen {
        /// The source remembering them.
        source: String,
        /// The ids.
        ids: Vec<u128>,
        /// How long an id is remembered.
        window_ms: u64,
        /// Most ids remembered; the oldest go first.
        max_ids: u64,
    },
}

/// Events quarantined in the same transaction as a commit, with their reason.
#[derive(Debug, Clone)]
pub struct Quarantined {
    /// The sink that gave up on them.
    pub sink: String,
    /// The events the upstream refused for good.
    pub events: Vec<Event>,
    /// Why, in the upstream's words where it gave any.
    pub reason: String,
}

/// A batch taken from a channel: it must be committed or rolled back.
///
/// Dropping it without either rolls it back.
pub struct Taken {
    /// The events, oldest first within a priority, higher priorities first.
    pub events: Vec<Event>,
    pub(crate) lease: Option<Box<dyn Lease>>,
}

impl fmt::Debug for Taken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Taken({} events)", self.events.len())
    }
}

impl Drop for Taken {
    fn drop(&mut self) {
        if let Some(lease) = self.lease.take() {
            lease.release();
        }
    }
}

/// What a channel needs to commit or roll back one taken batch.
pub(crate) trait Lease: Send {
    /// Makes the batch available again (rollback).
    fn release(self: Box<Self>);
    /// Downcast hook for the channel that issued the lease.
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any>;
}

/// A durable (or, for `memory`, volatile) queue of events.
///
/// Methods block the calling thread on storage; call them from blocking threads.
pub trait Channel: Send + Sync + 'static {
    /// The configured name.
    fn name(&self) -> &str;

    /// Puts `events` in one transaction: all are accepted or none.
    ///
    /// # Errors
    /// The batch comes back in [`PutError`] when the channel is full (after
    /// waiting up to `block_timeout` under `on_full = "block"`) or storage fails.
    fn put(&self, events: Vec<Event>) -> Result<(), PutError> {
        self.put_waiting(events, &[], &Wait::now()).map(|_| ())
    }

    /// Puts `events` and, if this channel can, writes `marks` in the same
    /// transaction; under `on_full = "block"` it waits for space at most
    /// `block_timeout` from `wait.since`, and not at all once `wait` is
    /// cancelled. Returns whether the marks were written (a `memory` channel has
    /// no transaction to share: the caller saves them elsewhere).
    ///
    /// # Errors
    /// As [`Channel::put`]; no mark is written then.
    fn put_waiting(&self, events: Vec<Event>, marks: &[Mark], wait: &Wait) -> Result<bool, PutError>;

    /// As [`Channel::put`], handing the events back once they are stored, so the
    /// caller decides which thread frees them (the mobile recorder frees them on
    /// the recording threads that allocated them: freeing them on its writer
    /// thread cost it more than encoding them). A channel that keeps the events
    /// themselves returns an empty vector.
    ///
    /// # Errors
    /// As [`Channel::put`].
    fn put_returning(&self, events: Vec<Event>) -> Result<Vec<Event>, PutError> {
        self.put(events).map(|()| Vec::new())
    }

    /// Puts `events` and, if this channel can, writes `marks` in the same
    /// transaction. Returns whether the marks were written; the caller saves
    /// them elsewhere when not (a `memory` channel has no transaction to share).
    ///
    /// # Errors
    /// As [`Channel::put`]; no mark is written then.
    fn put_marked(&self, events: Vec<Event>, marks: &[Mark]) -> Result<bool, PutError> {
        self.put_waiting(events, marks, &Wait::now())
    }

    /// Takes up to `max_events` events (and about `max_bytes`, at least one event).
    /// `Ok(None)` when nothing is available.
    ///
    /// # Errors
    /// Storage failures.
    fn take(&self, max_events: usize, max_bytes: usize) -> Result<Option<Taken>>;

    /// Deletes the taken events for good, moving `quarantine` into the quarantine in
    /// the same transaction.
    ///
    /// # Errors
    /// On failure the batch is rolled back: it will be delivered again.
    fn commit(&self, taken: Taken, quarantine: Vec<Quarantined>) -> Result<()> {
        let n = taken.events.len();
        self.commit_prefix(taken, n, quarantine)
    }

    /// Commits the first `n` events of a taken batch (those the upstream
    /// acknowledged, or quarantined) and rolls back the rest, in its order.
    ///
    /// # Errors
    /// On failure the whole batch is rolled back.
    fn commit_prefix(&self, taken: Taken, n: usize, quarantine: Vec<Quarantined>) -> Result<()>;

    /// Makes a taken batch available again, in its original order.
    fn rollback(&self, taken: Taken) {
        drop(taken);
    }

    /// Deletes every stored event no sink holds now, of every priority, counted
    /// as lost for `purged` (a user withdrew consent, say). Returns how many went.
    /// A batch a sink holds is committed or rolled back as usual.
    ///
    /// # Errors
    /// Storage failures; nothing was deleted then.
    fn purge(&self) -> Result<u64>;

    /// Waits up to `timeout` for events to become available; returns whether any are.
    fn wait_for_events(&self, timeout: Duration) -> bool;

    /// Wakes every [`Channel::wait_for_events`] waiter (used at shutdown).
    fn wake(&self);

    /// This channel's counters.
    fn metrics(&self) -> &Arc<ChannelMetrics>;
}

impl From<PutError> for Error {
    /// Keeps the error and drops the events: only for callers that gave up on them.
    fn from(e: PutError) -> Error {
        e.error
    }
}
