//! The agent: builds a topology, runs it, reloads it, and shuts it down within a bound.

mod reload;

pub use reload::Reloaded;

use crate::channel::{Channel, MemoryChannel, Store};
use crate::config::{ChannelSpec, GroupSpec, SourceSpec, Topology};
use crate::error::{Error, ErrorKind, Result};
use crate::metrics::{self, Entry, SinkMetrics, SourceMetrics};
use crate::mobile::Gate;
use crate::registry::Registry;
use crate::runner::{Member, Runner};
use crate::source::{Output, Route, SourceContext};
use crate::stop::Stop;
use std::collections::BTreeMap;
use std::fs::File;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A running agent.
pub struct Agent {
    /// Set at shutdown: the metrics server and its sampler.
    stop: Arc<Stop>,
    /// The topology running now (what a reload compares the new one with).
    topology: Topology,
    channels: BTreeMap<String, Arc<dyn Channel>>,
    sources: BTreeMap<String, RunningSource>,
    groups: BTreeMap<String, RunningGroup>,
    /// Counters outlive a component's restart: a reload does not reset them.
    source_metrics: BTreeMap<String, Arc<SourceMetrics>>,
    sink_metrics: BTreeMap<String, Arc<SinkMetrics>>,
    /// Sink threads still running, of every group.
    running: Arc<AtomicUsize>,
    metrics: Arc<metrics::Registry>,
    store: Option<Arc<Store>>,
    gate: Option<Arc<Gate>>,
    /// Held by every sink thread too: a runner still finishing a request after a
    /// timed-out shutdown keeps the store locked against a second opener.
    lock: Option<Arc<File>>,
    executor: Arc<smol::Executor<'static>>,
    _executor_stop: smol::channel::Sender<()>,
}

/// A source's thread and what stops or reroutes it.
struct RunningSource {
    stop: Arc<Stop>,
    output: Arc<Output>,
    thread: std::thread::JoinHandle<()>,
}

/// A sink group's runner threads and what stops them.
struct RunningGroup {
    stop: Arc<Stop>,
    running: Arc<AtomicUsize>,
    channel: Arc<dyn Channel>,
}

impl Agent {
    /// Opens the store, builds every component and starts them.
    ///
    /// # Errors
    /// The data directory is locked by another agent, the store cannot be opened,
    /// a component fails to build or a source cannot bind.
    pub fn start(topology: &Topology, registry: &Registry) -> Result<Agent> {
        let stop = Arc::new(Stop::default());
        let metrics = Arc::new(metrics::Registry::default());
        let running = Arc::new(AtomicUsize::new(0));
        let (store, lock) = if topology.needs_store() {
            let power = topology.channels.iter().any(|c| c.power_safe);
            // Phones commit small buffers often: small pages write less per commit.
            let page_size = if topology.mobile.is_some() { 4096 } else { 16384 };
            // The lock first: a second agent must not touch (or salvage) a store in use.
            crate::channel::sqlite::schema::prepare_dir(&topology.agent.data_dir)?;
            let lock = lock_dir(&topology.agent.data_dir)?;
            let store = Store::open_with_page_size(&topology.agent.data_dir, power, page_size)?;
            if let Some(warning) = disk_outlook(topology) {
                log::warn!("{warning}");
            }
            (Some(store), Some(lock))
        } else {
            (None, None)
        };
        let executor = Arc::new(smol::Executor::new());
        let (executor_stop, stopped) = smol::channel::bounded::<()>(1);
        let ex = executor.clone();
        std::thread::Builder::new()
            .name("sluice-io".into())
            .spawn(move || smol::block_on(ex.run(async move { stopped.recv().await.ok() })))?;

        let gate = topology.mobile.as_ref().map(|spec| Arc::new(Gate::new(spec.clone(), store.clone())));
        let mut agent = Agent {
            stop,
            topology: topology.clone(),
            channels: BTreeMap::new(),
            sources: BTreeMap::new(),
            groups: BTreeMap::new(),
            source_metrics: BTreeMap::new(),
            sink_metrics: BTreeMap::new(),
            running,
            metrics,
            store,
            gate,
            lock: lock.map(Arc::new),
            executor,
            _executor_stop: executor_stop,
        };
        for spec in &topology.channels {
            agent.open_channel(spec)?;
        }
        for group in topology.runner_groups() {
            agent.start_group(topology, registry, &group)?;
        }
        for spec in &topology.sources {
            agent.start_source(spec)?;
        }
        agent.metrics.set_topology(describe(topology));
        // Last, so a metrics port that answers means every network source is
        // bound: probes and scripts may treat it as "ready for intake".
        if let Some(addr) = topology.agent.metrics_listen {
            crate::metrics::server::start(addr, agent.metrics.clone(), agent.executor.clone(), agent.stop.clone())?;
        }
        if let Some(aside) = agent.store.as_ref().and_then(|s| s.set_aside()) {
            log::error!(
                "a damaged store was set aside at {}; what was readable is in this run (see sluice inspect)",
                aside.display()
            );
        }
        Ok(agent)
    }

