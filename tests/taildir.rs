use sluice::channel::{Capacity, Channel, Store};
use sluice_tests::receiver::Receiver;
use sluice_tests::{free_port, metrics_json, wait_until, write, Agent};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn agent_config(dir: &Path, source_keys: &str, metrics_port: u16, sink: &str) -> PathBuf {
    write(
        dir,
        "agent.toml",
        &format!(
            "[agent]\ndata_dir = \"{}\"\nmetrics_listen = \"127.0.0.1:{metrics_port}\"\n\
             [channels.main]\ntype = \"sqlite\"\nmax_events = 2000000\nmax_bytes = \"1GiB\"\n\
             [sources.files]\ntype = \"taildir\"\nchannels = [\"main\"]\npoll_interval = \"50ms\"\n{source_keys}\n{sink}",
            dir.join("data").display()
        ),
    )
}

fn http_sink(receiver: &Receiver) -> String {
    format!(
        "[sinks.up]\ntype = \"http\"\nchannel = \"main\"\nurl = \"{}\"\nbatch = {{ max_events = 100, linger = \"20ms\" }}\n",
        receiver.url()
    )
}

fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new().create(true).append(true).open(path).unwrap_or_else(|e| panic!("open {e}"));
    f.write_all(text.as_bytes()).unwrap_or_else(|e| panic!("append {e}"));
}

fn bodies(receiver: &Receiver) -> Vec<String> {
    receiver.events().iter().map(|e| e["body"].as_str().unwrap_or_default().to_string()).collect()
}

/// Globs, a file that appears later, the path header, and a long line cut and counted.
#[test]
fn follows_globbed_files_as_they_appear_and_cuts_long_lines() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap_or_else(|e| panic!("{e}"));
    append(&logs.join("a.log"), "a1\na2\n");
    append(&logs.join("skip.txt"), "not matched\n");
    let receiver = Receiver::ok();
    let metrics_port = free_port();
    let keys = format!("paths = [\"{}/*.log\"]\nfile_header = true\nmax_line_length = \"16B\"\n", logs.display());
    let config = agent_config(dir.path(), &keys, metrics_port, &http_sink(&receiver));
    let _agent = Agent::start(&config, &dir.path().join("agent.log"));
    assert!(wait_until(Duration::from_secs(10), || receiver.events().len() == 2), "{:?}", bodies(&receiver));
    append(&logs.join("b.log"), &format!("b1\n{}\npartial", "x".repeat(40)));
    append(&logs.join("a.log"), "a3\n");
    assert!(wait_until(Duration::from_secs(10), || receiver.events().len() == 5), "{:?}", bodies(&receiver));
    let events = receiver.events();
    let of = |body: &str| events.iter().find(|e| e["body"] == body).cloned().unwrap_or_default();
    assert_eq!(of("a3")["headers"]["file"], logs.join("a.log").display().to_string());
    assert_eq!(of("b1")["headers"]["file"], logs.join("b.log").display().to_string());
    assert!(of(&"x".repeat(16)).is_object(), "the long line arrives cut to 16 bytes: {:?}", bodies(&receiver));
    assert!(!bodies(&receiver).iter().any(|b| b.contains("partial") || b.contains("not matched")));
    let metrics = format!("127.0.0.1:{metrics_port}");
    assert_eq!(metrics_json(&metrics)["SOURCE.files"]["EventTruncatedCount"], "1");
    // The partial line goes out once its newline is written.
    append(&logs.join("b.log"), " line\n");
    assert!(wait_until(Duration::from_secs(10), || bodies(&receiver).contains(&"partial line".to_string())));
}

/// `read_from = "end"` skips what was there at the first start, never what came while stopped.
#[test]
fn read_from_end_applies_to_the_first_start_only() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let log = dir.path().join("app.log");
    append(&log, "old1\nold2\n");
    let receiver = Receiver::ok();
    let keys = format!("paths = [\"{}\"]\nread_from = \"end\"\n", log.display());
    let config = agent_config(dir.path(), &keys, free_port(), &http_sink(&receiver));
    let mut agent = Agent::start(&config, &dir.path().join("agent1.log"));
    // Let the first scan place the position at the end before new lines come.
    std::thread::sleep(Duration::from_millis(500));
    append(&log, "new1\n");
    assert!(wait_until(Duration::from_secs(10), || bodies(&receiver) == ["new1"]), "{:?}", bodies(&receiver));
    agent.terminate();
    append(&log, "new2\n");
    let _agent = Agent::start(&config, &dir.path().join("agent2.log"));
    assert!(wait_until(Duration::from_secs(10), || bodies(&receiver).len() >= 2));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(bodies(&receiver), ["new1", "new2"]);
}

/// Writes numbered 100-byte lines and rotates like logrotate does, both ways.
struct RotatingWriter {
    dir: PathBuf,
    file: File,
    rotations: u32,
}

impl RotatingWriter {
    fn new(dir: &Path) -> RotatingWriter {
        let file = Self::open(&dir.join("app.log"));
        RotatingWriter { dir: dir.to_path_buf(), file, rotations: 0 }
    }

