use sluice_tests::receiver::{Receiver, Reply};
use sluice_tests::{free_port, post, wait_until, write, Agent};
use std::time::Duration;

fn agent_with_group(dir: &std::path::Path, port: u16, urls: [&str; 2], group: &str) -> Agent {
    let config = write(
        dir,
        "agent.toml",
        &format!(
            "[agent]\ndata_dir = \"{}\"\n[channels.main]\ntype = \"sqlite\"\n\
             [sources.in]\ntype = \"http\"\nchannels = [\"main\"]\nlisten = \"127.0.0.1:{port}\"\n\
             [sinks.a]\ntype = \"http\"\nchannel = \"main\"\nurl = \"{}\"\nbatch = {{ max_events = 10, linger = \"1ms\" }}\nretry = {{ initial = \"100ms\", max = \"1s\" }}\n\
             [sinks.b]\ntype = \"http\"\nchannel = \"main\"\nurl = \"{}\"\nbatch = {{ max_events = 10, linger = \"1ms\" }}\n\
             [sink_groups.g]\nsinks = [\"a\", \"b\"]\n{group}\n",
            dir.join("data").display(),
            urls[0],
            urls[1]
        ),
    );
    let agent = Agent::start(&config, &dir.join("agent.log"));
    let addr = format!("127.0.0.1:{port}");
    assert!(wait_until(Duration::from_secs(10), || std::net::TcpStream::connect(&addr).is_ok()));
    agent
}

fn send(port: u16, n: usize) {
    let body = format!(
        "[{}]",
        (0..n).map(|i| format!("{{\"headers\":{{\"seq\":\"{i}\"}},\"body\":\"e{i}\"}}")).collect::<Vec<_>>().join(",")
    );
    let (status, reply) = post(&format!("127.0.0.1:{port}"), "/", "application/json", &[], body.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status, 200, "{reply}");
}

#[test]
fn failover_moves_to_the_backup_while_the_primary_fails() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let primary = Receiver::scripted(|_, _| Reply::Status(503, vec![], "down".into()));
    let backup = Receiver::ok();
    let port = free_port();
    let _agent = agent_with_group(dir.path(), port, [&primary.url(), &backup.url()], "processor = \"failover\"");
    send(port, 100);
    assert!(
        wait_until(Duration::from_secs(20), || backup.events().len() >= 100),
        "backup got {}",
        backup.events().len()
    );
    assert!(primary.requests() >= 1, "the primary was tried first");
    // The failed primary is penalised: it is not asked for every one of the 10 batches.
    assert!(primary.requests() < 10, "primary asked {} times", primary.requests());
}

#[test]
fn load_balance_round_robin_uses_both() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (a, b) = (Receiver::ok(), Receiver::ok());
    let port = free_port();
    let _agent = agent_with_group(
        dir.path(),
        port,
        [&a.url(), &b.url()],
        "processor = \"load_balance\"\nselector = \"round_robin\"",
    );
    send(port, 100);
    let total = || a.events().len() + b.events().len();
    assert!(wait_until(Duration::from_secs(20), || total() >= 100), "only {} arrived", total());
    assert_eq!(total(), 100, "no duplicates without failures");
    assert!(a.events().len() >= 30 && b.events().len() >= 30, "a {} / b {}", a.events().len(), b.events().len());
}
