//! `ebpfnet daemon --docker-plugin[=PATH]`: Docker's remote network driver
//! (libnetwork's NetworkDriver protocol, JSON over HTTP POST) on a Unix
//! socket, by default `/run/docker/plugins/ebpfnet.sock`, where dockerd
//! finds it as the driver `ebpfnet` (the socket's file name).
//!
//! tiny_http serves the socket on a thread of its own; each call waits for
//! the controller's lock and runs on the daemon's runtime, one at a time.

mod api;
mod driver;
mod ipv6;
mod network_options;
mod portmap;
mod ports;
mod records;
mod setting;

use std::{
    fs,
    io::Read as _,
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
    sync::Arc,
    thread,
};

use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use thiserror::Error;
use tiny_http::{Header, Method, Request, Response, Server};
use tokio::{runtime::Handle, sync::Mutex};

use crate::controller::Controller;
use driver::{Driver, DriverError};
pub use records::RECORDS_FILE;
pub use setting::{PluginSetting, parse_socket_path};

pub const DEFAULT_SOCKET: &str = "/run/docker/plugins/ebpfnet.sock";
const CONTENT_TYPE: &str = "application/vnd.docker.plugins.v1.2+json";
/// Docker's bodies are small; a larger one is refused, not buffered.
const MAX_BODY: u64 = 1 << 20;

#[derive(Debug, Error)]
pub enum PluginError {
    #[error("cannot serve the Docker plugin on {path}: {message}")]
    Bind { path: PathBuf, message: String },
    #[error("another process serves the Docker plugin socket {0}")]
    InUse(PathBuf),
    #[error("cannot start the Docker plugin thread: {0}")]
    Thread(#[source] std::io::Error),
    #[error("cannot read the Docker plugin's records: {0}")]
    Records(#[from] records::RecordsError),
}

/// The bound socket; Docker's calls wait in its queue until [`Self::serve`].
pub struct PluginListener {
    server: Arc<Server>,
    path: PathBuf,
}

/// Stops answering and removes the socket when dropped, so dockerd sees
/// the driver gone rather than a dead socket.
pub struct PluginServer {
    server: Arc<Server>,
    path: PathBuf,
}

impl PluginListener {
    /// Binds `path` now (root only), so a bad path stops the daemon before
    /// it makes anything. A socket nobody answers on is a stale one.
    pub fn bind(path: &Path) -> Result<Self, PluginError> {
        let bind_error = |message: String| PluginError::Bind {
            path: path.to_path_buf(),
            message,
        };
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| bind_error(e.to_string()))?;
        }
        if path.exists() {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(PluginError::InUse(path.to_path_buf()));
            }
            fs::remove_file(path).map_err(|e| bind_error(format!("stale socket: {e}")))?;
        }
        let server = Server::http_unix(path).map_err(|e| bind_error(e.to_string()))?;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))
            .map_err(|e| bind_error(e.to_string()))?;
        Ok(Self {
            server: Arc::new(server),
            path: path.to_path_buf(),
        })
    }

    /// Answers Docker on a thread of its own with the records saved in
    /// `state_dir`, brought in line with the controller's state first.
    pub fn serve(
        self,
        controller: Arc<Mutex<Controller>>,
        state_dir: &Path,
        runtime: Handle,
    ) -> Result<PluginServer, PluginError> {
        let mut driver = Driver {
            records: records::Records::load(state_dir)?,
            state_dir: state_dir.to_path_buf(),
        };
        let server = Arc::clone(&self.server);
        thread::Builder::new()
            .name("docker-plugin".into())
            .spawn(move || {
                runtime.block_on(claim_networks(&driver, &controller));
                for mut request in server.incoming_requests() {
                    let (status, body) =
                        runtime.block_on(answer(&mut driver, &controller, &mut request));
                    respond(request, status, &body);
                }
            })
            .map_err(PluginError::Thread)?;
        log::info!(
            "Docker network driver listening on {} (docker network create -d {})",
            self.path.display(),
            driver_name(&self.path)
        );
        Ok(PluginServer {
            server: self.server,
            path: self.path,
        })
    }
}

impl Drop for PluginServer {
    fn drop(&mut self) {
        self.server.unblock();
        let _ = fs::remove_file(&self.path);
    }
}

/// Networks Docker made before ebpfnet kept owners become Docker's.
async fn claim_networks(driver: &Driver, controller: &Mutex<Controller>) {
    match controller
        .lock()
        .await
        .claim_docker_networks(&driver.records.networks)
    {
        Ok(claimed) => {
            for name in claimed {
                log::info!("docker: network {name} is marked as Docker's");
            }
        }
        Err(e) => log::warn!("docker plugin: cannot mark Docker's networks: {e}"),
    }
}

