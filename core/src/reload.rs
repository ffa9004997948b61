//! What a configuration reload changes: the running topology and the new one,
//! compared component by component as written.
//!
//! The decision lives here, as a pure function; [`crate::agent::Agent::reload`]
//! carries it out. A component whose table did not change keeps running
//! untouched. A source whose own keys did not change but whose `channels`,
//! `interceptors` or `selector` did keeps running and takes the new route; any
//! other change to a source, and any change to a sink or its group, restarts it
//! (the batch in flight is finished or rolled back first). Channels hold data,
//! so they are never rebuilt: a reload that changes or removes one is refused,
//! as is one that changes what only a restart can (`agent.data_dir`,
//! `agent.metrics_listen`, `agent.name`, the need for a store, a stdin source).

use crate::config::{GroupSpec, Topology};
use std::collections::BTreeMap;

/// What happens to one source or sink group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Unchanged: keeps running.
    Keep,
    /// A source whose interceptors, selector or channels changed: keeps
    /// running (its socket stays open) and puts along the new route.
    Reroute,
    /// Stopped and built again from the new settings.
    Restart,
    /// New: started.
    Start,
    /// Gone from the configuration: stopped.
    Stop,
}

/// What a reload does.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Channels to open.
    pub new_channels: Vec<String>,
    /// Sources by name.
    pub sources: BTreeMap<String, Change>,
    /// Sink groups (a lone sink is a group named after it) by name.
    pub groups: BTreeMap<String, Change>,
    /// The mobile SDK's upload policy changed (`[mobile]` `upload_on`,
    /// `metered_daily_budget`, `pause_on_low_battery`, `flush_on_background`).
    pub policy: bool,
}

impl Plan {
    /// Whether the reload changes nothing that runs.
    pub fn is_empty(&self) -> bool {
        self.new_channels.is_empty() && self.sources.values().chain(self.groups.values()).all(|c| *c == Change::Keep)
    }

    /// One line for the log: `sources: app rerouted; sinks: up restarted, spare started`.
    pub fn summary(&self) -> String {
        let word = |c: Change| match c {
            Change::Keep => None,
            Change::Reroute => Some("rerouted"),
            Change::Restart => Some("restarted"),
            Change::Start => Some("started"),
            Change::Stop => Some("stopped"),
        };
        let list = |m: &BTreeMap<String, Change>| -> Vec<String> {
            m.iter().filter_map(|(name, c)| word(*c).map(|w| format!("{name} {w}"))).collect()
        };
        let mut parts = Vec::new();
        if !self.new_channels.is_empty() {
            parts.push(format!("channels: {} opened", self.new_channels.join(", ")));
        }
        for (what, items) in [("sources", list(&self.sources)), ("sinks", list(&self.groups))] {
            if !items.is_empty() {
                parts.push(format!("{what}: {}", items.join(", ")));
            }
        }
        if self.policy {
            parts.push("upload policy changed".into());
        }
        if parts.is_empty() {
            "nothing changed".into()
        } else {
            parts.join("; ")
        }
    }
}

