//! The success result of ADD (SPEC.md, "Success"), built from what the
//! daemon reports of the container, and read back as CHECK's `prevResult`.

use std::{net::Ipv4Addr, path::Path};

use ebpfnet::api::views::{ContainerView, EndpointSettings};
use ipnetwork::Ipv4Network;
use serde::{Deserialize, Serialize};

use crate::error::CniError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CniResult {
    pub cni_version: String,
    #[serde(default)]
    pub interfaces: Vec<Interface>,
    #[serde(default)]
    pub ips: Vec<IpConfig>,
    #[serde(default)]
    pub routes: Vec<Route>,
    #[serde(default, skip_serializing_if = "Dns::is_empty")]
    pub dns: Dns,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interface {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// The namespace path, for the container's interface only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpConfig {
    /// `10.89.0.5/24`.
    pub address: Ipv4Network,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<Ipv4Addr>,
    /// Index into `interfaces`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub dst: Ipv4Network,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gw: Option<Ipv4Addr>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dns {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nameservers: Vec<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub search: Vec<String>,
}

impl Dns {
    fn is_empty(&self) -> bool {
        self.nameservers.is_empty() && self.search.is_empty()
    }
}

/// The index of the container's interface in [`CniResult::interfaces`].
pub const SANDBOX_INTERFACE: usize = 1;

/// What ADD reports for `view`'s endpoint on `network`. On user networks
/// the name server is the network's own (on its gateway, answering the
/// container names); on the default network, the servers the runtime gave.
pub fn build(
    cni_version: &str,
    view: &ContainerView,
    network: &str,
    netns: &Path,
    runtime_dns: Dns,
) -> Result<CniResult, CniError> {
    let endpoint = endpoint_on(view, network)?;
    let ip: Ipv4Addr = parse(&endpoint.ip_address, "address")?;
    let gateway: Ipv4Addr = parse(&endpoint.gateway, "gateway")?;
    let address = Ipv4Network::new(ip, endpoint.ip_prefix_len)
        .map_err(|e| unexpected(format!("address {ip}/{}: {e}", endpoint.ip_prefix_len)))?;
    let host_veth = endpoint.host_interface.clone().unwrap_or_default();
    let host_mac = std::fs::read_to_string(format!("/sys/class/net/{host_veth}/address"))
        .ok()
        .map(|mac| mac.trim().to_string());
    let dns = if network == ebpfnet::ids::DEFAULT_NETWORK {
        runtime_dns
    } else {
        Dns {
            nameservers: vec![gateway],
            search: runtime_dns.search,
        }
    };
    Ok(CniResult {
        cni_version: cni_version.to_string(),
        interfaces: vec![
            Interface {
                name: host_veth,
                mac: host_mac,
                sandbox: None,
            },
            Interface {
                name: endpoint.interface_name.clone().unwrap_or_default(),
                mac: Some(endpoint.mac_address.clone()),
                sandbox: Some(netns.display().to_string()),
            },
        ],
        ips: vec![IpConfig {
            address,
            gateway: Some(gateway),
            interface: Some(SANDBOX_INTERFACE),
        }],
        routes: vec![Route {
            dst: Ipv4Network::new(Ipv4Addr::UNSPECIFIED, 0)
                .map_err(|e| unexpected(e.to_string()))?,
            gw: Some(gateway),
        }],
        dns,
    })
}

pub fn endpoint_on<'a>(
    view: &'a ContainerView,
    network: &str,
) -> Result<&'a EndpointSettings, CniError> {
    view.network_settings.networks.get(network).ok_or_else(|| {
        unexpected(format!(
            "container {} is not on network {network}",
            view.name
        ))
    })
}

fn parse<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, CniError>
where
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|e| unexpected(format!("{what} {text:?}: {e}")))
}

fn unexpected(details: String) -> CniError {
    CniError::new(
        crate::error::code::DAEMON_REFUSED,
        "the ebpfnet daemon reported an unexpected container",
        details,
    )
}
