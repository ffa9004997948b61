//! From the raw file to a checked topology: names resolved, types known, defaults applied.

use super::located::{parse_value, ComponentConfig, Location};
use super::mobile::{MobileSpec, APP_CHANNEL};
use super::raw::{RawConfig, RawSelector};
use super::sections::{
    AgentConfig, ChannelConfig, ChannelKind, Durability, GroupConfig, ProcessorKind, SelectorKind, SinkRunnerConfig,
};
use super::toml::{Kind, Spanned, Table, Value, Written};
use crate::channel::Capacity;
use crate::error::Result;
use crate::registry::{InterceptorSettings, Registry, SinkSettings, SourceSettings};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Everything the agent builds, resolved and checked.
#[derive(Debug, Clone)]
pub struct Topology {
    /// Agent-wide settings.
    pub agent: AgentSpec,
    /// Channels.
    pub channels: Vec<ChannelSpec>,
    /// Sources.
    pub sources: Vec<SourceSpec>,
    /// Sinks.
    pub sinks: Vec<SinkSpec>,
    /// Sink groups.
    pub groups: Vec<GroupSpec>,
    /// `[mobile]`: present for the mobile SDK's configurations only.
    pub mobile: Option<MobileSpec>,
}

impl Topology {
    /// The groups the agent runs, one runner each: the configured groups, then
    /// every sink outside them as a group of one named after it.
    pub fn runner_groups(&self) -> Vec<GroupSpec> {
        let grouped: BTreeSet<&str> = self.groups.iter().flat_map(|g| g.sinks.iter().map(String::as_str)).collect();
        let alone = self.sinks.iter().filter(|s| !grouped.contains(s.component.name.as_str())).map(|s| GroupSpec {
            name: s.component.name.clone(),
            sinks: vec![s.component.name.clone()],
            processor: Processor::Failover,
            max_penalty: Duration::ZERO,
        });
        self.groups.iter().cloned().chain(alone).collect()
    }

    /// Whether the agent keeps a store: for durable channels, for sources that
    /// remember read positions (taildir) and for `dedup` windows, even when every
    /// channel is in memory.
    pub fn needs_store(&self) -> bool {
        self.channels.iter().any(|c| !c.in_memory)
            || self.sources.iter().any(|s| s.component.kind == "taildir" || s.component.table.contains_key("dedup"))
    }

    /// The sink called `name`.
    pub fn sink(&self, name: &str) -> Option<&SinkSpec> {
        self.sinks.iter().find(|s| s.component.name == name)
    }
}

/// Who reads the configuration.
#[derive(Debug, Clone, Copy)]
pub(super) enum Reader<'a> {
    /// `sluice run`: sources, channels, sinks; no `[mobile]`.
    Agent,
    /// The mobile SDK, with the store in this directory: `[mobile]`, sinks; no sources or channels.
    Mobile(&'a std::path::Path),
}

/// `[agent]`, with defaults.
#[derive(Debug, Clone)]
pub struct AgentSpec {
    /// Name.
    pub name: String,
    /// Store directory.
    pub data_dir: PathBuf,
    /// Metrics listener.
    pub metrics_listen: Option<SocketAddr>,
    /// Shutdown bound.
    pub drain_timeout: Duration,
    /// Loss report interval.
    pub report_interval: Duration,
}

/// A channel.
#[derive(Debug, Clone)]
pub struct ChannelSpec {
    /// Name.
    pub name: String,
    /// `true` for `memory`.
    pub in_memory: bool,
    /// Limits and policy.
    pub capacity: Capacity,
    /// `durability = "power"`.
    pub power_safe: bool,
    /// Its table as written, to tell on reload whether it changed.
    pub written: Written,
}

/// A source and where its events go.
#[derive(Debug, Clone)]
pub struct SourceSpec {
    /// Its table, for errors about it.
    pub component: ComponentConfig,
    /// Its settings, read and checked; the agent builds the source from them.
    pub settings: Arc<dyn SourceSettings>,
    /// Channels it may put into.
    pub channels: Vec<String>,
    /// Interceptors, in order.
    pub interceptors: Vec<InterceptorSpec>,
    /// How events are routed to channels.
    pub selector: crate::selector::Selector,
}

/// An interceptor of a source.
#[derive(Debug, Clone)]
pub struct InterceptorSpec {
    /// Its table, for errors about it.
    pub component: ComponentConfig,
    /// Its settings, read and checked.
    pub settings: Arc<dyn InterceptorSettings>,
}

