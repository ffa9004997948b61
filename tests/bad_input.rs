use sluice_tests::receiver::Receiver;
use sluice_tests::{free_port, post, sluice, wait_until, write, Agent};
use std::io::Write;
use std::time::Duration;

const GOOD: &str = r#"[channels.main]
type = "sqlite"
[sources.in]
type = "stdin"
channels = ["main"]
[sinks.out]
type = "stdout"
channel = "main"
"#;

/// `sluice check` on `text`: (exit code, stderr).
fn check(text: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = write(dir.path(), "bad.toml", text);
    let out = sluice(&["check", "-c", &path.to_string_lossy()]).output().unwrap_or_else(|e| panic!("{e}"));
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn good_config_checks() {
    let (code, err) = check(GOOD);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn malformed_configs_exit_2_naming_file_line_and_key() {
    let cases: &[(&str, String, &str)] = &[
        ("unknown key", GOOD.replace("type = \"stdout\"", "type = \"stdout\"\ncolour = \"blue\""), "bad.toml:8"),
        ("bad size", GOOD.replace("type = \"sqlite\"", "type = \"sqlite\"\nmax_bytes = \"12 parsecs\""), "max_bytes"),
        ("bad duration", GOOD.replace("type = \"sqlite\"", "type = \"sqlite\"\nmax_age = \"soon\""), "ms, s, m or h"),
        ("dangling channel", GOOD.replace("channel = \"main\"", "channel = \"mian\""), "no channel named \"mian\""),
        (
            "unknown type",
            GOOD.replace("type = \"stdin\"", "type = \"carrier_pigeon\""),
            "unknown source type \"carrier_pigeon\"",
        ),
        ("bad url", GOOD.replace("type = \"stdout\"", "type = \"http\"\nurl = \"ftp://x\""), "sinks.out.url"),
        ("not toml", "this is = = not toml".into(), "bad.toml:1"),
        ("empty", String::new(), "empty"),
        (
            "unknown key in inline table",
            GOOD.replace("channel = \"main\"", "channel = \"main\"\nbatch = { max_events = 10, lingr = \"1s\" }"),
            "lingr",
        ),
        (
            "workers on a stdout sink",
            GOOD.replace("channel = \"main\"", "channel = \"main\"\nworkers = 2"),
            "sinks.out.workers: a stdout sink writes one local stream",
        ),
        (
            "dedup of nothing",
            GOOD.replace("type = \"stdin\"", "type = \"http\"\ndedup = { window = \"0s\" }"),
            "sources.in.dedup: window and max_ids must be above 0",
        ),
        (
            "workers out of range",
            GOOD.replace("type = \"stdout\"", "type = \"http\"\nurl = \"http://127.0.0.1:9/\"\nworkers = 0"),
            "sinks.out.workers: expected a whole number from 1 to 32",
        ),
    ];
    for (what, text, needle) in cases {
        let (code, err) = check(text);
        assert_eq!(code, Some(2), "{what}: exit code; stderr: {err}");
        assert!(err.contains(needle), "{what}: {err:?} should mention {needle:?}");
        assert!(err.contains("bad.toml"), "{what}: {err:?} should name the file");
        assert!(!err.contains("panicked"), "{what}: {err}");
    }
}

/// (what, content type, extra headers, body, expected status)
type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, Vec<u8>, u16);

#[test]
fn hostile_requests_get_4xx_and_nothing_is_accepted() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let receiver = Receiver::ok();
    let port = free_port();
    let metrics_port = free_port();
    let config = write(
        dir.path(),
        "agent.toml",
        &format!(
            "[agent]\ndata_dir = \"{}\"\nmetrics_listen = \"127.0.0.1:{metrics_port}\"\n[channels.main]\ntype = \"sqlite\"\n[sources.in]\ntype = \"http\"\nchannels = [\"main\"]\nlisten = \"127.0.0.1:{port}\"\nmax_body = \"1MiB\"\nmax_inflated = \"4MiB\"\n\
             [sinks.up]\ntype = \"http\"\nchannel = \"main\"\nurl = \"{}\"\nbatch = {{ linger = \"10ms\" }}\n",
            dir.path().join("data").display(),
            receiver.url()
        ),
    );
    let _agent = Agent::start(&config, &dir.path().join("agent.log"));
    let addr = format!("127.0.0.1:{port}");
    assert!(wait_until(Duration::from_secs(10), || std::net::TcpStream::connect(&addr).is_ok()));
    let gzip = |data: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let _ = e.write_all(data);
        e.finish().unwrap_or_default()
    };
    let valid = br#"[{"headers":{"a":"1"},"body":"fine"}]"#.to_vec();
    let mut truncated = gzip(&valid);
    truncated.truncate(truncated.len() - 6);
    let bomb = gzip(&vec![b' '; 64 << 20]);
    let cases: Vec<Case<'_>> = vec![
        ("invalid json", "application/json", vec![], b"[{\"body\": ".to_vec(), 400),
        ("object not array", "application/json", vec![], br#"{"body":"x"}"#.to_vec(), 400),
        ("non-string header", "application/json", vec![], br#"[{"headers":{"n":{"x":1}},"body":"x"}]"#.to_vec(), 400),
        ("half-valid batch", "application/json", vec![], br#"[{"body":"ok"},{"body":7}]"#.to_vec(), 400),
        ("truncated gzip", "application/json", vec![("Content-Encoding", "gzip")], truncated, 400),
        ("lying gzip", "application/json", vec![("Content-Encoding", "gzip")], b"not gzip at all".to_vec(), 400),
        ("gzip bomb", "application/json", vec![("Content-Encoding", "gzip")], bomb, 400),
        ("deep nesting", "application/json", vec![], "[".repeat(100_000).into_bytes(), 400),
        ("invalid utf-8", "application/json", vec![], b"[{\"body\":\"\xff\xfe\"}]".to_vec(), 400),
        ("bad ndjson line", "application/x-ndjson", vec![], b"{\"body\":\"a\"}\n{oops}\n".to_vec(), 400),
        ("oversize", "application/json", vec![], vec![b' '; 2 << 20], 413),
    ];
    for (what, content_type, headers, body, want) in &cases {
        let got = post(&addr, "/", content_type, headers, body);
        match got {
            Ok((status, reply)) => assert_eq!(status, *want, "{what}: {reply}"),
            // An oversize body may be cut off by the server closing early; that is a refusal too.
            Err(e) => assert_eq!(*what, "oversize", "{what}: {e}"),
        }
    }
    let (status, _) = post(&addr, "/", "application/json", &[], &valid).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status, 200, "the agent is still up");
    assert!(wait_until(Duration::from_secs(10), || !receiver.events().is_empty()));
    std::thread::sleep(Duration::from_millis(300));
    let events = receiver.events();
    assert_eq!(events.len(), 1, "only the valid request's event went upstream: {events:?}");
    assert_eq!(events[0]["body"], "fine");
}

