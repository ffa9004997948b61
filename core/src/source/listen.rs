//! Stream intake shared by the `tcp` and `syslog` (TCP) sources: an accept loop
//! and one thread per connection that frames, batches and puts.
//!
//! Back pressure is TCP's own: while the channel refuses a batch the connection
//! is not read, the kernel buffers fill, and the sender blocks.
//!
//! Connections that send nothing for `idle_timeout` are closed. At
//! `max_connections` a new sender is served by closing the connection idle the
//! longest (if it has been idle a moment), so silent peers cannot lock senders out.

use super::framing::{Frame, Framer, Framing};
use super::{deliver_until_accepted, SourceContext};
use crate::error::Result;
use crate::event::Event;
use crate::metrics::SourceMetrics;
use std::collections::BTreeMap;
use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How connections are read.
#[derive(Debug, Clone, Copy)]
pub struct StreamSpec {
    /// Framing of the stream.
    pub framing: Framing,
    /// Longest message; longer ones are cut and counted.
    pub max_message: usize,
    /// Most events per put.
    pub batch_size: usize,
    /// Longest wait to fill a batch.
    pub batch_timeout: Duration,
    /// Connections served at once; at the limit the longest idle one is closed
    /// for a new sender, and when none is idle the new one is closed.
    pub max_connections: usize,
    /// A connection that sends nothing this long is closed.
    pub idle_timeout: Duration,
}

/// Default `idle_timeout` of stream sources: long, since syslog senders keep one
/// connection open for hours between messages, and at `max_connections` the
/// idle ones make way anyway.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// A connection idle this long may be closed for a new sender at `max_connections`;
/// one that sent within it is a sender at work.
const EVICT_GRACE: Duration = Duration::from_secs(1);

/// The open connections and when each last sent something.
#[derive(Default)]
struct Table {
    started: Option<Instant>,
    next: u64,
    peers: BTreeMap<u64, Peer>,
}

struct Peer {
    /// Milliseconds since the table started, of the last bytes received.
    last: Arc<AtomicU64>,
    /// A handle on the socket, to close it for another sender.
    stream: TcpStream,
}

impl Table {
    fn now_ms(&mut self) -> u64 {
        self.started.get_or_insert_with(Instant::now).elapsed().as_millis() as u64
    }
}

/// The connection to close for a new one: the longest idle, if idle past
/// [`EVICT_GRACE`]. A pure function of (id, time since it last sent).
fn most_idle(peers: impl Iterator<Item = (u64, Duration)>) -> Option<u64> {
    peers
        .filter(|(_, idle)| *idle >= EVICT_GRACE)
        .max_by_key(|(id, idle)| (*idle, std::cmp::Reverse(*id)))
        .map(|(id, _)| id)
}

/// Turns one frame from `peer` into an event, counting what it must.
pub type ToEvent = Arc<dyn Fn(Frame, &SourceMetrics, SocketAddr) -> Event + Send + Sync>;

/// How long an idle connection sleeps before looking at the stop flag.
const IDLE_WAKE: Duration = Duration::from_secs(1);

/// Accepts on `listener` until the agent stops.
///
/// # Errors
/// The stop watcher cannot be started.
pub fn serve(listener: TcpListener, ctx: SourceContext, spec: StreamSpec, to_event: ToEvent) -> Result<()> {
    let local = listener.local_addr()?;
    // A blocking accept wakes for nothing; at shutdown a connection to ourselves ends it.
    let stop = ctx.stop.clone();
    std::thread::Builder::new().name(format!("sluice-stop-{}", ctx.name)).spawn(move || {
        while !stop.sleep(Duration::from_secs(3600)) {}
        let _ = TcpStream::connect_timeout(&local, Duration::from_secs(1));
    })?;
    let table = Arc::new(Mutex::new(Table::default()));
    for stream in listener.incoming() {
        if ctx.stop.is_stopped() {
            break;
        }
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                log::warn!("source {}: accept: {e}", ctx.name);
                ctx.stop.sleep(Duration::from_millis(100));
                continue;
            }
        };
        let peer = stream.peer_addr().unwrap_or(local);
        let Some((id, last)) = admit(&table, &stream, spec.max_connections) else {
            log::warn!("source {}: refusing {peer}: {} connections open, none idle", ctx.name, spec.max_connections);
            continue;
        };
        let (conn_ctx, conn_table, to_event) = (ctx.clone(), table.clone(), to_event.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("sluice-conn-{}", ctx.name))
            .stack_size(256 << 10)
            .spawn(move || {
                let activity = Activity { table: &conn_table, last: &last };
                read_connection(stream, peer, &conn_ctx, spec, &to_event, &activity);
                conn_table.lock().unwrap_or_else(|p| p.into_inner()).peers.remove(&id);
            });
        if let Err(e) = spawned {
            table.lock().unwrap_or_else(|p| p.into_inner()).peers.remove(&id);
            log::warn!("source {}: no thread for {peer}: {e}", ctx.name);
        }
    }
    Ok(())
}

