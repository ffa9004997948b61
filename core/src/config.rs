//! Configuration: TOML read strictly, every error with file, line and key.
//!
//! Two stages (ripgrep's low/high args): [`raw`] mirrors the file with serde
//! (unknown keys are errors, spans kept); [`Config::load`] resolves it into
//! [`Topology`], which `sluice check` prints and the agent builds.

pub mod keys;
mod located;
mod mobile;
pub mod raw;
pub mod reference;
mod resolve;
pub mod sections;
pub mod toml;
pub mod warnings;

pub use located::{ComponentConfig, Location};
pub use mobile::{MobileSpec, UploadOn, APP_CHANNEL};
pub use resolve::{ChannelSpec, GroupSpec, InterceptorSpec, Processor, SinkSpec, SourceSpec, Topology};
pub use toml::Written;

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// A loaded configuration file.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it came from (`<built-in>` for the quickstart).
    pub path: PathBuf,
    /// The resolved topology.
    pub topology: Topology,
}

/// The built-in quickstart: stdin and http on 127.0.0.1:5140 into a
/// durable channel in `./sluice-data`, shipped to stdout.
pub const QUICKSTART: &str = include_str!("../../conf/quickstart.toml");

/// The largest configuration file read: configs are a few KiB; a path to a
/// device or a huge file is a mistake, not a config.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Reads a configuration file: a regular file of at most [`MAX_CONFIG_BYTES`],
/// opened without waiting (a FIFO with no writer is refused, not waited on).
///
/// # Errors
/// [`crate::ErrorKind::Config`] naming the file and what is wrong with it.
pub fn read_config_file(path: &Path) -> Result<String> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt;
    let fail = |what: String| Error::config(format!("{}: {what}", path.display()));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .map_err(|e| fail(format!("cannot read: {e}")))?;
    let meta = file.metadata().map_err(|e| fail(format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(fail("not a regular file: a configuration is read from a file".into()));
    }
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(fail(format!("{} bytes: a configuration is at most {MAX_CONFIG_BYTES} bytes", meta.len())));
    }
    let mut text = String::new();
    file.take(MAX_CONFIG_BYTES + 1).read_to_string(&mut text).map_err(|e| fail(format!("cannot read: {e}")))?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(fail(format!("more than {MAX_CONFIG_BYTES} bytes: a configuration is at most that")));
    }
    Ok(text)
}

impl Config {
    /// Reads and resolves `path`.
    ///
    /// # Errors
    /// [`crate::ErrorKind::Config`] with `file:line: key: what is wrong`.
    pub fn load(path: &Path, registry: &crate::registry::Registry) -> Result<Config> {
        let text = read_config_file(path)?;
        Config::parse(&text, path, registry)
    }

    /// Resolves configuration `text` as if read from `path`.
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn parse(text: &str, path: &Path, registry: &crate::registry::Registry) -> Result<Config> {
        let file = Location::file(path, text);
        if text.trim().is_empty() {
            return Err(Error::config(format!(
                "{}: the file is empty: expected at least one [sources.*], [channels.*] and [sinks.*]",
                path.display()
            )));
        }
        let raw = read_raw(text, &file)?;
        let topology = resolve::resolve(raw, &file, registry, resolve::Reader::Agent)?;
        Ok(Config { path: path.to_path_buf(), topology })
    }

    /// Resolves a mobile SDK configuration (`[mobile]` and `[sinks.*]`)
    /// whose store lives in `data_dir`. Errors name the line and key; the file is
    /// called `<config>` since the app passes text, not a path.
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn parse_mobile(text: &str, data_dir: &Path, registry: &crate::registry::Registry) -> Result<Config> {
        let path = Path::new("<config>");
        let file = Location::file(path, text);
        if text.trim().is_empty() {
            return Err(Error::config(
                "<config>: the configuration is empty: expected at least one [sinks.*] to upload to",
            ));
        }
        let raw = read_raw(text, &file)?;
        let topology = resolve::resolve(raw, &file, registry, resolve::Reader::Mobile(data_dir))?;
        Ok(Config { path: path.to_path_buf(), topology })
    }
}

