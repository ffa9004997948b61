//! The `syslog` source: RFC 3164 and RFC 5424 messages over UDP (one datagram,
//! one message) or TCP (RFC 6587 framing: octet counting or newlines, frame by
//! frame). Headers follow Flume's syslog sources (see [`parse`]).
//!
//! UDP cannot push back: the source reads into a large socket buffer
//! (`receive_buffer`) and counts what the kernel dropped when it was full
//! (`/proc/net/udp`), so a loss at the socket is a number, not a mystery.

pub mod keep;
pub mod parse;
pub mod time;

use self::keep::KeepFields;
use self::parse::Charset;
use super::framing::{Frame, Framing};
use super::listen::{self, StreamSpec, ToEvent};
use super::tcp::{bind, check_connections, parse_listen};
use super::{deliver_until_accepted, Source, SourceContext};
use crate::config::ComponentConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::event::Event;
use crate::metrics::SourceMetrics;
use crate::registry::SourceSettings;
use crate::units::{ByteSize, Span};
use serde::Deserialize;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

crate::settings! {
    /// `[sources.NAME]` keys of `type = "syslog"`.
    pub struct SyslogConfig {
        protocol: Protocol = Protocol::Udp, "The transport: datagrams, or a stream with RFC 6587 framing.";
        listen: String = "127.0.0.1:5514".into(), "Address to bind (loopback unless told otherwise).";
        max_message_size: ByteSize = ByteSize(8 << 10),
            "Longest message kept; longer ones are cut, marked `Incomplete` and counted.";
        receive_buffer: ByteSize = ByteSize(4 << 20),
            "UDP socket receive buffer asked of the kernel (capped by `net.core.rmem_max`).";
        batch_size: usize = 1000, "Most messages per put.";
        batch_timeout: Span = Span(Duration::from_millis(20)), "Longest wait to fill a batch.";
        max_connections: usize = 64,
            "TCP connections served at once; at the limit the longest idle one is closed for a new sender.";
        idle_timeout: Span = Span(listen::DEFAULT_IDLE_TIMEOUT), "A TCP connection that sends nothing this long is closed.";
        charset: Charset = Charset::Utf8,
            "Character set of the messages; bytes not valid in it make the message Invalid, kept raw.";
        keep_fields: KeepFields = KeepFields::default(),
            "Header fields kept in the body: `true` (the whole message), `false` (what follows the host), or some of `\"priority version timestamp hostname\"`, as Flume's `keepFields`.";
    }
}

/// Largest `receive_buffer` asked for.
const MAX_RECEIVE_BUFFER: u64 = 1 << 30;

/// The transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// Datagrams.
    Udp,
    /// A stream with RFC 6587 framing.
    Tcp,
}

crate::key_choices!(Protocol);

enum Bound {
    Udp(UdpSocket),
    Tcp(TcpListener),
}

/// The running source.
pub struct SyslogSource {
    protocol: Protocol,
    addr: SocketAddr,
    bound: Option<Bound>,
    spec: StreamSpec,
    receive_buffer: usize,
    keep_fields: KeepFields,
    charset: Charset,
}

impl SourceSettings for SyslogConfig {
    fn check(&self, c: &ComponentConfig) -> Result<()> {
        parse_listen(c, &self.listen)?;
        check_connections(c, self.max_connections)?;
        if self.batch_size == 0 {
            return Err(c.error("batch_size", "must be at least 1"));
        }
        if !(64..=super::MAX_LINE_LENGTH).contains(&self.max_message_size.0) {
            let most = ByteSize(super::MAX_LINE_LENGTH);
            return Err(c.error("max_message_size", format!("must be from 64B to {most}")));
        }
        if self.receive_buffer.0 > MAX_RECEIVE_BUFFER {
            return Err(c.error("receive_buffer", format!("must be at most {}", ByteSize(MAX_RECEIVE_BUFFER))));
        }
        Ok(())
    }

    fn build(&self, c: &ComponentConfig) -> Result<Box<dyn Source>> {
        let spec = StreamSpec {
            framing: Framing::Syslog,
            max_message: self.max_message_size.0 as usize,
            batch_size: self.batch_size,
            batch_timeout: self.batch_timeout.0,
            max_connections: self.max_connections,
            idle_timeout: self.idle_timeout.0,
        };
        Ok(Box::new(SyslogSource {
            protocol: self.protocol,
            addr: parse_listen(c, &self.listen)?,
            bound: None,
            spec,
            receive_buffer: self.receive_buffer.0 as usize,
            keep_fields: self.keep_fields,
            charset: self.charset,
        }))
    }
}

/// How messages are read.
#[derive(Debug, Clone, Copy)]
struct Reading {
    keep_fields: KeepFields,
    charset: Charset,
}

