//! The mobile SDK's core from Rust against a real loopback receiver: recording,
//! flushing and the phone's upload policy (network, budget, background, quota).

use sluice::mobile::{Network, Sdk};
use sluice::{Event, Priority};
use sluice_tests::receiver::{Receiver, Reply};
use sluice_tests::wait_until;
use std::time::{Duration, Instant};

fn config(receiver: &Receiver, mobile: &str, batch: &str) -> String {
    format!(
        "[agent]\nreport_interval = \"200ms\"\n[mobile]\n{mobile}\n[sinks.up]\ntype = \"http\"\nurl = \"{}\"\nretry = {{ initial = \"50ms\", max = \"200ms\" }}\nbatch = {batch}\n",
        receiver.url()
    )
}

/// Opens the SDK and runs an app-side uploader loop for it (the default `transport = "platform"`).
fn open(dir: &std::path::Path, config: &str) -> Sdk {
    let sdk = Sdk::open(dir, config).unwrap();
    sluice_tests::uploader::start(sdk.uploads());
    sdk
}

fn event(i: usize, priority: Priority) -> Event {
    Sdk::event(format!("event {i:04} {}", "x".repeat(150)).into_bytes(), vec![("n".into(), i.to_string())], priority)
        .unwrap()
}

fn index(e: &serde_json::Value) -> usize {
    e["headers"]["n"].as_str().unwrap().parse().unwrap()
}

fn data_events(receiver: &Receiver) -> Vec<serde_json::Value> {
    receiver.events().into_iter().filter(|e| e["headers"]["sluice.kind"] != "report").collect()
}

#[test]
fn record_then_flush_delivers_every_event_with_its_headers() {
    let receiver = Receiver::ok();
    let dir = tempfile::tempdir().unwrap();
    let sdk = open(dir.path(), &config(&receiver, "", "{ linger = \"10s\" }"));
    for i in 0..300 {
        sdk.record(event(i, Priority::Normal)).unwrap();
    }
    assert!(sdk.flush(Duration::from_secs(10)).unwrap(), "flush did not drain: {}", sdk.stats_json());
    let got = data_events(&receiver);
    assert_eq!(got.len(), 300);
    for (i, e) in got.iter().enumerate() {
        assert_eq!(e["headers"]["n"], i.to_string());
        assert!(e["body"].as_str().unwrap().starts_with(&format!("event {i:04} ")));
    }
    let stats = sdk.stats();
    assert_eq!((stats.recorded, stats.delivered, stats.pending_events), (300, 300, 0));
    sdk.close();
    assert!(sdk.record(event(0, Priority::Normal)).is_err(), "record after close must fail");
    sdk.close(); // a second close does nothing
    assert!(sdk.flush(Duration::from_millis(10)).is_err(), "flush after close reports Closed");
}

#[test]
fn the_builtin_client_ships_when_a_sink_asks_for_it_and_no_uploader_runs() {
    let receiver = Receiver::ok();
    let dir = tempfile::tempdir().unwrap();
    let text = config(&receiver, "", "{ linger = \"0ms\" }")
        .replace("type = \"http\"", "type = \"http\"\ntransport = \"builtin\"");
    let sdk = Sdk::open(dir.path(), &text).unwrap();
    for i in 0..20 {
        sdk.record(event(i, Priority::Normal)).unwrap();
    }
    assert!(sdk.flush(Duration::from_secs(10)).unwrap(), "{}", sdk.stats_json());
    assert_eq!(data_events(&receiver).len(), 20);
    sdk.close();
}

#[test]
fn without_an_uploader_requests_expire_as_retries_and_ship_once_one_runs() {
    use sluice::registry::Registry;
    use sluice::sink::platform::PlatformUploads;
    use std::sync::Arc;
    let receiver = Receiver::ok();
    let dir = tempfile::tempdir().unwrap();
    let text = config(&receiver, "", "{ linger = \"0ms\" }").replace("url =", "request_timeout = \"100ms\"\nurl =");
    // The sink waits 100 ms (its timeout) + 50 ms (grace) for an answer, then retries.
    let uploads = Arc::new(PlatformUploads::with_grace(Duration::from_millis(50)));
    let sdk = Sdk::open_with(dir.path(), &text, &Registry::with_platform_sinks(uploads.clone()), uploads).unwrap();
    for i in 0..20 {
        sdk.record_sync(event(i, Priority::Normal)).unwrap();
    }
    let said_why = wait_until(Duration::from_secs(10), || {
        sdk.stats().last_error.is_some_and(|e| e.contains("did not take the request (is it running?)"))
    });
    assert!(said_why, "no attempt expired with its reason: {}", sdk.stats_json());
    assert_eq!((receiver.requests(), sdk.stats().pending_events), (0, 20));
    sluice_tests::uploader::start(sdk.uploads());
    assert!(sdk.flush(Duration::from_secs(30)).unwrap(), "{}", sdk.stats_json());
    assert_eq!(data_events(&receiver).iter().map(index).collect::<Vec<_>>(), (0..20).collect::<Vec<_>>());
    sdk.close();
}

