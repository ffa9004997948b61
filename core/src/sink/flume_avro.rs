//! The `flume_avro` sink: Flume's Avro RPC, so a Sluice edge can stand in
//! front of existing Flume aggregators (their `AvroSource`).
//!
//! Each batch is one `appendBatch` call on one reused connection, like Flume's
//! own Avro sink: the first call on a connection carries the Avro handshake
//! (our protocol text, so the server never needs a second round trip), later
//! ones do not. `Status.FAILED`, an Avro error, a broken stream or a timeout
//! are all retryable; the connection is dropped whenever the stream may be out
//! of step, and rebuilt on the next batch.

pub mod codec;
pub mod framing;
#[cfg(feature = "tls")]
mod tls;

use super::{Batch, Outcome, Sink};
use crate::config::keys::Required;
use crate::config::ComponentConfig;
use crate::error::Result;
use crate::registry::{Host, SinkSettings};
use crate::units::Span;
use codec::{Answer, Match};
use framing::Stream;
use serde::Deserialize;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

crate::settings! {
    /// `[sinks.NAME]` keys of `type = "flume_avro"`.
    pub struct FlumeAvroConfig {
        address: Required<String> = Required::default(), "`host:port` of the Flume `AvroSource`.";
        compression: AvroCompression = AvroCompression::None, "Must match the source's `compression-type`.";
        compression_level: u32 = 6, "zlib level 0–9 (as Flume).";
        connect_timeout: Span = Span(Duration::from_secs(20)), "Connect timeout (as Flume).";
        request_timeout: Span = Span(Duration::from_secs(20)), "Time for one call, write to answer (as Flume).";
        tls: Option<TlsOptions> = None,
            "Flume's `ssl = true`; present means on: `ca_file`, `verify` (default true), `server_name`.";
        id_header: String = "id".into(), "Header that carries the event id (empty: none).";
        reset_connection_interval: Option<Span> = None,
            "Reconnect after this long (Flume's `reset-connection-interval`), for upstreams behind a load balancer.";
    }
}

/// Stream compression.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AvroCompression {
    /// Plain frames.
    #[default]
    None,
    /// One zlib stream each way, sync-flushed per message.
    Deflate,
}

crate::key_choices!(AvroCompression);
crate::key_table!(TlsOptions);

/// `tls = { ca_file = "…", verify = true, server_name = "…" }`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsOptions {
    /// PEM file of CA certificates to trust instead of the platform's.
    pub ca_file: Option<std::path::PathBuf>,
    /// Verify the certificate (default true). Off is logged loudly.
    pub verify: Option<bool>,
    /// Name to verify the certificate against (default: the address's host).
    pub server_name: Option<String>,
}

/// The `flume_avro` sink.
pub struct FlumeAvroSink {
    address: String,
    deflate: Option<u32>,
    connect_timeout: Duration,
    request_timeout: Duration,
    #[cfg(feature = "tls")]
    tls: Option<tls::Tls>,
    id_header: String,
    reset_after: Option<Duration>,
    /// The server's protocol hash, once it told us; our guess until then.
    server_hash: [u8; 16],
    connection: Option<Connection>,
    header: Vec<u8>,
    payload: Vec<u8>,
}