/// What reloading `running` into `next` does, or why it cannot be done without
/// a restart (`key: reason`).
///
/// # Errors
/// The reload would change a channel, remove one, or change an agent setting
/// read only at start.
pub fn plan(running: &Topology, next: &Topology) -> Result<Plan, String> {
    let (a, b) = (&running.agent, &next.agent);
    let restart_only = [
        ("agent.name", a.name != b.name),
        ("agent.data_dir", a.data_dir != b.data_dir),
        ("agent.metrics_listen", a.metrics_listen != b.metrics_listen),
    ];
    if let Some((key, _)) = restart_only.iter().find(|(_, changed)| *changed) {
        return Err(format!("{key}: changes only when the agent restarts"));
    }
    if next.needs_store() && !running.needs_store() {
        return Err("the agent started without a store (memory channels only): a durable channel, a taildir source or a dedup window takes a restart".into());
    }
    let mut plan = Plan { policy: mobile_policy_changed(running, next)?, ..Plan::default() };
    for old in &running.channels {
        match next.channels.iter().find(|c| c.name == old.name) {
            None => {
                return Err(format!(
                    "channels.{}: removing a channel takes a restart (what it holds must not vanish with a reload)",
                    old.name
                ))
            }
            Some(new) if new.in_memory != old.in_memory => {
                return Err(format!(
                    "channels.{}.type: a channel's type changes only when the agent restarts (its events stay where they are)",
                    old.name
                ))
            }
            Some(new) if new.capacity != old.capacity || new.power_safe != old.power_safe => {
                return Err(match running.mobile {
                    Some(_) => "mobile: the store's limits and durability (max_events, max_bytes, on_full, max_age, durability) change only when the SDK is opened again".into(),
                    None => format!("channels.{}: a channel's limits and durability change only when the agent restarts", old.name),
                })
            }
            Some(new) if new.written != old.written => {
                return Err(format!(
                    "channels.{}: a channel's limits and durability change only when the agent restarts",
                    old.name
                ))
            }
            Some(_) => {}
        }
    }
    plan.new_channels = next
        .channels
        .iter()
        .filter(|c| !running.channels.iter().any(|o| o.name == c.name))
        .map(|c| c.name.clone())
        .collect();

    for new in &next.sources {
        let change = match running.sources.iter().find(|s| s.component.name == new.component.name) {
            None => Change::Start,
            Some(old) if old.component.written == new.component.written => Change::Keep,
            Some(old)
                if old.component.kind == new.component.kind
                    && crate::config::Written::new(old.component.table.clone())
                        == crate::config::Written::new(new.component.table.clone()) =>
            {
                Change::Reroute
            }
            Some(_) => Change::Restart,
        };
        plan.sources.insert(new.component.name.clone(), change);
    }
    for old in &running.sources {
        plan.sources.entry(old.component.name.clone()).or_insert(Change::Stop);
    }
    // Standard input has one reader for the process's life: a second would split the lines.
    for old in running.sources.iter().filter(|s| s.component.kind == "stdin") {
        if matches!(plan.sources.get(&old.component.name), Some(Change::Restart | Change::Stop)) {
            return Err(format!(
                "sources.{}: a stdin source is read for the agent's life: changing or removing it takes a restart",
                old.component.name
            ));
        }
    }

    let old_groups = running.runner_groups();
    for group in next.runner_groups() {
        let change = match old_groups.iter().find(|g| g.name == group.name) {
            None => Change::Start,
            Some(old) if same_group(running, old, next, &group) => Change::Keep,
            Some(_) => Change::Restart,
        };
        plan.groups.insert(group.name.clone(), change);
    }
    for old in old_groups {
        plan.groups.entry(old.name).or_insert(Change::Stop);
    }
    Ok(plan)
}

/// Whether the mobile SDK's upload policy changed.
///
/// # Errors
/// The record buffer's settings changed: they take effect when the SDK is opened again.
fn mobile_policy_changed(running: &Topology, next: &Topology) -> Result<bool, String> {
    let (Some(a), Some(b)) = (&running.mobile, &next.mobile) else {
        return Ok(running.mobile.is_some() != next.mobile.is_some());
    };
    if a.buffer_events != b.buffer_events || a.commit_interval != b.commit_interval {
        let key = if a.buffer_events != b.buffer_events { "buffer_events" } else { "commit_interval" };
        return Err(format!("mobile.{key}: changes only when the SDK is opened again"));
    }
    Ok(a != b)
}

/// Whether a group runs the same in both topologies: the same members, policy
/// and member tables, and the same loss-report interval.
fn same_group(running: &Topology, old: &GroupSpec, next: &Topology, new: &GroupSpec) -> bool {
    old == new
        && running.agent.report_interval == next.agent.report_interval
        && new.sinks.iter().all(|name| match (running.sink(name), next.sink(name)) {
            (Some(a), Some(b)) => a.component.written == b.component.written,
            _ => false,
        })
}

#[cfg(test)]
mod tests;