/// A sink and its runner settings.
#[derive(Debug, Clone)]
pub struct SinkSpec {
    /// Its table, for errors about it.
    pub component: ComponentConfig,
    /// Its settings, read and checked for the registry's host; built once per worker.
    pub settings: Arc<dyn SinkSettings>,
    /// The channel it drains.
    pub channel: String,
    /// Batching, retry and rate limit.
    pub runner: crate::runner::RunnerOptions,
}

/// How a group picks a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Processor {
    /// The first healthy member in list order.
    Failover,
    /// Members in turn.
    RoundRobin,
    /// A random healthy member.
    Random,
}

impl Processor {
    /// The configuration's words for it: `failover`, `load_balance, round_robin`, …
    pub fn spelling(self) -> &'static str {
        match self {
            Processor::Failover => "failover",
            Processor::RoundRobin => "load_balance, round_robin",
            Processor::Random => "load_balance, random",
        }
    }
}

/// A sink group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSpec {
    /// Name.
    pub name: String,
    /// Members, in order.
    pub sinks: Vec<String>,
    /// Policy.
    pub processor: Processor,
    /// Longest penalty of a failed member.
    pub max_penalty: Duration,
}

/// The keys a source's table has besides its type's own.
pub(crate) fn source_keys() -> &'static [&'static str] {
    super::keys::field_names::<super::sections::SourceRoutingConfig>()
}

/// The keys a sink's table has besides its type's own.
pub(crate) fn sink_keys() -> &'static [&'static str] {
    super::keys::field_names::<SinkRunnerConfig>()
}

/// Sink types that write one local stream: two workers would interleave their writes.
fn takes_one_worker(kind: &str) -> bool {
    matches!(kind, "file" | "stdout" | "null")
}

pub(super) fn resolve(
    mut raw: RawConfig,
    file: &Location,
    registry: &Registry,
    reader: Reader<'_>,
) -> Result<Topology> {
    let mut agent = resolve_agent(&raw, file)?;
    let (channels, mobile) = match reader {
        Reader::Agent => {
            if let Some(m) = &raw.mobile {
                return Err(file.error(
                    &m.span(),
                    "mobile: [mobile] is read by the mobile SDK (sluice_open, Sluice.open), not by the agent",
                ));
            }
            let channels = raw
                .channels
                .iter()
                .map(|(name, table)| resolve_channel(name, table, file))
                .collect::<Result<Vec<_>>>()?;
            (channels, None)
        }
        Reader::Mobile(dir) => {
            let (spec, channel) = super::mobile::resolve(&raw, file)?;
            agent.data_dir = dir.to_path_buf();
            for table in raw.sinks.values_mut() {
                let at = table.span();
                table.get_mut().entry("channel".into()).or_insert_with(|| Value::string(APP_CHANNEL, at));
            }
            (vec![channel], Some(spec))
        }
    };
    let known: BTreeSet<&str> = channels.iter().map(|c| c.name.as_str()).collect();
    let mut sources = Vec::new();
    for (name, table) in &raw.sources {
        sources.push(resolve_source(name, table, file, registry, &known)?);
    }
    let mut sinks = Vec::new();
    for (name, table) in &raw.sinks {
        sinks.push(resolve_sink(name, table, file, registry, &known)?);
    }
    let groups = resolve_groups(&raw, file, &sinks)?;
    if let Some(busy) = sinks.iter().find(|s| mobile.is_some() && s.runner.workers > 1) {
        // The phone's byte budget and rate limit are checked one batch at a time.
        return Err(busy.component.error("workers", "the mobile SDK uploads one batch at a time: leave it at 1"));
    }
    if mobile.is_some() && sinks.is_empty() {
        return Err(file.error(&(0..0), "no [sinks.*] defined: the mobile SDK needs somewhere to upload to"));
    }
    if mobile.is_none() && (sources.is_empty() || channels.is_empty() || sinks.is_empty()) {
        let missing: Vec<&str> = [
            ("[sources.*]", sources.is_empty()),
            ("[channels.*]", channels.is_empty()),
            ("[sinks.*]", sinks.is_empty()),
        ]
        .into_iter()
        .filter(|(_, m)| *m)
        .map(|(s, _)| s)
        .collect();
        return Err(file.error(
            &(0..0),
            format!("no {} defined: a topology needs sources, channels and sinks", missing.join(", ")),
        ));
    }
    Ok(Topology { agent, channels, sources, sinks, groups, mobile })
}

