//! `stdout` (one line per event) and `null` (acknowledges and forgets) sinks.

use super::{Batch, Outcome, Sink};
use crate::config::ComponentConfig;
use crate::registry::{Host, SinkSettings};
use std::io::Write;

crate::settings! {
    /// `type = "stdout"`: no keys of its own.
    pub struct StdoutConfig {}
}

crate::settings! {
    /// `type = "null"`: no keys of its own.
    pub struct NullConfig {}
}

impl SinkSettings for StdoutConfig {
    fn build(&self, _: &ComponentConfig, _: &Host) -> crate::Result<Box<dyn Sink>> {
        Ok(Box::new(StdoutSink))
    }
}

impl SinkSettings for NullConfig {
    fn build(&self, _: &ComponentConfig, _: &Host) -> crate::Result<Box<dyn Sink>> {
        Ok(Box::new(NullSink))
    }
}

/// Writes each body as a line to standard output; a failed write is retried.
#[derive(Debug, Default)]
pub struct StdoutSink;

impl Sink for StdoutSink {
    fn ship(&mut self, batch: &Batch<'_>) -> Outcome {
        let mut out = std::io::stdout().lock();
        let mut write = || -> std::io::Result<()> {
            for e in batch.events {
                out.write_all(&e.body)?;
                out.write_all(b"\n")?;
            }
            out.flush()
        };
        match write() {
            Ok(()) => Outcome::Delivered,
            Err(e) => Outcome::Retry { after: None, reason: format!("stdout: {e}") },
        }
    }
}

/// Acknowledges everything: for benchmarks and for discarding on purpose.
#[derive(Debug, Default)]
pub struct NullSink;

impl Sink for NullSink {
    fn ship(&mut self, _batch: &Batch<'_>) -> Outcome {
        Outcome::Delivered
    }
}
