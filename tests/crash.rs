use sluice::channel::{Capacity, Channel, Store};
use sluice_tests::test_bin;
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

/// What the child's log says about each event id.
#[derive(Default)]
struct Ledger {
    put_committed: HashSet<String>,
    put_maybe: HashSet<String>,
    take_committed: HashSet<String>,
    take_maybe: HashSet<String>,
}

impl Ledger {
    fn read(&mut self, log: &str) {
        let mut pending: Vec<String> = Vec::new();
        let mut pending_take: Vec<String> = Vec::new();
        for line in log.lines() {
            let mut words = line.split_whitespace();
            match words.next() {
                Some("p") => {
                    pending = words.map(String::from).collect();
                    self.put_maybe.extend(pending.iter().cloned());
                }
                Some("P") => self.put_committed.extend(pending.drain(..)),
                Some("t") => {
                    pending_take = words.map(String::from).collect();
                    self.take_maybe.extend(pending_take.iter().cloned());
                }
                Some("T") => {
                    for id in pending_take.drain(..) {
                        self.take_maybe.remove(&id);
                        self.take_committed.insert(id);
                    }
                }
                Some("R") => {
                    for id in pending_take.drain(..) {
                        self.take_maybe.remove(&id);
                    }
                }
                _ => {}
            }
        }
    }
}

#[test]
fn sigkill_loop_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut ledger = Ledger::default();
    for round in 0..50u64 {
        let mut child = Command::new(test_bin("channel-crash-child"))
            .arg(dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn child: {e}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let reader = std::thread::spawn(move || {
            let mut log = String::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                log.push_str(&line);
                log.push('\n');
            }
            log
        });
        std::thread::sleep(Duration::from_millis(80 + (round * 37) % 170));
        let _ = child.kill();
        let _ = child.wait();
        let log = reader.join().unwrap_or_default();
        ledger.read(&log);
        check_store(dir.path(), &mut ledger, round);
    }
    assert!(ledger.take_committed.len() > 100, "the loop exercised takes ({} committed)", ledger.take_committed.len());
}

fn check_store(dir: &std::path::Path, ledger: &mut Ledger, round: u64) {
    let channel = Store::open(dir, false)
        .and_then(|s| s.channel("main", Capacity::default()))
        .unwrap_or_else(|e| panic!("reopen: {e}"));
    let taken = channel.take(usize::MAX, usize::MAX).unwrap_or_else(|e| panic!("take: {e}"));
    let mut seen: HashMap<String, usize> = HashMap::new();
    for e in taken.iter().flat_map(|t| t.events.iter()) {
        *seen.entry(e.id.to_string()).or_default() += 1;
    }
    if let Some(t) = taken {
        channel.rollback(t);
    }
    // A take the kill interrupted either committed (its events are gone) or rolled back.
    for id in std::mem::take(&mut ledger.take_maybe) {
        if !seen.contains_key(&id) {
            ledger.take_committed.insert(id);
        }
    }
    for (id, count) in &seen {
        assert_eq!(*count, 1, "round {round}: {id} stored {count} times");
        assert!(ledger.put_maybe.contains(id), "round {round}: {id} was never put");
        assert!(!ledger.take_committed.contains(id), "round {round}: {id} was taken and committed but is back");
    }
    for id in &ledger.put_committed {
        if !ledger.take_committed.contains(id) {
            assert!(seen.contains_key(id), "round {round}: committed put {id} is lost");
        }
    }
}
