//! The `memory` channel: the same transactions, no durability.
//!
//! Lossy by design (a crash or restart loses everything in it): for tests and
//! throwaway data. Capacity and `on_full` work as in the SQLite channel.

use super::policy::{admit, Admission, Capacity, OnFull, Pressure, Refusal, Usage, Wait};
use super::signal::Signal;
use super::{Channel, Lease, Mark, PutError, Quarantined, Taken};
use crate::error::{Error, ErrorKind, Result};
use crate::event::{Event, Priority};
use crate::metrics::ChannelMetrics;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Longest sleep of a put waiting for space: it looks again this often whether its caller gave up.
const WAIT_SLICE: Duration = Duration::from_millis(50);

/// An in-memory channel.
#[derive(Clone)]
pub struct MemoryChannel {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    capacity: Capacity,
    queues: Mutex<Queues>,
    metrics: Arc<ChannelMetrics>,
    data: Signal,
    space: Signal,
}

#[derive(Default)]
struct Queues {
    by_priority: [VecDeque<(u64, Event)>; 3],
    next_seq: u64,
    usage: Usage,
    /// How many purges so far: a batch taken before the latest is dropped when given back.
    purges: u64,
}

struct MemoryLease {
    inner: Arc<Inner>,
    events: Vec<(u64, Event)>,
    /// The channel's purge count when the batch was taken.
    purges: u64,
}

impl Lease for MemoryLease {
    fn release(self: Box<Self>) {
        let mut q = self.inner.lock();
        if q.purges != self.purges {
            // Taken before a purge: it goes instead of coming back.
            for (_, event) in &self.events {
                q.usage.sub(event.priority, 1, event.size() as u64);
            }
            self.inner.publish(&q);
            return;
        }
        for (seq, event) in self.events {
            let queue = &mut q.by_priority[event.priority as usize];
            let at = queue.partition_point(|(s, _)| *s < seq);
            queue.insert(at, (seq, event));
        }
        drop(q);
        self.inner.data.notify();
    }
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Queues> {
        self.queues.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish(&self, q: &Queues) {
        self.metrics.size.set(q.usage.total_events());
        self.metrics.bytes.set(q.usage.total_bytes());
    }
}

impl MemoryChannel {
    /// A new empty channel.
    pub fn new(name: &str, capacity: Capacity) -> MemoryChannel {
        let metrics = Arc::new(ChannelMetrics::default());
        metrics.capacity.set(capacity.max_events);
        metrics.capacity_bytes.set(capacity.max_bytes);
        let inner = Inner {
            name: name.to_string(),
            capacity,
            queues: Mutex::default(),
            metrics,
            data: Signal::default(),
            space: Signal::default(),
        };
        MemoryChannel { inner: Arc::new(inner) }
    }

    /// One attempt: the admission decides, this carries it out.
    fn try_put(&self, events: Vec<Event>, may_wait: bool) -> Result<(), (Admission, Vec<Event>)> {
        let inner = &self.inner;
        let cap = inner.capacity;
        let mut q = inner.lock();
        let n = events.len() as u64;
        let bytes: u64 = events.iter().map(|e| e.size() as u64).sum();
        let short = (!q.usage.fits(&cap, n, bytes)).then_some(Refusal::Quota);
        let ceiling = events.iter().map(|e| e.priority).max().unwrap_or_default();
        let evictable = short.is_some() && cap.on_full == OnFull::DropOldest && can_evict(&cap, &q, ceiling, n, bytes);
        let could_ever_fit = n <= cap.max_events && bytes <= cap.max_bytes;
        match admit(cap.on_full, Pressure { short, could_ever_fit, evictable, may_wait }) {
            Admission::Fits => {}
            Admission::Evict => evict(inner, &mut q, ceiling, n, bytes),
            other => return Err((other, events)),
        }
        for event in events {
            let seq = q.next_seq;
            q.next_seq += 1;
            q.usage.add(event.priority, 1, event.size() as u64);
            q.by_priority[event.priority as usize].push_back((seq, event));
        }
        inner.metrics.put_success.add(n);
        inner.publish(&q);
        drop(q);
        inner.data.notify();
        Ok(())
    }
}

/// Whether evicting every event of priority ≤ `ceiling` (never `high`) would make
/// room for `n` events of `bytes`: never evict for nothing.
fn can_evict(cap: &Capacity, q: &Queues, ceiling: Priority, n: u64, bytes: u64) -> bool {
    let (mut free_events, mut free_bytes) = (0u64, 0u64);
    for p in [Priority::Low, Priority::Normal].into_iter().filter(|p| *p <= ceiling) {
        free_events += q.usage.events[p as usize];
        free_bytes += q.usage.bytes[p as usize];
    }
    let after = (q.usage.total_events().saturating_sub(free_events), q.usage.total_bytes().saturating_sub(free_bytes));
    after.0 + n <= cap.max_events && after.1 + bytes <= cap.max_bytes
}

/// Evicts the oldest events of priority ≤ `ceiling` until `n` events of `bytes` fit.
fn evict(inner: &Inner, q: &mut Queues, ceiling: Priority, n: u64, bytes: u64) {
    let cap = &inner.capacity;
    for priority in [Priority::Low, Priority::Normal].into_iter().filter(|p| *p <= ceiling) {
        while !q.usage.fits(cap, n, bytes) {
            let Some((_, old)) = q.by_priority[priority as usize].pop_front() else { break };
            q.usage.sub(priority, 1, old.size() as u64);
            inner.metrics.evicted.add(1);
        }
    }
}

impl Channel for MemoryChannel {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn purge(&self) -> Result<u64> {
        let mut q = self.inner.lock();
        let mut purged = 0u64;
        for priority in Priority::ALL {
            for (_, event) in std::mem::take(&mut q.by_priority[priority as usize]) {
                q.usage.sub(priority, 1, event.size() as u64);
                purged += 1;
            }
        }
        q.purges += 1;
        self.inner.publish(&q);
        drop(q);
        self.inner.space.notify();
        Ok(purged)
    }

