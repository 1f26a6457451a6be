//! One CLI connection: read a request line, answer with a response line.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader},
    net::UnixStream,
    sync::{Mutex, Notify},
};

use crate::{
    api::{BatchResult, Request, Response, decode_request},
    controller::{Controller, ControllerError, views},
};

/// Requests are small; a longer line is refused rather than buffered.
const MAX_REQUEST: u64 = 1 << 20;

pub async fn serve(stream: UnixStream, controller: Arc<Mutex<Controller>>, shutdown: Arc<Notify>) {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let response = match BufReader::new(read.take(MAX_REQUEST))
        .read_line(&mut line)
        .await
    {
        Err(e) => Response::Error(format!("cannot read request: {e}")),
        Ok(_) => match decode_request(&line) {
            Err(e) => Response::Error(format!("malformed request: {e}")),
            Ok(request) => {
                let is_reset = matches!(request, Request::Reset);
                let mut controller = controller.lock().await;
                let response = match handle(&mut controller, request).await {
                    Ok(value) => Response::Ok(value),
                    Err(e) => Response::Error(e.to_string()),
                };
                if is_reset {
                    shutdown.notify_one();
                }
                response
            }
        },
    };
    let mut text = serde_json::to_string(&response).expect("responses serialize");
    text.push('\n');
    if let Err(e) = write.write_all(text.as_bytes()).await {
        log::warn!("cannot answer a client: {e}");
    }
}

async fn handle(c: &mut Controller, request: Request) -> Result<Value, ControllerError> {
    use Request::*;
    Ok(match request {
        NetworkCreate {
            name,
            subnet,
            gateway,
            internal,
        } => json!(c.create_network(&name, subnet, gateway, internal).await?),
        NetworkList => json!(
            c.state()
                .networks
                .values()
                .map(views::network_summary)
                .collect::<Vec<_>>()
        ),
        NetworkRemove { names } => {
            let mut result = BatchResult::default();
            for name in names {
                let outcome = c.remove_network(&name).await;
                result.record(name, outcome);
            }
            json!(result)
        }
        NetworkInspect { names } => {
            let state = c.state();
            json!(inspect_each(&names, "network", |name| {
                state
                    .networks
                    .get(name)
                    .map(|n| views::network_inspect(state, n))
            })?)
        }
        NetworkConnect {
            network,
            container,
            ip,
            aliases,
        } => {
            c.connect(&network, &container, ip, &aliases).await?;
            Value::Null
        }
        NetworkDisconnect { network, container } => {
            c.disconnect(&network, &container).await?;
            Value::Null
        }
        ContainerCreate { name, options } => json!(c.create_container(&name, &options).await?),
        ContainerList => json!(
            c.state()
                .containers
                .values()
                .map(views::container_summary)
                .collect::<Vec<_>>()
        ),
        ContainerRemove { names } => {
            let mut result = BatchResult::default();
            for name in names {
                let outcome = c.remove_container(&name).await;
                result.record(name, outcome);
            }
            json!(result)
        }
        ContainerInspect { names } => {
            let state = c.state();
            json!(inspect_each(&names, "container", |name| {
                state
                    .containers
                    .get(name)
                    .map(|ct| views::container_inspect(state, ct))
            })?)
        }
        Publish { container, ports } => json!(c.publish(&container, &ports).await?),
        Unpublish { container, ports } => json!(c.unpublish(&container, &ports).await?),
        Port { container } => json!(c.ports(&container)?),
        Flows => json!(c.flows()?),
        Stats => json!(c.stats()?),
        Status => json!(c.status()?),
        Reset => json!(BatchResult {
            done: vec!["reset".into()],
            errors: c.reset().await,
        }),
    })
}

/// The view of every named object, or an error naming the first unknown one.
fn inspect_each(
    names: &[String],
    kind: &'static str,
    view: impl Fn(&str) -> Option<Value>,
) -> Result<Vec<Value>, ControllerError> {
    names
        .iter()
        .map(|name| view(name).ok_or_else(|| ControllerError::not_found(kind, name)))
        .collect()
}