#[test]
fn offline_makes_no_network_attempt_until_the_network_returns() {
    let receiver = Receiver::ok();
    let dir = tempfile::tempdir().unwrap();
    let sdk = open(dir.path(), &config(&receiver, "", "{ linger = \"0ms\" }"));
    sdk.set_network(Network::Offline);
    for i in 0..50 {
        sdk.record_sync(event(i, Priority::Normal)).unwrap();
    }
    assert!(!sdk.flush(Duration::from_millis(300)).unwrap(), "flush reported a delivery while offline");
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(receiver.log.lock().unwrap().len(), 0, "a request was made while offline");
    assert_eq!(sdk.stats().uploads_paused, Some("offline"));
    sdk.set_network(Network::Unmetered);
    assert!(wait_until(Duration::from_secs(10), || data_events(&receiver).len() == 50));
}

#[test]
fn a_failing_upstream_is_not_retried_while_offline_and_at_once_when_back() {
    let receiver = Receiver::scripted(|_, i| {
        if i < 3 {
            Reply::Status(503, vec![], "down".into())
        } else {
            Reply::Status(200, vec![], String::new())
        }
    });
    let dir = tempfile::tempdir().unwrap();
    // Backoff would reach 60 s; the network coming back must cut it short.
    let text = config(&receiver, "", "{ linger = \"0ms\" }").replace("max = \"200ms\"", "max = \"60s\"");
    let sdk = open(dir.path(), &text.replace("initial = \"50ms\"", "initial = \"30s\""));
    sdk.record_sync(event(0, Priority::Normal)).unwrap();
    assert!(wait_until(Duration::from_secs(10), || !receiver.log.lock().unwrap().is_empty()));
    sdk.set_network(Network::Offline);
    let attempts = receiver.log.lock().unwrap().len();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(receiver.log.lock().unwrap().len(), attempts, "retried while offline");
    let back = Instant::now();
    sdk.set_network(Network::Unmetered);
    assert!(wait_until(Duration::from_secs(5), || receiver.log.lock().unwrap().len() > attempts));
    assert!(back.elapsed() < Duration::from_secs(5), "the 30 s backoff was not reset by the network's return");
}

#[test]
fn a_metered_budget_stops_uploads_at_the_budget() {
    let receiver = Receiver::ok();
    let dir = tempfile::tempdir().unwrap();
    let text = config(&receiver, "metered_daily_budget = \"4KiB\"", "{ linger = \"0ms\", max_events = 5 }");
    let sdk = open(dir.path(), &text);
    sdk.set_network(Network::Metered);
    let size = event(0, Priority::Normal).size() as u64;
    for i in 0..100 {
        sdk.record_sync(event(i, Priority::Normal)).unwrap();
    }
    assert!(wait_until(Duration::from_secs(10), || sdk.stats().uploads_paused == Some("metered_budget_spent")));
    std::thread::sleep(Duration::from_millis(500));
    let sent = data_events(&receiver);
    let bytes: u64 = sent.iter().map(|e| event(index(e), Priority::Normal).size() as u64).sum();
    assert!(!sent.is_empty(), "nothing was sent within the budget");
    assert!(bytes <= 4096 + size, "{} events, {bytes} bytes, passed a 4 KiB budget", sent.len());
    assert_eq!(sdk.stats().metered_bytes_today, bytes);
    // Wi-Fi is not metered: the rest goes.
    sdk.set_network(Network::Unmetered);
    assert!(wait_until(Duration::from_secs(10), || data_events(&receiver).len() == 100));
}

#[test]
fn going_to_background_uploads_within_the_bound() {
    let receiver = Receiver::ok();
    let dir = tempfile::tempdir().unwrap();
    let text = config(&receiver, "flush_on_background = \"1s\"", "{ linger = \"60s\", max_events = 1000 }");
    let sdk = open(dir.path(), &text);
    for i in 0..10 {
        sdk.record(event(i, Priority::Normal)).unwrap();
    }
    // In the foreground the batch lingers (60 s): nothing is sent.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(data_events(&receiver).len(), 0, "the batch was sent without lingering");
    let went = Instant::now();
    sdk.set_foreground(false);
    assert!(wait_until(Duration::from_secs(1), || data_events(&receiver).len() == 10), "not uploaded within 1 s");
    assert!(went.elapsed() <= Duration::from_secs(1));
}

