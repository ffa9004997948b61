//! Command-line parsing: a dozen flags do not need a parser crate.

use std::path::PathBuf;

/// What the user asked for.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    /// `run [-c FILE]`
    Run { config: Option<PathBuf> },
    /// `check -c FILE`
    Check { config: PathBuf },
    /// `inspect [DATA_DIR] [--json] [--window SECONDS]`
    Inspect { dir: PathBuf, json: bool, window: Option<u64> },
    /// `quarantine list|replay|drop [DATA_DIR] [--id N]`
    Quarantine { action: QuarantineAction, dir: PathBuf, id: Option<i64>, json: bool },
    /// `convert-flume FILE --agent NAME`
    ConvertFlume { file: PathBuf, agent: String },
    /// `version`
    Version,
    /// `help`
    Help,
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

pub const USAGE: &str = "usage:
  sluice run [-c FILE]                      run (no -c: the built-in quickstart)
  sluice check -c FILE                      validate a config and print its topology
  sluice inspect [DATA_DIR] [--json] [--window S]  what a data directory holds; with a running
                                            agent, ingest/drain rates over S seconds (default 1)
  sluice quarantine list|replay|drop [DATA_DIR] [--id N] [--json]
  sluice convert-flume FILE --agent NAME    a Flume agent's .properties as Sluice TOML (exit 2: parts not carried)
  sluice version
options: --log-level error|warn|info|debug|trace (or SLUICE_LOG)";

/// Parses `argv` (without the program name).
///
/// # Errors
/// A message for the user; the caller exits 2.
pub fn parse(argv: &[String]) -> Result<Args, String> {
    let mut log_level = std::env::var("SLUICE_LOG").unwrap_or_else(|_| "info".into());
    let mut config = None;
    let mut json = false;
    let mut id = None;
    let mut agent = None;
    let mut window = None;
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
            "-h" | "--help" => positional.insert(0, "help".to_string()),
            other if other.starts_with('-') => return Err(format!("unknown option {other}")),
            other => positional.push(other.to_string()),
        }
    }
    let dir = |at: usize| positional.get(at).map_or_else(|| PathBuf::from("./sluice-data"), PathBuf::from);
    let command = match positional.first().map(String::as_str) {
        Some("run") => Command::Run { config },
        Some("check") => Command::Check { config: config.ok_or("check needs -c FILE")? },
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
        Some("help") | None => Command::Help,
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
    fn commands() {
        assert_eq!(p(&["run"]), Ok(Command::Run { config: None }));
        assert_eq!(p(&["run", "-c", "a.toml"]), Ok(Command::Run { config: Some("a.toml".into()) }));
        assert_eq!(
            p(&["inspect", "/d", "--json"]),
            Ok(Command::Inspect { dir: "/d".into(), json: true, window: None })
        );
        assert_eq!(
            p(&["quarantine", "replay", "--id", "3"]),
            Ok(Command::Quarantine {
                action: QuarantineAction::Replay,
                dir: "./sluice-data".into(),
                id: Some(3),
                json: false
            })
        );
        assert_eq!(
            p(&["convert-flume", "f.conf", "--agent", "a1"]),
            Ok(Command::ConvertFlume { file: "f.conf".into(), agent: "a1".into() })
        );
        assert!(p(&["convert-flume", "f.conf"]).is_err());
        assert!(p(&["check"]).is_err());
        assert!(p(&["frobnicate"]).is_err());
        assert!(p(&["run", "--bogus"]).is_err());
    }
}
