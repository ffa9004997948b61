//! The open connections and what each is doing, so that at `max_connections`
//! a new client is served by closing a connection that is doing nothing for
//! anyone: the longest idle first (a keep-alive between requests, or a socket
//! that never sent a byte), then the oldest whose request head has been
//! trickling in for longer than a real client takes. A flood of idle sockets
//! then costs its sender its own connections, not the clients their service.

use smol::channel::{Receiver, Sender};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A head in progress for longer than this is a slow sender, not a client on
/// a working network (a head is one packet), and may be closed for a new client.
pub(super) const HEAD_GRACE: Duration = Duration::from_secs(1);

/// What a connection is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Waiting for the first byte of a request (new, or kept alive between requests).
    Idle,
    /// Receiving a request's head.
    Head,
    /// Receiving a body, or handling a request: not closed for others.
    Busy,
}

#[derive(Debug)]
struct Entry {
    phase: Phase,
    since: Instant,
    close: Sender<()>,
}

/// The connection table of one server.
#[derive(Debug)]
pub(super) struct Conns {
    max: usize,
    table: Mutex<(u64, BTreeMap<u64, Entry>)>,
}

/// A place in the table; given back when dropped.
#[derive(Debug)]
pub(super) struct Place {
    conns: Arc<Conns>,
    id: u64,
    closed: Receiver<()>,
}

impl Conns {
    /// A table of at most `max` connections.
    pub fn new(max: usize) -> Arc<Conns> {
        Arc::new(Conns { max: max.max(1), table: Mutex::new((0, BTreeMap::new())) })
    }

    /// A place for a new connection, closing another one if the table is full
    /// and [`victim`] finds one; `None` when every connection is busy.
    pub fn admit(self: &Arc<Self>) -> Option<Place> {
        let mut guard = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let (next, table) = &mut *guard;
        if table.len() >= self.max {
            let now = Instant::now();
            let id = victim(table.iter().map(|(id, e)| (*id, e.phase, now.saturating_duration_since(e.since))))?;
            // Out of the table at once: it no longer counts, even before its task ends.
            if let Some(entry) = table.remove(&id) {
                let _ = entry.close.try_send(());
            }
        }
        let (close, closed) = smol::channel::bounded(1);
        let id = *next;
        *next += 1;
        table.insert(id, Entry { phase: Phase::Idle, since: Instant::now(), close });
        Some(Place { conns: self.clone(), id, closed })
    }
}

impl Place {
    /// The connection moves to `phase`.
    pub fn set(&self, phase: Phase) {
        let mut guard = self.conns.table.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = guard.1.get_mut(&self.id) {
            entry.phase = phase;
            entry.since = Instant::now();
        }
    }

    /// Resolves when the connection was closed for a new client.
    pub async fn evicted(&self) {
        let _ = self.closed.recv().await;
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.conns.table.lock().unwrap_or_else(|p| p.into_inner()).1.remove(&self.id);
    }
}

/// The connection to close for a new one: the longest idle, else the oldest
/// head in progress past [`HEAD_GRACE`]; `None` when all are busy. A pure
/// function of (id, phase, time in phase).
pub(super) fn victim(entries: impl Iterator<Item = (u64, Phase, Duration)>) -> Option<u64> {
    let rank = |phase: Phase, age: Duration| match phase {
        Phase::Idle => Some(0),
        Phase::Head if age > HEAD_GRACE => Some(1),
        _ => None,
    };
    entries
        .filter_map(|(id, phase, age)| rank(phase, age).map(|r| (r, std::cmp::Reverse(age), id)))
        .min()
        .map(|(_, _, id)| id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What, the connections (id, phase, time in phase), the victim.
    type Row = (&'static str, Vec<(u64, Phase, Duration)>, Option<u64>);

    #[test]
    fn victim_table() {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        let rows: &[Row] = &[
            ("all busy", vec![(1, Phase::Busy, s(60)), (2, Phase::Busy, s(1))], None),
            (
                "the longest idle",
                vec![(1, Phase::Idle, s(5)), (2, Phase::Idle, s(9)), (3, Phase::Busy, s(99))],
                Some(2),
            ),
            ("idle before a slow head", vec![(1, Phase::Head, s(9)), (2, Phase::Idle, ms(1))], Some(2)),
            (
                "a slow head when none is idle",
                vec![(1, Phase::Head, s(3)), (2, Phase::Head, s(7)), (3, Phase::Busy, s(1))],
                Some(2),
            ),
            ("a head within its grace is a client", vec![(1, Phase::Head, ms(200)), (2, Phase::Busy, s(1))], None),
        ];
        for (what, entries, want) in rows {
            assert_eq!(victim(entries.iter().copied()), *want, "{what}");
        }
    }

    #[test]
    fn a_full_table_closes_its_idle_connection_for_a_new_one() {
        let conns = Conns::new(2);
        let idle = conns.admit();
        let busy = conns.admit();
        assert!(idle.is_some() && busy.is_some());
        if let Some(b) = &busy {
            b.set(Phase::Busy);
        }
        let new = conns.admit();
        assert!(new.is_some(), "served by closing the idle one");
        assert!(idle.is_some_and(|p| p.closed.try_recv().is_ok()), "which is told to close");
        if let Some(n) = &new {
            n.set(Phase::Busy);
        }
        assert!(conns.admit().is_none(), "all busy: refused");
    }
}
