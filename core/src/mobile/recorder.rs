//! `record()`'s write buffer: callers append to a bounded buffer; one writer
//! thread commits it to the channel every `commit_interval` (or at once when
//! it is half full, or a `record_sync` or flush asks).
//!
//! The buffer is bounded: a caller that finds it full waits for the writer
//! (back pressure) instead of growing memory without limit. The writer sleeps
//! on a condition variable while the buffer is empty: no timed wake-ups idle.

use crate::channel::Channel;
use crate::error::{Error, ErrorKind, Result};
use crate::event::Event;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Longest a `record()` waits for room in a full buffer before it gives the
/// event up (counted in stats as `dropped`): the calling thread may be the
/// app's main thread.
pub const RECORD_WAIT_BOUND: Duration = Duration::from_millis(500);

/// How many failed commits are remembered for `record_sync` callers.
const FAILURES_KEPT: usize = 64;

/// How many committed events each `record()` frees. More than one, so the
/// committed events go faster than new ones come.
const FREED_PER_RECORD: usize = 2;

/// Most bytes of committed events waiting to be freed by the callers; the
/// writer frees the rest itself. Large events are rare and cheap to free per
/// byte; this keeps a buffer of them from doubling the recorder's memory.
const KEPT_BYTES: usize = 2 << 20;

/// Counters of the recorder, for stats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecorderStats {
    /// Events in the buffer now.
    pub buffered: u64,
    /// Events recorded since open.
    pub recorded: u64,
    /// Events committed to the channel since open.
    pub committed: u64,
    /// Events the channel refused (quota full of `high`, or a storage error), since open.
    pub refused: u64,
}

#[derive(Debug, Default)]
struct Buffer {
    events: Vec<Event>,
    /// When the oldest buffered event arrived.
    since: Option<Instant>,
    /// Sequence number of the last recorded event (1-based).
    recorded: u64,
    /// Every event up to this sequence number has been through a commit.
    committed: u64,
    refused: u64,
    /// Commit now (a `record_sync`, a flush, or a buffer half full).
    urgent: bool,
    closed: bool,
    /// (first seq, last seq, reason) of recent failed commits.
    failures: VecDeque<(u64, u64, Error)>,
    /// Committed events, freed a few per `record()` call.
    spent: Spent,
    last_error: Option<String>,
}

struct Shared {
    buffer: Mutex<Buffer>,
    /// The writer waits on this for work.
    work: Condvar,
    /// Callers wait on this for room or for their commit.
    done: Condvar,
    capacity: usize,
    interval: Duration,
    channel: Arc<dyn Channel>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Buffer> {
        self.buffer.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The buffer and its writer thread.
pub struct Recorder {
    shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").field("stats", &self.stats().0).finish_non_exhaustive()
    }
}

impl Recorder {
    /// Starts the writer for `channel`.
    ///
    /// # Errors
    /// The writer thread cannot be spawned.
    pub fn start(channel: Arc<dyn Channel>, capacity: usize, interval: Duration) -> Result<Recorder> {
        let shared = Arc::new(Shared {
            buffer: Mutex::new(Buffer::default()),
            work: Condvar::new(),
            done: Condvar::new(),
            capacity: capacity.max(1),
            interval,
            channel,
        });
        let writer = {
            let shared = shared.clone();
            std::thread::Builder::new().name("sluice-writer".into()).spawn(move || write_loop(&shared))?
        };
        Ok(Recorder { shared, writer: Mutex::new(Some(writer)) })
    }

