//! `[mobile]`: the phone's upload policy, disk quota and record buffer, resolved.
//!
//! A mobile configuration has no `[sources]` (the app records through the API)
//! and no `[channels]`: there is one durable channel, `app`, sized by
//! `[mobile].max_bytes`. Sinks drain it without naming it.

use super::located::Location;
use super::raw::{RawConfig, RawMobile};
use super::resolve::ChannelSpec;
use crate::channel::{Capacity, OnFull};
use crate::error::Result;
use std::time::Duration;

/// Most events `record()` may buffer: the buffer is memory the app pays for, and
/// past this a larger buffer buys no throughput (the writer commits it in one
/// transaction either way).
pub const MAX_BUFFER_EVENTS: usize = 1_000_000;

/// The name of the mobile SDK's one channel.
pub const APP_CHANNEL: &str = "app";

/// When uploads may use the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadOn {
    /// Any connected network.
    Any,
    /// Only unmetered networks (Wi-Fi, Ethernet).
    Unmetered,
}

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
    fn default() -> Self {
        MobileSpec {
            upload_on: UploadOn::Any,
            metered_daily_budget: None,
            pause_on_low_battery: true,
            flush_on_background: Some(Duration::from_secs(5)),
            commit_interval: Duration::from_millis(50),
            buffer_events: 2_000,
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
    let empty = RawMobile::default();
    let (m, span) = match &raw.mobile {
        Some(m) => (m.get_ref(), m.span()),
        None => (&empty, 0..0),
    };
    let at = |key: &str, message: &str| file.error(&file.key_span(&span, key), format!("mobile.{key}: {message}"));
    let d = MobileSpec::default();
    let upload_on = match m.upload_on.as_deref() {
        None | Some("any") => UploadOn::Any,
        Some("unmetered") => UploadOn::Unmetered,
        Some(other) => return Err(at("upload_on", &format!("{other:?}: expected \"any\" or \"unmetered\""))),
    };
    let commit_interval = m.commit_interval.map_or(d.commit_interval, |s| s.0);
    if commit_interval.is_zero() || commit_interval > Duration::from_secs(60) {
        return Err(at("commit_interval", "must be greater than 0 and at most 60s"));
    }
    let buffer_events = m.buffer_events.unwrap_or(d.buffer_events);
    if buffer_events == 0 || buffer_events > MAX_BUFFER_EVENTS {
        return Err(at("buffer_events", &format!("must be between 1 and {MAX_BUFFER_EVENTS}")));
    }
    let spec = MobileSpec {
        upload_on,
        metered_daily_budget: m.metered_daily_budget.map(|b| b.0),
        pause_on_low_battery: m.pause_on_low_battery.unwrap_or(d.pause_on_low_battery),
        flush_on_background: match m.flush_on_background {
            Some(s) if s.0.is_zero() => None,
            Some(s) => Some(s.0),
            None => d.flush_on_background,
        },
        commit_interval,
        buffer_events,
    };
    let capacity = Capacity {
        max_events: m.max_events.unwrap_or(1_000_000),
        max_bytes: m.max_bytes.map_or(50 << 20, |b| b.0),
        on_full: m.on_full.unwrap_or(OnFull::DropOldest),
        block_timeout: Duration::from_secs(1),
        max_age: m.max_age.map(|s| s.0),
    };
    if capacity.max_events == 0 || capacity.max_bytes == 0 {
        return Err(at(if capacity.max_events == 0 { "max_events" } else { "max_bytes" }, "must be greater than 0"));
    }
    let power_safe = match m.durability.as_deref() {
        None | Some("process") => false,
        Some("power") => true,
        Some(other) => return Err(at("durability", &format!("{other:?}: expected \"process\" or \"power\""))),
    };
    let channel = ChannelSpec { name: APP_CHANNEL.into(), in_memory: false, capacity, power_safe };
    Ok((spec, channel))
}
