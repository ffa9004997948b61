//! The agent: builds a topology, runs it, and shuts it down within a bound.

use crate::channel::{Channel, MemoryChannel, Store};
use crate::config::{GroupSpec, Processor, Topology};
use crate::error::{Error, ErrorKind, Result};
use crate::metrics::{self, Entry, SinkMetrics, SourceMetrics};
use crate::mobile::Gate;
use crate::registry::Registry;
use crate::runner::{Member, Runner};
use crate::source::{Output, SourceContext};
use crate::stop::Stop;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A running agent.
pub struct Agent {
    stop: Arc<Stop>,
    channels: Vec<Arc<dyn Channel>>,
    running: Arc<AtomicUsize>,
    metrics: Arc<metrics::Registry>,
    store: Option<Arc<Store>>,
    gate: Option<Arc<Gate>>,
    /// Held by every sink thread too: a runner still finishing a request after a
    /// timed-out shutdown keeps the store locked against a second opener.
    lock: Option<Arc<File>>,
    _executor_stop: smol::channel::Sender<()>,
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
        // Sources that remember positions keep them in the store even with memory channels.
        let needs_store = topology.channels.iter().any(|c| !c.in_memory)
            || topology.sources.iter().any(|s| s.component.kind == "taildir");
        let (store, lock) = if needs_store {
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
        let mut channels: BTreeMap<String, Arc<dyn Channel>> = BTreeMap::new();
        for spec in &topology.channels {
            let channel: Arc<dyn Channel> = match &store {
                Some(store) if !spec.in_memory => Arc::new(store.channel(&spec.name, spec.capacity)?),
                _ => Arc::new(MemoryChannel::new(&spec.name, spec.capacity)),
            };
            metrics.add(Entry::Channel(spec.name.clone(), channel.metrics().clone()));
            channels.insert(spec.name.clone(), channel);
        }
        let executor = Arc::new(smol::Executor::new());
        let (executor_stop, stopped) = smol::channel::bounded::<()>(1);
        let ex = executor.clone();
        std::thread::Builder::new()
            .name("sluice-io".into())
            .spawn(move || smol::block_on(ex.run(async move { stopped.recv().await.ok() })))?;

        let gate = topology.mobile.as_ref().map(|spec| Arc::new(Gate::new(spec.clone(), store.clone())));
        let agent = Agent {
            stop,
            channels: channels.values().cloned().collect(),
            running,
            metrics,
            store,
            gate,
            lock: lock.map(Arc::new),
            _executor_stop: executor_stop,
        };
        agent.start_sinks(topology, registry, &channels)?;
        agent.start_sources(topology, &channels, &executor)?;
        // Last, so a metrics port that answers means every network source is
        // bound: probes and scripts may treat it as "ready for intake".
        if let Some(addr) = topology.agent.metrics_listen {
            let described = describe(topology);
            crate::metrics::server::start(
                addr,
                agent.metrics.clone(),
                executor.clone(),
                agent.stop.clone(),
                described,
            )?;
        }
        if let Some(aside) = agent.store.as_ref().and_then(|s| s.set_aside()) {
            log::error!(
                "a damaged store was set aside at {}; what was readable is in this run (see sluice inspect)",
                aside.display()
            );
        }
        Ok(agent)
    }