/// The name dockerd gives the driver: the socket's file name without `.sock`.
pub fn driver_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn respond(request: Request, status: u16, body: &Value) {
    let mut response = Response::from_string(body.to_string()).with_status_code(status);
    if let Ok(header) = Header::from_bytes("Content-Type", CONTENT_TYPE) {
        response.add_header(header);
    }
    if let Err(e) = request.respond(response) {
        log::warn!("docker plugin: cannot answer dockerd: {e}");
    }
}

fn failure(message: String) -> Value {
    json!(api::Failure { err: message })
}

/// Status and body for one call.
async fn answer(
    driver: &mut Driver,
    controller: &Mutex<Controller>,
    request: &mut Request,
) -> (u16, Value) {
    if *request.method() != Method::Post {
        return (405, failure("only POST".into()));
    }
    let path = request
        .url()
        .split('?')
        .next()
        .unwrap_or_default()
        .to_string();
    let mut body = String::new();
    // A body that is not UTF-8 is a malformed call.
    if let Err(e) = request.as_reader().take(MAX_BODY).read_to_string(&mut body) {
        return (400, failure(format!("cannot read the request body: {e}")));
    }
    log::debug!("docker plugin: {path} {body}");
    let mut c = controller.lock().await;
    if driver.records.forget_missing(c.state())
        && let Err(e) = driver.records.save(&driver.state_dir)
    {
        log::warn!("docker plugin: {e}");
    }
    let outcome = match path.as_str() {
        "/Plugin.Activate" => Ok(json!(api::Manifest {
            implements: vec!["NetworkDriver"]
        })),
        "/NetworkDriver.GetCapabilities" => Ok(json!(api::Capabilities {
            scope: "local",
            connectivity_scope: "local",
        })),
        "/NetworkDriver.CreateNetwork" => match decode(&body) {
            Ok(r) => driver.create_network(&mut c, r).await,
            Err(e) => return e,
        },
        "/NetworkDriver.DeleteNetwork" => match decode(&body) {
            Ok(r) => driver.delete_network(&mut c, r).await,
            Err(e) => return e,
        },
        "/NetworkDriver.CreateEndpoint" => match decode(&body) {
            Ok(r) => driver.create_endpoint(&c, r),
            Err(e) => return e,
        },
        "/NetworkDriver.EndpointOperInfo" => match decode::<api::EndpointRef>(&body) {
            Ok(r) => driver.endpoint_oper_info(&r),
            Err(e) => return e,
        },
        "/NetworkDriver.DeleteEndpoint" => match decode(&body) {
            Ok(r) => driver.delete_endpoint(&mut c, r).await,
            Err(e) => return e,
        },
        "/NetworkDriver.Join" => match decode(&body) {
            Ok(r) => driver.join(&mut c, r).await,
            Err(e) => return e,
        },
        "/NetworkDriver.Leave" => match decode(&body) {
            Ok(r) => driver.leave(&mut c, r).await,
            Err(e) => return e,
        },
        "/NetworkDriver.ProgramExternalConnectivity" => match decode(&body) {
            Ok(r) => driver.program_external(&mut c, r).await,
            Err(e) => return e,
        },
        "/NetworkDriver.RevokeExternalConnectivity" => match decode(&body) {
            Ok(r) => driver.revoke_external(&mut c, r).await,
            Err(e) => return e,
        },
        // Swarm managers call these for global-scope drivers only.
        "/NetworkDriver.AllocateNetwork" => Err(DriverError::Refused(
            "ebpfnet is a local-scope driver: it allocates no swarm networks".into(),
        )),
        "/NetworkDriver.FreeNetwork" => match decode::<api::NetworkRef>(&body) {
            Ok(_) => Ok(json!({})),
            Err(e) => return e,
        },
        // Node discovery is for multi-host drivers; nothing to do here.
        "/NetworkDriver.DiscoverNew" | "/NetworkDriver.DiscoverDelete" => Ok(json!({})),
        _ => return (404, failure(format!("{path} is not a call ebpfnet serves"))),
    };
    match outcome {
        Ok(value) => (200, value),
        Err(e) => {
            log::warn!("docker plugin: {path}: {e}");
            (200, failure(e.to_string()))
        }
    }
}

/// The call's body, or the 400 answer for one that is not the call's JSON.
fn decode<T: DeserializeOwned>(body: &str) -> Result<T, (u16, Value)> {
    serde_json::from_str(body).map_err(|e| (400, failure(format!("bad request body: {e}"))))
}
