//! From the raw file to a checked topology: names resolved, types known, defaults applied.

use super::located::{parse_value, ComponentConfig, Location};
use super::mobile::{MobileSpec, APP_CHANNEL};
use super::raw::{RawBatch, RawChannel, RawConfig, RawRateLimit, RawRetry, RawSelector};
use super::toml::{Kind, Spanned, Table, Value};
use crate::channel::Capacity;
use crate::error::Result;
use crate::registry::Registry;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
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
}

/// A source and where its events go.
#[derive(Debug, Clone)]
pub struct SourceSpec {
    /// Its table, for the factory.
    pub component: ComponentConfig,
    /// Channels it may put into.
    pub channels: Vec<String>,
    /// Interceptor tables, in order.
    pub interceptors: Vec<ComponentConfig>,
    /// How events are routed to channels.
    pub selector: crate::selector::Selector,
}

/// A sink and its runner settings.
#[derive(Debug, Clone)]
pub struct SinkSpec {
    /// Its table, for the factory.
    pub component: ComponentConfig,
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

/// A sink group.
#[derive(Debug, Clone)]
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

const SOURCE_KEYS: [&str; 3] = ["channels", "interceptors", "selector"];
const SINK_KEYS: [&str; 5] = ["channel", "batch", "retry", "rate_limit", "workers"];

/// Most batches one sink may have in flight.
const MAX_WORKERS: i64 = 32;

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
        Some(a) => (Some(a.get_ref()), a.span()),
        None => (None, 0..0),
    };
    let metrics_listen = match agent.and_then(|a| a.metrics_listen.as_deref()) {
        Some(text) => Some(text.parse().map_err(|_| {
            file.error(
                &file.key_span(&span, "metrics_listen"),
                format!("agent.metrics_listen: {text:?} is not an address like \"127.0.0.1:9100\""),
            )
        })?),
        None => None,
    };
    Ok(AgentSpec {
        name: agent.and_then(|a| a.name.clone()).unwrap_or_else(|| "sluice".into()),
        data_dir: agent.and_then(|a| a.data_dir.clone()).unwrap_or_else(|| PathBuf::from("./sluice-data")),
        metrics_listen,
        drain_timeout: agent.and_then(|a| a.drain_timeout).map_or(Duration::from_secs(10), |s| s.0),
        report_interval: match agent.and_then(|a| a.report_interval) {
            Some(s) if s.0.is_zero() => {
                return Err(file
                    .error(&file.key_span(&span, "report_interval"), "agent.report_interval: must be greater than 0"));
            }
            Some(s) => s.0,
            None => Duration::from_secs(60),
        },
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
    Ok(ComponentConfig { section, name: name.to_string(), kind, table: rest, span, file: file.clone() })
}

fn resolve_channel(name: &str, table: &Spanned<Table>, file: &Location) -> Result<ChannelSpec> {
    let c = ComponentConfig {
        section: "channels",
        name: name.into(),
        kind: String::new(),
        table: table.get_ref().clone(),
        span: table.span(),
        file: file.clone(),
    };
    let raw: RawChannel = c.parse()?;
    let in_memory = match raw.kind.as_str() {
        "sqlite" => false,
        "memory" => true,
        other => {
            return Err(c.error("type", format!("unknown channel type {other:?}: expected \"sqlite\" or \"memory\"")))
        }
    };
    let power_safe = match raw.durability.as_deref() {
        None | Some("process") => false,
        Some("power") => true,
        Some(other) => return Err(c.error("durability", format!("{other:?}: expected \"process\" or \"power\""))),
    };
    let defaults = Capacity::default();
    let capacity = Capacity {
        max_events: raw.max_events.unwrap_or(defaults.max_events),
        max_bytes: raw.max_bytes.map_or(defaults.max_bytes, |b| b.0),
        on_full: raw.on_full.unwrap_or_default(),
        block_timeout: raw.block_timeout.map_or(defaults.block_timeout, |s| s.0),
        max_age: raw.max_age.map(|s| s.0),
    };
    if in_memory && capacity.max_age.is_some() {
        return Err(c.error("max_age", "is not supported by memory channels"));
    }
    if capacity.max_events == 0 || capacity.max_bytes == 0 {
        return Err(
            c.error(if capacity.max_events == 0 { "max_events" } else { "max_bytes" }, "must be greater than 0")
        );
    }
    Ok(ChannelSpec { name: name.into(), in_memory, capacity, power_safe })
}

fn resolve_source(
    name: &str,
    table: &Spanned<Table>,
    file: &Location,
    registry: &Registry,
    known: &BTreeSet<&str>,
) -> Result<SourceSpec> {
    let component = component("sources", name, table, file, &SOURCE_KEYS)?;
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
    registry.build_source(&component)?;
    Ok(SourceSpec { component, channels, interceptors, selector })
}

fn interceptor(source: &ComponentConfig, i: usize, item: &Value, registry: &Registry) -> Result<ComponentConfig> {
    let Kind::Table(table) = &item.kind else {
        return Err(source.error("interceptors", format!("item {i}: expected a table like {{ type = \"host\" }}")));
    };
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
        span,
        file: source.file.clone(),
    };
    registry.build_interceptor(&c)?;
    Ok(c)
}

