//! A damaged store, by bytes overwritten in the file while the agent is
//! stopped: an overflow chain, a pointer of an interior page, a leaf page, the
//! file header, a WAL frame, an emptied file. Each time the agent must start,
//! deliver every readable event, count and quarantine (or report) the rest,
//! and not spin on the damage.

use sluice_tests::receiver::Receiver;
use sluice_tests::sqlite_file::{self, File};
use sluice_tests::{
    cpu_seconds, free_port, metrics_json, post, sluice, switchable_upstream, wait_until, Agent, Pipeline,
};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const EVENTS: u64 = 800;
const PER_REQUEST: u64 = 10;

struct Setup {
    dir: tempfile::TempDir,
    receiver: Receiver,
    up: Arc<AtomicBool>,
    config: PathBuf,
    addr: String,
    metrics: String,
}

impl Setup {
    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
    fn db(&self) -> PathBuf {
        self.data().join("sluice.db")
    }
}

/// An agent that stored [`EVENTS`] events of 6 KB (upstream down), then stopped:
/// cleanly, or killed so that its WAL stays.
fn stored(kill: bool) -> Setup {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (receiver, up) = switchable_upstream(503);
    let (port, metrics) = (free_port(), free_port());
    let config = Pipeline {
        port,
        metrics: Some(metrics),
        upstream: receiver.url(),
        sink: "batch = { max_events = 100, linger = \"10ms\" }\nretry = { initial = \"50ms\", max = \"200ms\" }".into(),
        ..Pipeline::default()
    }
    .write(dir.path(), &dir.path().join("data"));
    let setup =
        Setup { receiver, up, config, addr: format!("127.0.0.1:{port}"), metrics: format!("127.0.0.1:{metrics}"), dir };
    let mut agent = Agent::start(&setup.config, &setup.dir.path().join("fill.log"));
    assert!(wait_until(Duration::from_secs(10), || !metrics_json(&setup.metrics).is_null()));
    for first in (0..EVENTS).step_by(PER_REQUEST as usize) {
        let (status, body) = post(&setup.addr, "/", "application/json", &[], &request(first, PER_REQUEST))
            .unwrap_or_else(|e| panic!("post: {e}"));
        assert_eq!(status, 200, "{body}");
    }
    if kill {
        agent.kill9();
        assert!(setup.data().join("sluice.db-wal").metadata().is_ok_and(|m| m.len() > 0), "the WAL stays");
    } else {
        assert_eq!(agent.terminate(), Some(0));
        // The damage is aimed at the file: it must hold everything, not the WAL.
        sqlite_file::checkpoint(&setup.db());
    }
    setup
}

/// `n` events of 6 KB of random text (they do not compress: rows span overflow pages).
fn request(first: u64, n: u64) -> Vec<u8> {
    let events: Vec<serde_json::Value> = (first..first + n)
        .map(|seq| {
            let body: String = (0..6000).map(|_| fastrand::alphanumeric()).collect();
            serde_json::json!({"headers": {"seq": seq.to_string()}, "body": body})
        })
        .collect();
    serde_json::to_vec(&events).unwrap_or_default()
}

fn received(receiver: &Receiver) -> BTreeSet<u64> {
    receiver.events().iter().filter_map(|e| e["headers"]["seq"].as_str().and_then(|s| s.parse().ok())).collect()
}

