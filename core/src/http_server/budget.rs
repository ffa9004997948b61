//! The in-flight body budget: bytes of request bodies held at once across all
//! connections, so that many connections each sending most of a large body
//! cannot take memory without bound.
//!
//! A body takes budget as its bytes arrive. When a request needs more than is
//! left, bodies still being received that announced more than it did give
//! theirs back, those holding most first: their connections are answered 503
//! and closed. Small requests are never starved by large ones; a request no
//! larger one can make way for gets a 503 itself, at its first byte that does
//! not fit (so a flood of equal large bodies costs one body each, not a body
//! read to the end). A body that arrived whole and went to the handler is no
//! longer pre-empted.
//!
//! An eighth of the budget is kept for small bodies (a sixteenth of that or
//! less, 256 KiB of the default 32 MiB): large bodies fill the rest, so a
//! client's ordinary batch neither waits for nor pre-empts stalled large
//! uploads, and large senders cannot make the agent read body after body only
//! to drop them.

use smol::channel::{Receiver, Sender};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The budget shared by one server's connections.
#[derive(Debug)]
pub(super) struct Budget {
    limit: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    used: usize,
    next: u64,
    holders: BTreeMap<u64, Holder>,
}

#[derive(Debug)]
struct Holder {
    bytes: usize,
    /// The body's announced length (`max_body` when chunked: unknown).
    declared: usize,
    /// Still being received (pre-emptible), not yet handed to the handler.
    receiving: bool,
    preempt: Sender<()>,
}

/// One request's share of the budget; given back when dropped.
#[derive(Debug)]
pub(super) struct Lease {
    budget: Arc<Budget>,
    id: u64,
    preempted: Receiver<()>,
}

/// What a request asked of the budget and could not get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Exhausted {
    /// The budget's size.
    pub limit: usize,
}

