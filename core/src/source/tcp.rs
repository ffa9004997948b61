//! The `tcp` source: netcat-style, one event per line from any number of
//! connections. No replies are sent; back pressure is the TCP window.

use super::framing::Framing;
use super::listen::{self, StreamSpec, ToEvent};
use super::{Source, SourceContext};
use crate::config::ComponentConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::event::Event;
use crate::registry::SourceSettings;
use crate::units::{ByteSize, Span};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

crate::settings! {
    /// `[sources.NAME]` keys of `type = "tcp"`.
    pub struct TcpSourceConfig {
        listen: String = "127.0.0.1:5141".into(), "Address to bind (loopback unless told otherwise).";
        max_line_length: ByteSize = ByteSize(64 << 10), "Longest line kept; longer lines are cut and counted.";
        batch_size: usize = 1000, "Most lines per put.";
        batch_timeout: Span = Span(Duration::from_millis(50)), "Longest wait to fill a batch.";
        max_connections: usize = 64,
            "Connections served at once; at the limit the longest idle one is closed for a new sender.";
        idle_timeout: Span = Span(listen::DEFAULT_IDLE_TIMEOUT), "A connection that sends nothing this long is closed.";
        peer_header: Option<String> = None, "Add the sender's address as this header.";
    }
}

/// The running source.
pub struct TcpSource {
    addr: SocketAddr,
    listener: Option<TcpListener>,
    spec: StreamSpec,
    peer_header: Option<String>,
}

/// Parses `listen`, naming the key on error.
pub(crate) fn parse_listen(c: &ComponentConfig, text: &str) -> Result<SocketAddr> {
    text.parse().map_err(|_| c.error("listen", format!("{text:?} is not an address like \"0.0.0.0:5141\"")))
}

/// Refuses a connection limit of 0.
pub(crate) fn check_connections(c: &ComponentConfig, max_connections: usize) -> Result<()> {
    if max_connections == 0 {
        return Err(c.error("max_connections", "must be at least 1"));
    }
    Ok(())
}

impl SourceSettings for TcpSourceConfig {
    fn check(&self, c: &ComponentConfig) -> Result<()> {
        parse_listen(c, &self.listen)?;
        check_connections(c, self.max_connections)?;
        super::check_batching(c, self.batch_size, self.max_line_length)
    }

    fn build(&self, c: &ComponentConfig) -> Result<Box<dyn Source>> {
        let spec = StreamSpec {
            framing: Framing::Lines,
            max_message: self.max_line_length.0 as usize,
            batch_size: self.batch_size,
            batch_timeout: self.batch_timeout.0,
            max_connections: self.max_connections,
            idle_timeout: self.idle_timeout.0,
        };
        let addr = parse_listen(c, &self.listen)?;
        Ok(Box::new(TcpSource { addr, listener: None, spec, peer_header: self.peer_header.clone() }))
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