    /// Appends `event`; returns its sequence number once it is in the buffer.
    /// Waits only while the buffer is full, and at most [`RECORD_WAIT_BOUND`].
    ///
    /// # Errors
    /// [`ErrorKind::Closed`] after [`Recorder::close`]; [`ErrorKind::Full`] when
    /// the buffer stayed full for the whole bound (the store writes slower than
    /// the app records): the event is not taken.
    pub fn record(&self, event: Event) -> Result<u64> {
        let mut buffer = self.shared.lock();
        let mut deadline = None;
        while buffer.events.len() >= self.shared.capacity && !buffer.closed {
            buffer.urgent = true;
            self.shared.work.notify_one();
            let until = *deadline.get_or_insert_with(|| Instant::now() + RECORD_WAIT_BOUND);
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::new(
                    ErrorKind::Full,
                    format!("the record buffer stayed full for {RECORD_WAIT_BOUND:?}: the event was not taken"),
                ));
            }
            buffer = self.shared.done.wait_timeout(buffer, left).unwrap_or_else(|p| p.into_inner()).0;
        }
        if buffer.closed {
            return Err(Error::new(ErrorKind::Closed, "the SDK is closed"));
        }
        buffer.events.push(event);
        buffer.recorded += 1;
        let seq = buffer.recorded;
        if buffer.since.is_none() {
            buffer.since = Some(Instant::now());
            self.shared.work.notify_one();
        } else if buffer.events.len() * 2 == self.shared.capacity {
            buffer.urgent = true;
            self.shared.work.notify_one();
        }
        let to_free: [Option<Event>; FREED_PER_RECORD] = std::array::from_fn(|_| buffer.spent.pop());
        drop(buffer);
        drop(to_free);
        Ok(seq)
    }

    /// Appends `event` and returns once it is committed to the channel.
    ///
    /// # Errors
    /// As [`Recorder::record`], or the channel refused the commit (quota, storage).
    pub fn record_sync(&self, event: Event) -> Result<()> {
        let seq = self.record(event)?;
        self.wait_committed(seq)
    }

    /// Asks the writer to commit what is buffered now, without waiting for it
    /// (the app's main thread may be the caller).
    pub fn commit_soon(&self) {
        let mut buffer = self.shared.lock();
        if !buffer.events.is_empty() {
            buffer.urgent = true;
            self.shared.work.notify_one();
        }
    }

    /// Commits everything buffered now and waits for it.
    ///
    /// # Errors
    /// The commit of the last buffered event failed.
    pub fn commit_now(&self) -> Result<()> {
        let seq = self.shared.lock().recorded;
        self.wait_committed(seq)
    }

    /// Waits until the event numbered `seq` went through a commit.
    ///
    /// # Errors
    /// Its commit failed (the channel refused it).
    pub(super) fn wait_committed(&self, seq: u64) -> Result<()> {
        let mut buffer = self.shared.lock();
        if buffer.committed < seq {
            buffer.urgent = true;
            self.shared.work.notify_one();
        }
        while buffer.committed < seq {
            buffer = self.shared.done.wait(buffer).unwrap_or_else(|p| p.into_inner());
        }
        match buffer.failures.iter().find(|(first, last, _)| (*first..=*last).contains(&seq)) {
            Some((_, _, error)) => Err(error.clone()),
            None => Ok(()),
        }
    }

    /// Counters now.
    pub fn stats(&self) -> (RecorderStats, Option<String>) {
        let b = self.shared.lock();
        let stats = RecorderStats {
            buffered: b.events.len() as u64,
            recorded: b.recorded,
            committed: b.committed.saturating_sub(b.refused),
            refused: b.refused,
        };
        (stats, b.last_error.clone())
    }

    /// Refuses further records, commits what is buffered and stops the writer.
    /// Safe to call more than once.
    pub fn close(&self) {
        {
            let mut buffer = self.shared.lock();
            buffer.closed = true;
            self.shared.work.notify_one();
            self.shared.done.notify_all();
        }
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(writer) = writer {
            if writer.join().is_err() {
                log::error!("the record writer panicked; events still buffered were lost");
            }
        }
    }
}

fn write_loop(shared: &Shared) {
    let mut buffer = shared.lock();
    loop {
        if buffer.events.is_empty() {
            if buffer.closed {
                return;
            }
            if !buffer.spent.events.is_empty() {
                // Going idle: nobody is recording to free them.
                let idle = std::mem::take(&mut buffer.spent).events;
                drop(buffer);
                drop(idle);
                buffer = shared.lock();
                continue;
            }
            buffer.urgent = false;
            buffer = shared.work.wait(buffer).unwrap_or_else(|p| p.into_inner());
            continue;
        }
        let due = buffer.since.map_or_else(Instant::now, |t| t + shared.interval);
        let now = Instant::now();
        if !buffer.urgent && !buffer.closed && now < due {
            buffer = shared.work.wait_timeout(buffer, due - now).unwrap_or_else(|p| p.into_inner()).0;
            continue;
        }
        // Sized for what the callers filled before this commit, so their pushes rarely
        // reallocate (and copy) under the lock; never more than the buffer holds.
        let next = Vec::with_capacity((buffer.events.len() * 2).min(shared.capacity));
        let events = std::mem::replace(&mut buffer.events, next);
        buffer.since = None;
        buffer.urgent = false;
        let last = buffer.recorded;
        let first = last + 1 - events.len() as u64;
        // Only callers take from `spent` while the commit runs, so this room only grows.
        let room = buffer.spent.room(shared.capacity);
        // Room again: wake callers waiting for space while the commit runs.
        shared.done.notify_all();
        drop(buffer);
        let mut result = shared.channel.put_returning(events);
        let (mut kept, mut kept_bytes) = (Vec::new(), 0);
        if let Ok(events) = &mut result {
            kept = std::mem::take(events);
            let surplus;
            (surplus, kept_bytes) = Spent::split(&mut kept, room);
            // The writer frees what the callers will not, before it takes the lock.
            drop(surplus);
        }
        buffer = shared.lock();
        buffer.committed = last;
        buffer.spent.keep(kept, kept_bytes);
        if let Err(e) = result {
            let e = Error::from(e);
            let n = last + 1 - first;
            log::error!("{n} recorded events were not committed: {e}");
            buffer.refused += n;
            buffer.last_error = Some(e.to_string());
            buffer.failures.push_back((first, last, e));
            if buffer.failures.len() > FAILURES_KEPT {
                buffer.failures.pop_front();
            }
        }
        shared.done.notify_all();
    }
}