#[test]
fn a_full_quota_evicts_low_then_normal_keeps_high_and_reports_the_loss() {
    let receiver = Receiver::ok();
    let dir = tempfile::tempdir().unwrap();
    let text = config(&receiver, "max_bytes = \"20KiB\"", "{ linger = \"0ms\" }");
    let sdk = open(dir.path(), &text);
    sdk.set_network(Network::Offline);
    let mut n = 0;
    for (count, priority) in [(40, Priority::High), (100, Priority::Low), (100, Priority::Normal)] {
        for _ in 0..count {
            sdk.record_sync(event(n, priority)).unwrap();
            n += 1;
        }
    }
    let stats = sdk.stats();
    assert!(stats.evicted > 100, "evicted {}: every low event and some normal ones should go", stats.evicted);
    assert_eq!(stats.refused, 0);
    sdk.set_network(Network::Unmetered);
    assert!(wait_until(Duration::from_secs(10), || data_events(&receiver).len() as u64 + stats.evicted == 240));
    let got = data_events(&receiver);
    assert_eq!(got.iter().filter(|e| index(e) < 40).count(), 40, "a high event was evicted");
    assert_eq!(got.iter().filter(|e| (40..140).contains(&index(e))).count(), 0, "a low event outlived a normal one");
    // The newest normal events are the ones kept.
    assert!(got.iter().any(|e| index(e) == 239));
    assert!(wait_until(Duration::from_secs(10), || receiver
        .events()
        .iter()
        .any(|e| e["headers"]["sluice.kind"] == "report" && e["body"].as_str().unwrap_or("").contains("evicted"))));
    let report: Vec<_> = receiver.events().into_iter().filter(|e| e["headers"]["sluice.kind"] == "report").collect();
    let body: serde_json::Value = serde_json::from_str(report[0]["body"].as_str().unwrap()).unwrap();
    let reported: u64 = body["losses"].as_array().unwrap().iter().map(|l| l["events"].as_u64().unwrap()).sum();
    assert_eq!(reported, stats.evicted, "the loss report does not count every eviction: {body}");
}

#[test]
fn bad_configuration_and_bad_events_are_errors_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let err = Sdk::open(dir.path(), "[mobile]\nupload_on = \"wifi\"\n[sinks.up]\ntype = \"null\"\n").unwrap_err();
    assert!(err.to_string().starts_with("<config>:2:") && err.to_string().contains("upload_on"), "{err}");
    // A buffer the app could not pay for is refused, not allocated.
    let err = Sdk::open(dir.path(), "[mobile]\nbuffer_events = 1000000000\n[sinks.up]\ntype = \"null\"\n").unwrap_err();
    assert!(err.to_string().contains("buffer_events") && err.to_string().contains("1000000"), "{err}");
    let err = Sdk::open(dir.path(), "[sources.x]\ntype = \"stdin\"\nchannels = [\"app\"]\n").unwrap_err();
    assert!(err.to_string().contains("no sources"), "{err}");
    let err = Sdk::event(vec![], vec![(String::new(), "v".into())], Priority::Normal).unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
    let err = Sdk::event(vec![0; 2 << 20], vec![], Priority::Normal).unwrap_err();
    assert!(err.to_string().contains("at most"), "{err}");
    // Two instances on one directory would corrupt each other's view of the store.
    let ok = "[sinks.up]\ntype = \"null\"\n";
    let first = Sdk::open(dir.path(), ok).unwrap();
    assert!(Sdk::open(dir.path(), ok).is_err());
    first.close();
    Sdk::open(dir.path(), ok).unwrap().close();
}

