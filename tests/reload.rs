//! `sluice run` reloads its configuration on SIGHUP and when the file changes,
//! under load: nothing lost, nothing duplicated, invalid versions refused and
//! reported, the hash in force shown.

use sluice_tests::receiver::Receiver;
use sluice_tests::{free_port, get, metrics_json, post, wait_until, write, Agent};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Events posted in all.
const EVENTS: usize = 100_000;
/// Events per request.
const PER_REQUEST: usize = 100;

/// One version of the gateway's configuration.
struct Version<'a> {
    data_dir: &'a Path,
    port: u16,
    metrics: u16,
    url: &'a str,
    batch: usize,
    /// A `static` interceptor stamping `version` on every event.
    stamp: Option<usize>,
    /// The source's `max_events`: changing it restarts the source.
    source_max_events: usize,
    channel_type: &'a str,
    /// A key that does not pass `sluice check`.
    invalid: bool,
}

impl Version<'_> {
    fn text(&self) -> String {
        let interceptors = match self.stamp {
            Some(k) => format!("interceptors = [{{ type = \"static\", key = \"version\", value = \"v{k}\" }}]\n"),
            None => String::new(),
        };
        let batch = if self.invalid { 0 } else { self.batch };
        format!(
            "[agent]\ndata_dir = \"{}\"\nmetrics_listen = \"127.0.0.1:{}\"\n\n\
             [channels.main]\ntype = \"{}\"\n\n\
             [sources.edges]\ntype = \"http\"\nlisten = \"127.0.0.1:{}\"\nchannels = [\"main\"]\nmax_events = {}\n{interceptors}\n\
             [sinks.up]\ntype = \"http\"\nchannel = \"main\"\nurl = \"{}\"\nbatch = {{ max_events = {batch}, linger = \"5ms\" }}\n",
            self.data_dir.display(),
            self.metrics,
            self.channel_type,
            self.port,
            self.source_max_events,
            self.url,
        )
    }
}

/// Reloads counted so far: ok, refused, failed.
fn reloads(metrics: &str) -> Option<(u64, u64, u64)> {
    let m = metrics_json(metrics);
    let count = |f: &str| m["AGENT.config"][f].as_str().and_then(|v| v.parse().ok());
    Some((count("ConfigReloadsOk")?, count("ConfigReloadsRefused")?, count("ConfigReloadsFailed")?))
}

fn sha256sum(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum").arg(path).output().unwrap_or_else(|e| panic!("sha256sum: {e}"));
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap_or_default().to_string()
}

fn sighup(agent: &Agent) {
    // SAFETY: kill(2) with the pid of our own child and a valid signal number.
    unsafe { libc::kill(agent.child.id() as i32, libc::SIGHUP) };
}

