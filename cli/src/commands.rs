//! The subcommands.

use crate::args::QuarantineAction;
use crate::reload;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use sluice::agent::{dir_in_use, Agent};
use sluice::channel::sqlite;
use sluice::config::{keys, Config, QUICKSTART};
use sluice::registry::Registry;
use sluice::units::{ByteSize, Span};
use sluice::{Error, ErrorKind, Result};
use std::path::Path;

/// Writes one line to standard output; a reader that went away is
/// [`ErrorKind::Closed`], which ends the command quietly.
pub fn say(line: std::fmt::Arguments<'_>) -> Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").map_err(|e| match e.kind() {
        std::io::ErrorKind::BrokenPipe => Error::new(ErrorKind::Closed, "standard output closed"),
        _ => Error::new(ErrorKind::Io, format!("standard output: {e}")),
    })
}

macro_rules! say {
    ($($arg:tt)*) => { say(format_args!($($arg)*))? };
}

fn load(path: Option<&Path>, registry: &Registry) -> Result<Config> {
    match path {
        Some(path) => Config::load(path, registry),
        None => Config::parse(QUICKSTART, Path::new("<built-in quickstart>"), registry),
    }
}

/// `sluice run`: start; reload on SIGHUP and when the file changes; on
/// SIGTERM/SIGINT drain within the bound.
pub fn run(path: Option<&Path>) -> Result<()> {
    let registry = Registry::with_builtins();
    // Stamped before it is read: an edit in between is seen by the watch.
    let stamp = path.and_then(reload::Stamp::of);
    let text = match path {
        Some(path) => sluice::config::read_config_file(path)?,
        None => QUICKSTART.to_string(),
    };
    let config = Config::parse(&text, path.unwrap_or(Path::new("<built-in quickstart>")), &registry)?;
    let signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP])
        .map_err(|e| Error::new(ErrorKind::Io, format!("signals: {e}")))?;
    if let Some(files) = sluice::agent::raise_open_files_limit() {
        log::debug!("open files limit: {files}");
    }
    let data_dir = &config.topology.agent.data_dir;
    log::info!(
        "sluice {} starting {} from {}; data in {}",
        env!("CARGO_PKG_VERSION"),
        config.topology.agent.name,
        config.path.display(),
        std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.clone()).display()
    );
    for warning in sluice::config::warnings::warnings(&config.topology) {
        log::warn!("{warning}");
    }
    let mut agent = Agent::start(&config.topology, &registry)?;
    agent.metrics().config.loaded(&reload::hash(&text), sluice::event::now_ms());
    log::info!("running: stop with Ctrl-C or SIGTERM (batches in flight are drained first); reload with SIGHUP");
    let signals = forward(signals)?;
    let mut watch = reload::Watch::new(stamp);
    let mut idle = sluice::metrics::IdleWatch::default();
    let signal = loop {
        let due = match signals.recv_timeout(reload::POLL) {
            Ok(SIGHUP) => true,
            Ok(signal) => break signal,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if idle.tick(agent.metrics().moved()) {
                    release_memory(&agent);
                }
                path.is_some_and(|p| watch.poll(reload::Stamp::of(p)))
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break 0,
        };
        match path {
            Some(path) if due => {
                watch.loaded(reload::Stamp::of(path));
                reload::reload(path, &mut agent, &registry);
            }
            None if due => log::warn!("SIGHUP: the built-in quickstart has no file to reload"),
            _ => {}
        }
    };
    let drain_timeout = agent.topology().agent.drain_timeout;
    log::info!("signal {signal}: stopping (draining up to {})", Span(drain_timeout));
    if agent.shutdown(drain_timeout) {
        log::info!("stopped cleanly");
    } else {
        log::warn!("drain timeout: batches in flight were rolled back and will be sent again");
    }
    Ok(())
}

/// The agent went quiet after a burst: memory back to the system.
fn release_memory(agent: &Agent) {
    agent.release_memory();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    crate::glibc::trim();
}

/// Signals as a channel the run loop can wait on with a timeout.
fn forward(mut signals: signal_hook::iterator::Signals) -> Result<std::sync::mpsc::Receiver<i32>> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new().name("sluice-signals".into()).spawn(move || {
        for signal in signals.forever() {
            if tx.send(signal).is_err() {
                return;
            }
        }
    })?;
    Ok(rx)
}