/// The app killed (SIGKILL) during a record loop, ten times, then reopened:
/// every event whose `record_sync` returned is shipped, and an event whose
/// `record` returned is lost only if it was recorded within the commit window
/// (`commit_interval` 50 ms, plus the commit itself) before the kill.
#[test]
fn killed_during_a_record_loop_loses_only_the_commit_window() {
    use std::collections::HashSet;
    use std::io::Read;
    use std::process::{Command, Stdio};
    const WINDOW_MS: u64 = 50 + 250;

    let receiver = Receiver::ok();
    let dir = tempfile::tempdir().unwrap();
    let mut synced = Vec::new();
    let mut recorded = Vec::new();
    for round in 0..10 {
        let mut child = Command::new(sluice_tests::test_bin("mobile-crash-child"))
            .arg(dir.path())
            .arg(receiver.url())
            .arg(round.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(150 + fastrand::u64(0..300)));
        // Child::kill sends SIGKILL on Unix.
        child.kill().unwrap();
        let killed_ms = sluice::event::now_ms();
        let mut out = String::new();
        child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        child.wait().unwrap();
        for line in out.lines() {
            let mut parts = line.split(' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("S"), Some(body), None) => synced.push(body.to_string()),
                (Some("R"), Some(body), Some(ms)) => {
                    recorded.push((body.to_string(), ms.parse::<u64>().unwrap(), killed_ms))
                }
                _ => {} // a line cut by the kill
            }
        }
    }
    assert!(synced.len() >= 10, "the child recorded too little to test anything: {}", synced.len());
    let sdk = open(dir.path(), &config(&receiver, "", "{ linger = \"0ms\" }"));
    assert!(sdk.flush(Duration::from_secs(30)).unwrap(), "reopened store did not drain: {}", sdk.stats_json());
    sdk.close();
    let got: HashSet<String> = receiver.events().iter().filter_map(|e| e["body"].as_str().map(String::from)).collect();
    let lost_synced: Vec<_> = synced.iter().filter(|b| !got.contains(*b)).collect();
    assert!(lost_synced.is_empty(), "record_sync returned but the event was lost: {lost_synced:?}");
    let outside_window: Vec<_> =
        recorded.iter().filter(|(b, at, killed)| !got.contains(b) && at + WINDOW_MS < *killed).collect();
    assert!(outside_window.is_empty(), "record()ed events lost outside the commit window: {outside_window:?}");
    let lost = recorded.iter().filter(|(b, _, _)| !got.contains(b)).count();
    eprintln!("{} synced, {} recorded, {lost} recorded events lost within the window", synced.len(), recorded.len());
}

/// Flushes on another thread; its result and how long it took.
fn flush_in_thread(
    sdk: &std::sync::Arc<Sdk>,
    timeout: Duration,
) -> std::thread::JoinHandle<(sluice::Result<bool>, Duration)> {
    let sdk = sdk.clone();
    std::thread::spawn(move || {
        let started = Instant::now();
        (sdk.flush(timeout), started.elapsed())
    })
}

/// A receiver that takes `delay` over each request (a slow network).
fn slow(delay: Duration) -> Receiver {
    Receiver::scripted(move |_, _| {
        std::thread::sleep(delay);
        Reply::Status(200, vec![], String::new())
    })
}

#[test]
fn flush_answers_pending_at_once_when_the_budget_runs_out_during_it() {
    let receiver = Receiver::ok();
    let dir = tempfile::tempdir().unwrap();
    let text = config(&receiver, "metered_daily_budget = \"4KiB\"", "{ linger = \"0ms\", max_events = 5 }");
    let sdk = open(dir.path(), &text);
    sdk.set_network(Network::Metered);
    for i in 0..100 {
        sdk.record(event(i, Priority::Normal)).unwrap();
    }
    let started = Instant::now();
    assert!(!sdk.flush(Duration::from_secs(10)).unwrap(), "the budget cannot carry 100 events");
    assert!(started.elapsed() < Duration::from_secs(3), "flush waited {:?} of its 10 s", started.elapsed());
    assert_eq!(sdk.stats().uploads_paused, Some("metered_budget_spent"));
}

