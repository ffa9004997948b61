//! `sluice`: the agent for embedded Linux gateways, and its operator tools.
//!
//! Glue only: parse arguments, call the core, print, pick an exit code
//! (0 success, 1 runtime failure, 2 usage or configuration error).

#[cfg(target_env = "musl")]
mod alloc;
mod args;
mod commands;
#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod glibc;
mod help;
mod logger;
mod reload;
mod time;

use args::Command;
use std::process::ExitCode;

fn main() -> ExitCode {
    #[cfg(target_env = "musl")]
    alloc::tune();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    glibc::tune();
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match args::parse(&argv) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("sluice: {message}\n{}", args::usage());
            return ExitCode::from(2);
        }
    };
    if let Err(message) = logger::init(&args.log_level) {
        eprintln!("sluice: {message}");
        return ExitCode::from(2);
    }
    let result = match args.command {
        Command::Run { config } => commands::run(config.as_deref()),
        Command::Check { config } => commands::check(&config),
        Command::Inspect { dir, json, window } => commands::inspect(&dir, json, window),
        Command::Quarantine { action, dir, id, json } => commands::quarantine(action, &dir, id, json),
        Command::ConvertFlume { file, agent } => commands::convert_flume(&file, &agent),
        Command::Version => commands::say(format_args!("sluice {}", env!("CARGO_PKG_VERSION"))),
        Command::Help { topic } => help::help(topic.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`sluice inspect | head`): nothing left to say.
        Err(e) if e.kind() == sluice::ErrorKind::Closed => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sluice: {e}");
            ExitCode::from(if e.kind() == sluice::ErrorKind::Config { 2 } else { 1 })
        }
    }
}
