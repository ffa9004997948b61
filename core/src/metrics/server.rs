//! On `agent.metrics_listen`: `/metrics` (Prometheus text), `/metrics.json`
//! (Flume's layout), `/topology.json`, and `/`, a self-contained status page
//! (no external assets) that polls `/metrics.json` and draws live rates.

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
    // One sample a second for the status page's chart; only when metrics are served.
    let (sampled, sampler_stop) = (registry.clone(), stop.clone());
    std::thread::Builder::new().name("sluice-history".into()).spawn(move || {
        sampled.sample(crate::event::now_ms());
        while !sampler_stop.sleep(std::time::Duration::from_secs(1)) {
            sampled.sample(crate::event::now_ms());
        }
    })?;
    std::thread::Builder::new().name("sluice-metrics".into()).spawn(move || {
        let handler: crate::http_server::Handler = Arc::new(move |request: Request| {
            let registry = registry.clone();
            Box::pin(async move { respond(&registry, &request) })
        });
        let limits = Limits { max_body: 0, ..Limits::default() };
        smol::block_on(serve(executor, listener, limits, handler, stop_rx));
    })?;
    log::info!("status page on http://{addr}/ (metrics: /metrics, /metrics.json)");
    Ok(())
}

/// The status page, inlined in the binary (a few KiB).
const STATUS_PAGE: &str = include_str!("status.html");

fn respond(registry: &Registry, request: &Request) -> Response {
    match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/") => Response::new(200, "text/html; charset=utf-8", STATUS_PAGE.to_string()),
        ("GET", "/topology.json") => Response::new(200, "application/json", registry.topology()),
        ("GET", "/metrics") => Response::new(200, "text/plain; version=0.0.4", render_prometheus(registry)),
        ("GET", "/metrics.json") => Response::new(200, "application/json", render_json(registry)),
        ("GET", "/history.json") => Response::new(200, "application/json", registry.history.to_json()),
        ("GET", _) => Response::text(404, "try /, /metrics, /metrics.json, /history.json or /topology.json\n"),
        _ => Response::text(405, "only GET\n"),
    }
}