/// A place in the table for `stream`, closing the longest idle connection if
/// the table is full; `None` when every connection is at work.
fn admit(table: &Mutex<Table>, stream: &TcpStream, max: usize) -> Option<(u64, Arc<AtomicU64>)> {
    let mut t = table.lock().unwrap_or_else(|p| p.into_inner());
    let now = t.now_ms();
    if t.peers.len() >= max {
        let idle = t
            .peers
            .iter()
            .map(|(id, p)| (*id, Duration::from_millis(now.saturating_sub(p.last.load(Ordering::SeqCst)))));
        let victim = most_idle(idle)?;
        if let Some(p) = t.peers.remove(&victim) {
            // Its reader sees the end of the stream, puts what it has, and exits.
            let _ = p.stream.shutdown(std::net::Shutdown::Both);
        }
    }
    let handle = stream.try_clone().ok()?;
    let last = Arc::new(AtomicU64::new(now));
    let id = t.next;
    t.next += 1;
    t.peers.insert(id, Peer { last: last.clone(), stream: handle });
    Some((id, last))
}

/// Where a connection's reader records that bytes came.
struct Activity<'a> {
    table: &'a Mutex<Table>,
    last: &'a AtomicU64,
}

impl Activity<'_> {
    fn now_ms(&self) -> u64 {
        self.table.lock().unwrap_or_else(|p| p.into_inner()).now_ms()
    }
    fn touch(&self) {
        self.last.store(self.now_ms(), Ordering::SeqCst);
    }
    fn idle_for(&self) -> Duration {
        Duration::from_millis(self.now_ms().saturating_sub(self.last.load(Ordering::SeqCst)))
    }
}

fn read_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    ctx: &SourceContext,
    spec: StreamSpec,
    to_event: &ToEvent,
    activity: &Activity<'_>,
) {
    log::debug!("source {}: connection from {peer}", ctx.name);
    let metrics = ctx.output.metrics().clone();
    let mut framer = Framer::new(spec.framing, spec.max_message);
    let mut buf = vec![0u8; 64 << 10];
    let mut batch: Vec<Event> = Vec::new();
    let mut deadline: Option<Instant> = None;
    loop {
        let wait = deadline.map_or(IDLE_WAKE, |d| d.saturating_duration_since(Instant::now()));
        let _ = stream.set_read_timeout(Some(wait.max(Duration::from_millis(1))));
        let open = match stream.read(&mut buf) {
            Ok(0) => false,
            Ok(n) => {
                activity.touch();
                framer.push(&buf[..n]);
                while let Some(frame) = framer.next_frame() {
                    batch.push(to_event(frame, &metrics, peer));
                    deadline.get_or_insert_with(|| Instant::now() + spec.batch_timeout);
                    if batch.len() >= spec.batch_size {
                        deliver_until_accepted(ctx, &mut batch);
                        deadline = None;
                    }
                }
                true
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {
                let idle = activity.idle_for() >= spec.idle_timeout;
                if idle {
                    log::debug!("source {}: {peer}: idle for {} s, closing", ctx.name, spec.idle_timeout.as_secs());
                }
                !idle
            }
            Err(e) => {
                log::debug!("source {}: {peer}: {e}", ctx.name);
                false
            }
        };
        if !open {
            batch.extend(framer.finish().map(|frame| to_event(frame, &metrics, peer)));
        }
        if deadline.is_some_and(|d| Instant::now() >= d) || !open || ctx.stop.is_stopped() {
            deliver_until_accepted(ctx, &mut batch);
            deadline = None;
        }
        if !open || ctx.stop.is_stopped() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_idle_goes_if_idle_a_moment() {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        assert_eq!(most_idle([(1, s(5)), (2, s(90)), (3, ms(10))].into_iter()), Some(2));
        assert_eq!(most_idle([(1, ms(999)), (2, ms(10))].into_iter()), None, "all at work");
        assert_eq!(most_idle([(7, s(3)), (4, s(3))].into_iter()), Some(4), "ties: the oldest connection");
        assert_eq!(most_idle(std::iter::empty()), None);
    }
}
