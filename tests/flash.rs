//! The store hands delivered data's space back while it is only in the page
//! cache (issue 20): the WAL truncated, free pages given back to the
//! filesystem. Killed with SIGKILL while it does so, it must lose nothing and
//! read no line twice.

use sluice_tests::receiver::{Receiver, Reply};
use sluice_tests::{free_port, wait_until, write, Agent};
use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const LINES: u64 = 200_000;
const KILLS: u64 = 30;

/// A receiver that is down (503) for 400 ms of every 1,000 until `calm` is set:
/// the store grows while it is down and empties (and shrinks) once it is up.
fn flapping_receiver(calm: Arc<AtomicBool>) -> Receiver {
    let started = Instant::now();
    Receiver::scripted(move |_, _| {
        let down = started.elapsed().as_millis() % 1000 < 400;
        if down && !calm.load(Ordering::Relaxed) {
            Reply::Status(503, vec![], "down".into())
        } else {
            Reply::Status(200, vec![], "ok".into())
        }
    })
}

/// Line number -> the event ids it arrived with.
fn arrivals(receiver: &Receiver) -> HashMap<u64, Vec<String>> {
    let mut seen: HashMap<u64, Vec<String>> = HashMap::new();
    for e in receiver.events() {
        let body = e["body"].as_str().unwrap_or_default();
        assert_eq!(body.len(), 99, "a line arrived cut: {body:?}");
        let n: u64 = body.get(..7).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("unexpected line {body:?}"));
        seen.entry(n).or_default().push(e["headers"]["id"].as_str().unwrap_or_default().to_string());
    }
    seen
}

/// 200,000 lines tailed into a store whose upstream flaps, so that the file
/// grows, is given back and the WAL truncated again and again; the agent killed
/// with SIGKILL at 30 random points. Every line arrives; a line that arrives
/// twice is a batch delivered again after a kill (the same event id), never a
/// line read twice (a new id): positions stay exact. Once everything is
/// delivered the store's file is back to a few pages.
#[test]
fn thirty_sigkills_while_the_store_shrinks_lose_nothing_and_read_no_line_twice() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap_or_else(|e| panic!("{e}"));
    let calm = Arc::new(AtomicBool::new(false));
    let receiver = flapping_receiver(calm.clone());
    let data = dir.path().join("data");
    let config = write(
        dir.path(),
        "agent.toml",
        &format!(
            "[agent]\ndata_dir = \"{}\"\nmetrics_listen = \"127.0.0.1:{}\"\n\
             [channels.main]\ntype = \"sqlite\"\n\
             [sources.files]\ntype = \"taildir\"\nchannels = [\"main\"]\npoll_interval = \"20ms\"\n\
             paths = [\"{}/app.log\"]\nbatch_size = 500\n\
             [sinks.up]\ntype = \"http\"\nchannel = \"main\"\nurl = \"{}\"\n\
             batch = {{ max_events = 1000, linger = \"20ms\" }}\nretry = {{ initial = \"50ms\", max = \"200ms\" }}\n",
            data.display(),
            free_port(),
            logs.display(),
            receiver.url()
        ),
    );
    let log = logs.join("app.log");
    let writer = std::thread::spawn(move || {
        let mut file = OpenOptions::new().create(true).append(true).open(&log).unwrap_or_else(|e| panic!("{e}"));
        let filler = "abcdefghij".repeat(10);
        let mut next = 0u64;
        while next < LINES {
            let to = (next + 1000).min(LINES);
            let text: String = (next..to).map(|i| format!("{i:07} {}\n", &filler[..91])).collect();
            file.write_all(text.as_bytes()).unwrap_or_else(|e| panic!("write {e}"));
            next = to;
            std::thread::sleep(Duration::from_millis(60));
        }
    });
    for round in 0..KILLS {
        let mut agent = Agent::start(&config, &dir.path().join(format!("agent{round}.log")));
        std::thread::sleep(Duration::from_millis(150 + fastrand::u64(..450)));
        agent.kill9();
    }
    writer.join().unwrap_or_else(|_| panic!("writer panicked"));

    calm.store(true, Ordering::Relaxed);
    let mut agent = Agent::start(&config, &dir.path().join("agent-final.log"));
    let all_in = wait_until(Duration::from_secs(120), || {
        std::thread::sleep(Duration::from_millis(500));
        arrivals(&receiver).len() as u64 == LINES
    });
    let seen = arrivals(&receiver);
    let lost: Vec<u64> = (0..LINES).filter(|n| !seen.contains_key(n)).take(10).collect();
    assert!(all_in && lost.is_empty(), "{} of {LINES} lines arrived; lost e.g. {lost:?}", seen.len());
    let reread: Vec<(&u64, &Vec<String>)> =
        seen.iter().filter(|(_, ids)| ids.iter().any(|id| *id != ids[0])).take(5).collect();
    assert!(reread.is_empty(), "lines read twice (new event ids), e.g. {reread:?}");
    let redelivered = seen.values().filter(|ids| ids.len() > 1).count();
    eprintln!("{LINES} lines, {KILLS} kills: {redelivered} lines delivered again after a kill (same id)");

    // Drained: the file is given back down to its few pages, the WAL truncated.
    let len = |name: &str| std::fs::metadata(data.join(name)).map_or(0, |m| m.len());
    let shrunk = wait_until(Duration::from_secs(10), || len("sluice.db") <= 1 << 20 && len("sluice.db-wal") == 0);
    let agent_log = std::fs::read_to_string(dir.path().join("agent-final.log")).unwrap_or_default();
    assert!(
        shrunk,
        "after delivery the store holds {} bytes and its WAL {}; the agent's log:\n{agent_log}",
        len("sluice.db"),
        len("sluice.db-wal")
    );
    assert_eq!(agent.terminate(), Some(0));
}

