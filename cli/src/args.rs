//! Command-line parsing: a dozen flags do not need a parser crate.

use std::path::PathBuf;

/// What the user asked for.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    /// `run [-c FILE]`
    Run { config: Option<PathBuf> },
    /// `check FILE` or `check -c FILE`
    Check { config: PathBuf },
    /// `inspect [DATA_DIR] [--json] [--window SECONDS]`
    Inspect { dir: PathBuf, json: bool, window: Option<u64> },
    /// `quarantine list|replay|drop [DATA_DIR] [--id N]`
    Quarantine { action: QuarantineAction, dir: PathBuf, id: Option<i64>, json: bool },
    /// `convert-flume FILE --agent NAME`
    ConvertFlume { file: PathBuf, agent: String },
    /// `help [TOPIC]`: a configuration table, or a command's usage.
    Help { topic: Option<String> },
    /// `version`, `--version`, `-V`
    Version,
}

/// `quarantine` sub-actions.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum QuarantineAction {
    /// List batches.
    List,
    /// Put batches back into their channel.
    Replay,
    /// Delete batches.
    Drop,
}

/// Parsed arguments.
#[derive(Debug)]
pub struct Args {
    /// The command.
    pub command: Command,
    /// `--log-level` (else `SLUICE_LOG`, else `info`).
    pub log_level: String,
}

/// Each command's usage line and what it does.
pub const COMMANDS: [(&str, &str, &str); 7] = [
    (
        "run",
        "sluice run [-c FILE]",
        "run the agent (without -c: the built-in quickstart); SIGHUP or a change to FILE reloads it",
    ),
    ("check", "sluice check FILE", "validate a config and print what it sets up; starts nothing"),
    (
        "inspect",
        "sluice inspect [DATA_DIR] [--json] [--window S]",
        "what a data directory holds; with a running agent, rates over S seconds (default 1)",
    ),
    ("quarantine", "sluice quarantine list|replay|drop [DATA_DIR] [--id N] [--json]", "batches the upstream refused"),
    (
        "convert-flume",
        "sluice convert-flume FILE --agent NAME",
        "a Flume agent's .properties as Sluice TOML (exit 2: parts not carried)",
    ),
    ("help", "sluice help [TYPE]", "the keys of a source, channel, sink or interceptor type; without TYPE, the types"),
    ("version", "sluice --version", "print the version"),
];

/// The usage text.
pub fn usage() -> String {
    let mut out = String::from("usage:\n");
    for (_, line, what) in COMMANDS {
        out.push_str(&format!("  {line}\n      {what}\n"));
    }
    out.push_str("options: --log-level error|warn|info|debug|trace (or SLUICE_LOG); -h, --help\n");
    out.push_str("DATA_DIR defaults to ./sluice-data");
    out
}

/// One command's usage, for `sluice CMD --help`.
pub fn command_usage(name: &str) -> Option<String> {
    COMMANDS.iter().find(|(n, _, _)| *n == name).map(|(_, line, what)| format!("usage: {line}\n  {what}"))
}