/// Committed events waiting to be freed by the recording threads. glibc frees
/// an allocation fastest on the thread that made it, and the callers' next
/// allocations reuse the memory; freeing them all cost the writer more than
/// encoding them. Bounded by the buffer's capacity and by [`KEPT_BYTES`].
#[derive(Debug, Default)]
struct Spent {
    events: Vec<Event>,
    bytes: usize,
}

impl Spent {
    fn pop(&mut self) -> Option<Event> {
        let event = self.events.pop()?;
        self.bytes = self.bytes.saturating_sub(event.size());
        Some(event)
    }

    /// How many more events, and bytes, may wait here.
    fn room(&self, capacity: usize) -> (usize, usize) {
        (capacity.saturating_sub(self.events.len()), KEPT_BYTES.saturating_sub(self.bytes))
    }

    /// Cuts `events` to what fits in `room`; returns the rest and the bytes kept.
    fn split(events: &mut Vec<Event>, (count, bytes): (usize, usize)) -> (Vec<Event>, usize) {
        let mut kept = 0;
        let mut fit = 0;
        for event in events.iter().take(count) {
            if kept + event.size() > bytes {
                break;
            }
            kept += event.size();
            fit += 1;
        }
        (events.split_off(fit), kept)
    }

    /// Adds `events` (of `bytes` in all) to be freed by the callers.
    fn keep(&mut self, mut events: Vec<Event>, bytes: usize) {
        self.bytes += bytes;
        if self.events.is_empty() {
            std::mem::swap(&mut self.events, &mut events);
        } else {
            self.events.append(&mut events);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::sqlite::Store;
    use crate::channel::Capacity;

    fn committed_held(recorder: &Recorder) -> usize {
        recorder.shared.lock().spent.events.len()
    }

    #[test]
    fn committed_events_are_freed_by_callers_and_never_pile_up() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let channel: Arc<dyn Channel> = Arc::new(Store::open(dir.path(), false)?.channel("main", Capacity::default())?);
        let capacity = 100;
        let recorder = Recorder::start(channel.clone(), capacity, Duration::from_secs(3600))?;
        let mut most_held = 0;
        for i in 0..5_000 {
            recorder.record(Event::new(format!("tap {i}")))?;
            most_held = most_held.max(committed_held(&recorder));
        }
        recorder.commit_now()?;
        assert!(most_held > 0, "the writer handed no committed events back");
        assert!(most_held <= capacity, "{most_held} committed events held, more than the buffer's {capacity}");
        // Nobody records any more: the writer frees them itself.
        let deadline = Instant::now() + Duration::from_secs(10);
        while committed_held(&recorder) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(committed_held(&recorder), 0);
        recorder.close();
        let stored = channel.take(10_000, usize::MAX)?.map(|t| t.events.len());
        assert_eq!(stored, Some(5_000));
        Ok(())
    }

    #[test]
    fn large_committed_events_are_kept_only_up_to_the_byte_bound() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let channel: Arc<dyn Channel> = Arc::new(Store::open(dir.path(), false)?.channel("main", Capacity::default())?);
        let recorder = Recorder::start(channel, 100, Duration::from_secs(3600))?;
        let (mut most_bytes, mut most_events) = (0, 0);
        for i in 0..400 {
            recorder.record(Event::new(vec![b'x' + (i % 7) as u8; 64 << 10]))?;
            let spent = &recorder.shared.lock().spent;
            most_bytes = most_bytes.max(spent.bytes);
            most_events = most_events.max(spent.events.len());
            assert_eq!(spent.bytes, spent.events.iter().map(Event::size).sum::<usize>(), "the byte count drifted");
        }
        recorder.commit_now()?;
        assert!(most_events > 0, "nothing was handed back");
        assert!(most_bytes <= KEPT_BYTES, "{most_bytes} bytes of committed events held, bound {KEPT_BYTES}");
        recorder.close();
        Ok(())
    }
}
