//! `/metrics` (Prometheus text), `/metrics.json` (Flume's layout) on `agent.metrics_listen`.

use super::{render_json, render_prometheus, Registry};
use crate::error::{Error, ErrorKind, Result};
use crate::http_server::{serve, Limits, Request, Response};
use crate::stop::Stop;
use std::net::SocketAddr;
use std::sync::Arc;

/// Binds `addr` and serves metrics until `stop`.
///
/// # Errors
/// The address cannot be bound.
pub fn start(
    addr: SocketAddr,
    registry: Arc<Registry>,
    executor: Arc<smol::Executor<'static>>,
    stop: Arc<Stop>,
) -> Result<()> {
    let listener = std::net::TcpListener::bind(addr)
        .map_err(|e| Error::new(ErrorKind::Io, format!("metrics: cannot listen on {addr}: {e}")))?;
    listener.set_nonblocking(true)?;
    let listener = smol::net::TcpListener::try_from(listener)?;
    let stop_rx = stop.closed_signal()?;
    std::thread::Builder::new().name("sluice-metrics".into()).spawn(move || {
        let handler: crate::http_server::Handler = Arc::new(move |request: Request| {
            let registry = registry.clone();
            Box::pin(async move { respond(&registry, &request) })
        });
        let limits = Limits { max_body: 0, ..Limits::default() };
        smol::block_on(serve(executor, listener, limits, handler, stop_rx));
    })?;
    log::info!("metrics on http://{addr}/metrics and /metrics.json");
    Ok(())
}

fn respond(registry: &Registry, request: &Request) -> Response {
    match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/metrics") => Response::new(200, "text/plain; version=0.0.4", render_prometheus(registry)),
        ("GET", "/metrics.json") => Response::new(200, "application/json", render_json(registry)),
        ("GET", _) => Response::text(404, "try /metrics or /metrics.json\n"),
        _ => Response::text(405, "only GET\n"),
    }
}