/// `sluice check`: validate and print the resolved topology, in the
/// configuration's own spellings. Reads and checks every component's settings;
/// builds and starts nothing.
pub fn check(path: &Path) -> Result<()> {
    let config = load(Some(path), &Registry::with_builtins())?;
    let t = &config.topology;
    if t.agent.data_dir.exists() && !t.agent.data_dir.is_dir() {
        return Err(Error::new(
            ErrorKind::Config,
            format!("{}: data_dir {} exists and is not a directory", path.display(), t.agent.data_dir.display()),
        ));
    }
    say!("{}: ok", path.display());
    say!("agent {}: data_dir {}", t.agent.name, t.agent.data_dir.display());
    if let Some(warning) = sluice::agent::disk_outlook(t) {
        say!("warning: {warning}");
    }
    for warning in sluice::config::warnings::warnings(t) {
        say!("warning: {warning}");
    }
    for c in &t.channels {
        let kind = if c.in_memory { "memory" } else { "sqlite" };
        say!(
            "channel {} ({kind}): max_events {}, max_bytes \"{}\", on_full \"{}\"",
            c.name,
            c.capacity.max_events,
            ByteSize(c.capacity.max_bytes),
            keys::snake_case(&format!("{:?}", c.capacity.on_full))
        );
    }
    for s in &t.sources {
        let interceptors: Vec<&str> = s.interceptors.iter().map(|i| i.component.kind.as_str()).collect();
        say!(
            "source {} ({}) -> [{}], interceptors [{}]",
            s.component.name,
            s.component.kind,
            s.channels.join(", "),
            interceptors.join(", ")
        );
    }
    for s in &t.sinks {
        say!(
            "sink {} ({}) <- {}: batch {{ max_events = {}, max_bytes = \"{}\", linger = \"{}\" }}, workers {}",
            s.component.name,
            s.component.kind,
            s.channel,
            s.runner.max_events,
            ByteSize(s.runner.max_bytes as u64),
            Span(s.runner.linger),
            s.runner.workers
        );
    }
    for g in &t.groups {
        say!("group {} ({}): {}", g.name, g.processor.spelling(), g.sinks.join(", "));
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
        say!("{}", serde_json::to_string_pretty(&report).map_err(|e| Error::new(ErrorKind::Other, e.to_string()))?);
        return Ok(());
    }
    say!("store {} ({})", dir.display(), if running { "agent running" } else { "no agent running" });
    if report.channels.is_empty() {
        say!("channels: empty");
    }
    for c in &report.channels {
        say!(
            "channel {}: {} events ({} high, {} normal, {} low), {} bytes, oldest {}",
            c.channel,
            c.events,
            c.by_priority[2],
            c.by_priority[1],
            c.by_priority[0],
            c.bytes,
            crate::time::human_duration(c.oldest_age_ms as f64 / 1000.0)
        );
        if let Some(f) = &c.flow {
            let outlook = match (f.seconds_to_full, f.seconds_to_drain) {
                (Some(s), _) => format!("full in {}", crate::time::human_duration(s)),
                (_, Some(s)) => format!("drained in {}", crate::time::human_duration(s)),
                _ if c.events == 0 => "empty".to_string(),
                _ => "steady".to_string(),
            };
            say!(
                "  in {:.0} events/s ({:.0} B/s), out {:.0} events/s ({:.0} B/s): {outlook}",
                f.ingest_per_s,
                f.ingest_bytes_per_s,
                f.drain_per_s,
                f.drain_bytes_per_s
            );
        }
    }
    for l in &report.losses {
        say!(
            "lost {} {} {} events ({} bytes) in channel {}",
            l.reason,
            l.events,
            l.priority.name(),
            l.bytes,
            l.channel
        );
    }
    say!(
        "quarantine: {} batches, {} events",
        report.quarantine.len(),
        report.quarantine.iter().map(|q| q.events).sum::<u64>()
    );
    for r in &report.retries {
        say!(
            "sink {}: {} failed attempts, next try {} ({})",
            r.sink,
            r.attempts,
            crate::time::rfc3339_utc(r.next_attempt_ms),
            crate::time::relative(r.next_attempt_ms, sluice::event::now_ms())
        );
    }
    for s in &report.set_aside {
        say!("corrupt store set aside: {s}");
    }
    Ok(())
}

/// `sluice quarantine list|replay|drop`.
pub fn quarantine(action: QuarantineAction, dir: &Path, id: Option<i64>, json: bool) -> Result<()> {
    match action {
        QuarantineAction::List => {
            let list = sqlite::quarantine_list(dir)?;
            if json {
                say!(
                    "{}",
                    serde_json::to_string_pretty(&list).map_err(|e| Error::new(ErrorKind::Other, e.to_string()))?
                );
            }
            for q in list.iter().filter(|_| !json) {
                say!("{}\t{}\t{}\t{} events\t{}", q.id, q.channel, q.sink, q.events, q.reason);
            }
        }
        QuarantineAction::Replay => {
            if dir_in_use(dir) {
                return Err(Error::new(
                    ErrorKind::Other,
                    format!("an agent is running on {}: stop it, replay, start it again", dir.display()),
                ));
            }
            say!("replayed {} events", sqlite::quarantine_replay(dir, id)?);
        }
        QuarantineAction::Drop => say!("dropped {} batches", sqlite::quarantine_drop(dir, id)?),
    }
    Ok(())
}

/// `sluice convert-flume`: prints the TOML; what was not carried goes to stderr and exits 2.
pub fn convert_flume(file: &Path, agent: &str) -> Result<()> {
    let text = sluice::config::read_config_file(file)?;
    let conversion = sluice::convert::convert_flume(&text, agent, &file.display().to_string())
        .map_err(|m| Error::new(ErrorKind::Config, m))?;
    say!("{}", conversion.toml.strip_suffix('\n').unwrap_or(&conversion.toml));
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
