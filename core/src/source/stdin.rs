//! The `stdin` source: one event per line of standard input.
//!
//! Lines are gathered into batches of up to `batch_size` or whatever arrived
//! within `batch_timeout`, then put in one transaction. When the channel is
//! full the source stops reading (back pressure reaches the writer's pipe).

use super::{pump_lines, LineBatching, Source, SourceContext};
use crate::config::ComponentConfig;
use crate::registry::SourceSettings;
use crate::units::{ByteSize, Span};
use std::time::Duration;

crate::settings! {
    /// `[sources.NAME]` keys of `type = "stdin"`.
    pub struct StdinConfig {
        batch_size: usize = 1000, "Most lines per put.";
        batch_timeout: Span = Span(Duration::from_millis(50)), "Longest wait to fill a batch.";
        max_line_length: ByteSize = ByteSize(1 << 20), "Longest line kept; longer lines are cut and counted.";
    }
}

/// The running source.
pub struct StdinSource {
    batching: LineBatching,
}

impl SourceSettings for StdinConfig {
    fn check(&self, c: &ComponentConfig) -> crate::Result<()> {
        super::check_batching(c, self.batch_size, self.max_line_length)
    }

    fn build(&self, _: &ComponentConfig) -> crate::Result<Box<dyn Source>> {
        Ok(Box::new(StdinSource {
            batching: LineBatching {
                batch_size: self.batch_size,
                batch_timeout: self.batch_timeout.0,
                max_line: self.max_line_length.0 as usize,
            },
        }))
    }
}

impl Source for StdinSource {
    fn run(self: Box<Self>, ctx: SourceContext) -> crate::Result<()> {
        log::info!("source {}: reading standard input, one event per line", ctx.name);
        pump_lines(Box::new(std::io::stdin()), &ctx, self.batching)?;
        log::info!("source {}: end of input", ctx.name);
        Ok(())
    }
}
