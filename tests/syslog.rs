use sluice_tests::receiver::Receiver;
use sluice_tests::{free_port, metrics_json, wait_until, write, Agent};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

struct Intake {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    receiver: Receiver,
    metrics: String,
    _agent: Agent,
}

/// An agent with the given sources (TOML) into a channel shipped to a loopback receiver.
fn intake(sources: &str) -> Intake {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = tmp.path().to_path_buf();
    let receiver = Receiver::ok();
    let metrics_port = free_port();
    let config = write(
        &dir,
        "agent.toml",
        &format!(
            "[agent]\ndata_dir = \"{}\"\nmetrics_listen = \"127.0.0.1:{metrics_port}\"\n\
             [channels.main]\ntype = \"sqlite\"\n{sources}\n\
             [sinks.up]\ntype = \"http\"\nchannel = \"main\"\nurl = \"{}\"\nbatch = {{ max_events = 500, linger = \"20ms\" }}\n",
            dir.join("data").display(),
            receiver.url()
        ),
    );
    let agent = Agent::start(&config, &dir.join("agent.log"));
    let metrics = format!("127.0.0.1:{metrics_port}");
    assert!(wait_until(Duration::from_secs(10), || std::net::TcpStream::connect(&metrics).is_ok()));
    Intake { _dir: tmp, dir, receiver, metrics, _agent: agent }
}

fn syslog_source(name: &str, protocol: &str, port: u16, extra: &str) -> String {
    format!(
        "[sources.{name}]\ntype = \"syslog\"\nchannels = [\"main\"]\nprotocol = \"{protocol}\"\nlisten = \"127.0.0.1:{port}\"\n{extra}\n"
    )
}

fn logger(args: &[&str], message: &str) {
    let status = Command::new("logger").args(args).arg(message).status().unwrap_or_else(|e| panic!("logger: {e}"));
    assert!(status.success(), "logger {args:?} failed");
}

fn find(receiver: &Receiver, needle: &str) -> Option<serde_json::Value> {
    receiver.events().into_iter().find(|e| e["body"].as_str().is_some_and(|b| b.contains(needle)))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default()
}

/// util-linux `logger` over UDP and TCP, RFC 3164 and 5424, newline and octet-counted framing.
#[test]
fn logger_messages_arrive_with_flume_syslog_headers() {
    let (udp, tcp) = (free_port(), free_port());
    let sources = syslog_source("udp", "udp", udp, "") + &syslog_source("tcp", "tcp", tcp, "");
    let intake = intake(&sources);
    let (udp, tcp) = (udp.to_string(), tcp.to_string());
    let cases: [(&[&str], &str, &str, &str); 4] = [
        (&["-d", "-P", &udp, "--rfc3164", "-p", "local3.warning"], "udp-3164", "19", "4"),
        (&["-d", "-P", &udp, "--rfc5424", "-p", "user.err"], "udp-5424", "1", "3"),
        (&["-T", "-P", &tcp, "--rfc3164", "-p", "daemon.info"], "tcp-3164", "3", "6"),
        (&["-T", "-P", &tcp, "--rfc5424", "--octet-count", "-p", "auth.notice"], "tcp-5424-octets", "4", "5"),
    ];
    let before = sluice::event::now_ms();
    for (args, text, _, _) in &cases {
        let mut all = vec!["-n", "127.0.0.1", "-t", "myapp"];
        all.extend_from_slice(args);
        logger(&all, &format!("hello {text} grüße"));
    }
    for (_, text, facility, severity) in &cases {
        let needle = format!("hello {text} grüße");
        assert!(
            wait_until(Duration::from_secs(10), || find(&intake.receiver, &needle).is_some()),
            "{text} never arrived"
        );
        let event = find(&intake.receiver, &needle).unwrap_or_default();
        let headers = &event["headers"];
        assert_eq!(headers["Facility"], *facility, "{text}: {event}");
        assert_eq!(headers["Severity"], *severity, "{text}: {event}");
        assert_eq!(headers["host"], hostname(), "{text}: {event}");
        assert!(headers.get("flume.syslog.status").is_none(), "{text}: {event}");
        let ts: u64 = headers["timestamp"].as_str().and_then(|t| t.parse().ok()).unwrap_or(0);
        // RFC 3164 stamps have whole seconds (and no zone: the test machine runs in UTC).
        assert!(ts + 2_000 >= before && ts <= sluice::event::now_ms() + 1_000, "{text}: timestamp {ts} vs {before}");
        let body = event["body"].as_str().unwrap_or_default();
        assert!(body.starts_with("myapp"), "{text}: the body starts at the tag, as Flume's: {body:?}");
    }
}

