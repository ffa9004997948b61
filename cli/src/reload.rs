//! `sluice run` reloads its configuration on SIGHUP and when the file changes.
//!
//! The file is polled (a `stat` a second, as Flume's polling provider does every
//! 30 s): no inotify, which misses editors that save by renaming and files on
//! network mounts. A change is acted on once the file has stood still for one
//! poll, so a half-written file is not read.

use sha2::{Digest, Sha256};
use sluice::agent::Agent;
use sluice::config::{read_config_file, Config};
use sluice::metrics::ReloadResult;
use sluice::registry::Registry;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

/// How often the configuration file is looked at.
pub const POLL: Duration = Duration::from_secs(1);

/// What identifies a version of the file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    inode: u64,
    len: u64,
    modified_ns: i128,
}

impl Stamp {
    /// The stamp of `path` now, if it can be read.
    pub fn of(path: &Path) -> Option<Stamp> {
        let meta = std::fs::metadata(path).ok()?;
        Some(Stamp {
            inode: meta.ino(),
            len: meta.len(),
            modified_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        })
    }
}

/// Watches one file for a settled change.
#[derive(Debug)]
pub struct Watch {
    loaded: Option<Stamp>,
    previous: Option<Stamp>,
}

impl Watch {
    /// Watches a file whose version `loaded` is in force.
    pub fn new(loaded: Option<Stamp>) -> Watch {
        Watch { loaded, previous: loaded }
    }

    /// Takes the stamp seen now; returns whether to reload.
    pub fn poll(&mut self, now: Option<Stamp>) -> bool {
        let due = settled_change(self.loaded, self.previous, now);
        self.previous = now;
        if due {
            self.loaded = now;
        }
        due
    }

    /// The version now in force (after SIGHUP read it).
    pub fn loaded(&mut self, stamp: Option<Stamp>) {
        self.loaded = stamp;
        self.previous = stamp;
    }
}

/// Whether the file changed since the version in force and stood still since
/// the last poll. A file that cannot be read (being replaced) is not a change.
fn settled_change(loaded: Option<Stamp>, previous: Option<Stamp>, now: Option<Stamp>) -> bool {
    now.is_some() && now != loaded && now == previous
}

/// SHA-256 of the file's text, in hex: what `sha256sum` prints for it.
pub fn hash(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads `path` and moves `agent` to it. A file that does not pass `sluice check`,
/// or that changes what only a restart may, is refused: logged, counted, and
/// the running topology stays.
pub fn reload(path: &Path, agent: &mut Agent, registry: &Registry) {
    let status = &agent.metrics().config;
    let loaded = read_config_file(path).and_then(|text| Ok((hash(&text), Config::parse(&text, path, registry)?)));
    let (hash, config) = match loaded {
        Ok(loaded) => loaded,
        Err(e) => {
            log::error!("configuration reload refused: {e}; the running configuration stays");
            status.reloaded(ReloadResult::Refused, Some(e.to_string()));
            return;
        }
    };
    if config.topology.agent.data_dir.exists() && !config.topology.agent.data_dir.is_dir() {
        let why = format!("{}: agent.data_dir: exists and is not a directory", path.display());
        log::error!("configuration reload refused: {why}; the running configuration stays");
        status.reloaded(ReloadResult::Refused, Some(why));
        return;
    }
    for warning in sluice::config::warnings::warnings(&config.topology) {
        log::warn!("{warning}");
    }
    match agent.reload(&config.topology, registry, config.topology.agent.drain_timeout) {
        Err(why) => {
            let why = format!("{}: {why}", path.display());
            log::error!("configuration reload refused: {why}; the running configuration stays");
            agent.metrics().config.reloaded(ReloadResult::Refused, Some(why));
        }
        Ok(done) => {
            let status = &agent.metrics().config;
            status.loaded(&hash, sluice::event::now_ms());
            let short = hash.get(..12).unwrap_or(&hash);
            if done.failures.is_empty() {
                log::info!("configuration {} reloaded ({short}): {}", path.display(), done.plan.summary());
                status.reloaded(ReloadResult::Ok, None);
            } else {
                let why = done.failures.join("; ");
                log::error!(
                    "configuration {} reloaded ({short}) but not every component started: {why}; the next reload tries again",
                    path.display()
                );
                status.reloaded(ReloadResult::Failed, Some(why));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_is_taken_once_it_has_settled() {
        let stamp = |len| Some(Stamp { inode: 1, len, modified_ns: i128::from(len) });
        let rows = [
            ("unchanged", stamp(1), stamp(1), stamp(1), false),
            ("just written", stamp(1), stamp(1), stamp(2), false),
            ("still being written", stamp(1), stamp(2), stamp(3), false),
            ("settled", stamp(1), stamp(2), stamp(2), true),
            ("gone while being replaced", stamp(1), stamp(1), None, false),
            ("back as it was", stamp(1), None, stamp(1), false),
        ];
        for (what, loaded, previous, now, due) in rows {
            assert_eq!(settled_change(loaded, previous, now), due, "{what}");
        }
        let mut watch = Watch::new(stamp(1));
        let seen: Vec<bool> = [stamp(2), stamp(2), stamp(2)].into_iter().map(|s| watch.poll(s)).collect();
        assert_eq!(seen, [false, true, false], "one reload per change");
    }

    #[test]
    fn the_hash_is_sha256_of_the_text() {
        assert_eq!(hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
