//! The CLI ⇄ daemon protocol: one JSON request line, one JSON response line,
//! over the daemon's Unix socket.

use std::{net::Ipv4Addr, path::PathBuf};

use ipnetwork::Ipv4Network;
use serde::{Deserialize, Serialize};

use crate::{
    netconf::{HostEntry, LinkSpec},
    portspec::PortRequest,
};

pub const DEFAULT_SOCKET: &str = "/run/ebpfnet/ebpfnet.sock";

/// The request in one line a client sent (the daemon's only parser of
/// client input; pure, so the fuzz targets can feed it anything).
pub fn decode_request(line: &str) -> Result<Request, serde_json::Error> {
    serde_json::from_str(line)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    NetworkCreate {
        name: String,
        subnet: Option<Ipv4Network>,
        gateway: Option<Ipv4Addr>,
        internal: bool,
    },
    NetworkList,
    NetworkRemove {
        names: Vec<String>,
    },
    NetworkInspect {
        names: Vec<String>,
    },
    NetworkConnect {
        network: String,
        container: String,
        ip: Option<Ipv4Addr>,
        #[serde(default)]
        aliases: Vec<String>,
    },
    NetworkDisconnect {
        network: String,
        container: String,
    },
    ContainerCreate {
        name: String,
        #[serde(flatten)]
        options: ContainerOptions,
    },
    ContainerList,
    ContainerRemove {
        names: Vec<String>,
    },
    ContainerInspect {
        names: Vec<String>,
    },
    /// Publishes ports of a container; answers the new mappings.
    Publish {
        container: String,
        ports: Vec<PortRequest>,
    },
    /// Removes mappings of a container; answers the removed ones.
    Unpublish {
        container: String,
        ports: Vec<PortRequest>,
    },
    /// A container's mappings, sorted by container port.
    Port {
        container: String,
    },
    Flows,
    Stats,
    Status,
    /// Removes everything ebpfnet made; the daemon exits afterwards.
    Reset,
}

/// What `container create` asks for besides the name.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ContainerOptions {
    /// A network, or a mode: `none`, `host`, `container:OTHER`.
    pub network: Option<String>,
    pub ip: Option<Ipv4Addr>,
    #[serde(default)]
    pub ports: Vec<PortRequest>,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub links: Vec<LinkSpec>,
    #[serde(default)]
    pub extra_hosts: Vec<HostEntry>,
    #[serde(default)]
    pub dns: Vec<Ipv4Addr>,
    /// Adopt the network namespace at this path instead of making one.
    #[serde(default)]
    pub netns: Option<PathBuf>,
    /// Adopt the network namespace of this process.
    #[serde(default)]
    pub pid: Option<i32>,
}

/// `Ok` carries a command-specific JSON document.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    Ok(serde_json::Value),
    Error(String),
}

/// Result of commands that act on several names and go on past failures,
/// as Docker's `rm` does.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BatchResult {
    pub done: Vec<String>,
    pub errors: Vec<String>,
}

impl BatchResult {
    pub fn record<E: std::fmt::Display>(&mut self, name: String, outcome: Result<(), E>) {
        match outcome {
            Ok(()) => self.done.push(name),
            Err(e) => self.errors.push(e.to_string()),
        }
    }
}
