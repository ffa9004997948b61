//! Carrying out a reload plan ([`crate::reload::plan`]) on a running agent.

use super::{describe, wait_for_runners, Agent, RunningGroup, RunningSource};
use crate::config::Topology;
use crate::metrics::Kind;
use crate::registry::Registry;
use crate::reload::{plan, Change, Plan};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// What a reload did.
#[derive(Debug)]
pub struct Reloaded {
    /// What it changed.
    pub plan: Plan,
    /// Components that could not be started again, each `section.name: why`;
    /// the next reload tries them again.
    pub failures: Vec<String>,
}

impl Agent {
    /// Moves the running agent to `next`: components whose tables did not change
    /// keep running untouched; sources whose routes changed take the new route;
    /// changed or removed sources and sink groups are stopped (a batch in flight
    /// is committed or rolled back, waiting up to `wait`) and changed or new ones
    /// started. Channels keep their data.
    ///
    /// # Errors
    /// The reload changes something only a restart may (a channel, the data
    /// directory, …): `key: reason`, and nothing was changed.
    pub fn reload(&mut self, next: &Topology, registry: &Registry, wait: Duration) -> Result<Reloaded, String> {
        let plan = plan(&self.topology, next)?;
        let mut failures = Vec::new();
        let mut running = next.clone();
        for name in &plan.new_channels {
            let Some(spec) = next.channels.iter().find(|c| &c.name == name) else { continue };
            if let Err(e) = self.open_channel(spec) {
                // Whatever would use it cannot start; the reload says so below.
                failures.push(format!("channels.{name}: {e}"));
                running.channels.retain(|c| &c.name != name);
            }
        }
        if let (true, Some(gate), Some(policy)) = (plan.policy, &self.gate, &next.mobile) {
            gate.set_policy(policy.clone());
        }
        self.stop_changed(&plan, wait);
        for (name, change) in &plan.sources {
            let Some(spec) = next.sources.iter().find(|s| &s.component.name == name) else { continue };
            if *change != Change::Reroute {
                continue;
            }
            let route = self.route(spec);
            match (route, self.sources.get(name)) {
                (Ok(route), Some(source)) => source.output.reroute(route),
                (Err(e), _) => {
                    failures.push(format!("sources.{name}: {e}"));
                    // Still on the old route: the next reload compares with that.
                    let old = self.topology.sources.iter().find(|s| &s.component.name == name);
                    if let (Some(old), Some(slot)) =
                        (old, running.sources.iter_mut().find(|s| &s.component.name == name))
                    {
                        *slot = old.clone();
                    }
                }
                (Ok(_), None) => {}
            }
        }
        for group in next.runner_groups() {
            if !matches!(plan.groups.get(&group.name), Some(Change::Start | Change::Restart)) {
                continue;
            }
            if let (Some(Change::Restart), Some(store)) = (plan.groups.get(&group.name), &self.store) {
                // Its settings changed (a fixed URL, say): it starts afresh, not
                // where the old one's backoff left off.
                if let Err(e) = store.save_retry(&group.name, 0, 0) {
                    log::warn!("sink {}: cannot reset its retry state: {e}", group.name);
                }
            }
            if let Err(e) = self.start_group(next, registry, &group) {
                failures.push(format!("sinks.{}: {e}", group.name));
                // Not running: the next reload sees it as new and tries again.
                running.sinks.retain(|s| !group.sinks.contains(&s.component.name));
                running.groups.retain(|g| g.name != group.name);
            }
        }
        for spec in &next.sources {
            let name = &spec.component.name;
            if !matches!(plan.sources.get(name), Some(Change::Start | Change::Restart)) {
                continue;
            }
            if let Err(e) = self.start_source(spec) {
                failures.push(format!("sources.{name}: {e}"));
                running.sources.retain(|s| &s.component.name != name);
            }
        }
        self.forget_removed(next);
        self.topology = running;
        self.metrics.set_topology(describe(&self.topology));
        Ok(Reloaded { plan, failures })
    }

    /// Stops the sources and groups the plan stops or restarts, all at once,
    /// then waits for them (at most `timeout`).
    fn stop_changed(&mut self, plan: &Plan, timeout: Duration) {
        let leaving = |m: &std::collections::BTreeMap<String, Change>| -> Vec<String> {
            m.iter().filter(|(_, c)| matches!(c, Change::Stop | Change::Restart)).map(|(n, _)| n.clone()).collect()
        };
        let sources: Vec<(String, RunningSource)> =
            leaving(&plan.sources).into_iter().filter_map(|n| self.sources.remove(&n).map(|s| (n, s))).collect();
        let groups: Vec<(String, RunningGroup)> =
            leaving(&plan.groups).into_iter().filter_map(|n| self.groups.remove(&n).map(|g| (n, g))).collect();
        for (_, source) in &sources {
            source.stop.stop();
        }
        for (_, group) in &groups {
            group.stop.stop();
        }
        if let Some(gate) = &self.gate {
            // A phone's runner may be waiting for the policy to allow an upload.
            gate.nudge();
        }
        let deadline = Instant::now() + timeout;
        for (name, group) in &groups {
            if !wait_for_runners(&group.running, &[&group.channel], deadline) {
                log::warn!(
                    "sink {name}: a batch was still in flight when the reload's wait ended; it is committed or rolled back when it finishes"
                );
            }
        }
        for (name, source) in &sources {
            while !source.thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if !source.thread.is_finished() {
                log::warn!("source {name}: still stopping when the reload's wait ended");
            }
        }
    }

    /// Drops the counters of sources and sinks that `next` no longer has.
    fn forget_removed(&mut self, next: &Topology) {
        let sources: BTreeSet<&str> = next.sources.iter().map(|s| s.component.name.as_str()).collect();
        let sinks: BTreeSet<&str> = next.sinks.iter().map(|s| s.component.name.as_str()).collect();
        let gone_sources: Vec<String> =
            self.source_metrics.keys().filter(|n| !sources.contains(n.as_str())).cloned().collect();
        for name in gone_sources {
            self.source_metrics.remove(&name);
            self.metrics.remove(Kind::Source, &name);
        }
        let gone_sinks: Vec<String> =
            self.sink_metrics.keys().filter(|n| !sinks.contains(n.as_str())).cloned().collect();
        for name in gone_sinks {
            self.sink_metrics.remove(&name);
            self.metrics.remove(Kind::Sink, &name);
        }
    }
}
