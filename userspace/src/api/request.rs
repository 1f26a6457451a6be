//! Requests: one type per command, each tied to the type of its answer.

use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, Ipv6Addr},
    path::PathBuf,
};

use ipnetwork::Ipv4Network;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::{
    API_VERSION, Call,
    observe::{FlowView, StatsView, StatusView},
    probe_version,
    response::BatchResult,
    views::{ContainerSummary, ContainerView, NetworkSummary, NetworkView},
};
use crate::{
    controller::ipv6::Ipv6Request,
    netconf::{HostEntry, LinkSpec},
    portspec::{PortMapping, PortRequest},
};

/// Declares the [`Request`] enum over the request types, and each type's
/// answer: one table of what the daemon answers to what.
macro_rules! requests {
    ($($(#[$doc:meta])* $name:ident => $answer:ty,)*) => {
        /// Any request; `op` names it on the wire (`network_create`, …).
        #[allow(
            clippy::large_enum_variant,
            reason = "one request per connection: boxing would save nothing worth a less plain API"
        )]
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(tag = "op", rename_all = "snake_case")]
        pub enum Request {
            $($(#[$doc])* $name($name),)*
        }

        $(
            impl From<$name> for Request {
                fn from(request: $name) -> Self {
                    Request::$name(request)
                }
            }

            impl Call for $name {
                type Answer = $answer;
            }
        )*
    };
}

requests! {
    /// Answers the new network's id.
    NetworkCreate => String,
    NetworkList => Vec<NetworkSummary>,
    NetworkRemove => BatchResult,
    NetworkInspect => Vec<NetworkView>,
    NetworkConnect => (),
    NetworkDisconnect => (),
    /// Answers the new container's id.
    ContainerCreate => String,
    ContainerList => Vec<ContainerSummary>,
    ContainerRemove => BatchResult,
    ContainerInspect => Vec<ContainerView>,
    /// Answers the new mappings.
    Publish => Vec<PortMapping>,
    /// Answers the removed mappings.
    Unpublish => Vec<PortMapping>,
    /// Answers a container's mappings, sorted by container port.
    Port => Vec<PortMapping>,
    Flows => Vec<FlowView>,
    Stats => StatsView,
    Status => StatusView,
    /// Removes everything ebpfnet made; the daemon exits afterwards.
    Reset => BatchResult,
    /// Removes every network no container uses; answers their names.
    NetworkPrune => BatchResult,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkCreate {
    pub name: String,
    pub subnet: Option<Ipv4Network>,
    pub gateway: Option<Ipv4Addr>,
    pub internal: bool,
    /// `bridge` (when absent), `macvlan`, `ipvlan`, or `overlay` (a global
    /// network, in the cluster store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// The driver's options (`-o parent=eth0`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    /// `--ipv6` with the IPv6 `--subnet` and `--gateway`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub ipv6: Ipv6Request,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkList;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRemove {
    pub names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkInspect {
    pub names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkConnect {
    pub network: String,
    pub container: String,
    pub ip: Option<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip6: Option<Ipv6Addr>,
    #[serde(default)]
    pub aliases: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkDisconnect {
    pub network: String,
    pub container: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerCreate {
    pub name: String,
    #[serde(flatten)]
    pub options: ContainerOptions,
}

/// What `container create` asks for besides the name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerOptions {
    /// A network, or a mode: `none`, `host`, `container:OTHER`.
    pub network: Option<String>,
    pub ip: Option<Ipv4Addr>,
    /// `--ip6`: the IPv6 address on a network with IPv6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip6: Option<Ipv6Addr>,
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
    /// The interface name inside the container (default `eth0`, or the
    /// first free `ethN` in an adopted namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ifname: Option<String>,
    /// The interface's MAC address (default: Docker's, from the address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<[u8; 6]>,
    /// Docker's `Config.Labels`: free-form, shown by `container inspect`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerList;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerRemove {
    pub names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerInspect {
    pub names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publish {
    pub container: String,
    pub ports: Vec<PortRequest>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unpublish {
    pub container: String,
    pub ports: Vec<PortRequest>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Port {
    pub container: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flows;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reset;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkPrune;

/// A request line: `{"api_version":1,"request":{"op":…}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestEnvelope {
    pub api_version: u32,
    pub request: Request,
}

impl RequestEnvelope {
    /// `request` in this build's version.
    pub fn new(request: impl Into<Request>) -> Self {
        Self {
            api_version: API_VERSION,
            request: request.into(),
        }
    }

    /// The line to send, without its newline.
    pub fn encode(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    /// Reads a request line, refusing one of another protocol version
    /// before looking at anything else in it.
    pub fn decode(line: &str) -> Result<Self, RequestError> {
        match probe_version(line).map_err(RequestError::Malformed)? {
            None => Err(RequestError::Unversioned),
            Some(API_VERSION) => serde_json::from_str(line).map_err(RequestError::Malformed),
            Some(client) => Err(RequestError::VersionMismatch { client }),
        }
    }
}

/// Why the daemon cannot serve a request line.
#[derive(Debug, Error)]
pub enum RequestError {
    #[error("malformed request: {0}")]
    Malformed(#[source] serde_json::Error),
    #[error(
        "this ebpfnet CLI is older than the daemon: it sends no API version, the daemon speaks \
         version {API_VERSION}; use the ebpfnet binary that started the daemon"
    )]
    Unversioned,
    #[error(
        "API version mismatch: the CLI speaks version {client}, the daemon speaks version \
         {API_VERSION}; use the ebpfnet binary that started the daemon"
    )]
    VersionMismatch { client: u32 },
}