/// Posts `EVENTS` events, `PER_REQUEST` at a time, each with a `seq` header,
/// retrying a request until it is answered 200 (a restarting source refuses
/// connections for a moment). Paced so that the load spans the rewrites.
fn post_all(addr: String, sent: Arc<AtomicUsize>, slow: Arc<AtomicBool>) {
    for first in (0..EVENTS).step_by(PER_REQUEST) {
        let events: Vec<String> = (first..first + PER_REQUEST)
            .map(|seq| format!(r#"{{"headers":{{"seq":"{seq}"}},"body":"event {seq}"}}"#))
            .collect();
        let body = format!("[{}]", events.join(","));
        loop {
            match post(&addr, "/", "application/json", &[], body.as_bytes()) {
                Ok((200, _)) => break,
                Ok((status, reply)) => assert!(status == 0 || status == 503, "request refused: {status} {reply}"),
                Err(_) => {}
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let done = sent.fetch_add(PER_REQUEST, Ordering::SeqCst) + PER_REQUEST;
        if slow.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(15));
        }
        // The rest waits for the rewrites to end, however slow they are: the load spans them.
        while done >= EVENTS * 9 / 10 && slow.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn twenty_rewrites_under_load_lose_and_duplicate_nothing() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (a, b) = (Receiver::ok(), Receiver::ok());
    let (url_a, url_b) = (a.url(), b.url());
    let (port, metrics) = (free_port(), free_port());
    let data_dir = dir.path().join("data");
    let version = |k: usize| Version {
        data_dir: &data_dir,
        port,
        metrics,
        url: if k.is_multiple_of(2) { &url_a } else { &url_b },
        batch: [500, 50, 2000][k % 3],
        stamp: (k % 4 == 1 || k % 4 == 2).then_some(k),
        source_max_events: if k >= 15 { 1001 } else { 1000 },
        channel_type: if k == 17 { "memory" } else { "sqlite" },
        invalid: k == 10,
    };
    let config = write(dir.path(), "gateway.toml", &version(0).text());
    let mut agent = Agent::start(&config, &dir.path().join("agent.log"));
    let m = format!("127.0.0.1:{metrics}");
    assert!(wait_until(Duration::from_secs(20), || reloads(&m).is_some()), "the agent did not start");
    assert_eq!(metrics_json(&m)["AGENT.config"]["ConfigHash"], sha256sum(&config).as_str());

    let (sent, slow) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(true)));
    let poster = {
        let (addr, sent, slow) = (format!("127.0.0.1:{port}"), sent.clone(), slow.clone());
        std::thread::spawn(move || post_all(addr, sent, slow))
    };
    // Rewrites 5 and 12 are found by the file watch; the others come with a SIGHUP.
    let by_watch = [5, 12];
    let (refused_versions, mut expected) = ([10, 17], (0, 0, 0));
    for k in 1..=20 {
        std::fs::write(&config, version(k).text()).unwrap_or_else(|e| panic!("{e}"));
        if !by_watch.contains(&k) {
            sighup(&agent);
        }
        if refused_versions.contains(&k) {
            expected.1 += 1;
        } else {
            expected.0 += 1;
        }
        let seen = wait_until(Duration::from_secs(20), || reloads(&m) == Some(expected));
        assert!(seen, "rewrite {k}: reloads {:?}, expected {expected:?}", reloads(&m));
        if !refused_versions.contains(&k) {
            assert_eq!(metrics_json(&m)["AGENT.config"]["ConfigHash"], sha256sum(&config).as_str(), "rewrite {k}");
        }
        std::thread::sleep(Duration::from_millis(150));
    }
    let during = sent.load(Ordering::SeqCst);
    slow.store(false, Ordering::SeqCst);
    poster.join().unwrap_or_else(|_| panic!("the poster failed"));
    assert!((EVENTS / 10..EVENTS).contains(&during), "the load must span the rewrites: {during} sent during them");

    let total = || a.events().len() + b.events().len();
    assert!(wait_until(Duration::from_secs(60), || total() >= EVENTS), "delivered {} of {EVENTS}", total());
    std::thread::sleep(Duration::from_millis(500));
    let mut copies: HashMap<u64, usize> = HashMap::new();
    let mut stamped = 0;
    for event in a.events().into_iter().chain(b.events()) {
        let seq = event["headers"]["seq"].as_str().and_then(|s| s.parse().ok()).unwrap_or(u64::MAX);
        *copies.entry(seq).or_default() += 1;
        stamped += usize::from(event["headers"]["version"].is_string());
    }
    let duplicated = copies.values().filter(|&&n| n > 1).count();
    assert_eq!((copies.len(), duplicated), (EVENTS, 0), "every event once");
    assert!(copies.keys().all(|&s| s < EVENTS as u64));
    assert!(!a.events().is_empty() && !b.events().is_empty(), "both sink urls were used");
    assert!(stamped > 0 && stamped < EVENTS, "the interceptor came and went: {stamped} stamped");

    let log = std::fs::read_to_string(dir.path().join("agent.log")).unwrap_or_default();
    let refusal = |needle: &str| log.lines().any(|l| l.contains("reload refused") && l.contains(needle));
    let invalid = version(10).text();
    let line = invalid.lines().position(|l| l.starts_with("batch = ")).map_or(0, |i| i + 1);
    let at = format!("gateway.toml:{line}: sinks.up.batch");
    assert!(refusal(&at), "the invalid version, by file:line: key ({at})\n{log}");
    assert!(refusal("channels.main.type: a channel's type changes only"), "the channel type change\n{log}");
    let text = get(&m, "/metrics");
    assert!(text.contains("sluice_config_reloads_total{result=\"refused\"} 2\n"), "{text}");
    assert!(text.contains("sluice_config_reloads_total{result=\"ok\"} 18\n"), "{text}");
    assert_eq!(agent.terminate(), Some(0));
}

#[test]
fn the_file_watch_waits_for_the_file_to_settle_and_sighup_reloads_an_unchanged_file() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let receiver = Receiver::ok();
    let (port, metrics) = (free_port(), free_port());
    let data_dir = dir.path().join("data");
    let version = Version {
        data_dir: &data_dir,
        port,
        metrics,
        url: &receiver.url(),
        batch: 10,
        stamp: None,
        source_max_events: 1000,
        channel_type: "sqlite",
        invalid: false,
    };
    let config = write(dir.path(), "gateway.toml", &version.text());
    let agent = Agent::start(&config, &dir.path().join("agent.log"));
    let m = format!("127.0.0.1:{metrics}");
    assert!(wait_until(Duration::from_secs(20), || reloads(&m) == Some((0, 0, 0))), "the agent did not start");
    // Nothing changed: a SIGHUP reloads, and restarts nothing.
    sighup(&agent);
    assert!(wait_until(Duration::from_secs(10), || reloads(&m) == Some((1, 0, 0))));
    // A stamp interceptor appears by editing the file alone.
    let stamped = Version { stamp: Some(7), ..version };
    std::fs::write(&config, stamped.text()).unwrap_or_else(|e| panic!("{e}"));
    assert!(wait_until(Duration::from_secs(10), || reloads(&m) == Some((2, 0, 0))), "the watch saw no change");
    let body = br#"[{"headers":{"seq":"1"},"body":"after"}]"#;
    assert_eq!(post(&format!("127.0.0.1:{port}"), "/", "application/json", &[], body).map(|r| r.0).ok(), Some(200));
    assert!(wait_until(Duration::from_secs(10), || !receiver.events().is_empty()));
    assert_eq!(receiver.events()[0]["headers"]["version"], "v7");
    let log = std::fs::read_to_string(dir.path().join("agent.log")).unwrap_or_default();
    assert!(log.contains("reloaded") && log.contains("nothing changed"), "{log}");
    assert!(log.contains("sources: edges rerouted"), "{log}");
    // One reload per change: the watch does not fire again for the same file.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(reloads(&m), Some((2, 0, 0)));
}

