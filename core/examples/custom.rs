//! A program embedding the core with its own source and sink types.
//!
//! `counter` is a source that emits numbered events; `shout` is a sink that
//! prints bodies in upper case. Both are configured like built-ins:
//!
//! ```sh
//! cargo run -p sluice --example custom
//! ```

use sluice::agent::Agent;
use sluice::config::{ComponentConfig, Config};
use sluice::registry::{Host, Registry, SinkSettings, SourceSettings};
use sluice::sink::{Batch, Outcome, Sink};
use sluice::source::{Source, SourceContext};
use sluice::units::Span;
use sluice::Event;
use std::path::Path;
use std::time::Duration;

sluice::settings! {
    /// `type = "counter"`: `count` events, one every `every`.
    struct CounterConfig {
        count: u64 = 5, "How many events to emit.";
        every: Span = Span(Duration::from_millis(20)), "Time between events.";
    }
}

impl SourceSettings for CounterConfig {
    fn build(&self, _: &ComponentConfig) -> sluice::Result<Box<dyn Source>> {
        Ok(Box::new(CounterSource { count: self.count, every: self.every.0 }))
    }
}

struct CounterSource {
    count: u64,
    every: Duration,
}

impl Source for CounterSource {
    fn run(self: Box<Self>, ctx: SourceContext) -> sluice::Result<()> {
        for n in 0..self.count {
            if ctx.stop.sleep(self.every) {
                break;
            }
            ctx.output.deliver(vec![Event::new(format!("tick {n}")).with_header("source", "counter")])?;
        }
        Ok(())
    }
}

sluice::settings! {
    /// `type = "shout"`: prints bodies in upper case.
    struct ShoutConfig {
        prefix: String = String::new(), "Printed before each body.";
    }
}

impl SinkSettings for ShoutConfig {
    fn build(&self, _: &ComponentConfig, _: &Host) -> sluice::Result<Box<dyn Sink>> {
        Ok(Box::new(ShoutSink { prefix: self.prefix.clone() }))
    }
}

struct ShoutSink {
    prefix: String,
}

impl Sink for ShoutSink {
    fn ship(&mut self, batch: &Batch<'_>) -> Outcome {
        for e in batch.events {
            println!("{}{}", self.prefix, String::from_utf8_lossy(&e.body).to_uppercase());
        }
        Outcome::Delivered
    }
}

const CONFIG: &str = r#"
[agent]
data_dir = "./target/custom-example-data"

[channels.main]
type = "memory"

[sources.ticks]
type = "counter"
channels = ["main"]
count = 5
every = "20ms"

[sinks.loud]
type = "shout"
channel = "main"
prefix = "> "
batch = { linger = "10ms" }
"#;

fn main() -> sluice::Result<()> {
    let mut registry = Registry::with_builtins();
    registry.register_source::<CounterConfig>("counter");
    registry.register_sink::<ShoutConfig>("shout");
    let config = Config::parse(CONFIG, Path::new("<example>"), &registry)?;
    let agent = Agent::start(&config.topology, &registry)?;
    std::thread::sleep(Duration::from_millis(500));
    agent.shutdown(Duration::from_secs(2));
    Ok(())
}
