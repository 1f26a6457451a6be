//! The Docker-shaped answers of `inspect` and `ls`: the keys and value
//! types of `docker network inspect`, `docker inspect` and their listings,
//! as far as ebpfnet has them.

use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv4Addr},
};

use ipnetwork::{IpNetwork, Ipv4Network};
use serde::{Deserialize, Serialize};

use crate::portspec::PortMapping;

/// Docker's network driver and scope, the only ones ebpfnet has.
pub const DRIVER_BRIDGE: &str = "bridge";
pub const SCOPE_LOCAL: &str = "local";

/// Docker's drivers of the predefined networks `host` and `none`.
pub const DRIVER_HOST: &str = "host";
pub const DRIVER_NULL: &str = "null";

/// One row of `network ls`: a bridge network, or the predefined `host` or
/// `none` (no subnet, gateway or bridge).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkSummary {
    pub id: String,
    pub name: String,
    pub driver: String,
    pub scope: String,
    pub internal: bool,
    /// A network made with `--ipv6` (absent from older daemons: false).
    #[serde(rename = "EnableIPv6", default)]
    pub enable_ipv6: bool,
    /// RFC 3339.
    pub created: String,
    pub subnet: Option<Ipv4Network>,
    pub gateway: Option<Ipv4Addr>,
    pub bridge: Option<String>,
    /// As in `network inspect` (the owner of a network Docker made).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// `network inspect`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkView {
    pub name: String,
    pub id: String,
    /// RFC 3339.
    pub created: String,
    pub scope: String,
    pub driver: String,
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    /// Docker 28's key; false only for an IPv6-only network.
    #[serde(rename = "EnableIPv4", default = "yes")]
    pub enable_ipv4: bool,
    pub internal: bool,
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    /// By container id.
    pub containers: BTreeMap<String, NetworkMember>,
    /// `com.docker.network.bridge.name`: the bridge device.
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ipam {
    pub driver: String,
    pub options: BTreeMap<String, String>,
    pub config: Vec<IpamConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpamConfig {
    pub subnet: IpNetwork,
    pub gateway: IpAddr,
}

fn yes() -> bool {
    true
}

/// A container as `network inspect` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkMember {
    pub name: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub mac_address: String,
    /// `10.214.0.2/16`.
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    /// `fd00:eb::2/64`; empty on a network without IPv6.
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
}

/// One row of `container ls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerSummary {
    pub id: String,
    pub short_id: String,
    pub name: String,
    /// Network (or mode: `none`, `host`, `container:X`) -> address, or ""
    /// for a mode.
    pub networks: BTreeMap<String, String>,
    pub ports: Vec<PortMapping>,
    /// RFC 3339.
    pub created: String,
    pub labels: BTreeMap<String, String>,
}

/// `container inspect`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerView {
    pub id: String,
    pub name: String,
    /// RFC 3339.
    pub created: String,
    pub config: ContainerConfig,
    pub host_config: HostConfig,
    /// Empty in network mode host, which has no files of its own.
    pub hosts_path: String,
    pub resolv_conf_path: String,
    pub network_settings: NetworkSettings,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    pub hostname: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HostConfig {
    /// A network name, `none`, `host` or `container:NAME`.
    pub network_mode: String,
    pub dns: Vec<Ipv4Addr>,
    /// `NAME:IP`.
    pub extra_hosts: Vec<String>,
    /// `NAME` or `NAME:ALIAS`.
    pub links: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkSettings {
    /// The network namespace's path; empty in network mode host.
    pub sandbox_key: String,
    /// Set when ebpfnet adopted a namespace it did not make.
    pub adopted: Option<AdoptedNamespace>,
    /// `80/tcp` -> its host bindings.
    pub ports: BTreeMap<String, Vec<PortBinding>>,
    /// By network name (or mode, for `none` and `host`).
    pub networks: BTreeMap<String, EndpointSettings>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AdoptedNamespace {
    pub path: String,
    pub pid: Option<i32>,
}

/// Docker gives the host port as a string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PortBinding {
    pub host_ip: IpAddr,
    pub host_port: String,
}

/// A container's endpoint on one network, or the empty one Docker shows for
/// modes `none` and `host` (without interface names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointSettings {
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    /// Empty for a mode.
    pub gateway: String,
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: u8,
    /// Empty on a network without IPv6 (and for a mode).
    #[serde(rename = "IPv6Gateway", default)]
    pub ipv6_gateway: String,
    #[serde(rename = "GlobalIPv6Address", default)]
    pub global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen", default)]
    pub global_ipv6_prefix_len: u8,
    pub mac_address: String,
    /// `eth0` inside the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface_name: Option<String>,
    /// The host side of the veth pair.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_interface: Option<String>,
    pub aliases: Vec<String>,
}
