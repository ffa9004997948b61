//! `Config::parse` on arbitrary UTF-8: errors are fine, panics are not.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice::config::Config;
use sluice::registry::Registry;
use std::path::Path;
use std::sync::OnceLock;

/// Built once: the registry is the same for every input.
static REGISTRY: OnceLock<Registry> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let registry = REGISTRY.get_or_init(Registry::with_builtins);
    let _ = Config::parse(text, Path::new("fuzz.toml"), registry);
});