/// Parses `argv` (without the program name).
///
/// # Errors
/// A message for the user; the caller prints the usage and exits 2.
pub fn parse(argv: &[String]) -> Result<Args, String> {
    let mut log_level = std::env::var("SLUICE_LOG").unwrap_or_else(|_| "info".into());
    let mut config = None;
    let mut json = false;
    let mut id = None;
    let mut agent = None;
    let mut window = None;
    let mut help = false;
    let mut version = false;
    let mut positional = Vec::new();
    let mut it = argv.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-c" | "--config" => config = Some(PathBuf::from(it.next().ok_or("-c needs a file")?)),
            "--json" => json = true,
            "--window" => {
                window = Some(
                    it.next().ok_or("--window needs seconds")?.parse().map_err(|_| "--window needs whole seconds")?,
                )
            }
            "--agent" | "-n" => agent = Some(it.next().ok_or("--agent needs a name")?.clone()),
            "--log-level" => log_level = it.next().ok_or("--log-level needs a level")?.clone(),
            "--id" => id = Some(it.next().ok_or("--id needs a number")?.parse().map_err(|_| "--id needs a number")?),
            "-h" | "--help" => help = true,
            "-V" | "--version" => version = true,
            // `help --markdown`: the configuration reference as the README holds it.
            "--markdown" => positional.push(arg.clone()),
            other if other.starts_with('-') => return Err(format!("unknown option {other}")),
            other => positional.push(other.to_string()),
        }
    }
    let first = positional.first().map(String::as_str);
    if version {
        return Ok(Args { command: Command::Version, log_level });
    }
    if help {
        // `sluice check --help` is the help of `check`.
        let topic = first.filter(|c| *c != "help").map(|c| format!("command:{c}")).or(positional.get(1).cloned());
        return Ok(Args { command: Command::Help { topic }, log_level });
    }
    let dir = |at: usize| positional.get(at).map_or_else(|| PathBuf::from("./sluice-data"), PathBuf::from);
    let command = match first {
        // A FILE after `run` is the config, as after `check`: never ignored for the quickstart.
        Some("run") => match (config, positional.get(1)) {
            (Some(_), Some(_)) => return Err("run takes one FILE (or -c FILE), not both".into()),
            (config, file) => Command::Run { config: config.or_else(|| file.map(PathBuf::from)) },
        },
        Some("check") => match (config, positional.get(1)) {
            (Some(c), None) => Command::Check { config: c },
            (None, Some(file)) => Command::Check { config: PathBuf::from(file) },
            (Some(_), Some(_)) => return Err("check takes one FILE (or -c FILE), not both".into()),
            (None, None) => return Err("check needs a FILE".into()),
        },
        Some("inspect") => Command::Inspect { dir: dir(1), json, window },
        Some("quarantine") => {
            let action = match positional.get(1).map(String::as_str) {
                Some("list") => QuarantineAction::List,
                Some("replay") => QuarantineAction::Replay,
                Some("drop") => QuarantineAction::Drop,
                _ => return Err("quarantine needs list, replay or drop".into()),
            };
            Command::Quarantine { action, dir: dir(2), id, json }
        }
        Some("convert-flume") => Command::ConvertFlume {
            file: positional.get(1).map(PathBuf::from).ok_or("convert-flume needs a FILE")?,
            agent: agent.ok_or("convert-flume needs --agent NAME (the agent name in the .properties file)")?,
        },
        Some("version") => Command::Version,
        Some("help") => Command::Help { topic: positional.get(1).cloned() },
        None => return Err("no command given".into()),
        Some(other) => return Err(format!("unknown command {other:?}")),
    };
    Ok(Args { command, log_level })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Command, String> {
        parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>()).map(|a| a.command)
    }

    #[test]
    fn commands_as_people_type_them() {
        let help = |topic: Option<&str>| Ok(Command::Help { topic: topic.map(str::to_string) });
        let cases: Vec<(&[&str], Result<Command, String>)> = vec![
            (&["run"], Ok(Command::Run { config: None })),
            (&["run", "-c", "a.toml"], Ok(Command::Run { config: Some("a.toml".into()) })),
            (&["run", "a.toml"], Ok(Command::Run { config: Some("a.toml".into()) })),
            (&["check", "a.toml"], Ok(Command::Check { config: "a.toml".into() })),
            (&["check", "-c", "a.toml"], Ok(Command::Check { config: "a.toml".into() })),
            (&["inspect", "/d", "--json"], Ok(Command::Inspect { dir: "/d".into(), json: true, window: None })),
            (
                &["quarantine", "replay", "--id", "3"],
                Ok(Command::Quarantine {
                    action: QuarantineAction::Replay,
                    dir: "./sluice-data".into(),
                    id: Some(3),
                    json: false,
                }),
            ),
            (
                &["convert-flume", "f.conf", "--agent", "a1"],
                Ok(Command::ConvertFlume { file: "f.conf".into(), agent: "a1".into() }),
            ),
            (&["--version"], Ok(Command::Version)),
            (&["-V"], Ok(Command::Version)),
            (&["version"], Ok(Command::Version)),
            (&["help"], help(None)),
            (&["help", "http"], help(Some("http"))),
            (&["-h"], help(None)),
            (&["--help", "help"], help(None)),
            (&["check", "--help"], help(Some("command:check"))),
            (&["inspect", "-h"], help(Some("command:inspect"))),
        ];
        for (argv, expected) in cases {
            assert_eq!(p(argv), expected, "{argv:?}");
        }
        for refused in [
            &[][..],
            &["check"],
            &["check", "a.toml", "-c", "b.toml"],
            &["convert-flume", "f.conf"],
            &["frobnicate"],
            &["run", "--bogus"],
            &["run", "a.toml", "-c", "b.toml"],
        ] {
            assert!(p(refused).is_err(), "{refused:?} was accepted");
        }
    }

    #[test]
    fn every_command_has_its_usage() {
        for name in ["run", "check", "inspect", "quarantine", "convert-flume", "help", "version"] {
            assert!(command_usage(name).is_some_and(|u| u.contains(name)), "{name}");
            assert!(usage().contains(&format!("sluice {}", if name == "version" { "--version" } else { name })));
        }
    }
}