#[test]
fn flush_answers_pending_at_once_when_the_app_goes_offline_during_it() {
    let receiver = slow(Duration::from_millis(100));
    let dir = tempfile::tempdir().unwrap();
    let sdk = std::sync::Arc::new(open(dir.path(), &config(&receiver, "", "{ linger = \"0ms\", max_events = 5 }")));
    for i in 0..200 {
        sdk.record(event(i, Priority::Normal)).unwrap();
    }
    let flusher = flush_in_thread(&sdk, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    sdk.set_network(Network::Offline);
    let (drained, took) = flusher.join().unwrap();
    assert!(!drained.unwrap());
    assert!(took < Duration::from_secs(2), "flush waited {took:?} of its 10 s after the network went");
}

#[test]
fn a_flush_racing_a_close_answers_closed() {
    let receiver = slow(Duration::from_millis(200));
    let dir = tempfile::tempdir().unwrap();
    let sdk = std::sync::Arc::new(open(dir.path(), &config(&receiver, "", "{ linger = \"0ms\", max_events = 5 }")));
    for i in 0..200 {
        sdk.record(event(i, Priority::Normal)).unwrap();
    }
    let flusher = flush_in_thread(&sdk, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    sdk.close();
    let (result, took) = flusher.join().unwrap();
    let kind = result.as_ref().err().map(|e| e.kind());
    assert_eq!(kind, Some(sluice::ErrorKind::Closed), "{result:?}");
    assert!(took < Duration::from_secs(8), "flush waited {took:?} of its 10 s after the close");
}

#[test]
fn after_set_network_offline_returns_no_request_reaches_the_uploader() {
    use sluice::sink::platform::{Taken, UploadResult};
    use std::sync::{Arc, Mutex};
    let receiver = Receiver::ok();
    let dir = tempfile::tempdir().unwrap();
    let sdk = Arc::new(Sdk::open(dir.path(), &config(&receiver, "", "{ linger = \"0ms\", max_events = 2 }")).unwrap());
    // An uploader that notes when it took each request, and answers 200.
    let taken_at: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let uploads = sdk.uploads();
    let notes = taken_at.clone();
    std::thread::spawn(move || loop {
        match uploads.take(None) {
            Taken::Task(task) => {
                notes.lock().unwrap().push(Instant::now());
                uploads.finish(task.id, UploadResult::Response { status: 200, retry_after: None, body: String::new() });
            }
            Taken::Idle => {}
            Taken::Closed => return,
        }
    });
    for round in 0..20 {
        for i in 0..20 {
            sdk.record(event(round * 20 + i, Priority::Normal)).unwrap();
        }
        std::thread::sleep(Duration::from_millis(fastrand::u64(5..40)));
        sdk.set_network(Network::Offline);
        let offline_at = Instant::now();
        std::thread::sleep(Duration::from_millis(150));
        let late: Vec<Duration> =
            taken_at.lock().unwrap().iter().filter(|t| **t > offline_at).map(|t| *t - offline_at).collect();
        assert!(late.is_empty(), "round {round}: requests taken {late:?} after set_network(OFFLINE) returned");
        sdk.set_network(Network::Unmetered);
    }
    assert!(sdk.flush(Duration::from_secs(10)).unwrap());
    sdk.close();
}

#[test]
fn set_config_moves_uploads_to_a_new_sink_and_policy_and_keeps_what_was_recorded() {
    let (first, second) = (Receiver::ok(), Receiver::ok());
    let dir = tempfile::tempdir().unwrap();
    let metered = "upload_on = \"any\"";
    let sdk = open(dir.path(), &config(&first, metered, "{ linger = \"0ms\" }"));
    sdk.set_network(Network::Offline);
    for i in 0..50 {
        sdk.record(event(i, Priority::Normal)).unwrap();
    }
    // A new sink URL and a policy that forbids metered networks, while offline.
    let unmetered_only = config(&second, "upload_on = \"unmetered\"", "{ linger = \"0ms\" }");
    sdk.set_config(&unmetered_only).unwrap();
    sdk.set_network(Network::Metered);
    assert!(!sdk.flush(Duration::from_millis(300)).unwrap(), "the new policy holds uploads on metered");
    assert_eq!(sdk.stats().uploads_paused, Some("metered_network"));
    sdk.set_network(Network::Unmetered);
    assert!(sdk.flush(Duration::from_secs(10)).unwrap(), "{}", sdk.stats_json());
    let got: Vec<usize> = data_events(&second).iter().map(index).collect();
    assert_eq!(got, (0..50).collect::<Vec<_>>(), "everything recorded went to the new sink, once");
    assert!(data_events(&first).is_empty());

    // Refused: invalid, and what needs the SDK opened again. Nothing changes.
    let refusals = [
        (config(&first, "upload_on = \"sometimes\"", "{}"), "<config>:"),
        (config(&first, "max_bytes = \"1MiB\"", "{}"), "mobile: the store's limits"),
        (config(&first, "buffer_events = 7", "{}"), "mobile.buffer_events: changes only when the SDK is opened again"),
    ];
    for (text, expected) in refusals {
        let refused = sdk.set_config(&text).err().map(|e| (e.kind(), e.to_string()));
        assert!(
            refused.as_ref().is_some_and(|(k, m)| *k == sluice::ErrorKind::Config && m.contains(expected)),
            "{expected}: {refused:?}"
        );
    }
    sdk.record(event(50, Priority::Normal)).unwrap();
    assert!(sdk.flush(Duration::from_secs(10)).unwrap());
    assert_eq!(data_events(&second).len(), 51, "the refused versions left the running sink in place");
    sdk.close();
    assert_eq!(sdk.set_config(&unmetered_only).err().map(|e| e.kind()), Some(sluice::ErrorKind::Closed));
}