/// `sluice check -c` on what is not a config file: refused at once, never read
/// without end (a FIFO with no writer used to hang, `/dev/zero` to fill memory).
#[test]
fn config_paths_that_are_not_small_regular_files_are_refused() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let fifo = dir.path().join("fifo.toml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap_or_else(|e| panic!("mkfifo: {e}"));
    assert!(made.success());
    let big = dir.path().join("big.toml");
    std::fs::write(&big, format!("{GOOD}\n# {}\n", "x".repeat(2 << 20))).unwrap_or_else(|e| panic!("{e}"));
    for (path, says) in [
        (fifo.to_string_lossy().into_owned(), "not a regular file"),
        ("/dev/zero".to_string(), "not a regular file"),
        (big.to_string_lossy().into_owned(), "at most 1048576 bytes"),
    ] {
        // Built (if this test is the first to need it) before the clock starts.
        let mut command = sluice(&["check", "-c", &path]);
        let started = std::time::Instant::now();
        let out = command.output().unwrap_or_else(|e| panic!("{e}"));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{path}: {err}");
        assert!(err.contains(&path) && err.contains(says), "{path}: {err}");
        assert!(started.elapsed() < Duration::from_secs(5), "{path} took {:?}", started.elapsed());
    }
}

/// A data_dir that is a file, another user's, or open to others.
#[test]
fn unsafe_data_dirs_are_refused_or_tightened() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = |data: &std::path::Path| {
        write(
            dir.path(),
            "agent.toml",
            &GOOD.replace("[channels.main]", &format!("[agent]\ndata_dir = \"{}\"\n[channels.main]", data.display())),
        )
    };
    // A file where the directory should be: the message says so.
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap_or_else(|e| panic!("{e}"));
    let out = sluice(&["check", "-c", &config(&file).to_string_lossy()]).output().unwrap_or_else(|e| panic!("{e}"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("exists and is not a directory"), "{err}");
    let run = |data: &std::path::Path| {
        let mut child = sluice(&["run", "-c", &config(data).to_string_lossy()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        drop(child.stdin.take());
        let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, err) = run(&file);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("exists and is not a directory"), "{err}");

    // Another user's directory: anyone who owns it could swap the store.
    let foreign = dir.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap_or_else(|e| panic!("{e}"));
    let chown = std::process::Command::new("chown").arg("65534").arg(&foreign).status();
    assert!(chown.is_ok_and(|s| s.success()), "chown needs root (CI has it)");
    let (code, err) = run(&foreign);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("belongs to uid 65534"), "{err}");

    // Ours but open to everyone: tightened, with a warning.
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap_or_else(|e| panic!("{e}"));
    let log = dir.path().join("open.log");
    let mut agent = Agent::start(&config(&open), &log);
    let logged = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(wait_until(Duration::from_secs(10), || logged().contains("running")), "{}", logged());
    assert_eq!(agent.terminate(), Some(0));
    assert!(logged().contains("tightened to 0700"), "{}", logged());
    let meta = std::fs::metadata(&open).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(meta.mode() & 0o777, 0o700);
    assert_eq!(meta.uid(), unsafe_uid());
}

/// This process's user.
fn unsafe_uid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}