fn resolve_agent(raw: &RawConfig, file: &Location) -> Result<AgentSpec> {
    let (agent, span) = match &raw.agent {
        Some(a) => (a.get_ref().clone(), a.span()),
        None => (AgentConfig::default(), 0..0),
    };
    let at = |key: &str, message: String| file.error(&file.key_span(&span, key), format!("agent.{key}: {message}"));
    let metrics_listen = match agent.metrics_listen.as_deref() {
        Some(text) => Some(
            text.parse()
                .map_err(|_| at("metrics_listen", format!("{text:?} is not an address like \"127.0.0.1:9100\"")))?,
        ),
        None => None,
    };
    if agent.report_interval.0.is_zero() {
        return Err(at("report_interval", "must be greater than 0".into()));
    }
    Ok(AgentSpec {
        name: agent.name,
        data_dir: agent.data_dir,
        metrics_listen,
        drain_timeout: agent.drain_timeout.0,
        report_interval: agent.report_interval.0,
    })
}

fn component(
    section: &'static str,
    name: &str,
    table: &Spanned<Table>,
    file: &Location,
    skip: &[&str],
) -> Result<ComponentConfig> {
    let span = table.span();
    let mut rest = table.get_ref().clone();
    for key in skip {
        rest.remove(*key);
    }
    let kind = match rest.remove("type") {
        Some(Value { kind: Kind::String(kind), .. }) => kind,
        Some(_) => {
            return Err(file.error(&file.key_span(&span, "type"), format!("{section}.{name}.type: expected a string")))
        }
        None => return Err(file.error(&span, format!("{section}.{name}: missing key `type`"))),
    };
    let written = Written::new(table.get_ref().clone());
    Ok(ComponentConfig { section, name: name.to_string(), kind, table: rest, written, span, file: file.clone() })
}

fn resolve_channel(name: &str, table: &Spanned<Table>, file: &Location) -> Result<ChannelSpec> {
    let c = ComponentConfig {
        section: "channels",
        name: name.into(),
        kind: String::new(),
        table: table.get_ref().clone(),
        written: Written::new(table.get_ref().clone()),
        span: table.span(),
        file: file.clone(),
    };
    let config: ChannelConfig = c.parse()?;
    let in_memory = match config.kind.get().map_err(|m| c.error("type", m))? {
        ChannelKind::Sqlite => false,
        ChannelKind::Memory => true,
    };
    let capacity: Capacity = config.capacity();
    if in_memory && capacity.max_age.is_some() {
        return Err(c.error("max_age", "is not supported by memory channels"));
    }
    if capacity.max_events == 0 || capacity.max_bytes == 0 {
        return Err(
            c.error(if capacity.max_events == 0 { "max_events" } else { "max_bytes" }, "must be greater than 0")
        );
    }
    let power_safe = config.durability == Durability::Power;
    Ok(ChannelSpec { name: name.into(), in_memory, capacity, power_safe, written: c.written })
}

fn resolve_source(
    name: &str,
    table: &Spanned<Table>,
    file: &Location,
    registry: &Registry,
    known: &BTreeSet<&str>,
) -> Result<SourceSpec> {
    let component = component("sources", name, table, file, source_keys())?;
    let span = table.span();
    let t = table.get_ref();
    let channels: Vec<String> = match t.get("channels") {
        Some(v) => parse_value(v, file, &format!("sources.{name}.channels"))?,
        None => return Err(file.error(&span, format!("sources.{name}: missing key `channels`"))),
    };
    if channels.is_empty() {
        return Err(component.error("channels", "must name at least one channel"));
    }
    for c in &channels {
        if !known.contains(c.as_str()) {
            return Err(component.error("channels", format!("no channel named {c:?} (defined: {})", list(known))));
        }
    }
    let interceptors = match t.get("interceptors").map(|v| &v.kind) {
        Some(Kind::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| interceptor(&component, i, item, registry))
            .collect::<Result<Vec<_>>>()?,
        Some(_) => {
            return Err(component.error("interceptors", "expected an array of tables like [{ type = \"host\" }]"))
        }
        None => Vec::new(),
    };
    let selector = match t.get("selector") {
        Some(v) => {
            let raw: RawSelector = parse_value(v, file, &format!("sources.{name}.selector"))?;
            crate::selector::Selector::from_raw(raw, &channels).map_err(|m| component.error("selector", m))?
        }
        None => crate::selector::Selector::Replicating(channels.clone()),
    };
    let settings = registry.read_source(&component)?;
    Ok(SourceSpec { component, settings, channels, interceptors, selector })
}

fn interceptor(source: &ComponentConfig, i: usize, item: &Value, registry: &Registry) -> Result<InterceptorSpec> {
    let Kind::Table(table) = &item.kind else {
        return Err(source.error("interceptors", format!("item {i}: expected a table like {{ type = \"host\" }}")));
    };
    let written = Written::new(table.clone());
    let mut table = table.clone();
    let Some(Value { kind: Kind::String(kind), .. }) = table.remove("type") else {
        return Err(source.error("interceptors", format!("item {i}: missing string key `type`")));
    };
    let span = item.span.clone();
    let c = ComponentConfig {
        section: "sources",
        name: format!("{}.interceptors[{i}]", source.name),
        kind,
        table,
        written,
        span,
        file: source.file.clone(),
    };
    let settings = registry.read_interceptor(&c)?;
    Ok(InterceptorSpec { component: c, settings })
}

