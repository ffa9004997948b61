use super::components::regex_path_to_glob;
use super::*;

fn convert(name: &str, agent: &str) -> Conversion {
    let path = format!("{}/../tests/data/flume/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    convert_flume(&text, agent, name).unwrap_or_else(|e| panic!("{e}"))
}

fn parsed(c: &Conversion) -> toml::Table {
    toml::from_str(&c.toml).unwrap_or_else(|e| panic!("{e}\n{}", c.toml))
}

#[test]
fn the_single_node_example_converts_whole() {
    let c = convert("single-node.properties", "a1");
    assert!(c.unsupported.is_empty(), "{:?}", c.unsupported);
    let t = parsed(&c);
    assert_eq!(t["sources"]["r1"]["type"].as_str(), Some("tcp"));
    assert_eq!(t["sources"]["r1"]["listen"].as_str(), Some("127.0.0.1:44444"));
    assert_eq!(t["channels"]["c1"]["type"].as_str(), Some("memory"));
    assert_eq!(t["channels"]["c1"]["max_events"].as_integer(), Some(1000));
    assert_eq!(t["sinks"]["k1"]["type"].as_str(), Some("stdout"));
    assert!(c.notes.iter().any(|n| n.contains("transactionCapacity")), "{:?}", c.notes);
}

#[test]
fn failover_priorities_order_the_group() {
    let c = convert("failover.properties", "a1");
    assert!(c.unsupported.is_empty(), "{:?}", c.unsupported);
    let t = parsed(&c);
    let sinks: Vec<&str> = t["sink_groups"]["g1"]["sinks"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    assert_eq!(sinks, ["k2", "k1"], "priority 10 before 5");
    assert_eq!(t["sink_groups"]["g1"]["max_penalty"].as_str(), Some("10000ms"));
    assert_eq!(t["sources"]["r1"]["protocol"].as_str(), Some("tcp"));
}

#[test]
fn taildir_regexes_become_globs() {
    let c = convert("taildir.properties", "a1");
    let t = parsed(&c);
    let paths: Vec<&str> = t["sources"]["r1"]["paths"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    assert_eq!(paths, ["/var/log/test1/example?log", "/var/log/test2/*log*"]);
    assert!(c.unsupported.is_empty(), "{:?}", c.unsupported);
    assert_eq!(regex_path_to_glob("/d/app\\.log"), Some("/d/app.log".into()));
    assert_eq!(regex_path_to_glob("/d/^app-[0-9]+\\.log$"), None);
}

#[test]
fn what_cannot_be_carried_is_named_with_its_line() {
    let c = convert("avro-tier.properties", "weblog");
    let joined = c.unsupported.join("\n");
    assert!(joined.contains("regex_extractor"), "{joined}");
    let t = parsed(&c);
    assert_eq!(t["sinks"]["avro-forward"]["type"].as_str(), Some("flume_avro"));
    assert_eq!(t["sinks"]["avro-forward"]["address"].as_str(), Some("10.1.1.100:10000"));
    assert_eq!(t["sinks"]["roll"]["type"].as_str(), Some("file"));
    let leftover = convert_flume(
        "a1.sources = r1\na1.sources.r1.type = netcat\na1.sources.r1.port = 1\na1.sources.r1.threads = 4\n",
        "a1",
        "x",
    );
    let leftover = leftover.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        leftover.unsupported.iter().any(|u| u.starts_with("a1.sources.r1.threads (line 4)")),
        "{:?}",
        leftover.unsupported
    );
    assert!(convert_flume("a1.sources = r1\n", "a2", "x").is_err());
}

#[test]
fn control_characters_in_keys_do_not_break_the_output() {
    let text = "a1.sources = r1\na1.sources.r1.type = netcat\na1.sources.r1.port = 1\na1.sources.r1.x\\ny\u{0} = 2\n";
    let c = convert_flume(text, "a1", "odd\nname").unwrap_or_else(|e| panic!("{e}"));
    assert!(!c.unsupported.is_empty());
    parsed(&c);
    let del = convert_flume("a\u{7f}1.sources = r1\n", "a\u{7f}1", "x").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parsed(&del)["agent"]["name"].as_str(), Some("a\u{7f}1"));
}

#[test]
fn repeated_names_are_converted_once() {
    let text = "a1.channels = c1 c1\na1.sources = r1 r1\na1.sinks = k1\na1.sources.r1.type = netcat\na1.sources.r1.port = 1\n\
                a1.sources.r1.channels = c1\na1.channels.c1.type = memory\na1.sinks.k1.type = null\na1.sinks.k1.channel = c1\n";
    let c = convert_flume(text, "a1", "x").unwrap_or_else(|e| panic!("{e}"));
    parsed(&c);
    assert!(c.notes.iter().any(|n| n.contains("names c1 twice")), "{:?}", c.notes);
}

#[test]
fn components_not_listed_are_inactive_notes_not_failures() {
    let text = "a1.sources = r1\na1.channels = c1\na1.sinks = k1\n\
                a1.sources.r1.type = netcat\na1.sources.r1.bind = 127.0.0.1\na1.sources.r1.port = 44444\n\
                a1.sources.r1.channels = c1\na1.channels.c1.type = memory\n\
                a1.sinks.k1.type = logger\na1.sinks.k1.channel = c1\n\
                a1.sinks.old.type = avro\na1.sinks.old.hostname = gone.example\na1.sinks.old.channel = c1\n\
                a1.sources.spare.type = exec\n";
    let c = convert_flume(text, "a1", "t.properties").unwrap_or_else(|e| panic!("{e}"));
    assert!(c.unsupported.is_empty(), "{:?}", c.unsupported);
    for (name, line) in [("sinks.old", 11), ("sources.spare", 14)] {
        let said = format!("a1.{name} (line {line}) is configured but not listed");
        assert!(
            c.notes.iter().any(|n| n.starts_with(&said) && n.contains("inactive in Flume too")),
            "{said}: {:?}",
            c.notes
        );
    }
    let t = parsed(&c);
    assert!(t["sinks"].get("old").is_none() && t["sources"].get("spare").is_none(), "{}", c.toml);
}
