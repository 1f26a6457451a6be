//! One CLI connection (the Unix socket, or a mutual-TLS one): read a
//! request line, answer with a response line.

use std::sync::Arc;

use serde_json::Value;
use tokio::{
    io::{
        AsyncBufReadExt as _, AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _,
        BufReader, WriteHalf,
    },
    sync::{Mutex, Notify},
};

use crate::{
    api::{
        BatchResult, Call, Outcome, Request, RequestEnvelope, RequestError, ResponseEnvelope,
        response::unversioned_refusal,
    },
    cluster::Cluster,
    controller::{Controller, ControllerError, predefined, views},
    lookup,
    remote::TlsListener,
};

/// Serves remote clients: each connection is served once its TLS
/// handshake proved the client holds a certificate the CA signed.
pub async fn serve_tls(
    listener: TlsListener,
    controller: Arc<Mutex<Controller>>,
    cluster: Option<Arc<Cluster>>,
    shutdown: Arc<Notify>,
) {
    loop {
        let (handshake, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                log::warn!("TCP accept failed: {e}");
                continue;
            }
        };
        let controller = Arc::clone(&controller);
        let cluster = cluster.clone();
        let shutdown = Arc::clone(&shutdown);
        tokio::spawn(async move {
            match handshake.run().await {
                Ok(stream) => serve(stream, controller, cluster, shutdown).await,
                Err(e) => log::warn!("refused a remote client at {peer}: {e}"),
            }
        });
    }
}

/// A longer line is refused rather than buffered. The largest a CLI sends
/// is publishing every port of an address for both protocols: 131,070
/// mappings of under 100 bytes of JSON each.
const MAX_REQUEST: u64 = 16 << 20;

pub async fn serve<S: AsyncRead + AsyncWrite>(
    stream: S,
    controller: Arc<Mutex<Controller>>,
    cluster: Option<Arc<Cluster>>,
    shutdown: Arc<Notify>,
) {
    let (read, write) = tokio::io::split(stream);
    let mut line = String::new();
    let outcome = match BufReader::new(read.take(MAX_REQUEST))
        .read_line(&mut line)
        .await
    {
        Err(e) => Outcome::Error(format!("cannot read request: {e}")),
        Ok(_) => match RequestEnvelope::decode(&line) {
            // A CLI from before versioning reads only its own answer shape.
            Err(e @ RequestError::Unversioned) => {
                return send(write, unversioned_refusal(&e.to_string())).await;
            }
            Err(e) => Outcome::Error(e.to_string()),
            Ok(RequestEnvelope { request, .. }) => {
                let is_reset = matches!(request, Request::Reset(_));
                let mut controller = controller.lock().await;
                let outcome = match super::cluster_requests::handle(
                    cluster.as_deref(),
                    &mut controller,
                    &request,
                )
                .await
                {
                    Some(outcome) => outcome,
                    None => handle(&mut controller, request).await,
                };
                if is_reset {
                    shutdown.notify_one();
                }
                outcome
            }
        },
    };
    send(write, ResponseEnvelope::new(outcome).encode()).await;
}

async fn send<S: AsyncWrite>(mut write: WriteHalf<S>, text: Result<String, serde_json::Error>) {
    let mut text = match text {
        Ok(text) => text,
        Err(e) => {
            log::warn!("cannot encode an answer: {e}");
            return;
        }
    };
    text.push('\n');
    if let Err(e) = write.write_all(text.as_bytes()).await {
        log::warn!("cannot answer a client: {e}");
        return;
    }
    // A TLS stream sends its close_notify only when shut down.
    let _ = write.shutdown().await;
}

/// The answer to `request`, encoded; its type is `C::Answer`, checked at
/// compile time, whatever JSON carries it.
pub(super) fn answer<C: Call>(
    _request: &C,
    answer: Result<C::Answer, ControllerError>,
) -> Outcome<Value> {
    match answer.map(serde_json::to_value) {
        Ok(Ok(value)) => Outcome::Ok(value),
        Ok(Err(e)) => Outcome::Error(format!("cannot encode the answer: {e}")),
        Err(e) => Outcome::Error(e.to_string()),
    }
}