fn resolve_sink(
    name: &str,
    table: &Spanned<Table>,
    file: &Location,
    registry: &Registry,
    known: &BTreeSet<&str>,
) -> Result<SinkSpec> {
    let component = component("sinks", name, table, file, sink_keys())?;
    let span = table.span();
    let t = table.get_ref();
    let channel = match t.get("channel").map(|v| &v.kind) {
        Some(Kind::String(c)) => c.clone(),
        Some(_) => return Err(component.error("channel", "expected a channel name")),
        None => return Err(file.error(&span, format!("sinks.{name}: missing key `channel`"))),
    };
    if !known.contains(channel.as_str()) {
        return Err(component.error("channel", format!("no channel named {channel:?} (defined: {})", list(known))));
    }
    let mut own = Table::default();
    for key in sink_keys().iter().filter(|k| **k != "channel") {
        if let Some(v) = t.get(*key) {
            own.insert((*key).to_string(), v.clone());
        }
    }
    let config: SinkRunnerConfig =
        parse_value(&Value { kind: Kind::Table(own), span }, file, &format!("sinks.{name}"))?;
    let runner = crate::runner::RunnerOptions::from_config(&config).map_err(|(key, m)| component.error(key, m))?;
    if runner.workers > 1 && takes_one_worker(&component.kind) {
        return Err(component.error(
            "workers",
            format!("a {} sink writes one local stream: it takes no more than 1 worker", component.kind),
        ));
    }
    let settings = registry.read_sink(&component)?;
    Ok(SinkSpec { component, settings, channel, runner })
}

fn resolve_groups(raw: &RawConfig, file: &Location, sinks: &[SinkSpec]) -> Result<Vec<GroupSpec>> {
    let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
    let mut groups = Vec::new();
    for (name, group) in &raw.sink_groups {
        let span = group.span();
        let g: &GroupConfig = group.get_ref();
        let at =
            |key: &str, m: String| file.error(&file.key_span(&span, key), format!("sink_groups.{name}.{key}: {m}"));
        let processor = match (g.processor.get().map_err(|m| at("processor", m))?, g.selector) {
            (ProcessorKind::Failover, None) => Processor::Failover,
            (ProcessorKind::Failover, Some(_)) => {
                return Err(at("selector", "only load_balance groups take a selector".into()))
            }
            (ProcessorKind::LoadBalance, None | Some(SelectorKind::RoundRobin)) => Processor::RoundRobin,
            (ProcessorKind::LoadBalance, Some(SelectorKind::Random)) => Processor::Random,
        };
        let members = g.sinks.get().map_err(|m| at("sinks", m))?;
        let Some(first_name) = members.first() else {
            return Err(at("sinks", "must name at least one sink".into()));
        };
        let first = sinks.iter().find(|k| k.component.name == *first_name);
        // A group runs as many workers as its first sink asks for, each with every member.
        let workers = first.map_or(1, |k| k.runner.workers);
        for s in members {
            let Some(spec) = sinks.iter().find(|k| k.component.name == *s) else {
                return Err(at("sinks", format!("no sink named {s:?}")));
            };
            if let Some(other) = owner.insert(s, name) {
                return Err(at("sinks", format!("sink {s:?} is already in group {other:?}")));
            }
            if spec.channel != first.map_or("", |k| k.channel.as_str()) {
                return Err(at("sinks", "all sinks of a group must drain the same channel".into()));
            }
            if s != first_name && spec.runner.workers != 1 && spec.runner.workers != workers {
                return Err(spec.component.error(
                    "workers",
                    format!("in group {name:?} the workers come from its first sink ({workers}): set it there"),
                ));
            }
            if workers > 1 && takes_one_worker(&spec.component.kind) {
                return Err(at(
                    "sinks",
                    format!(
                        "the group runs {workers} workers (from its first sink), but {s:?} is a {} sink, which takes no more than 1",
                        spec.component.kind
                    ),
                ));
            }
        }
        groups.push(GroupSpec { name: name.clone(), sinks: members.clone(), processor, max_penalty: g.max_penalty.0 });
    }
    Ok(groups)
}

fn list(known: &BTreeSet<&str>) -> String {
    known.iter().map(|k| format!("{k:?}")).collect::<Vec<_>>().join(", ")
}
