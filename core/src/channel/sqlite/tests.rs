//! The SQLite channel against a model, plus its capacity policies and recovery.

use super::*;
use crate::channel::{Channel, OnFull, Quarantined, Taken};
use crate::event::{Event, EventId, Priority};
use proptest::prelude::*;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

fn open(dir: &Path, capacity: Capacity) -> Result<SqliteChannel> {
    Store::open(dir, false)?.channel("main", capacity)
}

fn events(n: usize, priority: Priority) -> Vec<Event> {
    (0..n).map(|i| Event::new(format!("line {i} GET /index.html 200")).with_priority(priority)).collect()
}

fn ids(events: &[Event]) -> Vec<EventId> {
    events.iter().map(|e| e.id).collect()
}

#[derive(Debug, Clone)]
enum Op {
    Put(usize, Priority),
    Take(usize),
    Commit,
    Rollback,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    let priority = prop_oneof![Just(Priority::Low), Just(Priority::Normal), Just(Priority::High)];
    prop_oneof![
        4 => (1usize..20, priority).prop_map(|(n, p)| Op::Put(n, p)),
        3 => (1usize..30).prop_map(Op::Take),
        2 => Just(Op::Commit),
        1 => Just(Op::Rollback),
        1 => Just(Op::Reopen),
    ]
}

/// The model: one FIFO per priority; a take leases the first events in
/// priority order; commit removes them, rollback and reopen give them back.
#[derive(Default)]
struct Model {
    queues: [VecDeque<EventId>; 3],
}

impl Model {
    fn order(&self) -> Vec<EventId> {
        Priority::ALL.iter().rev().flat_map(|p| self.queues[*p as usize].iter().copied()).collect()
    }
    fn remove(&mut self, taken: &[EventId]) {
        for q in &mut self.queues {
            q.retain(|id| !taken.contains(id));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn behaves_like_the_model(ops in proptest::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let cap = Capacity::default();
        let mut channel = open(dir.path(), cap).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut model = Model::default();
        let mut outstanding: Option<Taken> = None;
        for op in ops {
            match op {
                Op::Put(n, p) => {
                    let batch = events(n, p);
                    model.queues[p as usize].extend(ids(&batch));
                    channel.put(batch).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
                }
                Op::Take(k) => {
                    if outstanding.is_some() { continue; }
                    let taken = channel.take(k, usize::MAX).map_err(|e| TestCaseError::fail(e.to_string()))?;
                    let got = taken.as_ref().map(|t| ids(&t.events)).unwrap_or_default();
                    let want: Vec<EventId> = model.order().into_iter().take(k).collect();
                    // A take may stop at a row boundary of a lower priority, never reorder.
                    prop_assert!(want.starts_with(&got) && !got.is_empty() || want.is_empty() && got.is_empty(), "got {got:?} want {want:?}");
                    outstanding = taken;
                }
                Op::Commit => if let Some(t) = outstanding.take() {
                    let taken_ids = ids(&t.events);
                    channel.commit(t, Vec::new()).map_err(|e| TestCaseError::fail(e.to_string()))?;
                    model.remove(&taken_ids);
                },
                Op::Rollback => if let Some(t) = outstanding.take() { channel.rollback(t) },
                Op::Reopen => {
                    if let Some(t) = outstanding.take() { std::mem::forget(t) }
                    drop(channel);
                    channel = open(dir.path(), cap).map_err(|e| TestCaseError::fail(e.to_string()))?;
                }
            }
            let expected = model.order().len() as u64;
            let leased = outstanding.as_ref().map_or(0, |t| t.events.len() as u64);
            prop_assert_eq!(channel.metrics().size.get(), expected, "size gauge (leased {})", leased);
        }
        drop(outstanding);
        let everything = channel.take(usize::MAX, usize::MAX).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(everything.map(|t| ids(&t.events)).unwrap_or_default(), model.order());
    }
}

#[test]
fn rollback_restores_order_with_two_takers() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let channel = open(dir.path(), Capacity::default())?;
    let (a, b) = (events(3, Priority::Normal), events(3, Priority::Normal));
    let all: Vec<EventId> = ids(&a).into_iter().chain(ids(&b)).collect();
    channel.put(a)?;
    channel.put(b)?;
    let first = channel.take(3, usize::MAX)?.ok_or_else(|| Error::storage("empty"))?;
    let second = channel.take(3, usize::MAX)?.ok_or_else(|| Error::storage("empty"))?;
    channel.rollback(first);
    channel.rollback(second);
    let again = channel.take(10, usize::MAX)?.map(|t| ids(&t.events));
    assert_eq!(again, Some(all));
    Ok(())
}

#[test]
fn put_returning_hands_back_what_it_stored() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let channel = open(dir.path(), Capacity { max_events: 5, on_full: OnFull::Reject, ..Capacity::default() })?;
    let batch = events(4, Priority::Normal);
    let expected = ids(&batch);
    let back = channel.put_returning(batch)?;
    assert_eq!(ids(&back), expected);
    let refused = channel.put_returning(events(2, Priority::Normal)).err().ok_or_else(|| Error::storage("accepted"))?;
    assert_eq!(refused.events.len(), 2);
    let stored = channel.take(10, usize::MAX)?.map(|t| ids(&t.events));
    assert_eq!(stored, Some(expected));
    Ok(())
}