impl FlumeAvroConfig {
    /// Checks the config and makes the sink (no connection is made).
    ///
    /// # Errors
    /// An address without a port, a level above 9, TLS options this build cannot honour.
    pub fn sink(&self, c: &ComponentConfig) -> Result<FlumeAvroSink> {
        let address = self.address.get().map_err(|m| c.error("address", m))?;
        let (host, port) =
            address.rsplit_once(':').ok_or_else(|| c.error("address", format!("{address:?} is not host:port")))?;
        if host.is_empty() || port.parse::<u16>().is_err() {
            return Err(c.error("address", format!("{address:?} is not host:port")));
        }
        if self.compression_level > 9 {
            return Err(c.error("compression_level", "zlib levels are 0 to 9"));
        }
        #[cfg(feature = "tls")]
        let tls = match &self.tls {
            Some(options) => Some(tls::Tls::new(options, host.trim_start_matches('[').trim_end_matches(']'), c)?),
            None => None,
        };
        #[cfg(not(feature = "tls"))]
        if self.tls.is_some() {
            return Err(c.error("tls", "this build has no TLS support (feature `tls`)"));
        }
        Ok(FlumeAvroSink {
            address: address.clone(),
            deflate: (self.compression == AvroCompression::Deflate).then_some(self.compression_level),
            connect_timeout: self.connect_timeout.0,
            request_timeout: self.request_timeout.0,
            #[cfg(feature = "tls")]
            tls,
            id_header: self.id_header.clone(),
            reset_after: self.reset_connection_interval.map(|s| s.0),
            server_hash: codec::FLUME_MD5_GUESS,
            connection: None,
            header: Vec::new(),
            payload: Vec::new(),
        })
    }
}

impl SinkSettings for FlumeAvroConfig {
    fn check(&self, c: &ComponentConfig, _: &Host) -> Result<()> {
        self.sink(c).map(drop)
    }

    fn build(&self, c: &ComponentConfig, _: &Host) -> Result<Box<dyn Sink>> {
        Ok(Box::new(self.sink(c)?))
    }
}

/// One connection and where it is in the protocol.
struct Connection {
    stream: Box<dyn Stream>,
    deadline: Deadline,
    serial: i32,
    handshaken: bool,
    opened: Instant,
}

