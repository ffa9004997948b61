//! The configuration in force and how its reloads went, for `/metrics`,
//! `/metrics.json` and the status page.

use super::Counter;
use std::sync::Mutex;

/// How one reload ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadResult {
    /// Applied: every changed component runs on the new settings.
    Ok,
    /// Not applied (invalid, or a change only a restart makes); the running
    /// topology stays as it was.
    Refused,
    /// Applied, but a changed component could not be started again; it is
    /// tried again at the next reload.
    Failed,
}

impl ReloadResult {
    /// The `result` label of `sluice_config_reloads_total`.
    pub fn label(self) -> &'static str {
        match self {
            ReloadResult::Ok => "ok",
            ReloadResult::Refused => "refused",
            ReloadResult::Failed => "failed",
        }
    }
}

/// What the agent runs on: the file's hash, when it was loaded, the reloads.
#[derive(Debug, Default)]
pub struct ConfigStatus {
    state: Mutex<ConfigState>,
    ok: Counter,
    refused: Counter,
    failed: Counter,
}

/// A snapshot of [`ConfigStatus`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigState {
    /// SHA-256 of the file in force, in hex (what `sha256sum` prints); empty
    /// when nobody set one (the mobile SDK).
    pub hash: String,
    /// When it was loaded, in ms since the epoch.
    pub loaded_ms: u64,
    /// Why the last reload was refused or failed, if it was.
    pub last_error: Option<String>,
}

impl ConfigStatus {
    /// The file with `hash` is in force since `at_ms`.
    pub fn loaded(&self, hash: &str, at_ms: u64) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.hash = hash.to_string();
        state.loaded_ms = at_ms;
    }

    /// Counts a reload that ended as `result`, with the reason when it did not apply cleanly.
    pub fn reloaded(&self, result: ReloadResult, error: Option<String>) {
        match result {
            ReloadResult::Ok => self.ok.add(1),
            ReloadResult::Refused => self.refused.add(1),
            ReloadResult::Failed => self.failed.add(1),
        }
        self.state.lock().unwrap_or_else(|p| p.into_inner()).last_error = error;
    }

    /// Reloads so far that ended as `result`.
    pub fn reloads(&self, result: ReloadResult) -> u64 {
        match result {
            ReloadResult::Ok => self.ok.get(),
            ReloadResult::Refused => self.refused.get(),
            ReloadResult::Failed => self.failed.get(),
        }
    }

    /// The state now.
    pub fn snapshot(&self) -> ConfigState {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
