//! Sources: where events enter. Each runs on its own thread (or the agent's
//! executor) and hands batches to [`Output::deliver`], which runs interceptors,
//! routes by the selector and puts into the channels.

pub mod dedup;
pub mod exec;
pub mod framing;
pub mod host_metrics;
pub mod http;
mod intake;
pub mod listen;
pub mod otlp_http;
pub mod stdin;
pub mod syslog;
pub mod taildir;
pub mod tcp;

use crate::channel::{Channel, Mark, PutError, Store, Wait};
use crate::event::Event;
use crate::interceptor::Interceptor;
use crate::metrics::SourceMetrics;
use crate::registry::Registry;
use crate::selector::Selector;
use crate::stop::Stop;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Registers the built-in source types.
pub(crate) fn register_builtins(r: &mut Registry) {
    r.register_source::<stdin::StdinConfig>("stdin");
    r.register_source::<http::HttpSourceConfig>("http");
    r.register_source::<otlp_http::OtlpHttpSourceConfig>("otlp_http");
    r.register_source::<tcp::TcpSourceConfig>("tcp");
    r.register_source::<syslog::SyslogConfig>("syslog");
    r.register_source::<host_metrics::HostMetricsConfig>("host_metrics");
    r.register_source::<exec::ExecConfig>("exec");
    r.register_source::<taildir::TaildirConfig>("taildir");
}

/// A running source. `run` blocks until `ctx.stop` is set or input ends.
pub trait Source: Send + 'static {
    /// Acquires what the source needs before the agent reports it started
    /// (binds its socket, opens its files), so such errors fail the start.
    ///
    /// # Errors
    /// The resource cannot be had.
    fn prepare(&mut self) -> crate::Result<()> {
        Ok(())
    }

    /// Reads input and delivers it until stopped.
    ///
    /// # Errors
    /// A failure that ends the source (the agent logs it and keeps the others running).
    fn run(self: Box<Self>, ctx: SourceContext) -> crate::Result<()>;
}

/// What a source needs at run time.
#[derive(Clone)]
pub struct SourceContext {
    /// The source's name.
    pub name: String,
    /// Where its events go.
    pub output: Arc<Output>,
    /// Set at shutdown.
    pub stop: Arc<Stop>,
    /// The agent's executor, for async I/O.
    pub executor: Arc<smol::Executor<'static>>,
}

/// Interceptors, selector and channels of one source: its route.
pub struct Route {
    interceptors: Vec<Box<dyn Interceptor>>,
    selector: Selector,
    channels: Vec<Arc<dyn Channel>>,
}

impl Route {
    /// A route putting into `channels` (those the selector names must be among them).
    pub fn new(interceptors: Vec<Box<dyn Interceptor>>, selector: Selector, channels: Vec<Arc<dyn Channel>>) -> Route {
        Route { interceptors, selector, channels }
    }
}

/// Where a source's events go: its route, counters and state store.
pub struct Output {
    /// Swapped whole by a reload; a delivery uses the route it started with.
    route: RwLock<Arc<Route>>,
    metrics: Arc<SourceMetrics>,
    state: Option<Arc<Store>>,
}

impl Output {
    /// An output putting into `channels` (those the selector names must be among them).
    pub fn new(
        interceptors: Vec<Box<dyn Interceptor>>,
        selector: Selector,
        channels: Vec<Arc<dyn Channel>>,
        metrics: Arc<SourceMetrics>,
    ) -> Output {
        Output::routed(Route::new(interceptors, selector, channels), metrics)
    }

    /// An output along `route`.
    pub fn routed(route: Route, metrics: Arc<SourceMetrics>) -> Output {
        Output { route: RwLock::new(Arc::new(route)), metrics, state: None }
    }

    /// The same output, keeping source state (read positions) in `store`.
    pub fn with_state(mut self, store: Option<Arc<Store>>) -> Output {
        self.state = store;
        self
    }

    /// Sends later deliveries along `route` (a reload changed the interceptors,
    /// selector or channels); deliveries under way finish on the old one.
    pub fn reroute(&self, route: Route) {
        *self.route.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(route);
    }

    /// The store keeping source state, if the agent has one.
    pub fn state(&self) -> Option<&Arc<Store>> {
        self.state.as_ref()
    }

    /// The source's counters.
    pub fn metrics(&self) -> &Arc<SourceMetrics> {
        &self.metrics
    }

