//! The `exec` source: runs a command and turns each line of its standard output
//! into an event (Flume's exec source). Standard error is logged line by line.
//! When the command exits it is started again after a backoff that doubles
//! from `restart_backoff` up to `max_restart_backoff` (reset after a minute of
//! running), unless `restart = false`.
//!
//! Like Flume's, this source cannot tell the command to wait: while the channel
//! is full it stops reading, the pipe fills and the command blocks on its write.

use super::{pump_lines, LineBatching, Source, SourceContext};
use crate::config::keys::Required;
use crate::config::ComponentConfig;
use crate::registry::SourceSettings;
use crate::units::{ByteSize, Span};
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

crate::settings! {
    /// `[sources.NAME]` keys of `type = "exec"`.
    pub struct ExecConfig {
        command: Required<String> = Required::default(), "The command line, run by `/bin/sh -c`.";
        restart: bool = true, "Start it again when it exits.";
        restart_backoff: Span = Span(Duration::from_secs(1)), "First wait before a restart (at least 10ms).";
        max_restart_backoff: Option<Span> = None,
            "Longest wait before a restart (none: 1m, or `restart_backoff` when that is longer).";
        batch_size: usize = 1000, "Most lines per put.";
        batch_timeout: Span = Span(Duration::from_millis(50)), "Longest wait to fill a batch.";
        max_line_length: ByteSize = ByteSize(64 << 10), "Longest line kept; longer lines are cut and counted.";
    }
}

/// The shortest `restart_backoff`: a command that fails at once must not spin.
const MIN_BACKOFF: Duration = Duration::from_millis(10);

/// The running source.
pub struct ExecSource {
    command: String,
    restart: bool,
    backoff: Duration,
    max_backoff: Duration,
    batching: LineBatching,
}

impl ExecConfig {
    fn command(&self, c: &ComponentConfig) -> crate::Result<&str> {
        let command = self.command.get().map_err(|m| c.error("command", m))?;
        if command.trim().is_empty() {
            return Err(c.error("command", "give the command line to run"));
        }
        Ok(command)
    }
}

impl ExecConfig {
    /// The longest restart wait: as set, else a minute or `restart_backoff` if longer
    /// (Flume's `restartThrottle` converts to `restart_backoff` alone).
    fn max_backoff(&self) -> Duration {
        self.max_restart_backoff.map_or(DEFAULT_MAX_BACKOFF.max(self.restart_backoff.0), |s| s.0)
    }
}

/// The longest restart wait when neither key raises it.
const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(60);

impl SourceSettings for ExecConfig {
    fn check(&self, c: &ComponentConfig) -> crate::Result<()> {
        self.command(c)?;
        if self.restart_backoff.0 < MIN_BACKOFF {
            return Err(c.error("restart_backoff", format!("must be at least {}", Span(MIN_BACKOFF))));
        }
        if self.max_restart_backoff.is_some_and(|max| max.0 < self.restart_backoff.0) {
            return Err(c.error("max_restart_backoff", "must be at least restart_backoff"));
        }
        super::check_batching(c, self.batch_size, self.max_line_length)
    }

    fn build(&self, c: &ComponentConfig) -> crate::Result<Box<dyn Source>> {
        Ok(Box::new(ExecSource {
            command: self.command(c)?.to_string(),
            restart: self.restart,
            backoff: self.restart_backoff.0,
            max_backoff: self.max_backoff(),
            batching: LineBatching {
                batch_size: self.batch_size,
                batch_timeout: self.batch_timeout.0,
                max_line: self.max_line_length.0 as usize,
            },
        }))
    }
}

impl Source for ExecSource {
    fn run(self: Box<Self>, ctx: SourceContext) -> crate::Result<()> {
        let mut wait = self.backoff;
        while !ctx.stop.is_stopped() {
            let started = Instant::now();
            match self.run_once(&ctx) {
                Ok(status) => log::warn!("source {}: `{}` exited ({status})", ctx.name, self.command),
                Err(e) => log::error!("source {}: cannot run `{}`: {e}", ctx.name, self.command),
            }
            if !self.restart || ctx.stop.is_stopped() {
                break;
            }
            if started.elapsed() >= Duration::from_secs(60) {
                wait = self.backoff;
            }
            log::info!("source {}: restarting `{}` in {} ms", ctx.name, self.command, wait.as_millis());
            ctx.stop.sleep(wait);
            wait = (wait * 2).min(self.max_backoff);
        }
        Ok(())
    }
}

impl ExecSource {
    /// Runs the command until it exits or the agent stops; returns how it ended.
    fn run_once(&self, ctx: &SourceContext) -> crate::Result<String> {
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(&self.command)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        log::info!("source {}: started `{}` (pid {})", ctx.name, self.command, child.id());
        if let Some(stderr) = child.stderr.take() {
            let name = ctx.name.clone();
            std::thread::Builder::new().name(format!("sluice-stderr-{name}")).spawn(move || {
                for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                    log::warn!("source {name}: stderr: {line}");
                }
            })?;
        }
        let stdout = child.stdout.take().ok_or_else(|| crate::Error::storage("no stdout pipe"))?;
        let ended = pump_lines(Box::new(stdout), ctx, self.batching)?;
        if !ended {
            // The agent is stopping: end the command rather than leave it behind.
            let _ = child.kill();
        }
        let status = child.wait()?;
        Ok(status.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::keys::Settings as _;

    /// A long `restart_backoff` (a converted Flume `restartThrottle`) raises the
    /// default maximum instead of being refused; an explicit smaller maximum is refused.
    #[test]
    fn the_restart_maximum_follows_a_longer_first_wait() {
        let read = |text: &str| {
            let c = ComponentConfig::from_toml("exec", &format!("command = \"true\"\n{text}"))?;
            let config: ExecConfig = c.parse()?;
            config.check(&c).map(|()| config.max_backoff())
        };
        let cases = [
            ("", Ok(60)),
            ("restart_backoff = \"2m\"", Ok(120)),
            ("max_restart_backoff = \"5m\"", Ok(300)),
            ("restart_backoff = \"2m\"\nmax_restart_backoff = \"1m\"", Err("must be at least restart_backoff")),
        ];
        for (text, expected) in cases {
            match (read(text), expected) {
                (Ok(got), Ok(secs)) => assert_eq!(got, Duration::from_secs(secs), "{text}"),
                (Err(e), Err(why)) => assert!(e.to_string().contains(why), "{text}: {e}"),
                (got, want) => panic!("{text}: {got:?}, expected {want:?}"),
            }
        }
        assert!(ExecConfig::keys().iter().any(|k| k.name == "max_restart_backoff" && k.default == "none"));
    }
}
