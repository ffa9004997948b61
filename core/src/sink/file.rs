//! The `file` sink: rolling files in a directory, like Flume's `file_roll`.
//!
//! A batch is acknowledged only after it is written (and, with `fsync`, on
//! stable storage). A new file is started when the current one is older than
//! `roll_interval` or larger than `roll_size`; rolled files are never touched
//! again. Files are named `<prefix>-<start ms>-<n>.<ext>`, so they sort in order.

use super::{format, Batch, Outcome, Sink};
use crate::config::keys::Required;
use crate::config::ComponentConfig;
use crate::error::Result;
use crate::registry::{Host, SinkSettings};
use crate::units::{ByteSize, Span};
use serde::Deserialize;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

crate::settings! {
    /// `[sinks.NAME]` keys of `type = "file"`.
    pub struct FileSinkConfig {
        directory: Required<PathBuf> = Required::default(), "Where the files go (created 0700 if missing).";
        prefix: String = "sluice".into(), "File name prefix.";
        format: FileFormat = FileFormat::Text,
            "`text`: each body and a newline (Flume's TEXT serializer); `ndjson`: with id and headers.";
        roll_interval: Span = Span(Duration::from_secs(30)), "Start a new file after this long (as Flume; 0: never by time).";
        roll_size: ByteSize = ByteSize(0), "Start a new file past this size (0: never by size).";
        fsync: bool = true, "fsync each batch before acknowledging it.";
    }
}

/// How events are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    /// The body and a newline.
    Text,
    /// One JSON object per event: id, timestamp, headers, body.
    Ndjson,
}

crate::key_choices!(FileFormat);

/// The running sink.
pub struct FileSink {
    dir: PathBuf,
    prefix: String,
    format: FileFormat,
    roll_interval: Option<Duration>,
    roll_size: Option<u64>,
    fsync: bool,
    current: Option<Current>,
    rolled: u64,
}

struct Current {
    file: File,
    opened: Instant,
    written: u64,
}

impl FileSinkConfig {
    /// The sink (the directory is created at the first batch).
    fn sink(&self, c: &ComponentConfig) -> Result<FileSink> {
        let dir = self.directory.get().map_err(|m| c.error("directory", m))?;
        if self.prefix.is_empty() || self.prefix.contains('/') {
            return Err(c.error("prefix", "must be a non-empty file name part without '/'"));
        }
        Ok(FileSink {
            dir: dir.clone(),
            prefix: self.prefix.clone(),
            format: self.format,
            roll_interval: Some(self.roll_interval.0).filter(|d| !d.is_zero()),
            roll_size: Some(self.roll_size.0).filter(|b| *b > 0),
            fsync: self.fsync,
            current: None,
            rolled: 0,
        })
    }
}

impl SinkSettings for FileSinkConfig {
    fn check(&self, c: &ComponentConfig, _: &Host) -> Result<()> {
        self.sink(c).map(drop)
    }

    fn build(&self, c: &ComponentConfig, _: &Host) -> Result<Box<dyn Sink>> {
        Ok(Box::new(self.sink(c)?))
    }
}

impl FileSink {
    fn due(&self) -> bool {
        match &self.current {
            None => true,
            Some(c) => {
                self.roll_interval.is_some_and(|d| c.opened.elapsed() >= d)
                    || self.roll_size.is_some_and(|max| c.written >= max)
            }
        }
    }

    fn open_next(&mut self) -> std::io::Result<()> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        // Events can carry anything: the files are the agent user's alone, like the store.
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&self.dir)?;
        let ext = match self.format {
            FileFormat::Text => "log",
            FileFormat::Ndjson => "ndjson",
        };
        self.rolled += 1;
        let name = format!("{}-{}-{}.{ext}", self.prefix, crate::event::now_ms(), self.rolled);
        let file = File::options().create_new(true).append(true).mode(0o600).open(self.dir.join(name))?;
        self.current = Some(Current { file, opened: Instant::now(), written: 0 });
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if self.due() {
            if let Some(old) = self.current.take() {
                old.file.sync_all()?;
            }
            self.open_next()?;
        }
        let current = self.current.as_mut().ok_or_else(|| std::io::Error::other("no open file"))?;
        current.file.write_all(bytes)?;
        if self.fsync {
            current.file.sync_data()?;
        }
        current.written += bytes.len() as u64;
        Ok(())
    }
}

impl Sink for FileSink {
    fn ship(&mut self, batch: &Batch<'_>) -> Outcome {
        let bytes = match self.format {
            FileFormat::Ndjson => format::ndjson(batch.events),
            FileFormat::Text => {
                let mut out = Vec::with_capacity(batch.events.iter().map(|e| e.body.len() + 1).sum());
                for e in batch.events {
                    out.extend_from_slice(&e.body);
                    out.push(b'\n');
                }
                out
            }
        };
        match self.write(&bytes) {
            Ok(()) => Outcome::Delivered,
            Err(e) => {
                // A half-written batch may be in the file: start a fresh one for the retry.
                self.current = None;
                Outcome::Retry { after: None, reason: format!("file sink {}: {e}", self.dir.display()) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;

    fn sink(dir: &std::path::Path, extra: &str) -> FileSink {
        let text = format!("directory = {:?}\n{extra}", dir.display().to_string());
        ComponentConfig::from_toml("file", &text)
            .and_then(|c| c.parse::<FileSinkConfig>().and_then(|cfg| cfg.sink(&c)))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn files(dir: &std::path::Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|r| r.flatten().map(|e| e.path().display().to_string()).collect())
            .unwrap_or_default();
        names.sort();
        names
    }

    #[test]
    fn rolls_by_size_and_writes_every_body_once() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut s = sink(dir.path(), "roll_size = \"10B\"\nroll_interval = \"0s\"\n");
        for i in 0..3 {
            let events = [Event::new(format!("event {i}")), Event::new("second")];
            assert_eq!(s.ship(&Batch { id: "b", events: &events }), Outcome::Delivered);
        }
        let names = files(dir.path());
        assert_eq!(names.len(), 3, "{names:?}");
        let all: String = names.iter().map(|n| std::fs::read_to_string(n).unwrap_or_default()).collect();
        assert_eq!(all, "event 0\nsecond\nevent 1\nsecond\nevent 2\nsecond\n");
    }

    #[test]
    fn rolls_by_time_and_writes_ndjson() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut s = sink(dir.path(), "roll_interval = \"50ms\"\nformat = \"ndjson\"\n");
        let events = [Event::new("a").with_header("k", "v")];
        assert_eq!(s.ship(&Batch { id: "b", events: &events }), Outcome::Delivered);
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(s.ship(&Batch { id: "b", events: &events }), Outcome::Delivered);
        let names = files(dir.path());
        assert_eq!(names.len(), 2, "{names:?}");
        let line = std::fs::read_to_string(&names[0]).unwrap_or_default();
        let json: serde_json::Value = serde_json::from_str(line.trim()).unwrap_or_default();
        assert_eq!(json["headers"]["k"], "v");
        assert_eq!(json["body"], "a");
    }

    #[test]
    fn an_unwritable_directory_is_a_retry() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let blocker = dir.path().join("not-a-dir");
        std::fs::write(&blocker, b"x").unwrap_or_else(|e| panic!("{e}"));
        let mut s = sink(&blocker, "");
        let events = [Event::new("a")];
        assert!(matches!(s.ship(&Batch { id: "b", events: &events }), Outcome::Retry { .. }));
    }
}