/// A sink backing off from a dead upstream: a reload that fixes its URL ships
/// at once, not after the old backoff (an hour here).
#[test]
fn a_reload_that_fixes_a_sink_ships_at_once_instead_of_waiting_out_the_backoff() {
    use sluice_tests::receiver::Reply;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let down = Receiver::scripted(|_, _| Reply::Status(503, vec![], "down".into()));
    let up = Receiver::ok();
    let (port, metrics) = (free_port(), free_port());
    let text = |url: &str| {
        format!(
            "[agent]\ndata_dir = \"{}\"\nmetrics_listen = \"127.0.0.1:{metrics}\"\n[channels.main]\ntype = \"sqlite\"\n\
             [sources.edges]\ntype = \"http\"\nlisten = \"127.0.0.1:{port}\"\nchannels = [\"main\"]\n\
             [sinks.up]\ntype = \"http\"\nchannel = \"main\"\nurl = \"{url}\"\nretry = {{ initial = \"1h\", max = \"1h\" }}\n",
            dir.path().join("data").display()
        )
    };
    let config = write(dir.path(), "gateway.toml", &text(&down.url()));
    let agent = Agent::start(&config, &dir.path().join("agent.log"));
    let m = format!("127.0.0.1:{metrics}");
    assert!(wait_until(Duration::from_secs(20), || reloads(&m).is_some()), "the agent did not start");
    let body = br#"[{"headers":{"seq":"1"},"body":"waiting"}]"#;
    assert_eq!(post(&format!("127.0.0.1:{port}"), "/", "application/json", &[], body).map(|r| r.0).ok(), Some(200));
    assert!(wait_until(Duration::from_secs(10), || down.requests() > 0), "the first attempt did not happen");
    std::fs::write(&config, text(&up.url())).unwrap_or_else(|e| panic!("{e}"));
    sighup(&agent);
    assert!(wait_until(Duration::from_secs(10), || up.events().len() == 1), "the fixed sink did not ship");
    assert_eq!(reloads(&m), Some((1, 0, 0)));
}
