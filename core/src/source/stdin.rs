//! The `stdin` source: one event per line of standard input.
//!
//! Lines are gathered into batches of up to `batch_size` or whatever arrived
//! within `batch_timeout`, then put in one transaction. When the channel is
//! full the source stops reading (back pressure reaches the writer's pipe).

use super::{deliver_until_accepted, Source, SourceContext};
use crate::event::Event;
use crate::units::Span;
use serde::Deserialize;
use std::io::BufRead;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// `[sources.NAME]` keys of `type = "stdin"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdinConfig {
    /// Most lines per put (default 1000).
    pub batch_size: Option<usize>,
    /// Longest wait to fill a batch (default 50ms).
    pub batch_timeout: Option<Span>,
    /// Longest line kept; longer lines are cut (default 1MiB).
    pub max_line_length: Option<crate::units::ByteSize>,
}

/// The running source.
pub struct StdinSource {
    batch_size: usize,
    batch_timeout: Duration,
    max_line: usize,
}

impl StdinConfig {
    /// Builds the source.
    pub fn build(&self) -> StdinSource {
        StdinSource {
            batch_size: self.batch_size.unwrap_or(1000).max(1),
            batch_timeout: self.batch_timeout.map_or(Duration::from_millis(50), |s| s.0),
            max_line: self.max_line_length.map_or(1 << 20, |b| b.0 as usize),
        }
    }
}

impl Source for StdinSource {
    fn run(self: Box<Self>, ctx: SourceContext) -> crate::Result<()> {
        // A reader thread turns the blocking stdin into a channel we can wait on with a timeout.
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(self.batch_size * 2);
        let max_line = self.max_line;
        std::thread::Builder::new().name("sluice-stdin".into()).spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut line = Vec::new();
            loop {
                line.clear();
                match stdin.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                            line.pop();
                        }
                        line.truncate(max_line);
                        if tx.send(line.clone()).is_err() {
                            break;
                        }
                    }
                }
            }
        })?;
        let mut batch = Vec::new();
        // When the current batch must go, counted from its first line.
        let mut deadline: Option<Instant> = None;
        loop {
            let received = match deadline {
                // Nothing pending: block without waking up (phones and boards pay for wake-ups).
                None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
                Some(at) => rx.recv_timeout(at.saturating_duration_since(Instant::now())),
            };
            let open = match received {
                Ok(line) => {
                    deadline.get_or_insert_with(|| Instant::now() + self.batch_timeout);
                    batch.push(Event::new(line));
                    if batch.len() < self.batch_size && !ctx.stop.is_stopped() {
                        continue;
                    }
                    true
                }
                Err(mpsc::RecvTimeoutError::Timeout) => true,
                Err(mpsc::RecvTimeoutError::Disconnected) => false,
            };
            deliver_until_accepted(&ctx, &mut batch);
            deadline = None;
            if !open || ctx.stop.is_stopped() {
                break;
            }
        }
        log::info!("source {}: end of input", ctx.name);
        Ok(())
    }
}
