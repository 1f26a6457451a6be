//! The checks of the daemon's settings that take more than a range: the
//! default network's subnet (`bip`, `fixed-cidr`) and IPv6 (`ipv6`,
//! `fixed-cidr-v6`), the cluster pair (`cluster-store` with
//! `cluster-advertise`), port ranges and interface names. Shared by the
//! configuration file (`config_file`) and the command line.

use std::net::{IpAddr, Ipv4Addr};

use ipnetwork::{Ipv4Network, Ipv6Network};
use serde::Deserialize;

use crate::{
    cluster::{ClusterOptions, ClusterStore},
    controller::ipv6::Ipv6Request,
    ipam, ipam6,
};

/// The default network's IPv6 from Docker's `ipv6` and `fixed-cidr-v6`
/// (a subnet without `ipv6` is refused, not ignored).
pub(super) fn default_ipv6(
    ipv6: Option<bool>,
    fixed: Option<Ipv6Network>,
) -> Result<Ipv6Request, (&'static str, String)> {
    let enable = ipv6.unwrap_or(false);
    if let Some(fixed) = fixed {
        if !enable {
            return Err(("fixed-cidr-v6", format!("{fixed} needs ipv6 (--ipv6) on")));
        }
        if fixed.ip() != fixed.network() {
            return Err((
                "fixed-cidr-v6",
                format!("{fixed}: use the subnet's own address, {}", fixed.network()),
            ));
        }
        ipam6::normalise(fixed).map_err(|e| ("fixed-cidr-v6", e.to_string()))?;
    }
    Ok(Ipv6Request {
        enable,
        subnet: fixed,
        gateway: None,
        only: false,
        routed: false,
    })
}

/// `LOW-HIGH` ports, given in the file as a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct PortRange {
    pub low: u16,
    pub high: u16,
}

impl TryFrom<String> for PortRange {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        parse_port_range(&text).map(|(low, high)| PortRange { low, high })
    }
}

/// Subnet of the default network when nothing else is given.
pub const DEFAULT_SUBNET: Ipv4Network =
    match Ipv4Network::new_checked(Ipv4Addr::new(10, 214, 0, 0), 16) {
        Some(subnet) => subnet,
        None => panic!("10.214.0.0/16 is a valid subnet"),
    };

/// The default network's subnet from Docker's `bip` (gateway/prefix) and
/// `fixed-cidr` (subnet). ebpfnet gives the default network one subnet
/// whose gateway is its first address, so `bip` must name that address,
/// and `fixed-cidr`, when both are given, the same subnet (Docker's
/// narrower allocation range inside `bip` is not supported).
pub(super) fn default_subnet(
    bip: Option<Ipv4Network>,
    fixed_cidr: Option<Ipv4Network>,
) -> Result<Option<Ipv4Network>, (&'static str, String)> {
    if let Some(bip) = bip {
        let subnet =
            Ipv4Network::new(bip.network(), bip.prefix()).map_err(|e| ("bip", e.to_string()))?;
        let gateway = ipam::default_gateway(subnet).map_err(|e| ("bip", e.to_string()))?;
        if bip.ip() != gateway {
            return Err((
                "bip",
                format!(
                    "{bip}: the default network's gateway is the first address of its \
                     subnet; use {gateway}/{}",
                    bip.prefix()
                ),
            ));
        }
        if let Some(fixed) = fixed_cidr
            && fixed != subnet
        {
            return Err((
                "fixed-cidr",
                format!(
                    "{fixed} differs from the subnet of bip ({subnet}); an allocation range \
                     narrower than the bridge's subnet is not supported"
                ),
            ));
        }
        return Ok(Some(subnet));
    }
    let Some(fixed) = fixed_cidr else {
        return Ok(None);
    };
    if fixed.ip() != fixed.network() {
        return Err((
            "fixed-cidr",
            format!("{fixed}: use the subnet's own address, {}", fixed.network()),
        ));
    }
    ipam::default_gateway(fixed).map_err(|e| ("fixed-cidr", e.to_string()))?;
    Ok(Some(fixed))
}

/// The cluster to join: the store and the advertised address go together.
pub(super) fn cluster(
    store: Option<ClusterStore>,
    advertise_addr: Option<IpAddr>,
) -> Result<Option<ClusterOptions>, String> {
    match (store, advertise_addr) {
        (None, None) => Ok(None),
        (Some(store), None) => Err(format!(
            "cluster store {store} (--cluster-store / key \"cluster-store\") needs this host's \
             address: --advertise-addr IP (key \"cluster-advertise\")"
        )),
        (None, Some(ip)) => Err(format!(
            "advertise address {ip} (--advertise-addr / key \"cluster-advertise\") needs a \
             cluster store: --cluster-store etcd://HOST:PORT (key \"cluster-store\")"
        )),
        (Some(_), Some(ip)) if ip.is_unspecified() || ip.is_multicast() => Err(format!(
            "advertise address {ip} (--advertise-addr / key \"cluster-advertise\") is not an \
             address other hosts can reach this one at"
        )),
        (Some(store), Some(advertise_addr)) => Ok(Some(ClusterOptions {
            store,
            advertise_addr,
        })),
    }
}

/// `LOW-HIGH` with LOW <= HIGH.
pub fn parse_port_range(text: &str) -> Result<(u16, u16), String> {
    let parsed = text
        .split_once('-')
        .and_then(|(low, high)| Some((low.parse().ok()?, high.parse().ok()?)));
    match parsed {
        Some((low, high)) if low <= high => Ok((low, high)),
        _ => Err(format!(
            "{text:?} is not a port range LOW-HIGH, such as 61000-65535"
        )),
    }
}

/// A Linux interface name.
pub fn parse_interface_name(name: &str) -> Result<String, String> {
    let valid = !name.is_empty()
        && name.len() <= 15
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(name.to_string())
    } else {
        Err("an interface name: 1 to 15 letters, digits, '-', '_' or '.'".into())
    }
}
