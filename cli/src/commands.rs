//! The subcommands.

use crate::args::QuarantineAction;
use signal_hook::consts::{SIGINT, SIGTERM};
use sluice::agent::{dir_in_use, Agent};
use sluice::channel::sqlite;
use sluice::config::{Config, QUICKSTART};
use sluice::registry::Registry;
use sluice::{Error, ErrorKind, Result};
use std::path::Path;

fn load(path: Option<&Path>, registry: &Registry) -> Result<Config> {
    match path {
        Some(path) => Config::load(path, registry),
        None => Config::parse(QUICKSTART, Path::new("<built-in quickstart>"), registry),
    }
}

/// `sluice run`: start, wait for SIGTERM/SIGINT, drain within the bound.
pub fn run(path: Option<&Path>) -> Result<()> {
    let registry = Registry::with_builtins();
    let config = load(path, &registry)?;
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])
        .map_err(|e| Error::new(ErrorKind::Io, format!("signals: {e}")))?;
    if let Some(files) = sluice::agent::raise_open_files_limit() {
        log::debug!("open files limit: {files}");
    }
    let agent = Agent::start(&config.topology, &registry)?;
    log::info!(
        "sluice {} running {} ({})",
        env!("CARGO_PKG_VERSION"),
        config.topology.agent.name,
        config.path.display()
    );
    let signal = signals.forever().next();
    log::info!(
        "signal {}: stopping (draining up to {} ms)",
        signal.unwrap_or(0),
        config.topology.agent.drain_timeout.as_millis()
    );
    if agent.shutdown(config.topology.agent.drain_timeout) {
        log::info!("stopped cleanly");
    } else {
        log::warn!("drain timeout: batches in flight were rolled back and will be sent again");
    }
    Ok(())
}

/// `sluice check`: validate and print the resolved topology.
pub fn check(path: &Path) -> Result<()> {
    let config = load(Some(path), &Registry::with_builtins())?;
    let t = &config.topology;
    if t.agent.data_dir.exists() && !t.agent.data_dir.is_dir() {
        return Err(Error::new(
            ErrorKind::Config,
            format!("{}: data_dir {} exists and is not a directory", path.display(), t.agent.data_dir.display()),
        ));
    }
    println!("{}: ok", path.display());
    println!("agent {} data_dir {}", t.agent.name, t.agent.data_dir.display());
    if let Some(warning) = sluice::agent::disk_outlook(t) {
        println!("warning: {warning}");
    }
    for c in &t.channels {
        let kind = if c.in_memory { "memory" } else { "sqlite" };
        println!(
            "channel {} ({kind}): max_events {} max_bytes {} on_full {:?}",
            c.name, c.capacity.max_events, c.capacity.max_bytes, c.capacity.on_full
        );
    }
    for s in &t.sources {
        let interceptors: Vec<&str> = s.interceptors.iter().map(|i| i.kind.as_str()).collect();
        println!(
            "source {} ({}) -> [{}] interceptors [{}]",
            s.component.name,
            s.component.kind,
            s.channels.join(", "),
            interceptors.join(", ")
        );
    }
    for s in &t.sinks {
        println!(
            "sink {} ({}) <- {}: batch {} events / {} bytes, linger {} ms",
            s.component.name,
            s.component.kind,
            s.channel,
            s.runner.max_events,
            s.runner.max_bytes,
            s.runner.linger.as_millis()
        );
    }
    for g in &t.groups {
        println!("group {} ({:?}): {}", g.name, g.processor, g.sinks.join(", "));
    }
    Ok(())
}

