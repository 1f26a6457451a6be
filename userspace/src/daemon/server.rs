//! One CLI connection: read a request line, answer with a response line.

use std::sync::Arc;

use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader},
    net::UnixStream,
    sync::{Mutex, Notify},
};

use crate::{
    api::{
        BatchResult, Call, Outcome, Request, RequestEnvelope, RequestError, ResponseEnvelope,
        response::unversioned_refusal,
    },
    controller::{Controller, ControllerError, views},
};

/// Requests are small; a longer line is refused rather than buffered.
const MAX_REQUEST: u64 = 1 << 20;

pub async fn serve(stream: UnixStream, controller: Arc<Mutex<Controller>>, shutdown: Arc<Notify>) {
    let (read, write) = stream.into_split();
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
                let outcome = handle(&mut controller, request).await;
                if is_reset {
                    shutdown.notify_one();
                }
                outcome
            }
        },
    };
    send(write, ResponseEnvelope::new(outcome).encode()).await;
}

async fn send(
    mut write: tokio::net::unix::OwnedWriteHalf,
    text: Result<String, serde_json::Error>,
) {
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
    }
}

/// The answer to `request`, encoded; its type is `C::Answer`, checked at
/// compile time, whatever JSON carries it.
fn answer<C: Call>(_request: &C, answer: Result<C::Answer, ControllerError>) -> Outcome<Value> {
    match answer.map(serde_json::to_value) {
        Ok(Ok(value)) => Outcome::Ok(value),
        Ok(Err(e)) => Outcome::Error(format!("cannot encode the answer: {e}")),
        Err(e) => Outcome::Error(e.to_string()),
    }
}

async fn handle(c: &mut Controller, request: Request) -> Outcome<Value> {
    match request {
        Request::NetworkCreate(r) => answer(
            &r,
            c.create_network_with_driver(
                &r.name,
                r.subnet,
                r.gateway,
                r.internal,
                r.driver.as_deref(),
                &r.options,
            )
            .await,
        ),
        Request::NetworkList(r) => {
            let networks = c.state().networks.values();
            answer(&r, Ok(networks.map(views::network_summary).collect()))
        }
        Request::NetworkRemove(r) => {
            let mut result = BatchResult::default();
            for name in &r.names {
                let outcome = c.remove_network(name).await;
                result.record(name.clone(), outcome);
            }
            answer(&r, Ok(result))
        }
        Request::NetworkInspect(r) => {
            let state = c.state();
            let views = inspect_each(&r.names, "network", |name| {
                let network = state.networks.get(name)?;
                Some(views::network_inspect(state, network))
            });
            answer(&r, views)
        }
        Request::NetworkConnect(r) => answer(
            &r,
            c.connect(&r.network, &r.container, r.ip, &r.aliases).await,
        ),
        Request::NetworkDisconnect(r) => answer(&r, c.disconnect(&r.network, &r.container).await),
        Request::ContainerCreate(r) => answer(&r, c.create_container(&r.name, &r.options).await),
        Request::ContainerList(r) => {
            let containers = c.state().containers.values();
            answer(&r, Ok(containers.map(views::container_summary).collect()))
        }
        Request::ContainerRemove(r) => {
            let mut result = BatchResult::default();
            for name in &r.names {
                let outcome = c.remove_container(name).await;
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
        Request::Publish(r) => answer(&r, c.publish(&r.container, &r.ports).await),
        Request::Unpublish(r) => answer(&r, c.unpublish(&r.container, &r.ports).await),
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
fn inspect_each<V>(
    names: &[String],
    kind: &'static str,
    view: impl Fn(&str) -> Option<V>,
) -> Result<Vec<V>, ControllerError> {
    names
        .iter()
        .map(|name| view(name).ok_or_else(|| ControllerError::not_found(kind, name)))
        .collect()
}