/// `/proc/PID/status` or `/proc/PID/io` field `key`, in its unit (kB or bytes).
fn proc_field(pid: u32, file: &str, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|v| v.trim_start_matches(':').split_whitespace().next()))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/{file}"))
}

/// The README's flash and memory promises, on the real agent: 100,000 lines
/// (10 MB) tailed and delivered to an upstream that keeps up leave almost
/// nothing for the storage device to write (the pages the store dirtied are
/// truncated before writeback: `cancelled_write_bytes`), and the agent's RSS is
/// back within 2 MiB of what it was fresh within 10 s of delivering the last.
#[test]
fn a_delivered_burst_costs_the_device_almost_nothing_and_memory_returns() {
    const N: u64 = 100_000;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap_or_else(|e| panic!("{e}"));
    let receiver = Receiver::ok();
    let data = dir.path().join("data");
    let config = write(
        dir.path(),
        "agent.toml",
        &format!(
            "[agent]\ndata_dir = \"{}\"\n[channels.main]\ntype = \"sqlite\"\n\
             [sources.files]\ntype = \"taildir\"\nchannels = [\"main\"]\npaths = [\"{}/*.log\"]\n\
             [sinks.up]\ntype = \"http\"\nchannel = \"main\"\nurl = \"{}\"\ncompression = \"gzip\"\n\
             batch = {{ max_events = 2000, linger = \"20ms\" }}\n",
            data.display(),
            logs.display(),
            receiver.url()
        ),
    );
    let mut agent = Agent::start(&config, &dir.path().join("agent.log"));
    let pid = agent.child.id();
    std::thread::sleep(Duration::from_secs(3));
    let fresh_kib = proc_field(pid, "status", "VmRSS");

    let filler = "abcdefghij".repeat(10);
    let text: String = (0..N).map(|i| format!("{i:07} {}\n", &filler[..91])).collect();
    std::fs::write(logs.join("app.log"), &text).unwrap_or_else(|e| panic!("{e}"));
    let delivered = wait_until(Duration::from_secs(120), || {
        std::thread::sleep(Duration::from_millis(300));
        receiver.events().len() as u64 >= N
    });
    assert!(delivered, "{} of {N} delivered", receiver.events().len());
    let peak_kib = proc_field(pid, "status", "VmHWM");
    let mut idle_kib = u64::MAX;
    let back = wait_until(Duration::from_secs(10), || {
        idle_kib = proc_field(pid, "status", "VmRSS");
        idle_kib <= fresh_kib + 2048
    });
    assert!(back, "RSS fresh {fresh_kib} KiB, peak {peak_kib} KiB, 10 s after the burst {idle_kib} KiB");

    let len = |name: &str| std::fs::metadata(data.join(name)).map_or(0, |m| m.len());
    assert!(wait_until(Duration::from_secs(5), || len("sluice.db") <= 1 << 20 && len("sluice.db-wal") == 0));
    let written = proc_field(pid, "io", "write_bytes");
    let cancelled = proc_field(pid, "io", "cancelled_write_bytes");
    let net = written.saturating_sub(cancelled);
    let ingested = text.len() as u64;
    assert!(
        net * 20 < ingested,
        "the device would write {net} bytes ({written} dirtied, {cancelled} cancelled) for {ingested} ingested"
    );
    eprintln!(
        "{N} lines, {ingested} bytes: {written} bytes dirtied, {cancelled} cancelled, net {net}; \
         RSS fresh {fresh_kib} KiB, peak {peak_kib} KiB, after {idle_kib} KiB"
    );
    assert_eq!(agent.terminate(), Some(0));
}