#[test]
fn on_full_policies() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), false)?;
    let small =
        |on_full| Capacity { max_events: 10, on_full, block_timeout: Duration::from_millis(50), ..Capacity::default() };
    let reject = store.channel("reject", small(OnFull::Reject))?;
    reject.put(events(10, Priority::Normal))?;
    let refused = reject.put(events(2, Priority::Normal)).err().ok_or_else(|| Error::storage("accepted"))?;
    assert!(refused.is_full());
    assert_eq!(refused.events.len(), 2, "the batch comes back");
    assert_eq!(reject.metrics().refused_full.get(), 2);

    let block = store.channel("block", small(OnFull::Block))?;
    block.put(events(10, Priority::Normal))?;
    let started = Instant::now();
    assert!(block.put(events(1, Priority::Normal)).is_err());
    assert!(started.elapsed() >= Duration::from_millis(50), "waited for space");

    let drop_oldest = store.channel("drop", small(OnFull::DropOldest))?;
    let (low, normal, high) = (events(4, Priority::Low), events(3, Priority::Normal), events(3, Priority::High));
    let normal_ids = ids(&normal);
    let high_ids = ids(&high);
    drop_oldest.put(low)?;
    drop_oldest.put(normal)?;
    drop_oldest.put(high)?;
    drop_oldest.put(events(5, Priority::High))?;
    assert_eq!(drop_oldest.metrics().evicted.get(), 5, "4 low, then 1 normal");
    let left = drop_oldest.take(100, usize::MAX)?.map(|t| ids(&t.events)).unwrap_or_default();
    assert_eq!(left.len(), 10);
    assert_eq!(&left[..3], &high_ids[..]);
    assert_eq!(&left[8..], &normal_ids[1..], "the oldest normal went first");
    // A low event cannot push out normal ones.
    drop(left);
    assert!(drop_oldest.put(events(1, Priority::Low)).is_err());
    let report = admin::inspect(dir.path())?;
    let evicted: u64 = report.losses.iter().filter(|l| l.reason == "evicted").map(|l| l.events).sum();
    assert_eq!(evicted, 5, "evictions are persisted by reason");
    Ok(())
}

#[test]
fn only_high_left_refuses_at_the_door() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let cap = Capacity { max_events: 3, on_full: OnFull::DropOldest, ..Capacity::default() };
    let channel = open(dir.path(), cap)?;
    channel.put(events(3, Priority::High))?;
    assert!(channel.put(events(1, Priority::High)).is_err());
    assert_eq!(channel.metrics().evicted.get(), 0);
    Ok(())
}

