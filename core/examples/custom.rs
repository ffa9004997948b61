//! A program embedding the core with its own source and sink types.
//!
//! `counter` is a source that emits numbered events; `shout` is a sink that
//! prints bodies in upper case. Both are configured like built-ins:
//!
//! ```sh
//! cargo run -p sluice --example custom
//! ```

use serde::Deserialize;
use sluice::agent::Agent;
use sluice::config::Config;
use sluice::registry::Registry;
use sluice::sink::{Batch, Outcome, Sink};
use sluice::source::{Source, SourceContext};
use sluice::Event;
use std::path::Path;
use std::time::Duration;

/// `type = "counter"`: `count` events, one every `every_ms`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CounterSource {
    count: u64,
    every_ms: u64,
}

impl Source for CounterSource {
    fn run(self: Box<Self>, ctx: SourceContext) -> sluice::Result<()> {
        for n in 0..self.count {
            if ctx.stop.sleep(Duration::from_millis(self.every_ms)) {
                break;
            }
            ctx.output.deliver(vec![Event::new(format!("tick {n}")).with_header("source", "counter")])?;
        }
        Ok(())
    }
}

/// `type = "shout"`: prints bodies in upper case.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
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
every_ms = 20

[sinks.loud]
type = "shout"
channel = "main"
prefix = "> "
batch = { linger = "10ms" }
"#;

fn main() -> sluice::Result<()> {
    let mut registry = Registry::with_builtins();
    registry.register_source("counter", |c| Ok(Box::new(c.parse::<CounterSource>()?)));
    registry.register_sink("shout", |c| Ok(Box::new(c.parse::<ShoutSink>()?)));
    let config = Config::parse(CONFIG, Path::new("<example>"), &registry)?;
    let agent = Agent::start(&config.topology, &registry)?;
    std::thread::sleep(Duration::from_millis(500));
    agent.shutdown(Duration::from_secs(2));
    Ok(())
}