    fn open_channel(&mut self, spec: &ChannelSpec) -> Result<()> {
        let channel: Arc<dyn Channel> = match &self.store {
            Some(store) if !spec.in_memory => Arc::new(store.channel(&spec.name, spec.capacity)?),
            _ => Arc::new(MemoryChannel::new(&spec.name, spec.capacity)),
        };
        self.metrics.add(Entry::Channel(spec.name.clone(), channel.metrics().clone()));
        self.channels.insert(spec.name.clone(), channel);
        Ok(())
    }

    /// Builds the members of `group` from `topology` and starts its runner and workers.
    fn start_group(&mut self, topology: &Topology, registry: &Registry, group: &GroupSpec) -> Result<()> {
        // A group batches and retries by the settings of its first sink.
        let Some(first) = group.sinks.first().and_then(|n| topology.sink(n)) else { return Ok(()) };
        for name in &group.sinks {
            if !self.sink_metrics.contains_key(name) {
                let m = Arc::new(SinkMetrics::default());
                self.metrics.add(Entry::Sink(name.clone(), m.clone()));
                self.sink_metrics.insert(name.clone(), m);
            }
        }
        // Every worker gets sinks of its own (its own connections); they share the metrics.
        let build = |names: &[String]| -> Result<Vec<Member>> {
            let mut members = Vec::with_capacity(names.len());
            for name in names {
                let (Some(spec), Some(m)) = (topology.sink(name), self.sink_metrics.get(name)) else { continue };
                members.push(Member::new(
                    name.clone(),
                    spec.settings.build(&spec.component, registry.host())?,
                    m.clone(),
                ));
            }
            Ok(members)
        };
        let channel = channel_for(&self.channels, &first.channel)?;
        let stop = Arc::new(Stop::default());
        let runner = Runner::new(
            group.name.clone(),
            channel.clone(),
            build(&group.sinks)?,
            group.processor,
            group.max_penalty,
            first.runner,
            self.store.clone(),
            stop.clone(),
        )
        .with_loss_reports(topology.agent.report_interval);
        let runner = self.gated(runner);
        let workers: Vec<Runner> =
            (1..first.runner.workers).map(|_| Ok(runner.worker(build(&group.sinks)?))).collect::<Result<_>>()?;
        let running = Arc::new(AtomicUsize::new(0));
        // Registered first: if a later thread cannot be spawned, the ones that
        // were are still stopped by a reload or shutdown.
        self.groups.insert(group.name.clone(), RunningGroup { stop, running: running.clone(), channel });
        let name = &group.name;
        for (w, worker) in workers.into_iter().enumerate() {
            self.spawn(format!("sluice-sink-{name}-{}", w + 1), &running, move || worker.run())?;
        }
        self.spawn(format!("sluice-sink-{name}"), &running, move || runner.run())?;
        Ok(())
    }

    /// The route of `spec`: its interceptors, selector and channels.
    fn route(&self, spec: &SourceSpec) -> Result<Route> {
        let interceptors =
            spec.interceptors.iter().map(|i| i.settings.build(&i.component)).collect::<Result<Vec<_>>>()?;
        let targets = spec.channels.iter().map(|n| channel_for(&self.channels, n)).collect::<Result<Vec<_>>>()?;
        Ok(Route::new(interceptors, spec.selector.clone(), targets))
    }

    fn start_source(&mut self, spec: &SourceSpec) -> Result<()> {
        let mut source = spec.settings.build(&spec.component)?;
        source.prepare()?;
        let name = spec.component.name.clone();
        let metrics = match self.source_metrics.get(&name) {
            Some(m) => m.clone(),
            None => {
                let m = Arc::new(SourceMetrics::default());
                self.metrics.add(Entry::Source(name.clone(), m.clone()));
                self.source_metrics.insert(name.clone(), m.clone());
                m
            }
        };
        let output = Arc::new(Output::routed(self.route(spec)?, metrics).with_state(self.store.clone()));
        let stop = Arc::new(Stop::default());
        let ctx = SourceContext {
            name: name.clone(),
            output: output.clone(),
            stop: stop.clone(),
            executor: self.executor.clone(),
        };
        let label = name.clone();
        // Sources end on their own (stdin at EOF); they do not hold up shutdown.
        let thread = std::thread::Builder::new().name(format!("sluice-src-{name}")).spawn(move || {
            if let Err(e) = source.run(ctx) {
                log::error!("source {label} stopped: {e}");
            }
        })?;
        self.sources.insert(name, RunningSource { stop, output, thread });
        Ok(())
    }

    fn gated(&self, runner: Runner) -> Runner {
        match &self.gate {
            Some(gate) => runner.with_gate(gate.clone()),
            None => runner,
        }
    }