    fn open(path: &Path) -> File {
        OpenOptions::new().create(true).append(true).open(path).unwrap_or_else(|e| panic!("open {e}"))
    }

    fn write(&mut self, from: u64, to: u64) {
        let mut text = String::with_capacity(((to - from) * 100) as usize);
        for i in from..to {
            text.push_str(&format!("{i:07} {}\n", "abcdefghij".repeat(10).get(..91).unwrap_or_default()));
        }
        self.file.write_all(text.as_bytes()).unwrap_or_else(|e| panic!("write {e}"));
    }

    fn rotate(&mut self) {
        self.rotations += 1;
        let current = self.dir.join("app.log");
        let rotated = self.dir.join(format!("app.log.{}", self.rotations));
        if self.rotations % 2 == 1 {
            // rename: the writer reopens, as a daemon does on SIGHUP.
            std::fs::rename(&current, &rotated).unwrap_or_else(|e| panic!("rename {e}"));
            self.file = Self::open(&current);
        } else {
            // copytruncate: the writer keeps its O_APPEND handle.
            std::fs::copy(&current, &rotated).unwrap_or_else(|e| panic!("copy {e}"));
            self.file.set_len(0).unwrap_or_else(|e| panic!("truncate {e}"));
        }
    }
}

/// 1,000,000 lines, 30 rotations (rename and copytruncate in turn), the agent
/// killed with SIGKILL 30 times while it reads: every line is in the channel once.
#[test]
fn rotations_and_thirty_sigkills_lose_and_duplicate_no_line() {
    const LINES: u64 = 1_000_000;
    const KILLS: u64 = 30;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap_or_else(|e| panic!("{e}"));
    let metrics_port = free_port();
    let keys = format!("paths = [\"{}/app.log*\"]\nbatch_size = 500\n", logs.display());
    // The upstream is down throughout, so every line read stays in the channel to be counted.
    let down = format!(
        "[sinks.up]\ntype = \"http\"\nchannel = \"main\"\nurl = \"http://127.0.0.1:{}/\"\nretry = {{ initial = \"1h\", max = \"1h\" }}\n",
        free_port()
    );
    let config = agent_config(dir.path(), &keys, metrics_port, &down);

    let writer_logs = logs.clone();
    let writer = std::thread::spawn(move || {
        let mut w = RotatingWriter::new(&writer_logs);
        let per_rotation = LINES / (KILLS + 1) + 1;
        let mut next = 0u64;
        while next < LINES {
            let to = (next + 500).min(LINES);
            w.write(next, to);
            if next / per_rotation != to / per_rotation {
                w.rotate();
            }
            next = to;
            std::thread::sleep(Duration::from_millis(4));
        }
        w.rotations
    });
    for round in 0..KILLS {
        let mut agent = Agent::start(&config, &dir.path().join(format!("agent{round}.log")));
        std::thread::sleep(Duration::from_millis(150 + fastrand::u64(..350)));
        agent.kill9();
        std::thread::sleep(Duration::from_millis(fastrand::u64(..60)));
    }
    let rotations = writer.join().unwrap_or_else(|_| panic!("writer panicked"));
    assert!(rotations >= 30, "only {rotations} rotations");

    let mut agent = Agent::start(&config, &dir.path().join("agent-final.log"));
    let metrics = format!("127.0.0.1:{metrics_port}");
    let size = || metrics_json(&metrics)["CHANNEL.main"]["ChannelSize"].as_str().and_then(|s| s.parse::<u64>().ok());
    assert!(wait_until(Duration::from_secs(180), || size() >= Some(LINES)), "channel holds {:?} of {LINES}", size());
    // Time for a late duplicate to show up, if the source were to produce one.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(agent.terminate(), Some(0));

    let channel = Store::open(&dir.path().join("data"), false)
        .and_then(|s| s.channel("main", Capacity::default()))
        .unwrap_or_else(|e| panic!("reopen: {e}"));
    let mut count = vec![0u8; LINES as usize];
    let mut total = 0u64;
    while let Some(taken) = channel.take(100_000, usize::MAX).unwrap_or_else(|e| panic!("take: {e}")) {
        for e in &taken.events {
            let n: usize = std::str::from_utf8(e.body.get(..7).unwrap_or_default())
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("unexpected line {:?}", String::from_utf8_lossy(&e.body)));
            assert_eq!(e.body.len(), 99, "line {n} arrived whole");
            count[n] = count[n].saturating_add(1);
        }
        total += taken.events.len() as u64;
        channel.commit(taken, Vec::new()).unwrap_or_else(|e| panic!("commit: {e}"));
    }
    let lost: Vec<usize> = (0..count.len()).filter(|i| count[*i] == 0).take(10).collect();
    let doubled: Vec<usize> = (0..count.len()).filter(|i| count[*i] > 1).take(10).collect();
    assert!(lost.is_empty() && doubled.is_empty(), "{total} events; lost e.g. {lost:?}; duplicated e.g. {doubled:?}");
    assert_eq!(total, LINES);
}
