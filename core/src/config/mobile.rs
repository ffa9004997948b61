//! `[mobile]`: the phone's upload policy, disk quota and record buffer, resolved.
//!
//! A mobile configuration has no `[sources]` (the app records through the API)
//! and no `[channels]`: there is one durable channel, `app`, sized by
//! `[mobile].max_bytes`. Sinks drain it without naming it.

use super::located::Location;
use super::raw::RawConfig;
use super::resolve::ChannelSpec;
pub use super::sections::UploadOn;
use super::sections::{Durability, MobileConfig, MOBILE_BLOCK_TIMEOUT};
use crate::channel::Capacity;
use crate::error::Result;
use std::time::Duration;

/// Most events `record()` may buffer: the buffer is memory the app pays for, and
/// past this a larger buffer buys no throughput (the writer commits it in one
/// transaction either way).
pub const MAX_BUFFER_EVENTS: usize = 1_000_000;

/// The name of the mobile SDK's one channel.
pub const APP_CHANNEL: &str = "app";

/// `[mobile]`, with defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MobileSpec {
    /// Which networks uploads may use.
    pub upload_on: UploadOn,
    /// Upload cap per UTC day on metered networks, in bytes.
    pub metered_daily_budget: Option<u64>,
    /// Pause uploads on low battery unless charging.
    pub pause_on_low_battery: bool,
    /// How long after going to background an upload has started; `None`: no flush.
    pub flush_on_background: Option<Duration>,
    /// How often `record()`'s buffer is committed.
    pub commit_interval: Duration,
    /// Most events `record()` buffers before the caller waits for the writer.
    pub buffer_events: usize,
}

impl Default for MobileSpec {
    /// A `[mobile]` table's defaults.
    fn default() -> Self {
        MobileSpec::from_config(&MobileConfig::default())
    }
}

impl MobileSpec {
    fn from_config(m: &MobileConfig) -> MobileSpec {
        MobileSpec {
            upload_on: m.upload_on,
            metered_daily_budget: m.metered_daily_budget.map(|b| b.0),
            pause_on_low_battery: m.pause_on_low_battery,
            flush_on_background: Some(m.flush_on_background.0).filter(|d| !d.is_zero()),
            commit_interval: m.commit_interval.0,
            buffer_events: m.buffer_events,
        }
    }
}

/// Resolves `[mobile]` into the policy and the `app` channel it sizes.
pub(super) fn resolve(raw: &RawConfig, file: &Location) -> Result<(MobileSpec, ChannelSpec)> {
    if let Some((name, table)) = raw.sources.iter().next() {
        return Err(file.error(
            &table.span(),
            format!("sources.{name}: a mobile configuration has no sources: the app records through the API"),
        ));
    }
    if let Some((name, table)) = raw.channels.iter().next() {
        return Err(file.error(
            &table.span(),
            format!("channels.{name}: a mobile configuration has one channel, \"app\", sized in [mobile]"),
        ));
    }
    let (m, span) = match &raw.mobile {
        Some(m) => (m.get_ref().clone(), m.span()),
        None => (MobileConfig::default(), 0..0),
    };
    let at = |key: &str, message: &str| file.error(&file.key_span(&span, key), format!("mobile.{key}: {message}"));
    let spec = MobileSpec::from_config(&m);
    if spec.commit_interval.is_zero() || spec.commit_interval > Duration::from_secs(60) {
        return Err(at("commit_interval", "must be greater than 0 and at most 60s"));
    }
    if spec.buffer_events == 0 || spec.buffer_events > MAX_BUFFER_EVENTS {
        return Err(at("buffer_events", &format!("must be between 1 and {MAX_BUFFER_EVENTS}")));
    }
    let capacity = Capacity {
        max_events: m.max_events,
        max_bytes: m.max_bytes.0,
        on_full: m.on_full,
        block_timeout: MOBILE_BLOCK_TIMEOUT,
        max_age: m.max_age.map(|s| s.0),
    };
    if capacity.max_events == 0 || capacity.max_bytes == 0 {
        return Err(at(if capacity.max_events == 0 { "max_events" } else { "max_bytes" }, "must be greater than 0"));
    }
    let power_safe = m.durability == Durability::Power;
    let written = super::toml::Written::default();
    let channel = ChannelSpec { name: APP_CHANNEL.into(), in_memory: false, capacity, power_safe, written };
    Ok((spec, channel))
}
