//! The `taildir` source: follows files matching glob patterns, one event per line.
//!
//! Read positions are saved in the same SQLite transaction as the lines they
//! produced ([`Output::deliver_marked`](super::Output::deliver_marked)): after a
//! crash the source resumes exactly after the last committed line, so nothing is
//! lost and nothing read twice. Files are told apart by fingerprint (see
//! [`file`]), which makes both rotation styles exact:
//!
//! - **rename** (`app.log` → `app.log.1`, a new `app.log`): the open handle keeps
//!   reading the renamed file to its end; the new file is a new fingerprint.
//! - **copytruncate** (copy to `app.log.1`, truncate `app.log`): when the followed
//!   file shrinks it is let go; a copy with its fingerprint (if the patterns match
//!   it) is picked up at the saved offset, and the rewritten `app.log` is a new file.
//!
//! Files that appear while running are read from their start. `read_from = "end"`
//! applies only on the first start (no saved positions), to skip old history.

pub mod file;
pub mod glob;

use super::{Source, SourceContext};
use crate::channel::Mark;
use crate::config::keys::Required;
use crate::config::ComponentConfig;
use crate::event::Event;
use crate::registry::SourceSettings;
use crate::units::{ByteSize, Span};
use file::{Fingerprint, Open, Tracked};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fs::File;
use std::path::PathBuf;
use std::time::{Duration, Instant};

crate::settings! {
    /// `[sources.NAME]` keys of `type = "taildir"`.
    pub struct TaildirConfig {
        paths: Required<Vec<PathBuf>> = Required::default(),
            "Glob patterns of the files to follow (`*`, `?`, `[...]` in any component).";
        read_from: ReadFrom = ReadFrom::Start,
            "Where files found at the very first start begin (later starts resume where they were).";
        max_line_length: ByteSize = ByteSize(64 << 10), "Longest line kept; longer lines are cut and counted.";
        batch_size: usize = 1000, "Most lines per put.";
        poll_interval: Span = Span(Duration::from_millis(250)),
            "How often to look for new data and new files when idle (at least 10ms).";
        file_header: bool = false, "Add the file's path as a header.";
        file_header_key: String = "file".into(), "The header's name (Flume's `fileHeaderKey`).";
        fingerprint: Fingerprint = Fingerprint::Content, "How files are told apart.";
        rotate_wait: Span = Span(Duration::from_secs(5)),
            "How long a rotated-away file is still read after it stops matching.";
        idle_timeout: Span = Span(Duration::from_secs(120)),
            "Close the handle of a file idle this long; it is reopened when it grows.";
    }
}

/// The shortest `poll_interval`.
const MIN_POLL: Duration = Duration::from_millis(10);

/// Where files found at the first start begin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadFrom {
    /// From the first line.
    Start,
    /// After the last line present.
    End,
}

crate::key_choices!(ReadFrom, Fingerprint);

impl TaildirConfig {
    fn paths(&self, c: &ComponentConfig) -> crate::Result<&[PathBuf]> {
        let paths = self.paths.get().map_err(|m| c.error("paths", m))?;
        if paths.is_empty() {
            return Err(c.error("paths", "give at least one path pattern"));
        }
        Ok(paths)
    }
}

impl SourceSettings for TaildirConfig {
    fn check(&self, c: &ComponentConfig) -> crate::Result<()> {
        self.paths(c)?;
        if self.poll_interval.0 < MIN_POLL {
            return Err(c.error("poll_interval", format!("must be at least {}", Span(MIN_POLL))));
        }
        super::check_batching(c, self.batch_size, self.max_line_length)
    }

    fn build(&self, c: &ComponentConfig) -> crate::Result<Box<dyn Source>> {
        Ok(Box::new(TaildirSource {
            patterns: self.paths(c)?.to_vec(),
            read_from_end: self.read_from == ReadFrom::End,
            max_line: self.max_line_length.0 as usize,
            batch_size: self.batch_size,
            poll: self.poll_interval.0,
            header: self.file_header.then(|| self.file_header_key.clone()),
            fingerprint: self.fingerprint,
            rotate_wait: self.rotate_wait.0,
            idle_timeout: self.idle_timeout.0,
        }))
    }
}

/// The running source.
pub struct TaildirSource {
    patterns: Vec<PathBuf>,
    read_from_end: bool,
    max_line: usize,
    batch_size: usize,
    poll: Duration,
    header: Option<String>,
    fingerprint: Fingerprint,
    rotate_wait: Duration,
    idle_timeout: Duration,
}

/// The followed files and what reading them needs.
struct Follower {
    cfg: TaildirSource,
    ctx: SourceContext,
    files: BTreeMap<String, Tracked>,
    scratch: Vec<u8>,
    /// Positions were found at start: `read_from = "end"` no longer applies.
    resumed: bool,
    /// Keys of files by (dev, inode, size, mtime) when last hashed: unchanged files are not reopened.
    seen: std::collections::HashMap<(u64, u64, u64, i64, i64), String>,
}