    fn start_sinks(
        &self,
        topology: &Topology,
        registry: &Registry,
        channels: &BTreeMap<String, Arc<dyn Channel>>,
    ) -> Result<()> {
        let mut metrics: BTreeMap<&str, Arc<SinkMetrics>> = BTreeMap::new();
        for spec in &topology.sinks {
            let m = Arc::new(SinkMetrics::default());
            self.metrics.add(Entry::Sink(spec.component.name.clone(), m.clone()));
            metrics.insert(&spec.component.name, m);
        }
        // Every worker gets sinks of its own (its own connections); they share the metrics.
        let build = |names: &[String]| -> Result<Vec<Member>> {
            let mut members = Vec::with_capacity(names.len());
            for name in names {
                let Some(spec) = topology.sinks.iter().find(|s| s.component.name == *name) else { continue };
                let Some(m) = metrics.get(name.as_str()) else { continue };
                members.push(Member::new(
                    name.clone(),
                    spec.settings.build(&spec.component, registry.host())?,
                    m.clone(),
                ));
            }
            Ok(members)
        };
        // A sink outside every group runs as a group of one.
        let grouped: BTreeSet<&str> = topology.groups.iter().flat_map(|g| g.sinks.iter().map(String::as_str)).collect();
        let alone = topology.sinks.iter().filter(|s| !grouped.contains(s.component.name.as_str())).map(|s| GroupSpec {
            name: s.component.name.clone(),
            sinks: vec![s.component.name.clone()],
            processor: Processor::Failover,
            max_penalty: Duration::ZERO,
        });
        for GroupSpec { name, sinks, processor, max_penalty } in topology.groups.iter().cloned().chain(alone) {
            // A group batches and retries by the settings of its first sink.
            let Some(first) = sinks.first().and_then(|n| topology.sinks.iter().find(|s| s.component.name == *n)) else {
                continue;
            };
            let channel = channel_for(channels, &first.channel)?;
            let runner = Runner::new(
                name.clone(),
                channel,
                build(&sinks)?,
                processor,
                max_penalty,
                first.runner,
                self.store.clone(),
                self.stop.clone(),
            )
            .with_loss_reports(topology.agent.report_interval);
            let runner = self.gated(runner);
            for w in 1..first.runner.workers {
                let worker = runner.worker(build(&sinks)?);
                self.spawn(format!("sluice-sink-{name}-{w}"), move || worker.run())?;
            }
            self.spawn(format!("sluice-sink-{name}"), move || runner.run())?;
        }
        Ok(())
    }

    fn start_sources(
        &self,
        topology: &Topology,
        channels: &BTreeMap<String, Arc<dyn Channel>>,
        executor: &Arc<smol::Executor<'static>>,
    ) -> Result<()> {
        for spec in &topology.sources {
            let mut source = spec.settings.build(&spec.component)?;
            source.prepare()?;
            let interceptors =
                spec.interceptors.iter().map(|i| i.settings.build(&i.component)).collect::<Result<Vec<_>>>()?;
            let targets = spec.channels.iter().map(|n| channel_for(channels, n)).collect::<Result<Vec<_>>>()?;
            let m = Arc::new(SourceMetrics::default());
            self.metrics.add(Entry::Source(spec.component.name.clone(), m.clone()));
            let output =
                Arc::new(Output::new(interceptors, spec.selector.clone(), targets, m).with_state(self.store.clone()));
            let ctx = SourceContext {
                name: spec.component.name.clone(),
                output,
                stop: self.stop.clone(),
                executor: executor.clone(),
            };
            let name = spec.component.name.clone();
            // Sources end on their own (stdin at EOF); they do not hold up shutdown.
            std::thread::Builder::new().name(format!("sluice-src-{name}")).spawn(move || {
                if let Err(e) = source.run(ctx) {
                    log::error!("source {name} stopped: {e}");
                }
            })?;
        }
        Ok(())
    }

    fn gated(&self, runner: Runner) -> Runner {
        match &self.gate {
            Some(gate) => runner.with_gate(gate.clone()),
            None => runner,
        }
    }

    fn spawn(&self, name: String, work: impl FnOnce() + Send + 'static) -> Result<()> {
        self.running.fetch_add(1, Ordering::SeqCst);
        let running = self.running.clone();
        let lock = self.lock.clone();
        std::thread::Builder::new().name(name).spawn(move || {
            work();
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
        self.channels.iter().find(|c| c.name() == name).cloned()
    }

    /// The upload gate of a mobile topology.
    pub fn gate(&self) -> Option<&Arc<Gate>> {
        self.gate.as_ref()
    }

    /// Stops sources and sinks; waits up to `timeout` for in-flight batches to be
    /// committed or rolled back. Returns whether every sink finished in time (an
    /// unfinished batch is simply delivered again by the next run).
    pub fn shutdown(self, timeout: Duration) -> bool {
        self.stop.stop();
        if let Some(gate) = &self.gate {
            gate.close();
        }
        for c in &self.channels {
            c.wake();
        }
        let deadline = Instant::now() + timeout;
        while self.running.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            // Again and again: a runner may have read its wake-up generation just after the first one.
            for c in &self.channels {
                c.wake();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.running.load(Ordering::SeqCst) == 0
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