/// Malformed and oversized messages are delivered marked and counted; the source keeps going.
#[test]
fn malformed_and_oversized_messages_are_counted_not_fatal() {
    let (udp, tcp) = (free_port(), free_port());
    let limit = "max_message_size = \"100B\"";
    let intake = intake(&(syslog_source("udp", "udp", udp, limit) + &syslog_source("tcp", "tcp", tcp, limit)));
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let to = format!("127.0.0.1:{udp}");
    for datagram in [&b"no priority here"[..], b"<1000>bad pri", &[0xff, 0xfe, 0x00]] {
        socket.send_to(datagram, &to).unwrap_or_else(|e| panic!("{e}"));
    }
    let long = format!("<13>1 - host app - - - {}", "x".repeat(500));
    socket.send_to(long.as_bytes(), &to).unwrap_or_else(|e| panic!("{e}"));
    let mut stream = std::net::TcpStream::connect(format!("127.0.0.1:{tcp}")).unwrap_or_else(|e| panic!("{e}"));
    let framed = format!("{} {long}<13>1 - host app - - - after-long\n", long.len());
    stream.write_all(framed.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    stream
        .write_all(b"junk line without pri\n<14>1 - host app - - - still-working\n")
        .unwrap_or_else(|e| panic!("{e}"));
    drop(stream);
    socket.send_to(b"<14>1 - host app - - - udp-still-working", &to).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        wait_until(Duration::from_secs(10), || intake.receiver.events().len() == 9),
        "{:?}",
        intake.receiver.events()
    );
    let events = intake.receiver.events();
    let status = |e: &serde_json::Value| e["headers"]["flume.syslog.status"].as_str().unwrap_or("").to_string();
    assert_eq!(events.iter().filter(|e| status(e) == "Invalid").count(), 4, "{events:?}");
    assert_eq!(events.iter().filter(|e| status(e) == "Incomplete").count(), 2, "{events:?}");
    for needle in ["after-long", "still-working", "udp-still-working"] {
        assert!(find(&intake.receiver, needle).is_some(), "{needle}");
    }
    let json = metrics_json(&intake.metrics);
    assert_eq!(json["SOURCE.udp"]["EventMalformedCount"], "3");
    assert_eq!(json["SOURCE.udp"]["EventTruncatedCount"], "1");
    assert_eq!(json["SOURCE.tcp"]["EventMalformedCount"], "1");
    assert_eq!(json["SOURCE.tcp"]["EventTruncatedCount"], "1");
}

fn rsyslog_config(dir: &Path, listen: u16, forward: u16) -> PathBuf {
    write(
        dir,
        "rsyslog.conf",
        &format!(
            "global(workDirectory=\"{dir}\")\n\
             module(load=\"imudp\")\n\
             input(type=\"imudp\" address=\"127.0.0.1\" port=\"{listen}\")\n\
             *.* action(type=\"omfwd\" target=\"127.0.0.1\" port=\"{forward}\" protocol=\"tcp\" \
             TCP_Framing=\"octet-counted\" template=\"RSYSLOG_SyslogProtocol23Format\")\n",
            dir = dir.display()
        ),
    )
}

/// rsyslog relaying with omfwd (TCP, octet-counted, RFC 5424) into the syslog source.
#[test]
fn rsyslog_omfwd_forwards_into_the_source() {
    let Ok(rsyslogd) = which("rsyslogd") else {
        panic!("rsyslogd is not installed: `apt-get install rsyslog` (.ci/run does)");
    };
    let (tcp, relay) = (free_port(), free_port());
    let intake = intake(&syslog_source("relay", "tcp", tcp, ""));
    let conf = rsyslog_config(&intake.dir, relay, tcp);
    let mut child = Command::new(rsyslogd)
        .args(["-n", "-f", &conf.to_string_lossy(), "-i", &intake.dir.join("rsyslog.pid").to_string_lossy()])
        .spawn()
        .unwrap_or_else(|e| panic!("rsyslogd: {e}"));
    // rsyslog binds its UDP input a moment after start; resend until one arrives.
    let arrived = wait_until(Duration::from_secs(20), || {
        logger(
            &["-n", "127.0.0.1", "-d", "-P", &relay.to_string(), "-t", "relayed", "-p", "local0.crit"],
            "via rsyslog",
        );
        std::thread::sleep(Duration::from_millis(200));
        find(&intake.receiver, "via rsyslog").is_some()
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(arrived, "nothing arrived through rsyslog");
    let event = find(&intake.receiver, "via rsyslog").unwrap_or_default();
    assert_eq!(event["headers"]["Facility"], "16", "{event}");
    assert_eq!(event["headers"]["Severity"], "2", "{event}");
    assert!(event["headers"]["host"].as_str().is_some_and(|h| !h.is_empty()), "{event}");
    assert!(event["body"].as_str().is_some_and(|b| b.starts_with("relayed")), "{event}");
}

fn which(name: &str) -> Result<PathBuf, ()> {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"].iter().map(|d| Path::new(d).join(name)).find(|p| p.exists()).ok_or(())
}

/// The tcp source: lines from several connections, the last without a newline.
#[test]
fn tcp_lines_from_several_connections_arrive() {
    let port = free_port();
    let intake = intake(&format!(
        "[sources.lines]\ntype = \"tcp\"\nchannels = [\"main\"]\nlisten = \"127.0.0.1:{port}\"\npeer_header = \"client\"\n"
    ));
    let senders: Vec<_> = (0..4)
        .map(|c| {
            std::thread::spawn(move || {
                let mut s = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).unwrap_or_else(|e| panic!("{e}"));
                let text: String = (0..250).map(|i| format!("c{c} line {i}\n")).collect();
                s.write_all(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
                s.write_all(format!("c{c} last").as_bytes()).unwrap_or_else(|e| panic!("{e}"));
            })
        })
        .collect();
    senders.into_iter().for_each(|s| s.join().unwrap_or_else(|_| panic!("sender")));
    assert!(wait_until(Duration::from_secs(10), || intake.receiver.events().len() == 1004));
    let events = intake.receiver.events();
    assert!(events.iter().all(|e| e["headers"]["client"] == "127.0.0.1"));
    for c in 0..4 {
        assert!(find(&intake.receiver, &format!("c{c} last")).is_some());
        let lines: Vec<_> = events
            .iter()
            .filter_map(|e| e["body"].as_str())
            .filter(|b| b.starts_with(&format!("c{c} line ")))
            .map(String::from)
            .collect();
        let want: Vec<_> = (0..250).map(|i| format!("c{c} line {i}")).collect();
        assert_eq!(lines, want, "connection {c} in order");
    }
}
