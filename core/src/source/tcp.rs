//! The `tcp` source: netcat-style, one event per line from any number of
//! connections. No replies are sent; back pressure is the TCP window.

use super::framing::Framing;
use super::listen::{self, StreamSpec, ToEvent};
use super::{Source, SourceContext};
use crate::config::ComponentConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::event::Event;
use crate::units::{ByteSize, Span};
use serde::Deserialize;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

/// `[sources.NAME]` keys of `type = "tcp"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpSourceConfig {
    /// Address to bind (default `127.0.0.1:5141`).
    pub listen: Option<String>,
    /// Longest line kept; longer lines are cut and counted (default 64KiB).
    pub max_line_length: Option<ByteSize>,
    /// Most lines per put (default 1000).
    pub batch_size: Option<usize>,
    /// Longest wait to fill a batch (default 50ms).
    pub batch_timeout: Option<Span>,
    /// Connections served at once (default 64); at the limit the longest idle one is closed for a new sender.
    pub max_connections: Option<usize>,
    /// A connection that sends nothing this long is closed (default 5m).
    pub idle_timeout: Option<Span>,
    /// Add the sender's address as this header (off by default).
    pub peer_header: Option<String>,
}

/// The running source.
pub struct TcpSource {
    addr: SocketAddr,
    listener: Option<TcpListener>,
    spec: StreamSpec,
    peer_header: Option<String>,
}

/// Parses `listen`, naming the key on error.
pub(crate) fn parse_listen(c: &ComponentConfig, text: Option<&str>, default: &str) -> Result<SocketAddr> {
    let text = text.unwrap_or(default);
    text.parse().map_err(|_| c.error("listen", format!("{text:?} is not an address like \"{default}\"")))
}

impl TcpSourceConfig {
    /// Checks the config and builds the source (nothing is bound yet).
    ///
    /// # Errors
    /// An address that does not parse.
    pub fn build(&self, c: &ComponentConfig) -> Result<TcpSource> {
        let spec = StreamSpec {
            framing: Framing::Lines,
            max_message: self.max_line_length.map_or(64 << 10, |b| b.0.clamp(1, 16 << 20) as usize),
            batch_size: self.batch_size.unwrap_or(1000).max(1),
            batch_timeout: self.batch_timeout.map_or(Duration::from_millis(50), |s| s.0),
            max_connections: self.max_connections.unwrap_or(64).max(1),
            idle_timeout: self.idle_timeout.map_or(super::listen::DEFAULT_IDLE_TIMEOUT, |s| s.0),
        };
        let addr = parse_listen(c, self.listen.as_deref(), "127.0.0.1:5141")?;
        Ok(TcpSource { addr, listener: None, spec, peer_header: self.peer_header.clone() })
    }
}

/// Connections the kernel queues for a listening socket before `accept` (capped
/// by `net.core.somaxconn`). The standard library's 128 overflowed under a
/// connection flood, and a client's SYN dropped there is retried after a whole
/// second.
const LISTEN_BACKLOG: i32 = 4096;

/// Binds `addr` for source `kind` with a deep accept queue, with an error that says where.
pub(crate) fn bind(kind: &str, addr: SocketAddr) -> Result<TcpListener> {
    let listener = TcpListener::bind(addr)
        .map_err(|e| Error::new(ErrorKind::Io, format!("{kind} source: cannot listen on {addr}: {e}")))?;
    // Listening again on a bound socket only changes its backlog.
    if let Err(e) = rustix::net::listen(&listener, LISTEN_BACKLOG) {
        log::debug!("{kind} source: backlog stays at the default: {e}");
    }
    Ok(listener)
}

impl Source for TcpSource {
    fn prepare(&mut self) -> Result<()> {
        self.listener = Some(bind("tcp", self.addr)?);
        Ok(())
    }

    fn run(mut self: Box<Self>, ctx: SourceContext) -> Result<()> {
        let listener = match self.listener.take() {
            Some(l) => l,
            None => bind("tcp", self.addr)?,
        };
        log::info!("source {}: listening on tcp://{}", ctx.name, self.addr);
        let header = self.peer_header.clone();
        let to_event: ToEvent = Arc::new(move |frame, metrics, peer| {
            if frame.truncated {
                metrics.truncated.add(1);
            }
            let event = Event::new(frame.data);
            match &header {
                Some(name) => event.with_header(name.clone(), peer.ip().to_string()),
                None => event,
            }
        });
        listen::serve(listener, ctx, self.spec, to_event)
    }
}