    /// Runs `work` on a thread counted in `group` and in the agent's total.
    fn spawn(&self, name: String, group: &Arc<AtomicUsize>, work: impl FnOnce() + Send + 'static) -> Result<()> {
        self.running.fetch_add(1, Ordering::SeqCst);
        group.fetch_add(1, Ordering::SeqCst);
        let (running, group) = (self.running.clone(), group.clone());
        let lock = self.lock.clone();
        std::thread::Builder::new().name(name).spawn(move || {
            work();
            group.fetch_sub(1, Ordering::SeqCst);
            running.fetch_sub(1, Ordering::SeqCst);
            drop(lock);
        })?;
        Ok(())
    }

    /// The agent's metrics.
    pub fn metrics(&self) -> &Arc<metrics::Registry> {
        &self.metrics
    }

    /// The channel called `name`.
    pub fn channel(&self, name: &str) -> Option<Arc<dyn Channel>> {
        self.channels.get(name).cloned()
    }

    /// The upload gate of a mobile topology.
    pub fn gate(&self) -> Option<&Arc<Gate>> {
        self.gate.as_ref()
    }

    /// Gives back what the agent can of the memory a burst left behind (the
    /// store's page cache); the embedder releases its allocator's free pages
    /// after it. Call it when [`metrics::IdleWatch`] says the agent went quiet.
    pub fn release_memory(&self) {
        if let Some(store) = &self.store {
            store.release_memory();
        }
    }

    /// The topology running now.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Stops sources and sinks; waits up to `timeout` for in-flight batches to be
    /// committed or rolled back. Returns whether every sink finished in time (an
    /// unfinished batch is simply delivered again by the next run).
    pub fn shutdown(self, timeout: Duration) -> bool {
        self.stop.stop();
        for source in self.sources.values() {
            source.stop.stop();
        }
        for group in self.groups.values() {
            group.stop.stop();
        }
        if let Some(gate) = &self.gate {
            gate.close();
        }
        let channels: Vec<&Arc<dyn Channel>> = self.channels.values().collect();
        wait_for_runners(&self.running, &channels, Instant::now() + timeout)
    }
}

/// Wakes `channels` until `running` falls to 0 or `deadline` passes; returns whether it fell.
fn wait_for_runners(running: &AtomicUsize, channels: &[&Arc<dyn Channel>], deadline: Instant) -> bool {
    loop {
        // Again and again: a runner may have read its wake-up generation just after the first one.
        for c in channels {
            c.wake();
        }
        if running.load(Ordering::SeqCst) == 0 {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A warning when the durable channels' quotas do not fit the disk of the data directory.
pub fn disk_outlook(topology: &Topology) -> Option<String> {
    let quotas: u64 = topology.channels.iter().filter(|c| !c.in_memory).map(|c| c.capacity.max_bytes).sum();
    if quotas == 0 {
        return None;
    }
    crate::channel::sqlite::space::outlook(&topology.agent.data_dir, quotas)
}

/// The topology as the status page draws it.
fn describe(t: &Topology) -> String {
    use serde_json::json;
    json!({
        "agent": t.agent.name,
        "channels": t.channels.iter().map(|c| json!({"name": c.name, "type": if c.in_memory { "memory" } else { "sqlite" }})).collect::<Vec<_>>(),
        "sources": t.sources.iter().map(|s| json!({"name": s.component.name, "type": s.component.kind, "channels": s.channels})).collect::<Vec<_>>(),
        "sinks": t.sinks.iter().map(|s| json!({"name": s.component.name, "type": s.component.kind, "channel": s.channel})).collect::<Vec<_>>(),
        "groups": t.groups.iter().map(|g| json!({"name": g.name, "processor": g.processor.spelling(), "sinks": g.sinks})).collect::<Vec<_>>(),
    })
    .to_string()
}

fn channel_for(channels: &BTreeMap<String, Arc<dyn Channel>>, name: &str) -> Result<Arc<dyn Channel>> {
    channels.get(name).cloned().ok_or_else(|| Error::config(format!("no channel named {name:?}")))
}

/// Holds an exclusive lock on `<data_dir>/sluice.lock` for the agent's life.
fn lock_dir(dir: &std::path::Path) -> Result<File> {
    let path = dir.join("sluice.lock");
    use std::os::unix::fs::OpenOptionsExt;
    let file = File::options().create(true).truncate(false).write(true).mode(0o600).open(&path)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(_) => Err(Error::new(ErrorKind::Io, format!("another sluice agent is using {}", dir.display()))),
    }
}

/// Raises this process's limit of open files to its hard limit, so network
/// sources can hold their `max_connections` (1,024 by default for http) whatever
/// soft limit the shell or service manager set. Returns the limit in force.
pub fn raise_open_files_limit() -> Option<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        if let Err(e) = setrlimit(Resource::Nofile, limit) {
            log::debug!("cannot raise the open files limit: {e}");
        }
    }
    getrlimit(Resource::Nofile).current
}

/// Whether an agent holds the lock of `dir` now.
pub fn dir_in_use(dir: &std::path::Path) -> bool {
    File::options().write(true).open(dir.join("sluice.lock")).is_ok_and(|f| f.try_lock().is_err())
}