impl Source for TaildirSource {
    fn run(self: Box<Self>, ctx: SourceContext) -> crate::Result<()> {
        let mut follower = Follower::new(*self, ctx)?;
        follower.run();
        Ok(())
    }
}

impl Follower {
    fn new(cfg: TaildirSource, ctx: SourceContext) -> crate::Result<Follower> {
        let mut files = BTreeMap::new();
        if let Some(store) = ctx.output.state() {
            for (key, value) in store.load_source_state(&ctx.name)? {
                let Some((offset, path)) = file::decode_position(&value) else {
                    log::warn!("source {}: unreadable saved position for {key}; ignoring it", ctx.name);
                    continue;
                };
                let now = Instant::now();
                files.insert(
                    key.clone(),
                    Tracked { key, path, offset, open: None, missing_since: None, last_read: now },
                );
            }
        }
        let scratch = vec![0u8; (cfg.max_line + 1).max(256 << 10)];
        let resumed = !files.is_empty();
        Ok(Follower { cfg, ctx, files, scratch, resumed, seen: std::collections::HashMap::new() })
    }

    fn run(&mut self) {
        let mut first = true;
        while !self.ctx.stop.is_stopped() {
            self.scan(first);
            first = false;
            self.resumed = true;
            // Read while there is data; look for new files at least every poll interval.
            let until = Instant::now() + self.cfg.poll;
            let mut read_any = false;
            loop {
                let progressed = self.read_round();
                read_any |= progressed;
                if !progressed || Instant::now() >= until || self.ctx.stop.is_stopped() {
                    break;
                }
            }
            if !read_any {
                self.ctx.stop.sleep(self.cfg.poll);
            }
        }
    }

    /// Matches the patterns, attaches files to their positions, adds new ones, forgets gone ones.
    fn scan(&mut self, first: bool) {
        let now = Instant::now();
        let mut seen: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
        let paths: Vec<PathBuf> = self.cfg.patterns.iter().flat_map(|p| glob::expand(p)).collect();
        {
            for path in paths {
                if let Some(key) = self.visit(path, first) {
                    seen.insert(key);
                }
            }
        }
        let mut forget = Vec::new();
        for (key, t) in &mut self.files {
            if seen.contains(key) {
                t.missing_since = None;
                continue;
            }
            let since = *t.missing_since.get_or_insert(now);
            let caught_up = match &t.open {
                None => true,
                Some(open) => open.size().map_or(true, |size| size <= t.offset),
            };
            if caught_up && now.duration_since(since) >= self.cfg.rotate_wait {
                forget.push(key.clone());
            }
        }
        if forget.is_empty() {
            return;
        }
        let marks: Vec<Mark> = forget
            .iter()
            .map(|key| Mark::State { source: self.ctx.name.clone(), key: key.clone(), value: None })
            .collect();
        if let Some(store) = self.ctx.output.state() {
            if let Err(e) = store.save_marks(&marks) {
                log::warn!("source {}: could not forget old positions: {e}", self.ctx.name);
                return;
            }
        }
        for key in forget {
            if let Some(t) = self.files.remove(&key) {
                log::info!("source {}: stopped following {} (gone)", self.ctx.name, t.path.display());
            }
        }
    }

    /// Looks at one matching path; returns the key of the file there, if it has one yet.
    fn visit(&mut self, path: PathBuf, first: bool) -> Option<String> {
        let meta = std::fs::metadata(&path).ok().filter(|m| m.is_file())?;
        use std::os::unix::fs::MetadataExt;
        let (dev, ino) = (meta.dev(), meta.ino());
        // The file already attached (perhaps renamed): only its path changes.
        if let Some(t) = self.files.values_mut().find(|t| t.open.as_ref().is_some_and(|o| o.dev == dev && o.ino == ino))
        {
            t.path = path;
            return Some(t.key.clone());
        }
        let size = meta.len();
        let stamp = (dev, ino, size, meta.mtime_nsec(), meta.mtime());
        // An unchanged file seen before (a finished rotated file, an idle one): no need to
        // open and hash it again, nor to hold a handle while it has nothing new.
        if let Some(key) = self.seen.get(&stamp).cloned() {
            match self.files.get(&key) {
                Some(t) if t.open.is_some() || size <= t.offset => return Some(key),
                _ => {}
            }
        }
        let handle = File::open(&path).ok()?;
        let key = match file::key_of(&handle, self.cfg.fingerprint) {
            Ok(key) => key?,
            Err(e) => {
                log::warn!("source {}: cannot read {}: {e}", self.ctx.name, path.display());
                return None;
            }
        };
        if self.seen.len() > 4096 {
            self.seen.clear(); // rotated files come and go; an unbounded map would not
        }
        self.seen.insert(stamp, key.clone());
        let open = Open::new(handle).ok()?;
        match self.files.get_mut(&key) {
            Some(t) if t.open.is_none() && size <= t.offset && self.cfg.fingerprint == Fingerprint::Content => {
                t.path = path; // fully read: attach when it grows
            }
            Some(t) if t.open.is_none() => {
                if size < t.offset && self.cfg.fingerprint == Fingerprint::Inode {
                    log::info!("source {}: {} was truncated; reading it from the start", self.ctx.name, path.display());
                    t.offset = 0;
                }
                log::debug!("source {}: following {} from byte {}", self.ctx.name, path.display(), t.offset);
                t.path = path;
                t.open = Some(open);
                t.last_read = Instant::now();
            }
            // Another file with the same fingerprint (a copy being made): the attached one is read.
            Some(_) => {}
            None => {
                let offset = if first && !self.resumed && self.cfg.read_from_end { size } else { 0 };
                log::info!("source {}: following {} from byte {offset}", self.ctx.name, path.display());
                let now = Instant::now();
                let t =
                    Tracked { key: key.clone(), path, offset, open: Some(open), missing_since: None, last_read: now };
                self.files.insert(key.clone(), t);
            }
        }
        Some(key)
    }

