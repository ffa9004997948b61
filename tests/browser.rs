//! Headless Chromium (Debian's `chromium`) against the real agent: the status
//! page's live values, and browser intake with sendBeacon and fetch.

use sluice_tests::receiver::{Receiver, Reply};
use sluice_tests::{free_port, metrics_json, post, wait_until, write, Agent};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn chromium() -> PathBuf {
    let path = PathBuf::from("/usr/bin/chromium");
    assert!(path.exists(), "chromium is not installed: `apt-get install chromium` (.ci/run does)");
    path
}

/// Runs headless Chromium on `url` with `extra` flags; returns stdout.
fn headless(url: &str, extra: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(chromium())
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("chromium: {e}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The text of the element whose `data-key` is `key` in a DOM dump.
fn cell(dom: &str, key: &str) -> Option<String> {
    let at = dom.find(&format!("data-key=\"{key}\">"))?;
    let rest = &dom[at..];
    let start = rest.find('>')? + 1;
    let end = rest.find('<')?;
    Some(rest[start..end].to_string())
}

/// The status page shows the topology and the values `/metrics.json` has, with a chart.
#[test]
fn status_page_shows_what_metrics_json_says() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let down = Receiver::scripted(|_, _| Reply::Status(503, vec![], "down".into()));
    let refusing = Receiver::scripted(|_, _| Reply::Status(400, vec![], "bad schema".into()));
    let (port, metrics_port) = (free_port(), free_port());
    let config = write(
        dir.path(),
        "agent.toml",
        &format!(
            "[agent]\nname = \"gw-test\"\ndata_dir = \"{}\"\nmetrics_listen = \"127.0.0.1:{metrics_port}\"\n\
             [channels.main]\ntype = \"sqlite\"\nmax_events = 100\n[channels.side]\ntype = \"memory\"\n\
             [sources.in]\ntype = \"http\"\nchannels = [\"main\", \"side\"]\nlisten = \"127.0.0.1:{port}\"\n\
             [sinks.up]\ntype = \"http\"\nchannel = \"main\"\nurl = \"{}\"\nretry = {{ initial = \"1h\", max = \"1h\" }}\n\
             [sinks.strict]\ntype = \"http\"\nchannel = \"side\"\nurl = \"{}\"\n",
            dir.path().join("data").display(),
            down.url(),
            refusing.url()
        ),
    );
    let _agent = Agent::start(&config, &dir.path().join("agent.log"));
    let metrics = format!("127.0.0.1:{metrics_port}");
    assert!(wait_until(Duration::from_secs(10), || std::net::TcpStream::connect(&metrics).is_ok()));
    let batch = format!("[{}]", [r#"{"body":"x"}"#; 7].join(","));
    let (status, _) = post(&format!("127.0.0.1:{port}"), "/", "application/json", &[], batch.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status, 200);
    let settled = || {
        let m = metrics_json(&metrics);
        m["SINK.strict"]["EventQuarantinedCount"] == "7" && m["SINK.up"]["ConnectionFailedCount"] == "1"
    };
    assert!(wait_until(Duration::from_secs(10), settled), "{}", metrics_json(&metrics));

    // The agent keeps a second-by-second history: a fresh page draws it at once.
    let history = || {
        let text = sluice_tests::get(&metrics, "/history.json");
        serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|v| v["points"].as_array().map(Vec::len))
    };
    assert!(wait_until(Duration::from_secs(10), || history().unwrap_or(0) >= 3), "history: {:?}", history());
    let url = format!("http://{metrics}/");
    let first_paint = headless(&url, &["--virtual-time-budget=300", "--dump-dom"]);
    let points = first_paint
        .split("data-points=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|n| n.parse::<usize>().ok());
    assert!(points.is_some_and(|n| n >= 2), "the chart has no history at first paint: {points:?}");

    let dom = headless(&url, &["--virtual-time-budget=4000", "--dump-dom"]);
    let json = metrics_json(&metrics);
    for (key, field) in [
        ("CHANNEL.main", "ChannelSize"),
        ("CHANNEL.side", "ChannelSize"),
        ("SOURCE.in", "EventAcceptedCount"),
        ("SINK.strict", "EventQuarantinedCount"),
        ("SINK.up", "ConnectionFailedCount"),
        ("SINK.up", "EventDrainSuccessCount"),
    ] {
        let want = json[key][field].as_str().unwrap_or("missing").to_string();
        assert_eq!(cell(&dom, &format!("{key}:{field}")), Some(want), "{key} {field} on the page");
    }
    assert_eq!(cell(&dom, "CHANNEL.main:ChannelSize").as_deref(), Some("7"));
    // A failing sink says what it is doing and why, not only its counts.
    let state = cell(&dom, "SINK.up:State").unwrap_or_default();
    // The wait is jittered (up to the 1h of `retry`): only its form is known.
    assert!(state.starts_with("backing off: attempt 1 failed, next try in "), "sink state: {state:?}");
    let error = cell(&dom, "SINK.up:LastError").unwrap_or_default();
    assert!(error.contains("503"), "last error: {error:?}");
    assert_eq!(cell(&dom, "SINK.strict:State").as_deref(), Some("idle"), "quarantining is not failing");
    assert_eq!(cell(&dom, "CHANNEL.main:ChannelFillPercentage").as_deref(), Some("7.00%"));
    assert!(dom.contains("in (http) → main, side"), "topology missing:\n{dom}");
    assert!(dom.contains("main → up (http)"), "topology missing");
    let hash = std::process::Command::new("sha256sum").arg(&config).output().map(|o| o.stdout).unwrap_or_default();
    let hash = String::from_utf8_lossy(&hash).chars().take(12).collect::<String>();
    assert!(dom.contains(&format!("configuration {hash} loaded ")), "the configuration's hash is shown:\n{dom}");
    assert!(dom.contains("<canvas id=\"chart\""), "chart missing");

    let page = sluice_tests::get(&metrics, "/");
    assert!(!page.contains("http://") && !page.contains("https://"), "the page loads nothing from elsewhere");
    assert!(page.len() < 8 * 1024, "the page is {} bytes", page.len());

    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("status-page.png");
    headless(
        &url,
        &["--virtual-time-budget=4000", "--window-size=1000,1100", &format!("--screenshot={}", shot.display())],
    );
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 10_000, "screenshot {} is {size} bytes", shot.display());
    println!("status page screenshot: {} ({size} bytes)", shot.display());
}

/// Serves `html` to every GET on a loopback port; returns the port.
fn serve_page(html: String) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{html}",
                html.len()
            );
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    port
}