/// One message (cut to the limit when `truncated`) into an event, counting what is wrong with it.
fn to_event(frame: Frame, read: Reading, metrics: &SourceMetrics) -> Event {
    let parsed = parse::parse_at(&frame.data, frame.truncated, read.charset, crate::event::now_ms());
    if parsed.invalid {
        metrics.malformed.add(1);
    }
    if frame.truncated {
        metrics.truncated.add(1);
    }
    let body = match parsed.body(&frame.data, read.keep_fields) {
        parse::Body::Part(range) => {
            let mut body = frame.data;
            body.truncate(range.end);
            body.drain(..range.start.min(body.len()));
            body
        }
        parse::Body::Joined(body) => body,
    };
    let mut event = Event::new(body);
    // A new event has no headers yet: no search for duplicates needed.
    event.headers = parsed.headers.into_iter().map(|(name, value)| (name.to_string(), value)).collect();
    event
}

impl Source for SyslogSource {
    fn prepare(&mut self) -> Result<()> {
        self.bound = Some(match self.protocol {
            Protocol::Tcp => Bound::Tcp(bind("syslog", self.addr)?),
            Protocol::Udp => Bound::Udp(bind_udp(self.addr, self.receive_buffer)?),
        });
        Ok(())
    }

    fn run(mut self: Box<Self>, ctx: SourceContext) -> Result<()> {
        if self.bound.is_none() {
            self.prepare()?;
        }
        let read = Reading { keep_fields: self.keep_fields, charset: self.charset };
        match self.bound.take() {
            Some(Bound::Tcp(listener)) => {
                log::info!("source {}: syslog on tcp://{}", ctx.name, self.addr);
                let to: ToEvent = Arc::new(move |frame, metrics, _| to_event(frame, read, metrics));
                listen::serve(listener, ctx, self.spec, to)
            }
            Some(Bound::Udp(socket)) => {
                log::info!("source {}: syslog on udp://{}", ctx.name, self.addr);
                read_udp(&socket, &ctx, self.spec, read);
                Ok(())
            }
            None => Err(Error::new(ErrorKind::Io, "syslog source: not bound")),
        }
    }
}

fn bind_udp(addr: SocketAddr, receive_buffer: usize) -> Result<UdpSocket> {
    let socket = UdpSocket::bind(addr)
        .map_err(|e| Error::new(ErrorKind::Io, format!("syslog source: cannot listen on udp {addr}: {e}")))?;
    if let Err(e) = rustix::net::sockopt::set_socket_recv_buffer_size(&socket, receive_buffer) {
        log::warn!("syslog source: cannot set the receive buffer to {receive_buffer} bytes: {e}");
    }
    // Linux doubles the request for its bookkeeping and caps it at net.core.rmem_max.
    let got = rustix::net::sockopt::socket_recv_buffer_size(&socket).unwrap_or(0);
    if got < receive_buffer {
        log::warn!(
            "syslog source: receive buffer is {got} bytes, less than the {receive_buffer} asked for; \
             raise net.core.rmem_max to absorb longer bursts"
        );
    }
    Ok(socket)
}

/// Nothing but line ends: not a message.
fn is_blank(data: &[u8]) -> bool {
    data.iter().all(|b| matches!(b, b'\n' | b'\r' | b'\0'))
}

/// Datagrams handed from the receiving thread to the parsing one at a time.
const CHUNK: usize = 256;
/// ... or fewer, when they hold this many bytes.
const CHUNK_BYTES: usize = 64 << 10;
/// Chunks queued between the threads: absorbs a commit or WAL checkpoint stall of
/// ~0.3 s at 200,000 messages/s (64 were not enough: 2 % lost to the kernel),
/// and bounds the queue to ~18 MiB (256 × (64 KiB + one datagram)).
const QUEUE: usize = 256;

/// Datagrams received in a row, in one buffer (no allocation per datagram).
#[derive(Default)]
struct Chunk {
    /// The datagrams' bytes (each cut to the limit), back to back.
    data: Vec<u8>,
    /// Per datagram: where it starts in `data`, how much was kept, its real length.
    items: Vec<(usize, usize, usize)>,
}

impl Chunk {
    fn with_capacity() -> Chunk {
        Chunk { data: Vec::with_capacity(CHUNK * 128), items: Vec::with_capacity(CHUNK) }
    }
}

