//! The command line as people type it: version, help, check FILE, bare
//! `sluice`, a closed pipe, and `sluice help TYPE` against the README.

use sluice_tests::{sluice, write};
use std::process::Stdio;

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = sluice(args).output().unwrap_or_else(|e| panic!("{e}"));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn version_help_and_usage_answer_as_other_tools_do() {
    let version = format!("sluice {}\n", env!("CARGO_PKG_VERSION"));
    for flag in ["--version", "-V", "version"] {
        let (code, out, _) = run(&[flag]);
        assert_eq!((code, out.as_str()), (Some(0), version.as_str()), "{flag}");
    }
    let (code, out, err) = run(&[]);
    assert_eq!(code, Some(2), "bare sluice is a usage error");
    assert!(out.is_empty() && err.contains("usage:") && err.contains("sluice run"), "{err}");
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("usage:") && out.contains("configuration tables"), "{out}");
    for command in ["run", "check", "inspect", "quarantine", "convert-flume"] {
        for flag in ["-h", "--help"] {
            let (code, out, _) = run(&[command, flag]);
            assert_eq!(code, Some(0), "{command} {flag}");
            assert!(out.starts_with(&format!("usage: sluice {command}")), "{command} {flag}: {out}");
        }
    }
    let (code, _, err) = run(&["help", "nonesuch"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no type or table called \"nonesuch\"") && err.contains("taildir"), "{err}");
}

#[test]
fn check_takes_the_file_as_an_argument_or_with_c() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = write(
        dir.path(),
        "a.toml",
        &format!(
            "[agent]\ndata_dir = \"{}\"\n[channels.main]\ntype = \"sqlite\"\nmax_bytes = \"64MiB\"\non_full = \"drop_oldest\"\n\
             [sources.in]\ntype = \"stdin\"\nchannels = [\"main\"]\n\
             [sinks.out]\ntype = \"stdout\"\nchannel = \"main\"\nbatch = {{ linger = \"1s\" }}\n",
            dir.path().join("data").display()
        ),
    );
    let path = config.to_string_lossy();
    let (code, by_arg, err) = run(&["check", &path]);
    assert_eq!(code, Some(0), "{err}");
    let (_, by_flag, _) = run(&["check", "-c", &path]);
    assert_eq!(by_arg, by_flag);
    // The config's own spellings and units.
    assert!(by_arg.contains("max_bytes \"64MiB\", on_full \"drop_oldest\""), "{by_arg}");
    assert!(by_arg.contains("linger = \"1s\""), "{by_arg}");
    assert!(!dir.path().join("data").exists(), "check starts nothing and creates no store");
}

#[test]
fn units_are_read_as_written_or_refused_with_the_rule() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let base = "[channels.main]\ntype = \"memory\"\n[sources.in]\ntype = \"stdin\"\nchannels = [\"main\"]\n\
                [sinks.out]\ntype = \"stdout\"\nchannel = \"main\"\n";
    for (key, value, expected) in [
        ("max_bytes", "\"512MB\"", Ok("max_bytes \"512MB\"")),
        ("max_bytes", "\"512MiB\"", Ok("max_bytes \"512MiB\"")),
        ("max_bytes", "512", Err("a.toml:3: channels.main.max_bytes: size \"512\" has no unit: write 512B")),
        ("max_bytes", "\"512M\"", Err("ambiguous: write 512MiB (1024) or 512MB (1000)")),
        ("block_timeout", "\"200\"", Err("duration \"200\" has no unit: write 200ms")),
    ] {
        let text = base.replacen("type = \"memory\"\n", &format!("type = \"memory\"\n{key} = {value}\n"), 1);
        let path = write(dir.path(), "a.toml", &text);
        let (code, out, err) = run(&["check", &path.to_string_lossy()]);
        match expected {
            Ok(line) => assert!(code == Some(0) && out.contains(line), "{key} = {value}: {out}{err}"),
            Err(message) => assert!(code == Some(2) && err.contains(message), "{key} = {value}: {err}"),
        }
    }
}

