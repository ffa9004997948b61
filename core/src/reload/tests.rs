//! The reload plan, one row per kind of edit.

use super::*;
use crate::config::Config;
use crate::registry::Registry;
use std::path::Path;

/// A gateway: http into a durable channel, through one interceptor, to an http sink.
const BASE: &str = r#"
[agent]
data_dir = "/tmp/sluice-plan"
[channels.main]
type = "sqlite"
[sources.in]
type = "http"
listen = "127.0.0.1:5140"
channels = ["main"]
interceptors = [{ type = "host" }]
[sinks.up]
type = "http"
url = "http://127.0.0.1:9/"
channel = "main"
"#;

fn topology(text: &str) -> Topology {
    match Config::parse(text, Path::new("a.toml"), &Registry::with_builtins()) {
        Ok(c) => c.topology,
        Err(e) => panic!("test config does not load: {e}\n{text}"),
    }
}

fn edited(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from:?} is not in the base config");
    BASE.replacen(from, to, 1)
}

/// An edit, the change to the source `in`, and the changes to sink groups.
type Row = (&'static str, String, Change, Vec<(&'static str, Change)>);

#[test]
fn each_edit_touches_only_what_it_changes() {
    use Change::*;
    let base = topology(BASE);
    let spare = "[sinks.spare]\ntype = \"null\"\nchannel = \"main\"\n";
    let rows: Vec<Row> = vec![
        ("nothing", BASE.to_string(), Keep, vec![("up", Keep)]),
        (
            "moved lines and reordered keys",
            format!(
                "\n\n{}",
                BASE.replace(
                    "type = \"http\"\nlisten = \"127.0.0.1:5140\"",
                    "listen = \"127.0.0.1:5140\"\ntype = \"http\""
                )
            ),
            Keep,
            vec![("up", Keep)],
        ),
        ("sink url", edited("127.0.0.1:9/", "127.0.0.1:10/"), Keep, vec![("up", Restart)]),
        (
            "batch size",
            edited("channel = \"main\"\n", "channel = \"main\"\nbatch = { max_events = 7 }\n"),
            Keep,
            vec![("up", Restart)],
        ),
        ("interceptor removed", edited("interceptors = [{ type = \"host\" }]\n", ""), Reroute, vec![("up", Keep)]),
        (
            "interceptor added",
            edited("[{ type = \"host\" }]", "[{ type = \"host\" }, { type = \"timestamp\" }]"),
            Reroute,
            vec![("up", Keep)],
        ),
        ("source listen address", edited("5140", "5141"), Restart, vec![("up", Keep)]),
        ("sink added", format!("{BASE}{spare}"), Keep, vec![("up", Keep), ("spare", Start)]),
        (
            "sinks grouped",
            format!("{BASE}{spare}[sink_groups.g]\nprocessor = \"failover\"\nsinks = [\"up\", \"spare\"]\n"),
            Keep,
            vec![("up", Stop), ("g", Start)],
        ),
        ("report interval", edited("[agent]\n", "[agent]\nreport_interval = \"7s\"\n"), Keep, vec![("up", Restart)]),
        ("drain timeout", edited("[agent]\n", "[agent]\ndrain_timeout = \"7s\"\n"), Keep, vec![("up", Keep)]),
    ];
    for (what, text, source, groups) in rows {
        let plan = plan(&base, &topology(&text)).unwrap_or_else(|e| panic!("{what}: refused: {e}"));
        assert_eq!(plan.sources.get("in"), Some(&source), "{what}: {plan:?}");
        for (group, change) in groups {
            assert_eq!(plan.groups.get(group), Some(&change), "{what}: group {group}: {plan:?}");
        }
        assert_eq!(
            plan.is_empty(),
            what == "nothing" || what.starts_with("moved") || what == "drain timeout",
            "{what}"
        );
    }
}