async fn handle(c: &mut Controller, request: Request) -> Outcome<Value> {
    // Ids and unique id prefixes name what names do.
    let request = match lookup::resolve(c.state(), request) {
        Ok(request) => request,
        Err(e) => return Outcome::Error(e.to_string()),
    };
    match request {
        Request::NetworkCreate(r) => answer(&r, c.create_network_from(&r).await),
        Request::NetworkList(r) => {
            let state = c.state();
            let mut networks: Vec<_> = state
                .networks
                .values()
                .map(views::network_summary)
                .collect();
            networks.extend(predefined::summaries(state));
            answer(&r, Ok(networks))
        }
        Request::NetworkRemove(r) => {
            let mut result = BatchResult::default();
            for name in &r.names {
                let outcome = match lookup::network(c.state(), name) {
                    Ok(target) => c.remove_network(&target).await,
                    Err(e) => Err(ControllerError::Refused(e.to_string())),
                };
                result.record(name.clone(), outcome);
            }
            answer(&r, Ok(result))
        }
        Request::NetworkPrune(r) => answer(&r, Ok(c.prune_networks().await)),
        Request::NetworkInspect(r) => {
            let state = c.state();
            let views = inspect_each(&r.names, "network", |name| match state.networks.get(name) {
                Some(network) => Some(views::network_inspect(state, network)),
                None => predefined::inspect(state, name),
            });
            answer(&r, views)
        }
        Request::NetworkConnect(r) => {
            let outcome = match c.refuse_docker_container(&r.container, "docker network connect") {
                Ok(()) => {
                    c.connect6(&r.network, &r.container, (r.ip, r.ip6), &r.aliases)
                        .await
                }
                Err(e) => Err(e),
            };
            answer(&r, outcome)
        }
        Request::NetworkDisconnect(r) => {
            let outcome = match c.refuse_docker_container(&r.container, "docker network disconnect")
            {
                Ok(()) => c.disconnect(&r.network, &r.container).await,
                Err(e) => Err(e),
            };
            answer(&r, outcome)
        }
        Request::ContainerCreate(r) => answer(&r, c.create_container(&r.name, &r.options).await),
        Request::ContainerList(r) => {
            let containers = c.state().containers.values();
            answer(&r, Ok(containers.map(views::container_summary).collect()))
        }
        Request::ContainerRemove(r) => {
            let mut result = BatchResult::default();
            for name in &r.names {
                let outcome = match lookup::container(c.state(), name) {
                    Ok(target) => match c.refuse_docker_container(&target, "docker rm") {
                        Ok(()) => c.remove_container(&target).await,
                        Err(e) => Err(e),
                    },
                    Err(e) => Err(ControllerError::Refused(e.to_string())),
                };
                result.record(name.clone(), outcome);
            }
            answer(&r, Ok(result))
        }
        Request::ContainerInspect(r) => {
            let state = c.state();
            let views = inspect_each(&r.names, "container", |name| {
                let container = state.containers.get(name)?;
                Some(views::container_inspect(state, container))
            });
            answer(&r, views)
        }
        Request::Publish(r) => {
            let outcome = match c.refuse_docker_container(&r.container, "docker run -p") {
                Ok(()) => c.publish(&r.container, &r.ports).await,
                Err(e) => Err(e),
            };
            answer(&r, outcome)
        }
        Request::Unpublish(r) => {
            let outcome =
                match c.refuse_docker_container(&r.container, "docker rm, then docker run -p") {
                    Ok(()) => c.unpublish(&r.container, &r.ports).await,
                    Err(e) => Err(e),
                };
            answer(&r, outcome)
        }
        Request::Port(r) => answer(&r, c.ports(&r.container)),
        Request::Flows(r) => answer(&r, c.flows()),
        Request::Stats(r) => answer(&r, c.stats()),
        Request::Status(r) => answer(&r, c.status()),
        Request::Reset(r) => {
            let errors = c.reset().await;
            let result = BatchResult {
                done: vec!["reset".into()],
                errors,
            };
            answer(&r, Ok(result))
        }
    }
}

/// The view of every named object, or an error naming the first unknown one.
pub(super) fn inspect_each<V>(
    names: &[String],
    kind: &'static str,
    view: impl Fn(&str) -> Option<V>,
) -> Result<Vec<V>, ControllerError> {
    names
        .iter()
        .map(|name| view(name).ok_or_else(|| ControllerError::not_found(kind, name)))
        .collect()
}
