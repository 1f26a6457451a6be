//! The CLI ⇄ daemon protocol: one JSON request line, one JSON response line,
//! over the daemon's Unix socket.

use std::net::Ipv4Addr;

use ipnetwork::Ipv4Network;
use serde::{Deserialize, Serialize};

use crate::portspec::PortRequest;

pub const DEFAULT_SOCKET: &str = "/run/ebpfnet/ebpfnet.sock";

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
    },
    NetworkDisconnect {
        network: String,
        container: String,
    },
    ContainerCreate {
        name: String,
        network: Option<String>,
        ip: Option<Ipv4Addr>,
        ports: Vec<PortRequest>,
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