/// `sluice inspect`: per channel backlog, losses, quarantine, retries.
pub fn inspect(dir: &Path, json: bool, window: Option<u64>) -> Result<()> {
    // Rates need a running agent; without one the sampling wait would only show zeros.
    let running = dir_in_use(dir);
    let report = match window.or(running.then_some(1)) {
        Some(seconds) if seconds > 0 => sqlite::inspect_with_rates(dir, std::time::Duration::from_secs(seconds))?,
        _ => sqlite::inspect(dir)?,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report).map_err(|e| Error::new(ErrorKind::Other, e.to_string()))?);
        return Ok(());
    }
    println!("store {} ({})", dir.display(), if running { "agent running" } else { "no agent running" });
    if report.channels.is_empty() {
        println!("channels: empty");
    }
    for c in &report.channels {
        println!(
            "channel {}: {} events ({} high, {} normal, {} low), {} bytes, oldest {} s",
            c.channel,
            c.events,
            c.by_priority[2],
            c.by_priority[1],
            c.by_priority[0],
            c.bytes,
            c.oldest_age_ms / 1000
        );
        if let Some(f) = &c.flow {
            let outlook = match (f.seconds_to_full, f.seconds_to_drain) {
                (Some(s), _) => format!("full in {}", human_duration(s)),
                (_, Some(s)) => format!("drained in {}", human_duration(s)),
                _ if c.events == 0 => "empty".to_string(),
                _ => "steady".to_string(),
            };
            println!(
                "  in {:.0} events/s ({:.0} B/s), out {:.0} events/s ({:.0} B/s): {outlook}",
                f.ingest_per_s, f.ingest_bytes_per_s, f.drain_per_s, f.drain_bytes_per_s
            );
        }
    }
    for l in &report.losses {
        println!(
            "lost {} {} {} events ({} bytes) in channel {}",
            l.reason,
            l.events,
            l.priority.name(),
            l.bytes,
            l.channel
        );
    }
    println!(
        "quarantine: {} batches, {} events",
        report.quarantine.len(),
        report.quarantine.iter().map(|q| q.events).sum::<u64>()
    );
    for r in &report.retries {
        println!("sink {}: {} failed attempts, next at {} ms", r.sink, r.attempts, r.next_attempt_ms);
    }
    for s in &report.set_aside {
        println!("corrupt store set aside: {s}");
    }
    Ok(())
}

/// `sluice quarantine list|replay|drop`.
pub fn quarantine(action: QuarantineAction, dir: &Path, id: Option<i64>, json: bool) -> Result<()> {
    match action {
        QuarantineAction::List => {
            let list = sqlite::quarantine_list(dir)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&list).map_err(|e| Error::new(ErrorKind::Other, e.to_string()))?
                );
            }
            for q in list.iter().filter(|_| !json) {
                println!("{}\t{}\t{}\t{} events\t{}", q.id, q.channel, q.sink, q.events, q.reason);
            }
        }
        QuarantineAction::Replay => {
            if dir_in_use(dir) {
                return Err(Error::new(
                    ErrorKind::Other,
                    format!("an agent is running on {}: stop it, replay, start it again", dir.display()),
                ));
            }
            println!("replayed {} events", sqlite::quarantine_replay(dir, id)?);
        }
        QuarantineAction::Drop => println!("dropped {} batches", sqlite::quarantine_drop(dir, id)?),
    }
    Ok(())
}

/// `sluice convert-flume`: prints the TOML; what was not carried goes to stderr and exits 2.
pub fn convert_flume(file: &Path, agent: &str) -> Result<()> {
    let text = sluice::config::read_config_file(file)?;
    let conversion = sluice::convert::convert_flume(&text, agent, &file.display().to_string())
        .map_err(|m| Error::new(ErrorKind::Config, m))?;
    print!("{}", conversion.toml);
    for note in &conversion.notes {
        eprintln!("note: {note}");
    }
    if conversion.unsupported.is_empty() {
        return Ok(());
    }
    for line in &conversion.unsupported {
        eprintln!("not carried: {line}");
    }
    Err(Error::new(
        ErrorKind::Config,
        format!(
            "{} part(s) of agent {agent} could not be carried (listed above and in the output)",
            conversion.unsupported.len()
        ),
    ))
}

/// `95` → `1m35s`, `7300` → `2h01m`.
fn human_duration(seconds: f64) -> String {
    let s = seconds.round().max(0.0) as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}