fn inspect(data: &Path) -> serde_json::Value {
    let out = sluice(&["inspect", &data.to_string_lossy(), "--json"]).output().unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

fn corrupt_losses(report: &serde_json::Value) -> u64 {
    report["losses"]
        .as_array()
        .map(|l| l.iter().filter(|x| x["reason"] == "corrupt").filter_map(|x| x["events"].as_u64()).sum())
        .unwrap_or(0)
}

/// Starts the damaged agent with the upstream up; returns it once what it will
/// deliver has arrived (`expected` events, when known), after checking it does not spin.
fn restart(setup: &Setup, expected: Option<u64>) -> Agent {
    setup.up.store(true, Ordering::SeqCst);
    let agent = Agent::start(&setup.config, &setup.dir.path().join("run.log"));
    let log = || std::fs::read_to_string(setup.dir.path().join("run.log")).unwrap_or_default();
    assert!(wait_until(Duration::from_secs(20), || !metrics_json(&setup.metrics).is_null()), "no start\n{}", log());
    match expected {
        Some(n) => assert!(
            wait_until(Duration::from_secs(60), || received(&setup.receiver).len() as u64 >= n),
            "{} of {n} readable events delivered\n{}",
            received(&setup.receiver).len(),
            log()
        ),
        None => std::thread::sleep(Duration::from_secs(3)),
    }
    // Settled: the agent must be idle now, not retrying the damage.
    let before = cpu_seconds(agent.child.id());
    std::thread::sleep(Duration::from_secs(3));
    let spent = cpu_seconds(agent.child.id()) - before;
    assert!(spent < 0.3, "the agent spins on the damage: {spent:.2} s of CPU in 3 s\n{}", log());
    // New events still flow.
    let (status, _) = post(&setup.addr, "/", "application/json", &[], &request(1_000_000, 1)).unwrap_or_default();
    assert_eq!(status, 200, "intake after the damage\n{}", log());
    assert!(wait_until(Duration::from_secs(20), || received(&setup.receiver).contains(&1_000_000)));
    agent
}

#[test]
fn a_broken_overflow_chain_loses_one_row_and_counts_it() {
    let setup = stored(false);
    let file = File::read(&setup.db());
    let rows = file.rows(sqlite_file::root_page(&setup.db(), "rows"));
    let row = rows.iter().filter(|r| r.overflow.len() >= 3).nth(rows.len() / 2).cloned();
    let row = row.unwrap_or_else(|| panic!("no row with an overflow chain of 3: {rows:?}"));
    let lost = sqlite_file::row_events(&setup.db())[&row.rowid];
    // The next-page pointer of the second overflow page, in the middle of the chain.
    sqlite_file::overwrite(&setup.db(), file.offset(row.overflow[1]), &[0xff, 0xff, 0xff, 0x00]);

    let _agent = restart(&setup, Some(EVENTS - lost));
    assert_eq!(received(&setup.receiver).len() as u64, EVENTS - lost + 1);
    let report = inspect(&setup.data());
    assert_eq!(corrupt_losses(&report), lost, "the unreadable row is counted: {report}");
    let quarantined = report["quarantine"].as_array().map(Vec::len).unwrap_or(0);
    assert!(quarantined >= 1, "and quarantined: {report}");
    assert_eq!(report["set_aside"].as_array().map(Vec::len), Some(1), "the damaged file is kept");
    let channel = &metrics_json(&setup.metrics)["CHANNEL.main"];
    assert_eq!(channel["EventCorruptCount"], lost.to_string());
}

/// A damaged part of the table's tree: every row under it is unreadable, the rest is delivered.
fn lose_a_subtree(damage: impl FnOnce(&Path, &File, u32) -> BTreeSet<i64>) {
    let setup = stored(false);
    let file = File::read(&setup.db());
    let root = sqlite_file::root_page(&setup.db(), "rows");
    let counts = sqlite_file::row_events(&setup.db());
    let cut = damage(&setup.db(), &file, root);
    let lost: u64 = cut.iter().map(|seq| counts[seq]).sum();
    assert!(lost > 0 && lost < EVENTS, "the damage must cut some rows, not all: {lost}");

    let _agent = restart(&setup, Some(EVENTS - lost));
    assert_eq!(received(&setup.receiver).len() as u64, EVENTS - lost + 1, "every readable event, once");
    let report = inspect(&setup.data());
    let notes: Vec<String> = report["quarantine"]
        .as_array()
        .map(|q| q.iter().filter_map(|e| e["reason"].as_str().map(String::from)).collect())
        .unwrap_or_default();
    assert!(notes.iter().any(|r| r.contains("unreadable")), "the unreadable part is reported: {notes:?}");
}

#[test]
fn a_broken_pointer_in_an_interior_page_loses_only_its_subtree() {
    lose_a_subtree(|db, file, root| {
        let children = file.children(root);
        assert!(children.len() >= 4, "the table needs a few leaves: {}", children.len());
        let (child, at) = children[1];
        let cut = file.rows(child).iter().map(|r| r.rowid).collect();
        sqlite_file::overwrite(db, at, &[0xff, 0xff, 0xff, 0x00]);
        cut
    });
}

#[test]
fn a_garbled_leaf_page_loses_only_its_rows() {
    lose_a_subtree(|db, file, root| {
        let children = file.children(root);
        let (leaf, _) = children[children.len() / 2];
        let cut = file.rows(leaf).iter().map(|r| r.rowid).collect();
        sqlite_file::overwrite(db, file.offset(leaf), &[0x99; 8]);
        cut
    });
}

#[test]
fn a_destroyed_file_header_is_set_aside_and_reported() {
    let setup = stored(false);
    sqlite_file::overwrite(&setup.db(), 0, b"this is no store");
    let _agent = restart(&setup, None);
    let report = inspect(&setup.data());
    assert_eq!(report["set_aside"].as_array().map(Vec::len), Some(1), "{report}");
    let log = std::fs::read_to_string(setup.dir.path().join("run.log")).unwrap_or_default();
    assert!(log.contains("damaged"), "the log says so:\n{log}");
}

#[test]
fn an_emptied_store_is_reported_not_taken_as_new() {
    let setup = stored(false);
    std::fs::write(setup.db(), b"").unwrap_or_else(|e| panic!("{e}"));
    let _agent = restart(&setup, None);
    let report = inspect(&setup.data());
    assert_eq!(report["set_aside"].as_array().map(Vec::len), Some(1), "{report}");
    let notes = report["quarantine"].to_string();
    assert!(notes.contains("unreadable"), "the loss is reported: {notes}");
}

#[test]
fn an_emptied_store_beside_its_wal_is_salvaged_from_the_wal() {
    let setup = stored(true);
    std::fs::write(setup.db(), b"").unwrap_or_else(|e| panic!("{e}"));
    let _agent = restart(&setup, None);
    let report = inspect(&setup.data());
    assert_eq!(report["set_aside"].as_array().map(Vec::len), Some(1), "{report}");
    // Whatever the WAL held and is readable went out; nothing arrived twice or out of nowhere.
    let got = received(&setup.receiver);
    assert!(got.iter().all(|s| *s < EVENTS || *s == 1_000_000), "{got:?}");
}

#[test]
fn a_damaged_wal_frame_is_reported_and_what_precedes_it_delivered() {
    let setup = stored(true);
    let wal = setup.data().join("sluice.db-wal");
    let bytes = std::fs::read(&wal).unwrap_or_default();
    let page_size = u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
    let frames = (bytes.len() - 32) / (24 + page_size);
    assert!(frames > 20, "the WAL holds the puts: {frames} frames");
    // A byte of a page in the middle of the WAL.
    sqlite_file::overwrite(&wal, 32 + (frames / 2) * (24 + page_size) + 24 + 100, &[0x5a]);
    let _agent = restart(&setup, None);
    let report = inspect(&setup.data());
    let notes = report["quarantine"].to_string();
    assert!(notes.contains("WAL frame"), "the dropped frames are reported: {notes}");
    let got = received(&setup.receiver);
    assert!(!got.is_empty() && (got.len() as u64) < EVENTS, "the events before the damage went out: {}", got.len());
}