    fn put_waiting(&self, mut events: Vec<Event>, _marks: &[Mark], wait: &Wait) -> Result<bool, PutError> {
        let cap = self.inner.capacity;
        loop {
            let seen = self.inner.space.generation();
            let may_wait = wait.may_wait(&cap, Instant::now());
            match self.try_put(events, may_wait) {
                Ok(()) => return Ok(false),
                Err((Admission::Wait, back)) => {
                    events = back;
                    let left = wait.deadline(&cap).saturating_duration_since(Instant::now());
                    self.inner.space.wait_past(seen, left.min(WAIT_SLICE));
                }
                Err((_, back)) => {
                    self.inner.metrics.refused_full.add(back.len() as u64);
                    let error = Error::new(ErrorKind::Full, format!("channel {} is full", self.inner.name));
                    return Err(PutError::new(error, back));
                }
            }
        }
    }

    fn take(&self, max_events: usize, max_bytes: usize) -> Result<Option<Taken>> {
        let mut q = self.inner.lock();
        let mut taken = Vec::new();
        let mut bytes = 0;
        for priority in Priority::ALL.into_iter().rev() {
            while taken.len() < max_events.max(1) {
                let queue = &mut q.by_priority[priority as usize];
                let Some((_, front)) = queue.front() else { break };
                if !taken.is_empty() && bytes + front.size() > max_bytes {
                    break;
                }
                let Some(item) = queue.pop_front() else { break };
                bytes += item.1.size();
                taken.push(item);
            }
        }
        if taken.is_empty() {
            return Ok(None);
        }
        let events = taken.iter().map(|(_, e)| e.clone()).collect();
        let lease = MemoryLease { inner: self.inner.clone(), events: taken, purges: q.purges };
        Ok(Some(Taken { events, lease: Some(Box::new(lease)) }))
    }

    fn commit_prefix(&self, mut taken: Taken, n: usize, quarantine: Vec<Quarantined>) -> Result<()> {
        let lease = taken.lease.take().ok_or_else(|| Error::storage("batch was already committed"))?;
        let mut lease =
            lease.into_any().downcast::<MemoryLease>().map_err(|_| Error::storage("batch is from another channel"))?;
        let rest = lease.events.split_off(n.min(lease.events.len()));
        let mut q = self.inner.lock();
        for (_, e) in &lease.events {
            q.usage.sub(e.priority, 1, e.size() as u64);
        }
        let quarantined: usize = quarantine.iter().map(|q| q.events.len()).sum();
        if quarantined > 0 {
            log::warn!("channel {}: {quarantined} events quarantined (memory channel: not kept)", self.inner.name);
        }
        self.inner.metrics.take_success.add(lease.events.len().saturating_sub(quarantined) as u64);
        self.inner.publish(&q);
        drop(q);
        Box::new(MemoryLease { inner: self.inner.clone(), events: rest, purges: lease.purges }).release();
        self.inner.space.notify();
        Ok(())
    }

    fn wait_for_events(&self, timeout: Duration) -> bool {
        let seen = self.inner.data.generation();
        let available = |c: &Self| c.inner.lock().by_priority.iter().any(|q| !q.is_empty());
        if available(self) {
            return true;
        }
        self.inner.data.wait_past(seen, timeout);
        available(self)
    }

    fn wake(&self) {
        self.inner.data.notify();
    }

    fn metrics(&self) -> &Arc<ChannelMetrics> {
        &self.inner.metrics
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_evicts_for_a_put_that_cannot_fit() -> Result<()> {
        let cap = Capacity { max_events: 4, on_full: OnFull::DropOldest, ..Capacity::default() };
        let channel = MemoryChannel::new("m", cap);
        channel
            .put(vec![Event::new("l1").with_priority(Priority::Low), Event::new("h1").with_priority(Priority::High)])?;
        channel.put(vec![
            Event::new("h2").with_priority(Priority::High),
            Event::new("h3").with_priority(Priority::High),
        ])?;
        let big: Vec<Event> = (0..4).map(|_| Event::new("n")).collect();
        assert!(channel.put(big).is_err(), "3 high events leave no room for 4");
        assert_eq!(channel.metrics().evicted.get(), 0, "the low event was not evicted for nothing");
        channel.put(vec![Event::new("n")])?;
        assert_eq!(channel.metrics().evicted.get(), 1);
        Ok(())
    }

    #[test]
    fn a_batch_taken_before_a_purge_is_dropped_when_given_back() {
        let channel = MemoryChannel::new("m", Capacity::default());
        let events = |n: usize| (0..n).map(|i| Event::new(format!("e{i}"))).collect::<Vec<_>>();
        channel.put(events(5)).unwrap();
        let out = channel.take(2, usize::MAX).unwrap().unwrap();
        assert_eq!(channel.purge().unwrap(), 3);
        channel.rollback(out);
        assert_eq!(channel.metrics().size.get(), 0);
        channel.put(events(2)).unwrap();
        let out = channel.take(2, usize::MAX).unwrap().unwrap();
        channel.rollback(out);
        assert_eq!(channel.metrics().size.get(), 2, "taken after the purge: back as usual");
    }
}
