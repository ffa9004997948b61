//! Stream intake shared by the `tcp` and `syslog` (TCP) sources: an accept loop
//! and one thread per connection that frames, batches and puts.
//!
//! Back pressure is TCP's own: while the channel refuses a batch the connection
//! is not read, the kernel buffers fill, and the sender blocks.

use super::framing::{Frame, Framer, Framing};
use super::{deliver_until_accepted, SourceContext};
use crate::error::Result;
use crate::event::Event;
use crate::metrics::SourceMetrics;
use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
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
    /// Connections served at once; more are closed on arrival.
    pub max_connections: usize,
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
    let open = Arc::new(AtomicUsize::new(0));
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
        if open.load(Ordering::SeqCst) >= spec.max_connections {
            log::warn!("source {}: refusing {peer}: {} connections already open", ctx.name, spec.max_connections);
            continue;
        }
        open.fetch_add(1, Ordering::SeqCst);
        let (conn_ctx, conn_open, to_event) = (ctx.clone(), open.clone(), to_event.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("sluice-conn-{}", ctx.name))
            .stack_size(256 << 10)
            .spawn(move || {
                read_connection(stream, peer, &conn_ctx, spec, &to_event);
                conn_open.fetch_sub(1, Ordering::SeqCst);
            });
        if let Err(e) = spawned {
            open.fetch_sub(1, Ordering::SeqCst);
            log::warn!("source {}: no thread for {peer}: {e}", ctx.name);
        }
    }
    Ok(())
}

fn read_connection(mut stream: TcpStream, peer: SocketAddr, ctx: &SourceContext, spec: StreamSpec, to_event: &ToEvent) {
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
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => true,
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