    /// Intercepts, routes and puts `events`; blocks on storage. `Ok` means every
    /// event is committed in every channel it was routed to.
    ///
    /// # Errors
    /// The batch comes back (as it was given) when a channel refused it.
    /// With several channels a refusal can follow a success in another channel;
    /// a client that retries then causes a duplicate there, never a loss.
    pub fn deliver(&self, events: Vec<Event>) -> Result<(), PutError> {
        self.deliver_marked(events, &[])
    }

    /// As [`Output::deliver`], also saving `marks` (source state such as read
    /// positions) in the same transaction as the events, so a crash keeps both
    /// or neither. With several channels the marks ride with the last put: a
    /// crash between the puts re-reads into the earlier channels (a duplicate,
    /// never a loss).
    ///
    /// # Errors
    /// As [`Output::deliver`]; the marks are not saved then.
    pub fn deliver_marked(&self, events: Vec<Event>, marks: &[Mark]) -> Result<(), PutError> {
        self.deliver_waiting(events, marks, &Wait::now())
    }

    /// As [`Output::deliver_marked`], waiting for space (`on_full = "block"`) at
    /// most `block_timeout` from `wait.since`, and not once `wait` is cancelled:
    /// a request that queued waits no longer than one that did not.
    ///
    /// # Errors
    /// As [`Output::deliver`].
    pub fn deliver_waiting(&self, events: Vec<Event>, marks: &[Mark], wait: &Wait) -> Result<(), PutError> {
        let route = self.route.read().unwrap_or_else(|p| p.into_inner()).clone();
        let n = events.len() as u64;
        let original =
            if route.channels.len() > 1 || !route.interceptors.is_empty() { Some(events.clone()) } else { None };
        let mut events = events;
        for i in &route.interceptors {
            events = i.intercept(events);
        }
        self.metrics.filtered.add(n.saturating_sub(events.len() as u64));
        let mut routed: Vec<Vec<Event>> = vec![Vec::new(); route.channels.len()];
        for e in events {
            let names = route.selector.route(&e);
            if names.is_empty() {
                self.metrics.filtered.add(1);
            }
            let wants = |c: &Arc<dyn Channel>| names.iter().any(|n| n == c.name());
            // Clone for all but the last channel that wants the event; that one gets it moved.
            if let Some(last) = route.channels.iter().rposition(wants) {
                for (slot, channel) in route.channels.iter().enumerate().take(last) {
                    if wants(channel) {
                        routed[slot].push(e.clone());
                    }
                }
                routed[last].push(e);
            }
        }
        let last = routed.iter().rposition(|b| !b.is_empty());
        let mut marks_saved = marks.is_empty();
        for (slot, batch) in routed.into_iter().enumerate() {
            let Some(channel) = route.channels.get(slot) else { continue };
            if batch.is_empty() {
                continue;
            }
            let count = batch.len() as u64;
            let marks_here: &[Mark] = if Some(slot) == last { marks } else { &[] };
            let result = channel.put_waiting(batch, marks_here, wait);
            match result {
                Ok(saved) => marks_saved |= saved && Some(slot) == last,
                Err(refused) => {
                    // A put that lost a race for its dedup ids is asked again by its
                    // source: counted when that attempt ends, not twice.
                    if refused.error.kind() != crate::error::ErrorKind::Duplicate {
                        self.metrics.received.add(n);
                        self.metrics.rejected.add(count);
                    }
                    let events = original.unwrap_or(refused.events);
                    return Err(PutError::new(refused.error, events));
                }
            }
        }
        if !marks_saved {
            if let Some(store) = &self.state {
                if let Err(e) = store.save_marks(marks) {
                    // The events are in; only the position is behind: a restart re-reads (duplicates).
                    log::error!("could not save source positions: {e}");
                }
            }
        }
        self.metrics.received.add(n);
        self.metrics.accepted.add(n);
        Ok(())
    }
}

/// How long a stopping source keeps trying to put the batch it holds (a reload
/// restarting it while its channel is full, or shutdown) before giving it up.
const HELD_BATCH_GRACE: Duration = Duration::from_secs(5);

