//! Sinks ship batches upstream; the runner decides what their outcome means.
//!
//! A sink reports an [`Outcome`]; it never retries, sleeps or drops by itself
//! (Fluent Bit's `FLB_OK / FLB_RETRY / FLB_ERROR`). HTTP status codes map onto
//! outcomes in one pure function, [`classify`].

pub mod client;
pub mod file;
pub mod flume_avro;
pub mod format;
pub mod http;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod otlp;
pub mod platform;
mod simple;

pub use simple::{NullSink, StdoutSink};

use crate::event::Event;
use crate::registry::Registry;
use std::time::Duration;

/// Registers the sinks both the agent and the mobile SDK have.
pub(crate) fn register_builtins(r: &mut Registry) {
    r.register_sink::<http::HttpSinkConfig>("http");
    r.register_sink::<otlp::OtlpHttpConfig>("otlp_http");
    r.register_sink::<simple::StdoutConfig>("stdout");
    r.register_sink::<simple::NullConfig>("null");
}

/// Registers the sinks only the agent has.
pub(crate) fn register_gateway_sinks(r: &mut Registry) {
    r.register_sink::<file::FileSinkConfig>("file");
    r.register_sink::<flume_avro::FlumeAvroConfig>("flume_avro");
    #[cfg(feature = "kafka")]
    r.register_sink::<kafka::KafkaConfig>("kafka");
}

/// One batch as a sink sees it.
#[derive(Debug)]
pub struct Batch<'a> {
    /// Stable across retries of the same events (sent as `X-Sluice-Batch`).
    pub id: &'a str,
    /// The events, in channel order.
    pub events: &'a [Event],
}

/// What happened to a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The upstream acknowledged every event.
    Delivered,
    /// The upstream took the batch but dropped `rejected` of its events for
    /// good (OTLP `partial_success`): commit, count and log; never retry.
    PartlyRejected {
        /// How many events the upstream says it dropped.
        rejected: u64,
        /// The upstream's words.
        reason: String,
    },
    /// Try again later (network error, timeout, 408, 429, 5xx).
    Retry {
        /// What the upstream asked for (`Retry-After`), if anything.
        after: Option<Duration>,
        /// For logs and `inspect`.
        reason: String,
    },
    /// The upstream refuses batches this large (413): split it.
    TooLarge,
    /// The upstream refuses these events for good (other 4xx): quarantine them.
    Permanent {
        /// The upstream's words.
        reason: String,
    },
}

/// Ships batches to one upstream. Runs on the sink's own thread; may block.
pub trait Sink: Send + 'static {
    /// Ships `batch` and reports what happened.
    fn ship(&mut self, batch: &Batch<'_>) -> Outcome;
}

/// Longest `Retry-After` honoured: a confused upstream must not park us for days.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Maps an HTTP status (and its `Retry-After` header) to an outcome.
pub fn classify(status: u16, retry_after: Option<&str>, body: &str) -> Outcome {
    let after = retry_after.and_then(parse_retry_after);
    match status {
        200..=299 => Outcome::Delivered,
        408 | 429 | 500..=599 => Outcome::Retry { after, reason: format!("upstream answered {status}") },
        413 => Outcome::TooLarge,
        _ => Outcome::Permanent { reason: format!("upstream answered {status}: {}", snippet(body)) },
    }
}

/// `Retry-After` in delta-seconds (HTTP dates are rare from collectors and ignored).
fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER))
}

/// The first 200 characters of an upstream's reply, on one line.
pub fn snippet(body: &str) -> String {
    body.chars().take(200).map(|c| if c.is_control() { ' ' } else { c }).collect::<String>().trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_table() {
        let retry = |after| Outcome::Retry { after, reason: String::new() };
        let cases: &[(u16, Option<&str>, Outcome)] = &[
            (200, None, Outcome::Delivered),
            (204, None, Outcome::Delivered),
            (408, None, retry(None)),
            (429, Some("7"), retry(Some(Duration::from_secs(7)))),
            (429, Some("Wed, 21 Oct 2015 07:28:00 GMT"), retry(None)),
            (503, Some("999999"), retry(Some(MAX_RETRY_AFTER))),
            (500, None, retry(None)),
            (413, None, Outcome::TooLarge),
            (400, None, Outcome::Permanent { reason: String::new() }),
            (404, None, Outcome::Permanent { reason: String::new() }),
        ];
        for (status, header, want) in cases {
            let got = classify(*status, *header, "");
            let same = match (&got, want) {
                (Outcome::Retry { after: a, .. }, Outcome::Retry { after: b, .. }) => a == b,
                (Outcome::Permanent { .. }, Outcome::Permanent { .. }) => true,
                (a, b) => a == b,
            };
            assert!(same, "{status}: got {got:?}, want {want:?}");
        }
    }
}
