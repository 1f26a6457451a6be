//! `--metrics-addr`: Prometheus metrics on `http://HOST:PORT/metrics`.
//!
//! Every scrape reads the datapath's counters and fill levels afresh (the
//! same data as `ebpfnet stats` and `ebpfnet status`) and writes them in
//! the OpenMetrics text format. Names are listed in docs/metrics.md.

use std::{net::SocketAddr, sync::Arc, thread};

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};
use thiserror::Error;
use tiny_http::{Header, Method, Response, Server};
use tokio::sync::Mutex;

use crate::{
    api::observe::{MappingStats, StatsView, StatusView},
    controller::Controller,
};

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, Error)]
pub enum MetricsError {
    #[error("cannot serve metrics on {addr}: {message}")]
    Bind { addr: SocketAddr, message: String },
    #[error("cannot start the metrics thread: {0}")]
    Thread(#[source] std::io::Error),
    #[error("cannot encode the metrics: {0}")]
    Encode(#[from] std::fmt::Error),
}

/// The bound listener; requests wait in its queue until [`Self::serve`].
pub struct MetricsListener {
    server: Arc<Server>,
}

/// Stops answering when dropped.
pub struct MetricsServer {
    server: Arc<Server>,
}

impl MetricsListener {
    /// Binds `addr` now, so a port in use stops the daemon before it makes
    /// anything.
    pub fn bind(addr: SocketAddr) -> Result<Self, MetricsError> {
        let server = Server::http(addr).map_err(|e| MetricsError::Bind {
            addr,
            message: e.to_string(),
        })?;
        Ok(Self {
            server: Arc::new(server),
        })
    }

    /// Answers scrapes on a thread of its own (it waits for the
    /// controller's lock, which a tokio worker must not do).
    pub fn serve(self, controller: Arc<Mutex<Controller>>) -> Result<MetricsServer, MetricsError> {
        let server = Arc::clone(&self.server);
        thread::Builder::new()
            .name("metrics".into())
            .spawn(move || {
                for request in server.incoming_requests() {
                    let response = answer(request.method(), request.url(), &controller);
                    if let Err(e) = request.respond(response) {
                        log::debug!("metrics: cannot answer a scrape: {e}");
                    }
                }
            })
            .map_err(MetricsError::Thread)?;
        Ok(MetricsServer {
            server: self.server,
        })
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Route {
    Metrics,
    NotFound,
    NotAllowed,
}

fn route(method: &Method, url: &str) -> Route {
    let path = url.split('?').next().unwrap_or_default();
    if path != "/metrics" {
        Route::NotFound
    } else if !matches!(method, Method::Get | Method::Head) {
        Route::NotAllowed
    } else {
        Route::Metrics
    }
}

fn answer(
    method: &Method,
    url: &str,
    controller: &Mutex<Controller>,
) -> Response<std::io::Cursor<Vec<u8>>> {
    match route(method, url) {
        Route::Metrics => {}
        Route::NotFound => {
            return Response::from_string("not found; metrics are at /metrics\n")
                .with_status_code(404);
        }
        Route::NotAllowed => return Response::from_string("only GET\n").with_status_code(405),
    }
    let rendered = {
        let controller = controller.blocking_lock();
        match (controller.stats(), controller.status()) {
            (Ok(stats), Ok(status)) => render(&stats, &status).map_err(|e| e.to_string()),
            (Err(e), _) | (_, Err(e)) => Err(e.to_string()),
        }
    };
    match rendered {
        Ok(text) => {
            let mut response = Response::from_string(text);
            if let Ok(header) = Header::from_bytes("Content-Type", CONTENT_TYPE) {
                response.add_header(header);
            }
            response
        }
        Err(e) => {
            log::warn!("metrics: cannot read the datapath: {e}");
            Response::from_string(format!("cannot read the datapath: {e}\n")).with_status_code(500)
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProgramLabels {
    program: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PublishedLabels {
    host_ip: String,
    host_port: u16,
    protocol: String,
    container: String,
    container_port: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DropLabels {
    reason: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MapLabels {
    map: String,
}

/// Registers a family and returns it, to be filled.
fn family<L, M>(registry: &mut Registry, name: &str, help: &str) -> Family<L, M>
where
    L: EncodeLabelSet + Clone + std::hash::Hash + Eq + std::fmt::Debug + Send + Sync + 'static,
    M: prometheus_client::metrics::TypedMetric
        + prometheus_client::encoding::EncodeMetric
        + Default
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let family = Family::<L, M>::default();
    registry.register(name, help, family.clone());
    family
}

fn gauge_value(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

/// Reads one counter of a published mapping.
type MappingCounter = fn(&MappingStats) -> u64;

/// The OpenMetrics text of one scrape.
pub fn render(stats: &StatsView, status: &StatusView) -> Result<String, MetricsError> {
    let mut registry = Registry::with_prefix("ebpfnet");

    let packets: Family<ProgramLabels, Counter> = family(
        &mut registry,
        "program_packets",
        "Packets seen by each eBPF program",
    );
    let bytes: Family<ProgramLabels, Counter> = family(
        &mut registry,
        "program_bytes",
        "Bytes seen by each eBPF program",
    );
    for p in &stats.programs {
        let labels = ProgramLabels {
            program: p.program.clone(),
        };
        packets.get_or_create(&labels).inc_by(p.packets);
        bytes.get_or_create(&labels).inc_by(p.bytes);
    }

    let published: [(&str, &str, MappingCounter); 3] = [
        (
            "published_packets",
            "Packets that came in through a published port",
            |m| m.packets,
        ),
        (
            "published_bytes",
            "Bytes that came in through a published port",
            |m| m.bytes,
        ),
        (
            "published_flows",
            "Flows opened through a published port",
            |m| m.flows,
        ),
    ];
    for (name, help, value) in published {
        let counters: Family<PublishedLabels, Counter> = family(&mut registry, name, help);
        for m in &stats.mappings {
            let labels = PublishedLabels {
                host_ip: m.host_ip.to_string(),
                host_port: m.host_port,
                protocol: m.protocol.clone(),
                container: m.container.clone(),
                container_port: m.container_port,
            };
            counters.get_or_create(&labels).inc_by(value(m));
        }
    }

    let drops: Family<DropLabels, Counter> = family(
        &mut registry,
        "drops",
        "Packets dropped by the datapath, by reason",
    );
    for d in &stats.drops {
        let labels = DropLabels {
            reason: d.reason.clone(),
        };
        drops.get_or_create(&labels).inc_by(d.count);
    }

    let entries: Family<MapLabels, Gauge> =
        family(&mut registry, "map_entries", "Entries an eBPF map holds");
    let max_entries: Family<MapLabels, Gauge> = family(
        &mut registry,
        "map_max_entries",
        "Entries an eBPF map can hold",
    );
    for m in &status.maps {
        let labels = MapLabels {
            map: m.name.clone(),
        };
        entries.get_or_create(&labels).set(gauge_value(m.entries));
        max_entries
            .get_or_create(&labels)
            .set(gauge_value(m.max_entries));
    }

    let networks = Gauge::<i64>::default();
    networks.set(gauge_value(status.networks));
    registry.register("networks", "Networks the daemon manages", networks);
    let containers = Gauge::<i64>::default();
    containers.set(gauge_value(status.containers));
    registry.register("containers", "Containers the daemon manages", containers);

    let mut text = String::new();
    encode(&mut text, &registry)?;
    Ok(text)
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