#[test]
fn partial_takes_and_quarantine_survive_reopen() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let channel = open(dir.path(), Capacity::default())?;
    let batch = events(10, Priority::Normal);
    let all = ids(&batch);
    channel.put(batch)?;
    let t = channel.take(4, usize::MAX)?.ok_or_else(|| Error::storage("empty"))?;
    let bad = vec![Quarantined { sink: "up".into(), events: t.events[..1].to_vec(), reason: "400 bad event".into() }];
    channel.commit(t, bad)?;
    drop(channel);
    let channel = open(dir.path(), Capacity::default())?;
    assert_eq!(channel.metrics().size.get(), 6);
    assert_eq!(channel.take(100, usize::MAX)?.map(|t| ids(&t.events)), Some(all[4..].to_vec()));
    let q = admin::quarantine_list(dir.path())?;
    assert_eq!((q.len(), q[0].reason.as_str(), q[0].events), (1, "400 bad event", 1));
    Ok(())
}

#[test]
fn max_age_expires_and_counts() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let cap = Capacity { max_age: Some(Duration::from_millis(1)), ..Capacity::default() };
    let channel = open(dir.path(), cap)?;
    channel.put(events(5, Priority::High))?;
    std::thread::sleep(Duration::from_millis(5));
    assert!(channel.take(10, usize::MAX)?.is_none());
    assert_eq!(channel.metrics().expired.get(), 5);
    Ok(())
}

#[test]
fn corrupt_file_is_set_aside() -> Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join(schema::FILE_NAME), b"this is not a database, it is a sandwich".repeat(200))?;
    let store = Store::open(dir.path(), false)?;
    assert!(store.set_aside().is_some_and(|p| p.exists()));
    let channel = store.channel("main", Capacity::default())?;
    channel.put(events(1, Priority::Normal))?;
    assert_eq!(admin::inspect(dir.path())?.set_aside.len(), 1);
    Ok(())
}

#[test]
fn files_are_private() -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let _store = Store::open(&data, false)?;
    assert_eq!(std::fs::metadata(&data)?.permissions().mode() & 0o777, 0o700);
    assert_eq!(std::fs::metadata(data.join(schema::FILE_NAME))?.permissions().mode() & 0o777, 0o600);
    Ok(())
}

#[test]
fn disk_full_pushes_back_and_recovers() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), false)?;
    let channel = store.channel("main", Capacity { on_full: OnFull::Reject, ..Capacity::default() })?;
    let pages: i64 = store.lock().conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    store.lock().conn.pragma_update(None, "max_page_count", pages + 3)?;
    let big = |n| (0..n).map(|i| Event::new(format!("{i:08}").repeat(2000))).collect::<Vec<_>>();
    let mut accepted = 0;
    let refused = loop {
        match channel.put(big(20)) {
            Ok(()) => accepted += 20,
            Err(e) => break e,
        }
    };
    assert!(refused.is_full(), "{:?}", refused.error);
    assert_eq!(refused.error.kind(), ErrorKind::DiskFull);
    assert_eq!(channel.metrics().size.get(), accepted);
    store.lock().conn.pragma_update(None, "max_page_count", 1_000_000)?;
    channel.put(refused.events)?;
    assert_eq!(channel.metrics().size.get(), accepted + 20);
    Ok(())
}

#[test]
fn byte_limit_keeps_fifo_across_rows() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let channel = open(dir.path(), Capacity::default())?;
    let a = vec![Event::new(vec![b'a'; 200]), Event::new(vec![b'b'; 900])];
    let b = vec![Event::new(vec![b'c'; 100])];
    let order: Vec<EventId> = ids(&a).into_iter().chain(ids(&b)).collect();
    channel.put(a)?;
    channel.put(b)?;
    let first = channel.take(100, 1000)?.ok_or_else(|| Error::storage("empty"))?;
    assert_eq!(ids(&first.events), order[..1], "the next row waits while this one is unfinished");
    channel.commit(first, Vec::new())?;
    let rest = channel.take(100, usize::MAX)?.map(|t| ids(&t.events));
    assert_eq!(rest, Some(order[1..].to_vec()));
    Ok(())
}