#[test]
fn a_source_removed_is_stopped_and_a_channel_added_is_opened() {
    let text = edited(
        "[sources.in]",
        "[channels.extra]\ntype = \"memory\"\n[sources.app]\ntype = \"tcp\"\nlisten = \"127.0.0.1:5150\"\nchannels = [\"extra\"]\n[sources.in]",
    );
    let grown = topology(&text);
    let plan = plan(&grown, &topology(BASE)).map_err(|e| e.to_string());
    assert_eq!(
        plan,
        Err("channels.extra: removing a channel takes a restart (what it holds must not vanish with a reload)".into())
    );

    let plan = super::plan(&topology(BASE), &grown).unwrap_or_default();
    assert_eq!(plan.new_channels, vec!["extra".to_string()]);
    assert_eq!(plan.sources.get("app"), Some(&Change::Start));
    assert_eq!(plan.summary(), "channels: extra opened; sources: app started");

    let shrunk = plan_or_error(
        &text.replace("[sources.app]\ntype = \"tcp\"\nlisten = \"127.0.0.1:5150\"\nchannels = [\"extra\"]\n", ""),
        &text,
    );
    assert_eq!(shrunk.map(|p| p.sources.get("app").copied()), Ok(Some(Change::Stop)));
}

fn plan_or_error(next: &str, running: &str) -> Result<Plan, String> {
    plan(&topology(running), &topology(next))
}

#[test]
fn what_only_a_restart_changes_is_refused_by_key() {
    let rows = [
        (edited("type = \"sqlite\"", "type = \"memory\""), "channels.main.type: a channel's type changes only"),
        (edited("type = \"sqlite\"", "type = \"sqlite\"\nmax_events = 10"), "channels.main: a channel's limits"),
        (edited("/tmp/sluice-plan", "/tmp/elsewhere"), "agent.data_dir: changes only when the agent restarts"),
        (edited("[agent]\n", "[agent]\nname = \"b\"\n"), "agent.name: changes only"),
        (edited("[agent]\n", "[agent]\nmetrics_listen = \"127.0.0.1:9100\"\n"), "agent.metrics_listen: changes only"),
    ];
    for (text, expected) in rows {
        let refused = plan_or_error(&text, BASE).err().unwrap_or_default();
        assert!(refused.starts_with(expected), "{expected}: {refused}");
    }
}

#[test]
fn a_store_or_a_stdin_restart_that_a_reload_cannot_give_is_refused() {
    let memory = edited("type = \"sqlite\"", "type = \"memory\"");
    let durable_added = format!("{memory}[channels.disk]\ntype = \"sqlite\"\n");
    let refused = plan_or_error(&durable_added, &memory).err().unwrap_or_default();
    assert!(refused.starts_with("the agent started without a store"), "{refused}");
    let dedup_added = memory.replace("listen = \"127.0.0.1:5140\"", "listen = \"127.0.0.1:5140\"\ndedup = {}");
    assert!(plan_or_error(&dedup_added, &memory).is_err(), "a dedup window needs the store");
    assert!(plan_or_error(&durable_added, &durable_added).is_ok());

    let stdin = format!("{BASE}[sources.app]\ntype = \"stdin\"\nchannels = [\"main\"]\n");
    let changed = stdin.replace("type = \"stdin\"\n", "type = \"stdin\"\nbatch_size = 7\n");
    let refused = plan_or_error(&changed, &stdin).err().unwrap_or_default();
    assert!(refused.starts_with("sources.app: a stdin source is read for the agent's life"), "{refused}");
    assert!(plan_or_error(BASE, &stdin).is_err(), "removing it is refused too");
    let rerouted = stdin.replace(
        "[sources.app]\ntype = \"stdin\"\nchannels = [\"main\"]\n",
        "[sources.app]\ntype = \"stdin\"\nchannels = [\"main\"]\ninterceptors = [{ type = \"host\" }]\n",
    );
    assert_eq!(plan_or_error(&rerouted, &stdin).map(|p| p.sources.get("app").copied()), Ok(Some(Change::Reroute)));
}