/// Puts `batch`, holding it and retrying while the channel is full; once the
/// source is stopped, for [`HELD_BATCH_GRACE`] more.
pub(crate) fn deliver_until_accepted(ctx: &SourceContext, batch: &mut Vec<Event>) {
    let mut grace_ends: Option<std::time::Instant> = None;
    while !batch.is_empty() {
        match ctx.output.deliver(std::mem::take(batch)) {
            Ok(()) => {}
            Err(refused)
                if ctx.stop.is_stopped()
                    && *grace_ends.get_or_insert_with(|| std::time::Instant::now() + HELD_BATCH_GRACE)
                        > std::time::Instant::now() =>
            {
                *batch = refused.events;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(refused) if ctx.stop.is_stopped() => {
                log::warn!(
                    "source {}: {} events not accepted at shutdown: {}",
                    ctx.name,
                    refused.events.len(),
                    refused.error
                );
            }
            Err(refused) => {
                log::warn!(
                    "source {}: {}; holding {} events and retrying",
                    ctx.name,
                    refused.error,
                    refused.events.len()
                );
                *batch = refused.events;
                ctx.stop.sleep(Duration::from_millis(200));
            }
        }
    }
}

/// How a line-reading source batches.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LineBatching {
    /// Most lines per put.
    pub batch_size: usize,
    /// Longest wait to fill a batch.
    pub batch_timeout: Duration,
    /// Longest line kept; longer lines are cut and counted.
    pub max_line: usize,
}

/// The longest line any source keeps: a line is one event in memory.
pub(crate) const MAX_LINE_LENGTH: u64 = 16 << 20;

/// Refuses batches of no lines and lines longer than [`MAX_LINE_LENGTH`].
pub(crate) fn check_batching(
    c: &crate::config::ComponentConfig,
    batch_size: usize,
    max_line: crate::units::ByteSize,
) -> crate::Result<()> {
    if batch_size == 0 {
        return Err(c.error("batch_size", "must be at least 1"));
    }
    if max_line.0 == 0 || max_line.0 > MAX_LINE_LENGTH {
        let most = crate::units::ByteSize(MAX_LINE_LENGTH);
        return Err(c.error("max_line_length", format!("must be from 1B to {most}")));
    }
    Ok(())
}

/// Reads lines from `input` until it ends or the agent stops, putting them in
/// batches. A reader thread turns the blocking read into a channel the batcher
/// can wait on with a timeout; while nothing is pending it wakes once a second
/// to look at the stop flag. Returns whether the input ended (not a stop).
///
/// # Errors
/// The reader thread cannot be spawned.
pub(crate) fn pump_lines(
    input: Box<dyn std::io::Read + Send>,
    ctx: &SourceContext,
    cfg: LineBatching,
) -> crate::Result<bool> {
    use std::io::BufRead;
    use std::sync::mpsc::{sync_channel, RecvTimeoutError};
    use std::time::Instant;
    let (tx, rx) = sync_channel::<(Vec<u8>, bool)>(cfg.batch_size * 2);
    std::thread::Builder::new().name(format!("sluice-read-{}", ctx.name)).spawn(move || {
        let mut reader = std::io::BufReader::with_capacity(64 << 10, input);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                        line.pop();
                    }
                    let cut = line.len() > cfg.max_line;
                    line.truncate(cfg.max_line);
                    if tx.send((line.clone(), cut)).is_err() {
                        break;
                    }
                }
            }
        }
    })?;
    let mut batch = Vec::new();
    let mut deadline: Option<Instant> = None;
    loop {
        let wait = deadline.map_or(Duration::from_secs(1), |at| at.saturating_duration_since(Instant::now()));
        let ended = match rx.recv_timeout(wait) {
            Ok((line, cut)) => {
                if cut {
                    ctx.output.metrics().truncated.add(1);
                }
                deadline.get_or_insert_with(|| Instant::now() + cfg.batch_timeout);
                batch.push(Event::new(line));
                let due = deadline.is_some_and(|d| Instant::now() >= d);
                if batch.len() < cfg.batch_size && !due && !ctx.stop.is_stopped() {
                    continue;
                }
                false
            }
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => true,
        };
        if ended
            || ctx.stop.is_stopped()
            || batch.len() >= cfg.batch_size
            || deadline.is_some_and(|d| Instant::now() >= d)
        {
            deliver_until_accepted(ctx, &mut batch);
            deadline = None;
        }
        if ended {
            return Ok(true);
        }
        if ctx.stop.is_stopped() {
            return Ok(false);
        }
    }
}