#[test]
fn expiry_frees_space_for_puts_without_takes() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let cap = Capacity {
        max_events: 2,
        on_full: OnFull::Reject,
        max_age: Some(Duration::from_millis(1)),
        ..Capacity::default()
    };
    let channel = open(dir.path(), cap)?;
    channel.put(events(2, Priority::Normal))?;
    std::thread::sleep(Duration::from_millis(1100));
    channel.put(events(2, Priority::Normal))?;
    assert_eq!(channel.metrics().expired.get(), 2);
    Ok(())
}

/// Finds a page in the middle of an overflow chain: its next pointer and the
/// next page's both point one page on (a fresh file lays chains out in order).
fn middle_of_a_chain(file: &[u8], page_size: usize) -> Option<usize> {
    let next = |p: usize| {
        file.get((p - 1) * page_size..)
            .and_then(|b| b.get(..4))
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    (3..file.len() / page_size)
        .find(|&p| next(p) == Some(p + 1) && next(p + 1) == Some(p + 2) && next(p + 2) == Some(p + 3))
        .map(|p| p + 1)
}

#[test]
fn damage_found_while_running_is_salvaged_and_counted() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), false)?;
    let channel = store.channel("main", Capacity::default())?;
    let (before, after) = (events(5, Priority::Normal), events(5, Priority::Normal));
    let big: Vec<Event> =
        (0..20).map(|_| Event::new((0..10_000).map(|_| fastrand::alphanumeric()).collect::<String>())).collect();
    let readable: Vec<EventId> = ids(&before).into_iter().chain(ids(&after)).collect();
    channel.put(before)?;
    channel.put(big)?;
    channel.put(after)?;
    store.lock().conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    let path = dir.path().join(schema::FILE_NAME);
    let mut file = std::fs::read(&path)?;
    let page =
        middle_of_a_chain(&file, schema::GATEWAY_PAGE_SIZE as usize).ok_or_else(|| Error::storage("no chain"))?;
    let at = (page - 1) * schema::GATEWAY_PAGE_SIZE as usize;
    file[at..at + 4].copy_from_slice(&[0xff, 0xff, 0xff, 0x00]);
    std::fs::write(&path, &file)?;
    // Forget the cached pages: the next read goes to the damaged file.
    store.lock().conn.execute_batch("PRAGMA shrink_memory")?;

    let taken = channel.take(100, usize::MAX)?.ok_or_else(|| Error::storage("nothing taken"))?;
    assert_eq!(ids(&taken.events), readable, "the rows around the damaged one");
    channel.commit(taken, Vec::new())?;
    assert_eq!(channel.metrics().corrupt.get(), 20);
    assert_eq!(channel.metrics().size.get(), 0);
    let report = admin::inspect(dir.path())?;
    let corrupt: u64 = report.losses.iter().filter(|l| l.reason == "corrupt").map(|l| l.events).sum();
    assert_eq!(corrupt, 20, "the loss is persisted");
    assert_eq!(report.set_aside.len(), 1, "the damaged file is kept aside");
    // The store goes on: a put and a take after the salvage.
    channel.put(events(3, Priority::High))?;
    assert_eq!(channel.take(10, usize::MAX)?.map(|t| t.events.len()), Some(3));
    Ok(())
}

