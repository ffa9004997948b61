//! A minimal `log` backend writing `LEVEL target: message` lines to stderr.

use log::{Level, LevelFilter, Log, Metadata, Record};
use std::io::Write;

struct StderrLogger;

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        // Libraries (ureq, rustls) speak at warn and above; debug is for our own code.
        let ours = metadata.target().starts_with("sluice");
        metadata.level() <= log::max_level() && (ours || metadata.level() <= Level::Warn)
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            Level::Error => "ERROR",
            Level::Warn => "WARN ",
            Level::Info => "INFO ",
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
        };
        let _ = writeln!(std::io::stderr().lock(), "{level} {}", record.args());
    }

    fn flush(&self) {}
}

static LOGGER: StderrLogger = StderrLogger;

/// Installs the logger at `level` (`error`, `warn`, `info`, `debug`, `trace`, `off`).
pub fn init(level: &str) -> Result<(), String> {
    let filter: LevelFilter = level
        .parse()
        .map_err(|_| format!("invalid log level {level:?}: expected error, warn, info, debug, trace or off"))?;
    log::set_logger(&LOGGER).map_err(|e| e.to_string())?;
    log::set_max_level(filter);
    Ok(())
}