#[test]
fn a_sinks_unknown_key_lists_every_key_a_sink_takes() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let text = "[channels.main]\ntype = \"memory\"\n[sources.in]\ntype = \"stdin\"\nchannels = [\"main\"]\n\
                [sinks.out]\ntype = \"http\"\nchannel = \"main\"\nurl = \"http://127.0.0.1:9/\"\nbatchsize = 5\n";
    let path = write(dir.path(), "a.toml", text);
    let (code, _, err) = run(&["check", &path.to_string_lossy()]);
    assert_eq!(code, Some(2));
    assert!(err.contains("a.toml:10: sinks.out.batchsize: unknown field `batchsize`"), "{err}");
    for key in ["`url`", "`id_header`", "`type`", "`channel`", "`batch`", "`retry`", "`rate_limit`", "`workers`"] {
        assert!(err.contains(key), "{key} missing from {err}");
    }
}

#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    let mut child = sluice(&["help", "--markdown"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    // Hang up before the first write, as `| head -0` does: every write then fails with EPIPE.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}

/// `sluice help TYPE` and the README's reference come from one table: every
/// README row of a type is a key `sluice help TYPE` prints with that default.
#[test]
fn help_for_a_type_says_what_the_readme_says() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .unwrap_or_else(|e| panic!("README.md: {e}"));
    for (kind, heading) in [
        ("http", "#### `[sinks.NAME] type = \"http\"`"),
        ("taildir", "#### `[sources.NAME] type = \"taildir\"`"),
        ("channel", "#### `[channels.NAME]`"),
        ("sink", "#### `[sinks.NAME], every type`"),
    ] {
        let section = readme.split(heading).nth(1).unwrap_or_else(|| panic!("README has no {heading}"));
        let rows: Vec<(String, String)> = section
            .lines()
            .skip_while(|l| !l.starts_with("| `"))
            .take_while(|l| l.starts_with("| `"))
            .filter_map(|l| {
                let cells: Vec<&str> = l.split(" | ").collect();
                Some((
                    cells.first()?.trim_start_matches("| ").trim_matches('`').to_string(),
                    cells.get(2)?.trim_matches('`').to_string(),
                ))
            })
            .collect();
        assert!(rows.len() >= 3, "{heading}: {rows:?}");
        let (code, help, _) = run(&["help", kind]);
        assert_eq!(code, Some(0));
        for (key, default) in rows {
            let line = help.lines().find(|l| l.trim_start().starts_with(&format!("{key} ")));
            let line = line.unwrap_or_else(|| panic!("sluice help {kind} has no key {key}:\n{help}"));
            let said = match default.as_str() {
                "required" => "(required)".to_string(),
                d => format!("(default {})", d.replace("\\|", "|")),
            };
            assert!(line.contains(&said), "{kind}.{key}: README {default}, help: {line}");
        }
    }
}

/// A valid config can still strand a channel: check says so, run logs it.
#[test]
fn check_warns_of_channels_nothing_drains_or_feeds() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let text =
        "[channels.main]\ntype = \"memory\"\n[channels.side]\ntype = \"memory\"\n[channels.spare]\ntype = \"memory\"\n\
                [sources.in]\ntype = \"stdin\"\nchannels = [\"main\", \"side\"]\n\
                [sinks.out]\ntype = \"null\"\nchannel = \"main\"\n";
    let path = write(dir.path(), "a.toml", text);
    let (code, out, err) = run(&["check", &path.to_string_lossy()]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains(
            "warning: channel side has no sink taking from it: it will fill, and then on_full \"block\" applies to in"
        ),
        "{out}"
    );
    assert!(out.contains("warning: channel spare is fed by no source"), "{out}");
    assert!(!out.contains("warning: channel main"), "{out}");
}
