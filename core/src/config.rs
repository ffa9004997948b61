//! Configuration: TOML read strictly, every error with file, line and key.
//!
//! Two stages (ripgrep's low/high args): [`raw`] mirrors the file with serde
//! (unknown keys are errors, spans kept); [`Config::load`] resolves it into
//! [`Topology`], which `sluice check` prints and the agent builds.

mod located;
pub mod raw;
mod resolve;

pub use located::{ComponentConfig, Location};
pub use resolve::{ChannelSpec, GroupSpec, Processor, SinkSpec, SourceSpec, Topology};

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

/// The built-in quickstart (DESIGN §4): stdin and http on 127.0.0.1:5140 into a
/// durable channel in `./sluice-data`, shipped to stdout.
pub const QUICKSTART: &str = include_str!("../../conf/quickstart.toml");

impl Config {
    /// Reads and resolves `path`.
    ///
    /// # Errors
    /// [`crate::ErrorKind::Config`] with `file:line: key: what is wrong`.
    pub fn load(path: &Path, registry: &crate::registry::Registry) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::config(format!("{}: cannot read: {e}", path.display())))?;
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
        let raw: raw::RawConfig = toml::from_str(text).map_err(|e| file.toml_error(&e))?;
        let topology = resolve::resolve(raw, &file, registry)?;
        Ok(Config { path: path.to_path_buf(), topology })
    }
}
