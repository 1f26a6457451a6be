//! The JSON bodies of libnetwork's remote NetworkDriver protocol (moby
//! `libnetwork/docs/remote.md`, `libnetwork/drivers/remote/api/api.go`):
//! field names as Docker spells them; what ebpfnet does not read is left
//! out (serde ignores unknown fields).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `/Plugin.Activate`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Manifest {
    pub implements: Vec<&'static str>,
}

/// `/NetworkDriver.GetCapabilities`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Capabilities {
    pub scope: &'static str,
    pub connectivity_scope: &'static str,
}

/// One address pool of `IPv4Data`/`IPv6Data`; `Gateway` is `a.b.c.d/len`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IpamData {
    pub address_space: String,
    pub pool: String,
    pub gateway: String,
    pub aux_addresses: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateNetwork {
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    #[serde(default)]
    pub options: BTreeMap<String, Value>,
    #[serde(rename = "IPv4Data", default)]
    pub ipv4_data: Option<Vec<IpamData>>,
    #[serde(rename = "IPv6Data", default)]
    pub ipv6_data: Option<Vec<IpamData>>,
}

/// DeleteNetwork, FreeNetwork.
#[derive(Debug, Deserialize)]
pub struct NetworkRef {
    #[serde(rename = "NetworkID")]
    pub network_id: String,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointInterface {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub address: String,
    #[serde(rename = "AddressIPv6", skip_serializing_if = "String::is_empty")]
    pub address_ipv6: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mac_address: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateEndpoint {
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    #[serde(default)]
    pub interface: Option<EndpointInterface>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateEndpointAnswer {
    /// Only what Docker did not give (the MAC address): a field Docker
    /// gave and gets back makes it roll the endpoint back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<EndpointInterface>,
}

/// DeleteEndpoint, EndpointOperInfo, Leave, RevokeExternalConnectivity
/// (their `NetworkID` is the endpoint's, which the driver knows).
#[derive(Debug, Deserialize)]
pub struct EndpointRef {
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OperInfo {
    pub value: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Join {
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub sandbox_key: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InterfaceName {
    pub src_name: String,
    pub dst_prefix: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct JoinAnswer {
    pub interface_name: InterfaceName,
    pub gateway: String,
    #[serde(rename = "GatewayIPv6", skip_serializing_if = "String::is_empty")]
    pub gateway_ipv6: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProgramExternalConnectivity {
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    #[serde(default)]
    pub options: BTreeMap<String, Value>,
}

/// One entry of `com.docker.network.portmap` (libnetwork's
/// `types.PortBinding`): `Proto` is the IP protocol number, `HostIP` is
/// empty for every address, `HostPort` 0 asks for any free port, and
/// `HostPortEnd` above `HostPort` for one port of that range.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PortBinding {
    pub proto: u8,
    #[serde(rename = "IP")]
    pub ip: String,
    pub port: u16,
    #[serde(rename = "HostIP")]
    pub host_ip: String,
    pub host_port: u16,
    pub host_port_end: u16,
}

/// `{"Err": "..."}`: the request was understood but cannot be done.
#[derive(Serialize)]
pub struct Failure {
    #[serde(rename = "Err")]
    pub err: String,
}

/// Option keys Docker sends (libnetwork `netlabel`).
pub const OPTION_GENERIC: &str = "com.docker.network.generic";
pub const OPTION_INTERNAL: &str = "com.docker.network.internal";
pub const OPTION_ENABLE_IPV6: &str = "com.docker.network.enable_ipv6";
pub const OPTION_PORTMAP: &str = "com.docker.network.portmap";
pub const OPTION_MAC: &str = "com.docker.network.endpoint.macaddress";
