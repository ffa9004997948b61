//! `stdout` (one line per event) and `null` (acknowledges and forgets) sinks.

use super::{Batch, Outcome, Sink};
use std::io::Write;

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
