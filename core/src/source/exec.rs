//! The `exec` source: runs a command and turns each line of its standard output
//! into an event (Flume's exec source). Standard error is logged line by line.
//! When the command exits it is started again after a backoff that doubles
//! from `restart_backoff` up to `max_restart_backoff` (reset after a minute of
//! running), unless `restart = false`.
//!
//! Like Flume's, this source cannot tell the command to wait: while the channel
//! is full it stops reading, the pipe fills and the command blocks on its write.

use super::{pump_lines, LineBatching, Source, SourceContext};
use crate::units::{ByteSize, Span};
use serde::Deserialize;
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `[sources.NAME]` keys of `type = "exec"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecConfig {
    /// The command line, run by `/bin/sh -c`.
    pub command: String,
    /// Start it again when it exits (default true).
    pub restart: Option<bool>,
    /// First wait before a restart (default 1s).
    pub restart_backoff: Option<Span>,
    /// Longest wait before a restart (default 1m).
    pub max_restart_backoff: Option<Span>,
    /// Most lines per put (default 1000).
    pub batch_size: Option<usize>,
    /// Longest wait to fill a batch (default 50ms).
    pub batch_timeout: Option<Span>,
    /// Longest line kept; longer lines are cut and counted (default 64KiB).
    pub max_line_length: Option<ByteSize>,
}

/// The running source.
pub struct ExecSource {
    command: String,
    restart: bool,
    backoff: Duration,
    max_backoff: Duration,
    batching: LineBatching,
}

impl ExecConfig {
    /// Builds the source.
    ///
    /// # Errors
    /// An empty command (the message names the key).
    pub fn build(&self) -> Result<ExecSource, (&'static str, String)> {
        if self.command.trim().is_empty() {
            return Err(("command", "give the command line to run".into()));
        }
        let backoff = self.restart_backoff.map_or(Duration::from_secs(1), |s| s.0.max(Duration::from_millis(10)));
        Ok(ExecSource {
            command: self.command.clone(),
            restart: self.restart.unwrap_or(true),
            backoff,
            max_backoff: self.max_restart_backoff.map_or(Duration::from_secs(60), |s| s.0).max(backoff),
            batching: LineBatching {
                batch_size: self.batch_size.unwrap_or(1000).max(1),
                batch_timeout: self.batch_timeout.map_or(Duration::from_millis(50), |s| s.0),
                max_line: self.max_line_length.map_or(64 << 10, |b| b.0.clamp(1, 16 << 20) as usize),
            },
        })
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
