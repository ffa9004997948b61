//! The `stdin` source: one event per line of standard input.
//!
//! Lines are gathered into batches of up to `batch_size` or whatever arrived
//! within `batch_timeout`, then put in one transaction. When the channel is
//! full the source stops reading (back pressure reaches the writer's pipe).

use super::{pump_lines, LineBatching, Source, SourceContext};
use crate::units::Span;
use serde::Deserialize;
use std::time::Duration;

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
    batching: LineBatching,
}

impl StdinConfig {
    /// Builds the source.
    pub fn build(&self) -> StdinSource {
        StdinSource {
            batching: LineBatching {
                batch_size: self.batch_size.unwrap_or(1000).max(1),
                batch_timeout: self.batch_timeout.map_or(Duration::from_millis(50), |s| s.0),
                max_line: self.max_line_length.map_or(1 << 20, |b| b.0 as usize),
            },
        }
    }
}

impl Source for StdinSource {
    fn run(self: Box<Self>, ctx: SourceContext) -> crate::Result<()> {
        pump_lines(Box::new(std::io::stdin()), &ctx, self.batching)?;
        log::info!("source {}: end of input", ctx.name);
        Ok(())
    }
}
