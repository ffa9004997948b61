//! `sluice help [TOPIC]`: the configuration reference from the settings
//! structs themselves, or one command's usage.

use crate::args;
use crate::commands::say;
use sluice::config::keys;
use sluice::config::reference::{self, find, topics};
use sluice::registry::Registry;
use sluice::{Error, ErrorKind, Result};

/// Prints the help for `topic`: a command (`command:check`), a table of the
/// configuration (`http`, `channel`, `sink`, …) or, without one, the usage and
/// the types.
pub fn help(topic: Option<&str>) -> Result<()> {
    let registry = Registry::with_builtins();
    match topic {
        Some(t) if t.starts_with("command:") => {
            let name = t.trim_start_matches("command:");
            say(format_args!("{}", args::command_usage(name).unwrap_or_else(args::usage)))
        }
        Some("--markdown") | Some("markdown") => say(format_args!("{}", reference::markdown(&registry).trim_end())),
        Some(name) => {
            let found = find(&registry, name);
            if found.is_empty() {
                let known: Vec<String> = topics(&registry).into_iter().map(|t| t.name).collect();
                return Err(Error::new(
                    ErrorKind::Config,
                    format!("no type or table called {name:?}: try one of {}", known.join(", ")),
                ));
            }
            for t in found {
                say(format_args!("{}\n{}", t.table, keys::text(&t.keys)))?;
            }
            Ok(())
        }
        None => {
            say(format_args!("{}\n", args::usage()))?;
            say(format_args!("configuration tables (sluice help NAME for their keys):"))?;
            for t in topics(&registry) {
                say(format_args!("  {:13} {}", t.name, t.table))?;
            }
            say(format_args!(
                "\nsizes carry a unit: B, KiB, MiB, GiB (1024) or KB, MB, GB (1000); durations ms, s, m, h; 0 needs none"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEGIN: &str = "<!-- reference:begin (generated: `sluice help --markdown`) -->\n";
    const END: &str = "<!-- reference:end -->";

    /// The README's reference is the one `sluice help` prints: same table, same defaults.
    #[test]
    fn the_readme_reference_is_the_generated_one() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
            .unwrap_or_else(|e| panic!("README.md: {e}"));
        let start = readme.find(BEGIN).map(|at| at + BEGIN.len());
        let end = readme.find(END);
        let (Some(start), Some(end)) = (start, end) else { panic!("README.md has no reference markers") };
        let generated = reference::markdown(&Registry::with_builtins());
        assert!(
            readme[start..end].trim_end() == generated.trim_end(),
            "README.md's configuration reference differs from the code's: replace the text between its markers \
             with the output of `cargo run -p sluice-cli -- help --markdown`"
        );
    }
}