/// A page on another origin sends clicks with sendBeacon and with fetch (CORS preflight); all arrive.
#[test]
fn browser_clicks_arrive_by_send_beacon_and_fetch() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let receiver = Receiver::ok();
    let intake_port = free_port();
    let intake = format!("http://127.0.0.1:{intake_port}/");
    let html = format!(
        r##"<!doctype html><html><body><button id="buy">buy</button><a id="home" href="#">home</a><script>
const intake = "{intake}";
function track(e) {{
  const event = [{{ headers: {{ kind: "click", target: e.target.id, page: location.pathname }}, body: JSON.stringify({{ x: e.clientX, t: Date.now() }}) }}];
  if (e.target.id === "buy") navigator.sendBeacon(intake, JSON.stringify(event));
  else fetch(intake, {{ method: "POST", headers: {{ "Content-Type": "application/json" }}, body: JSON.stringify(event), keepalive: true }})
    .then(r => document.title = "fetch " + r.status);
}}
document.addEventListener("click", track);
document.getElementById("buy").click();
document.getElementById("home").click();
document.getElementById("buy").click();
</script></body></html>"##
    );
    let page_port = serve_page(html);
    let config = write(
        dir.path(),
        "agent.toml",
        &format!(
            "[agent]\ndata_dir = \"{}\"\n[channels.main]\ntype = \"sqlite\"\n\
             [sources.web]\ntype = \"http\"\nchannels = [\"main\"]\nlisten = \"127.0.0.1:{intake_port}\"\n\
             cors_origins = [\"http://127.0.0.1:{page_port}\"]\n\
             [sinks.up]\ntype = \"http\"\nchannel = \"main\"\nurl = \"{}\"\nbatch = {{ max_events = 10, linger = \"20ms\" }}\n",
            dir.path().join("data").display(),
            receiver.url()
        ),
    );
    let _agent = Agent::start(&config, &dir.path().join("agent.log"));
    assert!(wait_until(Duration::from_secs(10), || std::net::TcpStream::connect(format!("127.0.0.1:{intake_port}"))
        .is_ok()));
    let dom = headless(&format!("http://127.0.0.1:{page_port}/shop"), &["--virtual-time-budget=3000", "--dump-dom"]);
    assert!(
        wait_until(Duration::from_secs(10), || receiver.events().len() == 3),
        "{} events arrived; page: {dom}",
        receiver.events().len()
    );
    let events = receiver.events();
    let targets: Vec<&str> = events.iter().filter_map(|e| e["headers"]["target"].as_str()).collect();
    assert_eq!(targets.iter().filter(|t| **t == "buy").count(), 2, "two sendBeacon clicks: {events:?}");
    assert_eq!(targets.iter().filter(|t| **t == "home").count(), 1, "one fetch click: {events:?}");
    assert!(events.iter().all(|e| e["headers"]["kind"] == "click" && e["headers"]["page"] == "/shop"));
    assert!(dom.contains("<title>fetch 200</title>"), "fetch saw the CORS reply: {dom}");
}
