use sluice_tests::sluice;
use std::path::Path;

/// (example file, agent, parts that must be named as not carried)
const EXAMPLES: [(&str, &str, &[&str]); 6] = [
    ("single-node.properties", "a1", &[]),
    ("multiplexing.properties", "a1", &[]),
    ("failover.properties", "a1", &[]),
    ("taildir.properties", "a1", &[]),
    ("exec-interceptors.properties", "agent", &["agent.sinks.s1.type (line 22)"]),
    ("avro-tier.properties", "weblog", &["weblog.sources.syslog.interceptors.ext"]),
];

/// The Flume User Guide's example agents become configs `sluice check` accepts;
/// what cannot be carried is named (with its line) and makes the exit code 2.
#[test]
fn flume_examples_become_configs_that_check_accepts() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/flume");
    for (file, agent, unsupported) in EXAMPLES {
        let out = sluice(&["convert-flume", &data.join(file).to_string_lossy(), "--agent", agent])
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let expected = if unsupported.is_empty() { Some(0) } else { Some(2) };
        assert_eq!(out.status.code(), expected, "{file}: {stderr}");
        for part in unsupported {
            assert!(stderr.contains(&format!("not carried: {part}")), "{file}: {part} not named in\n{stderr}");
        }
        let toml = dir.path().join(format!("{file}.toml"));
        std::fs::write(&toml, &out.stdout).unwrap_or_else(|e| panic!("{e}"));
        let check = sluice(&["check", "-c", &toml.to_string_lossy()]).output().unwrap_or_else(|e| panic!("{e}"));
        assert!(
            check.status.success(),
            "{file}: sluice check refused the conversion:\n{}\n{}",
            String::from_utf8_lossy(&check.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
fn an_unknown_agent_is_a_clear_error() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/flume/single-node.properties");
    let out = sluice(&["convert-flume", &data.to_string_lossy(), "--agent", "nope"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no keys for agent \"nope\" (agents found: a1)"));
}

/// Every sample in conf/ is a config `sluice check` accepts.
#[test]
fn conf_samples_pass_check() {
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conf");
    let mut samples: Vec<_> =
        std::fs::read_dir(&conf).unwrap_or_else(|e| panic!("{e}")).flatten().map(|e| e.path()).collect();
    samples.push(conf.join("docker/sluice.toml"));
    samples.retain(|p| p.extension().is_some_and(|e| e == "toml"));
    assert!(samples.len() >= 5, "{samples:?}");
    for sample in samples {
        let out = sluice(&["check", "-c", &sample.to_string_lossy()]).output().unwrap_or_else(|e| panic!("{e}"));
        assert!(out.status.success(), "{}: {}", sample.display(), String::from_utf8_lossy(&out.stderr));
    }
}