impl FlumeAvroSink {
    fn connect(&self) -> io::Result<Connection> {
        let addrs: Vec<SocketAddr> = self.address.to_socket_addrs()?.collect();
        let mut last = io::Error::new(io::ErrorKind::NotFound, "the address resolved to nothing");
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, self.connect_timeout).and_then(refuse_self_connection) {
                Ok(tcp) => return self.wrap(tcp),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn wrap(&self, tcp: TcpStream) -> io::Result<Connection> {
        tcp.set_nodelay(true)?;
        let deadline = Deadline(Arc::new(Mutex::new(Instant::now() + self.request_timeout)));
        let timed = TimedTcp { tcp, deadline: deadline.clone() };
        let stream: Box<dyn Stream> = match self.deflate {
            Some(level) => {
                let reader = TimedTcp { tcp: timed.tcp.try_clone()?, deadline: deadline.clone() };
                Box::new(framing::Zlib::new(reader, timed, level))
            }
            None => Box::new(timed),
        };
        #[cfg(feature = "tls")]
        let stream = match &self.tls {
            Some(tls) => tls.wrap(stream)?,
            None => stream,
        };
        Ok(Connection { stream, deadline, serial: 0, handshaken: false, opened: Instant::now() })
    }

    /// One `appendBatch` round trip on `conn`. An `Err` means the stream can
    /// no longer be trusted; an `Ok` outcome leaves the connection usable.
    fn call(&mut self, conn: &mut Connection, batch: &Batch<'_>) -> io::Result<Outcome> {
        self.header.clear();
        codec::write_request_header(&mut self.header, (!conn.handshaken).then_some(&self.server_hash));
        self.payload.clear();
        codec::write_events(&mut self.payload, batch.events, &self.id_header);
        conn.serial = conn.serial.wrapping_add(1);
        conn.deadline.set(Instant::now() + self.request_timeout);
        framing::write_pack(&mut conn.stream, conn.serial, &[&self.header, &self.payload])?;
        let (serial, reply) = framing::read_pack(&mut conn.stream)?;
        if serial != conn.serial {
            return Err(invalid(format!("reply to call {serial}, expected {}", conn.serial)));
        }
        let reply = codec::decode_reply(&reply, !conn.handshaken).map_err(|e| invalid(e.to_string()))?;
        if let Some((matched, hash)) = reply.handshake {
            match matched {
                Match::Both => {}
                Match::Client => {
                    if let Some(hash) = hash {
                        self.server_hash = hash;
                    }
                }
                Match::None => return Err(invalid("the server did not accept our protocol (handshake NONE)".into())),
            }
            conn.handshaken = true;
        }
        Ok(match reply.answer {
            Some(Answer::Ok) => Outcome::Delivered,
            Some(Answer::Status(status)) => {
                Outcome::Retry { after: None, reason: format!("{}: appendBatch returned {status}", self.address) }
            }
            Some(Answer::Error(message)) => Outcome::Retry {
                after: None,
                reason: format!("{}: Avro error: {}", self.address, super::snippet(&message)),
            },
            None => return Err(invalid("reply without an answer".into())),
        })
    }
}

impl Sink for FlumeAvroSink {
    fn ship(&mut self, batch: &Batch<'_>) -> Outcome {
        let stale = |c: &Connection| self.reset_after.is_some_and(|after| c.opened.elapsed() >= after);
        let reuse = self.connection.take().filter(|c| !stale(c));
        let mut conn = match reuse.map_or_else(|| self.connect(), Ok) {
            Ok(conn) => conn,
            Err(e) => return Outcome::Retry { after: None, reason: format!("{}: connect: {e}", self.address) },
        };
        match self.call(&mut conn, batch) {
            Ok(outcome) => {
                self.connection = Some(conn);
                outcome
            }
            Err(e) => Outcome::Retry { after: None, reason: format!("{}: {e}", self.address) },
        }
    }
}

/// Refuses a connection to itself. With nothing listening on a loopback port
/// inside the ephemeral range, the kernel can pick that same port as the local
/// one, and the SYN meets itself: the "upstream" then echoes our own requests,
/// and holds the port so the real upstream cannot restart on it. Go's dialer
/// refuses these the same way.
fn refuse_self_connection(tcp: TcpStream) -> io::Result<TcpStream> {
    if tcp.local_addr()? == tcp.peer_addr()? {
        return Err(io::Error::new(io::ErrorKind::ConnectionRefused, "connected to itself: nothing listens there"));
    }
    Ok(tcp)
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// When the current call must be over, shared by a connection's handles.
#[derive(Clone)]
struct Deadline(Arc<Mutex<Instant>>);

impl Deadline {
    fn set(&self, at: Instant) {
        if let Ok(mut d) = self.0.lock() {
            *d = at;
        }
    }

    /// Time left, or `TimedOut` when none is.
    fn left(&self) -> io::Result<Duration> {
        let at = self.0.lock().map(|d| *d).unwrap_or_else(|_| Instant::now());
        match at.checked_duration_since(Instant::now()) {
            Some(left) if !left.is_zero() => Ok(left),
            _ => Err(io::Error::new(io::ErrorKind::TimedOut, "request timeout")),
        }
    }
}

/// A socket whose every read and write ends by the call's deadline: an
/// upstream that drips one byte at a time cannot hold a batch forever.
struct TimedTcp {
    tcp: TcpStream,
    deadline: Deadline,
}

impl Read for TimedTcp {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tcp.set_read_timeout(Some(self.deadline.left()?))?;
        self.tcp.read(buf)
    }
}

impl Write for TimedTcp {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tcp.set_write_timeout(Some(self.deadline.left()?))?;
        self.tcp.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::net::{AddressFamily, SocketType};
    use std::net::{Ipv4Addr, SocketAddrV4};

    #[test]
    fn a_connection_to_itself_is_refused_and_a_real_one_is_not() -> io::Result<()> {
        // Made on purpose: bind a socket, then connect it to its own address.
        let fd = rustix::net::socket(AddressFamily::INET, SocketType::STREAM, None)?;
        rustix::net::bind(&fd, &SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))?;
        let own = SocketAddrV4::try_from(rustix::net::getsockname(&fd)?).map_err(|_| io::ErrorKind::InvalidData)?;
        rustix::net::connect(&fd, &own)?;
        let looped = TcpStream::from(fd);
        let refused = refuse_self_connection(looped).err().map(|e| e.kind());
        assert_eq!(refused, Some(io::ErrorKind::ConnectionRefused));

        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let real = TcpStream::connect(listener.local_addr()?)?;
        assert!(refuse_self_connection(real).is_ok());
        Ok(())
    }
}