impl Budget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Arc<Budget> {
        Arc::new(Budget { limit, state: Mutex::new(State::default()) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A lease of no bytes yet, for a body announced as `declared` bytes long.
    ///
    /// # Errors
    /// [`Exhausted`] when the whole body could not fit even by pre-empting: it is
    /// refused before a byte of it is read.
    pub fn lease(self: &Arc<Self>, declared: usize) -> Result<Lease, Exhausted> {
        let (preempt, preempted) = smol::channel::bounded(1);
        let mut state = self.lock();
        let limit = usable(self.limit, declared);
        if state.used + declared > limit {
            let holders: Vec<Candidate> = state
                .holders
                .values()
                .filter(|h| h.receiving)
                .map(|h| Candidate { id: 0, bytes: h.bytes, declared: h.declared })
                .collect();
            if victims(&holders, declared, state.used + declared - limit).is_none() {
                return Err(Exhausted { limit: self.limit });
            }
        }
        let id = state.next;
        state.next += 1;
        state.holders.insert(id, Holder { bytes: 0, declared, receiving: true, preempt });
        Ok(Lease { budget: self.clone(), id, preempted })
    }
}

impl Lease {
    /// Takes `more` bytes for this body, pre-empting larger bodies if it must.
    ///
    /// # Errors
    /// [`Exhausted`] when even pre-empting cannot make room.
    pub fn grow(&self, more: usize) -> Result<(), Exhausted> {
        let mut state = self.budget.lock();
        let (held, declared) = state.holders.get(&self.id).map_or((0, 0), |h| (h.bytes, h.declared));
        let mine = held + more;
        let limit = usable(self.budget.limit, declared);
        if state.used + more > limit {
            let holders: Vec<Candidate> = state
                .holders
                .iter()
                .filter(|(id, h)| **id != self.id && h.receiving)
                .map(|(id, h)| Candidate { id: *id, bytes: h.bytes, declared: h.declared })
                .collect();
            let need = state.used + more - limit;
            let Some(victims) = victims(&holders, declared.max(mine), need) else {
                return Err(Exhausted { limit: self.budget.limit });
            };
            let state = &mut *state;
            for id in victims {
                if let Some(h) = state.holders.get_mut(&id) {
                    state.used -= h.bytes;
                    h.bytes = 0;
                    h.receiving = false;
                    let _ = h.preempt.try_send(());
                }
            }
        }
        state.used += more;
        if let Some(h) = state.holders.get_mut(&self.id) {
            h.bytes = mine;
        }
        Ok(())
    }

    /// The body arrived whole: it is no longer pre-empted for others.
    pub fn settle(&self) {
        if let Some(h) = self.budget.lock().holders.get_mut(&self.id) {
            h.receiving = false;
        }
    }

    /// Resolves when a larger request's need took this body's budget.
    pub async fn preempted(&self) {
        let _ = self.preempted.recv().await;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut state = self.budget.lock();
        if let Some(h) = state.holders.remove(&self.id) {
            state.used -= h.bytes;
        }
    }
}

/// How much of a budget of `limit` bytes a body announced as `declared` may
/// fill: all of it for small bodies, all but the small bodies' share for large
/// ones. A pure function.
pub(super) fn usable(limit: usize, declared: usize) -> usize {
    let small_share = limit / 8;
    if declared <= small_share / 16 {
        limit
    } else {
        limit - small_share
    }
}

/// A body that could give its budget back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Candidate {
    /// Its lease.
    pub id: u64,
    /// Bytes it holds.
    pub bytes: usize,
    /// Bytes it announced.
    pub declared: usize,
}

/// The bodies to pre-empt so that `need` bytes come free for a body announced
/// as `mine` bytes: only bodies announced larger than it, those holding most
/// first. `None` when they do not free enough. A pure function.
pub(super) fn victims(candidates: &[Candidate], mine: usize, need: usize) -> Option<Vec<u64>> {
    let mut larger: Vec<&Candidate> = candidates.iter().filter(|c| c.declared > mine).collect();
    larger.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.id.cmp(&b.id)));
    let mut freed = 0;
    let mut out = Vec::new();
    for c in larger {
        if freed >= need {
            break;
        }
        freed += c.bytes;
        out.push(c.id);
    }
    (freed >= need).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What, the candidates, the requester's bytes, the bytes needed, the victims.
    type Row = (&'static str, Vec<Candidate>, usize, usize, Option<Vec<u64>>);

    #[test]
    fn victims_table() {
        // Holding `bytes` of an announced 1000, except where said.
        let c = |id, bytes| Candidate { id, bytes, declared: 1000 };
        let rows: &[Row] = &[
            ("nothing needed", vec![c(1, 100)], 10, 0, Some(vec![])),
            ("the one holding most goes first", vec![c(1, 100), c(2, 300), c(3, 200)], 10, 150, Some(vec![2])),
            ("as many as it takes", vec![c(1, 100), c(2, 300), c(3, 200)], 10, 450, Some(vec![2, 3])),
            ("never one announced no larger than the requester", vec![c(1, 900)], 1000, 50, None),
            (
                "only those announced larger",
                vec![Candidate { id: 1, bytes: 500, declared: 500 }, c(2, 400)],
                600,
                300,
                Some(vec![2]),
            ),
            ("not enough to free", vec![c(1, 100)], 10, 150, None),
        ];
        for (what, candidates, mine, need, want) in rows {
            assert_eq!(victims(candidates, *mine, *need), *want, "{what}");
        }
    }

    fn lease(budget: &Arc<Budget>, declared: usize) -> Lease {
        budget.lease(declared).unwrap_or_else(|e| panic!("{declared}: {e:?}"))
    }

    #[test]
    fn small_bodies_have_a_share_large_ones_cannot_take() {
        let mib = 1 << 20;
        assert_eq!(usable(32 * mib, 256 << 10), 32 * mib, "a small body may use it all");
        assert_eq!(usable(32 * mib, (256 << 10) + 1), 28 * mib, "a large one all but an eighth");
        let budget = Budget::new(32 * mib);
        let large = lease(&budget, 16 * mib);
        assert_eq!(large.grow(16 * mib), Ok(()));
        assert_eq!(budget.lease(16 * mib).err(), Some(Exhausted { limit: 32 * mib }), "refused before it is read");
        let other = lease(&budget, 12 * mib);
        assert_eq!(other.grow(12 * mib), Ok(()));
        let small = lease(&budget, 200 << 10);
        assert_eq!(small.grow(200 << 10), Ok(()), "a client's batch fits without pre-empting");
        assert!(large.preempted.try_recv().is_err() && other.preempted.try_recv().is_err());
    }

    #[test]
    fn a_small_request_preempts_a_stalled_large_one() {
        let budget = Budget::new(16_000);
        let large = lease(&budget, 14_000);
        assert_eq!(large.grow(14_000), Ok(()));
        let small: Vec<Lease> = (0..16).map(|_| lease(&budget, 125)).collect();
        assert!(small.iter().all(|l| l.grow(125).is_ok()), "the small share holds them");
        assert!(large.preempted.try_recv().is_err());
        let one_more = lease(&budget, 125);
        assert_eq!(one_more.grow(125), Ok(()), "the large body gives way");
        assert!(large.preempted.try_recv().is_ok(), "and is told so");
        drop((large, small, one_more));
        assert_eq!(budget.lock().used, 0, "dropped leases give their bytes back");
    }

    #[test]
    fn a_body_handed_to_the_handler_is_not_preempted() {
        let budget = Budget::new(1000);
        let whole = lease(&budget, 600);
        assert_eq!(whole.grow(600), Ok(()));
        whole.settle();
        let receiving = lease(&budget, 100);
        assert_eq!(receiving.grow(100), Ok(()));
        assert_eq!(budget.lease(400).err(), Some(Exhausted { limit: 1000 }));
        assert!(whole.preempted.try_recv().is_err());
    }

    #[test]
    fn equal_large_bodies_do_not_preempt_each_other() {
        let budget = Budget::new(1000);
        let first = lease(&budget, 800);
        assert_eq!(first.grow(700), Ok(()));
        assert_eq!(budget.lease(800).err(), Some(Exhausted { limit: 1000 }), "refused at once, not read at all");
        assert!(first.preempted.try_recv().is_err());
    }
}
