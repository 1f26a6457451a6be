//! The success result of ADD (SPEC.md, "Success"), built from what the
//! daemon reports of the container, and read back as CHECK's `prevResult`.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    path::Path,
};

use ebpfnet::api::views::{ContainerView, EndpointSettings};
use ipnetwork::{IpNetwork, Ipv4Network, Ipv6Network};
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
    /// `10.89.0.5/24`, or `fd00:eb::5/64` on a network with IPv6.
    pub address: IpNetwork,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    /// Index into `interfaces`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub dst: IpNetwork,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gw: Option<IpAddr>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dns {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nameservers: Vec<IpAddr>,
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
    let four = ipv4_of(endpoint)?;
    let six = ipv6_of(endpoint)?;
    // The network's name server: on its IPv4 gateway, on its IPv6 one on
    // an IPv6-only network.
    let gateway = match (four, six) {
        (Some((_, gateway)), _) => IpAddr::V4(gateway),
        (None, Some((_, gateway))) => IpAddr::V6(gateway),
        (None, None) => {
            return Err(unexpected(format!(
                "the container has no address on network {network}"
            )));
        }
    };
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
        ips: four
            .map(|(address, gateway)| IpConfig {
                address: address.into(),
                gateway: Some(gateway.into()),
                interface: Some(SANDBOX_INTERFACE),
            })
            .into_iter()
            .chain(six.map(|(address, gateway)| IpConfig {
                address: address.into(),
                gateway: Some(gateway.into()),
                interface: Some(SANDBOX_INTERFACE),
            }))
            .collect(),
        routes: four
            .and_then(|(_, gateway)| {
                let any = Ipv4Network::new(Ipv4Addr::UNSPECIFIED, 0).ok()?;
                Some(Route {
                    dst: IpNetwork::V4(any),
                    gw: Some(gateway.into()),
                })
            })
            .into_iter()
            .chain(six.and_then(|(_, gateway)| {
                let any = Ipv6Network::new(Ipv6Addr::UNSPECIFIED, 0).ok()?;
                Some(Route {
                    dst: IpNetwork::V6(any),
                    gw: Some(gateway.into()),
                })
            }))
            .collect(),
        dns,
    })
}

/// The endpoint's IPv4 address (with its prefix) and gateway; none on an
/// IPv6-only network.
fn ipv4_of(endpoint: &EndpointSettings) -> Result<Option<(Ipv4Network, Ipv4Addr)>, CniError> {
    if endpoint.ip_address.is_empty() {
        return Ok(None);
    }
    let ip: Ipv4Addr = parse(&endpoint.ip_address, "address")?;
    let gateway: Ipv4Addr = parse(&endpoint.gateway, "gateway")?;
    let address = Ipv4Network::new(ip, endpoint.ip_prefix_len)
        .map_err(|e| unexpected(format!("address {ip}/{}: {e}", endpoint.ip_prefix_len)))?;
    Ok(Some((address, gateway)))
}

/// The endpoint's IPv6 address (with its prefix) and gateway, on a network
/// with IPv6.
fn ipv6_of(endpoint: &EndpointSettings) -> Result<Option<(Ipv6Network, Ipv6Addr)>, CniError> {
    if endpoint.global_ipv6_address.is_empty() {
        return Ok(None);
    }
    let ip: Ipv6Addr = parse(&endpoint.global_ipv6_address, "IPv6 address")?;
    let gateway: Ipv6Addr = parse(&endpoint.ipv6_gateway, "IPv6 gateway")?;
    let prefix = endpoint.global_ipv6_prefix_len;
    let address = Ipv6Network::new(ip, prefix)
        .map_err(|e| unexpected(format!("address {ip}/{prefix}: {e}")))?;
    Ok(Some((address, gateway)))
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