/// UDP cannot push back, so the socket is drained by a thread of its own that
/// does nothing else; parsing and the SQLite put happen on this thread. While a
/// put commits, the receiver keeps emptying the kernel buffer into a bounded
/// queue ([`QUEUE`] chunks), so a commit's latency does not turn into kernel drops.
fn read_udp(socket: &UdpSocket, ctx: &SourceContext, spec: StreamSpec, read: Reading) {
    let metrics = ctx.output.metrics().clone();
    let port = socket.local_addr().map(|a| a.port()).unwrap_or(0);
    let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(QUEUE);
    let receiver = match socket.try_clone() {
        Ok(s) => s,
        Err(e) => {
            log::error!("source {}: cannot share the socket: {e}", ctx.name);
            return;
        }
    };
    let (stop, max) = (ctx.stop.clone(), spec.max_message);
    let spawned = std::thread::Builder::new().name(format!("sluice-udp-{}", ctx.name)).spawn(move || {
        receive(&receiver, &tx, &stop, max, spec.batch_timeout);
    });
    if let Err(e) = spawned {
        log::error!("source {}: no receiving thread: {e}", ctx.name);
        return;
    }
    let mut drops = KernelDrops::new(port);
    let mut batch: Vec<Event> = Vec::new();
    let mut deadline: Option<Instant> = None;
    loop {
        let wait = deadline.map_or(Duration::from_secs(1), |d| d.saturating_duration_since(Instant::now()));
        let open = match rx.recv_timeout(wait) {
            Ok(chunk) => {
                for &(start, kept, real) in &chunk.items {
                    let data = chunk.data.get(start..start + kept).unwrap_or_default();
                    if is_blank(data) {
                        continue; // a bare newline is not a message (Flume skips it too)
                    }
                    let data = data.to_vec();
                    let frame = Frame { data, truncated: real > spec.max_message };
                    batch.push(to_event(frame, read, &metrics));
                }
                deadline.get_or_insert_with(|| Instant::now() + spec.batch_timeout);
                true
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => true,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => false,
        };
        if batch.len() >= spec.batch_size || deadline.is_some_and(|d| Instant::now() >= d) || !open {
            deliver_until_accepted(ctx, &mut batch);
            deadline = None;
        }
        drops.update(&metrics);
        if !open {
            break;
        }
    }
}

/// The receiving thread: datagrams (cut to `max`, with their real length) in chunks.
fn receive(
    socket: &UdpSocket,
    tx: &std::sync::mpsc::SyncSender<Chunk>,
    stop: &crate::stop::Stop,
    max: usize,
    flush_after: Duration,
) {
    // A datagram can be up to 64 KiB; anything past max_message is cut.
    let mut buf = vec![0u8; 65_536];
    let mut chunk = Chunk::with_capacity();
    // The timeout changes only when the chunk goes from empty to not (one syscall a chunk, not a datagram).
    let (idle, busy) = (Duration::from_secs(1), flush_after.max(Duration::from_millis(1)));
    let mut timeout = idle;
    let mut started = Instant::now();
    let _ = socket.set_read_timeout(Some(timeout));
    while !stop.is_stopped() {
        let want = if chunk.items.is_empty() { idle } else { busy };
        if want != timeout {
            timeout = want;
            let _ = socket.set_read_timeout(Some(timeout));
        }
        match socket.recv(&mut buf) {
            Ok(n) => {
                if chunk.items.is_empty() {
                    started = Instant::now();
                }
                let kept = n.min(max);
                chunk.items.push((chunk.data.len(), kept, n));
                chunk.data.extend_from_slice(&buf[..kept]);
                // A trickle never times out the read: hand over by age too.
                if chunk.items.len() < CHUNK && chunk.data.len() < CHUNK_BYTES && started.elapsed() < busy {
                    continue;
                }
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                log::warn!("syslog source: udp receive: {e}");
                stop.sleep(Duration::from_millis(100));
            }
        }
        if !chunk.items.is_empty() && tx.send(std::mem::replace(&mut chunk, Chunk::with_capacity())).is_err() {
            return;
        }
    }
    let _ = tx.send(chunk);
}

/// The kernel's drop counter of our UDP socket, from `/proc/net/udp` and `udp6`.
struct KernelDrops {
    port_hex: String,
    seen: u64,
    checked: Option<Instant>,
}

impl KernelDrops {
    fn new(port: u16) -> KernelDrops {
        KernelDrops { port_hex: format!(":{port:04X}"), seen: 0, checked: None }
    }

    /// Adds new kernel drops to the source's counter, at most once a second.
    fn update(&mut self, metrics: &SourceMetrics) {
        if self.checked.is_some_and(|at| at.elapsed() < Duration::from_secs(1)) {
            return;
        }
        self.checked = Some(Instant::now());
        let total: u64 = ["/proc/net/udp", "/proc/net/udp6"]
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .map(|table| drops_of(&table, &self.port_hex))
            .sum();
        if total > self.seen {
            metrics.dropped_by_kernel.add(total - self.seen);
            log::warn!("syslog source: the kernel dropped {} datagrams (socket buffer full)", total - self.seen);
            self.seen = total;
        }
    }
}

/// The `drops` column of the sockets bound to `port_hex` (`:14B2`) in a `/proc/net/udp` table.
fn drops_of(table: &str, port_hex: &str) -> u64 {
    table
        .lines()
        .skip(1)
        .filter(|line| line.split_whitespace().nth(1).is_some_and(|local| local.ends_with(port_hex)))
        .filter_map(|line| line.split_whitespace().last()?.parse::<u64>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_drops_are_read_for_our_port_only() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
          1: 0100007F:158A 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 1 2 0000000000000000 17\n\
          2: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 1 2 0000000000000000 5\n";
        assert_eq!(drops_of(table, ":158A"), 17);
        assert_eq!(drops_of(table, ":1234"), 0);
    }
}