/// `dedup`'s ids: remembered with the put that stored them, refused as
/// Duplicate when remembered within the window, forgotten after it, and a
/// failed put remembers nothing.
#[test]
fn seen_ids_ride_with_the_put() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), false)?;
    let channel = store.channel("main", Capacity::default())?;
    let seen =
        |ids: &[u128], window_ms: u64| Mark::Seen { source: "in".into(), ids: ids.to_vec(), window_ms, max_ids: 100 };
    let hour = 3_600_000;
    channel.put_marked(events(2, Priority::Normal), &[seen(&[1, 2], hour)]).map_err(|e| e.error)?;
    assert_eq!(store.seen("in", &[1, 2, 3], hour)?, [true, true, false]);
    assert_eq!(store.seen("other", &[1], hour)?, [false], "ids are per source");
    // Id 2 again: the whole put is refused, and id 3 of it is not remembered.
    let refused = channel.put_marked(events(2, Priority::Normal), &[seen(&[3, 2], hour)]);
    assert_eq!(refused.err().map(|e| e.error.kind()), Some(ErrorKind::Duplicate));
    assert_eq!(store.seen("in", &[3], hour)?, [false]);
    let stored = channel.take(100, usize::MAX)?.map_or(0, |t| t.events.len());
    assert_eq!(stored, 2, "the refused put stored nothing");
    // Outside a window of 0 ms the old entry no longer counts, and is replaced.
    std::thread::sleep(Duration::from_millis(5));
    channel.put_marked(events(1, Priority::Normal), &[seen(&[2], 1)]).map_err(|e| e.error)?;
    assert_eq!(store.seen_count("in")?, 1, "entries older than the window are forgotten");
    // Beyond max_ids the oldest go (checked once a second per source: first time now).
    let capped = Mark::Seen { source: "capped".into(), ids: vec![7, 8, 9], window_ms: hour, max_ids: 2 };
    channel.put_marked(events(3, Priority::Normal), &[capped]).map_err(|e| e.error)?;
    assert_eq!(store.seen_count("capped")?, 2, "max_ids bounds what is remembered");
    Ok(())
}

#[test]
fn a_purge_deletes_every_priority_but_what_a_sink_holds_and_counts_it() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let channel = open(dir.path(), Capacity::default())?;
    channel.put(events(3, Priority::Normal))?;
    let held = channel.take(3, usize::MAX)?.ok_or_else(|| Error::storage("nothing taken"))?;
    channel.put(events(4, Priority::Low))?;
    channel.put(events(5, Priority::High))?;
    assert_eq!(channel.purge()?, 9, "low and high go; the batch a sink holds stays");
    assert_eq!(channel.metrics().size.get(), 3);
    // The held batch commits as usual, and a rolled-back one would come back.
    channel.commit(held, Vec::new())?;
    assert_eq!(channel.metrics().size.get(), 0);
    assert!(channel.take(10, usize::MAX)?.is_none());
    let purged: i64 =
        channel
            .store()
            .lock()
            .conn
            .query_row("SELECT SUM(events) FROM losses WHERE reason = 'purged'", [], |r| r.get(0))?;
    assert_eq!(purged, 9, "purged events are counted as losses for inspect");
    // Gone after a reopen too.
    drop(channel);
    let reopened = open(dir.path(), Capacity::default())?;
    assert!(reopened.take(10, usize::MAX)?.is_none());
    assert_eq!(reopened.purge()?, 0);
    Ok(())
}

#[test]
fn a_batch_taken_before_a_purge_is_deleted_when_given_back_not_delivered_later() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let channel = open(dir.path(), Capacity::default())?;
    channel.put(events(4, Priority::Normal))?;
    let out = channel.take(10, usize::MAX)?.ok_or_else(|| Error::storage("nothing taken"))?;
    assert_eq!(channel.purge()?, 0, "the batch is out at a sink");
    channel.rollback(out);
    assert_eq!(channel.metrics().size.get(), 0, "given back after the purge: deleted");
    assert!(channel.take(10, usize::MAX)?.is_none());

    // Delivered in part after a purge: the part not delivered goes too.
    channel.put(events(6, Priority::Normal))?;
    let out = channel.take(10, usize::MAX)?.ok_or_else(|| Error::storage("nothing taken"))?;
    channel.purge()?;
    channel.commit_prefix(out, 2, Vec::new())?;
    assert_eq!(channel.metrics().size.get(), 0);
    assert!(channel.take(10, usize::MAX)?.is_none());

    // A batch taken after the purge comes back as usual.
    channel.put(events(3, Priority::Normal))?;
    let out = channel.take(10, usize::MAX)?.ok_or_else(|| Error::storage("nothing taken"))?;
    channel.rollback(out);
    assert_eq!(channel.metrics().size.get(), 3);
    Ok(())
}