/// Parses `text` and sorts it into sections.
fn read_raw(text: &str, file: &Location) -> Result<raw::RawConfig> {
    let document = toml::parse(text).map_err(|e| file.parse_error(&e))?;
    raw::RawConfig::from_document(&document).map_err(|e| file.value_error(&e, "", &(0..0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;

    const SINK: &str = "[sinks.up]\ntype = \"http\"\nurl = \"http://127.0.0.1:9/\"\n";

    #[test]
    fn misshapen_sections_and_nested_values_are_named_with_their_line() {
        let registry = Registry::with_builtins();
        let cases = [
            ("colour = 1\n", "a.toml:1: colour: unknown field `colour`"),
            ("\nsinks = 3\n", "a.toml:2: sinks: expected tables like [sinks.NAME]"),
            ("[sinks]\nup = 1\n", "a.toml:2: sinks.up: expected a table like [sinks.up]"),
            (
                "[sink_groups.g]\nprocessor = \"failover\"\nsinks = \"up\"\n",
                "a.toml:3: sink_groups.g.sinks: invalid type",
            ),
            (
                "[channels.main]\ntype = \"memory\"\n[sources.in]\ntype = \"stdin\"\nchannels = [\"main\", 3]\n",
                "a.toml:5: sources.in.channels[1]: invalid type: integer `3`",
            ),
            ("a = [1\n", "a.toml:2: not valid TOML"),
        ];
        for (text, expected) in cases {
            let message = Config::parse(text, Path::new("a.toml"), &registry).err().map(|e| e.to_string());
            let message = message.unwrap_or_default();
            assert!(message.contains(expected), "{text:?}: {message}");
        }
    }

    #[test]
    fn sink_workers_are_read_and_kept_to_one_on_phones() {
        let registry = Registry::with_builtins();
        let agent = format!(
            "[channels.main]\ntype = \"memory\"\n[sources.in]\ntype = \"stdin\"\nchannels = [\"main\"]\n{SINK}channel = \"main\"\nworkers = 4\n"
        );
        let config = Config::parse(&agent, Path::new("a.toml"), &registry).map_err(|e| e.to_string());
        assert_eq!(config.map(|c| c.topology.sinks[0].runner.workers), Ok(4));

        let grouped = format!(
            "{agent}[sinks.local]\ntype = \"stdout\"\nchannel = \"main\"\n[sink_groups.g]\nprocessor = \"failover\"\nsinks = [\"up\", \"local\"]\n"
        );
        let refused = Config::parse(&grouped, Path::new("a.toml"), &registry).err().map(|e| e.to_string());
        let message = refused.unwrap_or_default();
        assert!(message.contains("sink_groups.g.sinks") && message.contains("\"local\" is a stdout sink"), "{message}");

        let mismatched = format!(
            "{agent}[sinks.backup]\ntype = \"http\"\nurl = \"http://127.0.0.1:9/\"\nchannel = \"main\"\nworkers = 2\n[sink_groups.g]\nprocessor = \"failover\"\nsinks = [\"up\", \"backup\"]\n"
        );
        let refused = Config::parse(&mismatched, Path::new("a.toml"), &registry).err().map(|e| e.to_string());
        let message = refused.unwrap_or_default();
        assert!(
            message.contains("sinks.backup.workers") && message.contains("come from its first sink (4)"),
            "{message}"
        );

        let phone = format!("{SINK}workers = 2\n");
        let refused = Config::parse_mobile(&phone, Path::new("/nonexistent"), &registry).err().map(|e| e.to_string());
        let message = refused.unwrap_or_default();
        assert!(message.contains("<config>:4") && message.contains("sinks.up.workers"), "{message}");
    }
}