fn resolve_sink(
    name: &str,
    table: &Spanned<Table>,
    file: &Location,
    registry: &Registry,
    known: &BTreeSet<&str>,
) -> Result<SinkSpec> {
    let component = component("sinks", name, table, file, &SINK_KEYS)?;
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
    let empty = Value::empty_table(span.clone());
    let get = |key: &str| t.get(key).unwrap_or(&empty);
    let batch: RawBatch = parse_value(get("batch"), file, &format!("sinks.{name}.batch"))?;
    let retry: RawRetry = parse_value(get("retry"), file, &format!("sinks.{name}.retry"))?;
    let rate: RawRateLimit = parse_value(get("rate_limit"), file, &format!("sinks.{name}.rate_limit"))?;
    let mut runner =
        crate::runner::RunnerOptions::from_raw(batch, retry, rate).map_err(|(key, m)| component.error(key, m))?;
    runner.workers = sink_workers(t.get("workers"), &component)?;
    registry.build_sink(&component)?;
    Ok(SinkSpec { component, channel, runner })
}

/// `workers = N`: batches in flight at once.
fn sink_workers(value: Option<&Value>, component: &ComponentConfig) -> Result<usize> {
    let n = match value.map(|v| &v.kind) {
        None => return Ok(1),
        Some(Kind::Integer(n)) if (1..=MAX_WORKERS).contains(n) => *n,
        Some(_) => return Err(component.error("workers", format!("expected a whole number from 1 to {MAX_WORKERS}"))),
    };
    if n > 1 && takes_one_worker(&component.kind) {
        return Err(component.error(
            "workers",
            format!("a {} sink writes one local stream: it takes no more than 1 worker", component.kind),
        ));
    }
    Ok(n as usize)
}

fn resolve_groups(raw: &RawConfig, file: &Location, sinks: &[SinkSpec]) -> Result<Vec<GroupSpec>> {
    let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
    let mut groups = Vec::new();
    for (name, group) in &raw.sink_groups {
        let span = group.span();
        let g = group.get_ref();
        let at =
            |key: &str, m: String| file.error(&file.key_span(&span, key), format!("sink_groups.{name}.{key}: {m}"));
        let processor = match (g.processor.as_str(), g.selector.as_deref()) {
            ("failover", None) => Processor::Failover,
            ("failover", Some(_)) => return Err(at("selector", "only load_balance groups take a selector".into())),
            ("load_balance", None | Some("round_robin")) => Processor::RoundRobin,
            ("load_balance", Some("random")) => Processor::Random,
            ("load_balance", Some(other)) => {
                return Err(at("selector", format!("{other:?}: expected \"round_robin\" or \"random\"")))
            }
            (other, _) => return Err(at("processor", format!("{other:?}: expected \"failover\" or \"load_balance\""))),
        };
        if g.sinks.is_empty() {
            return Err(at("sinks", "must name at least one sink".into()));
        }
        // A group runs as many workers as its first sink asks for, each with every member.
        let workers = sinks.iter().find(|k| k.component.name == g.sinks[0]).map_or(1, |k| k.runner.workers);
        for s in &g.sinks {
            let Some(spec) = sinks.iter().find(|k| k.component.name == *s) else {
                return Err(at("sinks", format!("no sink named {s:?}")));
            };
            if let Some(other) = owner.insert(s, name) {
                return Err(at("sinks", format!("sink {s:?} is already in group {other:?}")));
            }
            if spec.channel != sinks.iter().find(|k| k.component.name == g.sinks[0]).map_or("", |k| k.channel.as_str())
            {
                return Err(at("sinks", "all sinks of a group must drain the same channel".into()));
            }
            if *s != g.sinks[0] && spec.runner.workers != 1 && spec.runner.workers != workers {
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
        let max_penalty = g.max_penalty.map_or(Duration::from_secs(30), |s| s.0);
        groups.push(GroupSpec { name: name.clone(), sinks: g.sinks.clone(), processor, max_penalty });
    }
    Ok(groups)
}

fn list(known: &BTreeSet<&str>) -> String {
    known.iter().map(|k| format!("{k:?}")).collect::<Vec<_>>().join(", ")
}