    /// Reads one batch from every attached file; returns whether any lines were read.
    fn read_round(&mut self) -> bool {
        let keys: Vec<String> = self.files.keys().cloned().collect();
        let mut progressed = false;
        for key in keys {
            if self.ctx.stop.is_stopped() {
                break;
            }
            progressed |= self.read_file(&key);
        }
        progressed
    }

    fn read_file(&mut self, key: &str) -> bool {
        let Some(t) = self.files.get_mut(key) else { return false };
        let Some(open) = &t.open else { return false };
        let size = open.size().unwrap_or(0);
        let still_same = match self.cfg.fingerprint {
            Fingerprint::Content => {
                file::key_of(&open.file, Fingerprint::Content).ok().flatten().as_deref() == Some(key)
            }
            Fingerprint::Inode => true,
        };
        if size < t.offset || !still_same {
            // Truncated or rewritten in place: let it go; a copy (copytruncate) is found by the next scan.
            if self.cfg.fingerprint == Fingerprint::Inode && still_same {
                log::info!("source {}: {} was truncated; reading it from the start", self.ctx.name, t.path.display());
                t.offset = 0;
            } else {
                log::info!("source {}: {} was truncated or replaced; letting it go", self.ctx.name, t.path.display());
                t.open = None;
            }
            return false;
        }
        if size == t.offset {
            if t.last_read.elapsed() >= self.cfg.idle_timeout {
                t.open = None; // reattached by the next scan if it still matches
            }
            return false;
        }
        let lines =
            match file::read_lines(&open.file, t.offset, self.cfg.batch_size, self.cfg.max_line, &mut self.scratch) {
                Ok(lines) => lines,
                Err(e) => {
                    log::warn!("source {}: reading {}: {e}", self.ctx.name, t.path.display());
                    t.open = None;
                    return false;
                }
            };
        if lines.offset == t.offset {
            return false;
        }
        t.last_read = Instant::now();
        let path_text = t.path.to_string_lossy().into_owned();
        let mark = Mark::State {
            source: self.ctx.name.clone(),
            key: key.to_string(),
            value: Some(file::encode_position(lines.offset, &t.path)),
        };
        let events: Vec<Event> = lines
            .bodies
            .into_iter()
            .map(|body| {
                let event = Event::new(body);
                match &self.cfg.header {
                    Some(name) => event.with_header(name.clone(), path_text.clone()),
                    None => event,
                }
            })
            .collect();
        self.ctx.output.metrics().truncated.add(lines.truncated);
        if self.deliver(events, mark) {
            if let Some(t) = self.files.get_mut(key) {
                t.offset = lines.offset;
            }
            true
        } else {
            false
        }
    }

    /// Puts the lines with their position; waits while the channel is full. False at shutdown.
    fn deliver(&self, mut events: Vec<Event>, mark: Mark) -> bool {
        let marks = [mark];
        loop {
            match self.ctx.output.deliver_marked(events, &marks) {
                Ok(()) => return true,
                Err(refused) if self.ctx.stop.is_stopped() => {
                    log::info!(
                        "source {}: {} lines left for the next run: {}",
                        self.ctx.name,
                        refused.events.len(),
                        refused.error
                    );
                    return false;
                }
                Err(refused) => {
                    log::warn!("source {}: {}; holding the lines and retrying", self.ctx.name, refused.error);
                    events = refused.events;
                    self.ctx.stop.sleep(Duration::from_millis(200));
                }
            }
        }
    }
}
