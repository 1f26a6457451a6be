//! The container-side interface a create may ask for: its name (`ifname`,
//! as a CNI runtime gives it) and its MAC address, checked before anything
//! is made; and a new endpoint's addresses.

use std::{
    net::{Ipv4Addr, Ipv6Addr},
    path::Path,
};

use super::{Controller, ControllerError, Result};
use crate::{
    host::HostError,
    ids,
    ipam::Pool,
    state::{Endpoint, Network, State},
};

/// Linux limits interface names to 15 bytes (IFNAMSIZ - 1).
const IFNAME_MAX: usize = 15;

fn refused(message: String) -> ControllerError {
    ControllerError::Refused(message)
}

/// Checks a requested interface name as the kernel would
/// (`dev_valid_name`), and keeps `lo` for loopback.
pub(super) fn validate_ifname(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > IFNAME_MAX {
        Some("it is longer than 15 bytes")
    } else if name == "." || name == ".." {
        Some("it is . or ..")
    } else if name
        .chars()
        .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
    {
        Some("it contains '/', ':' or a blank")
    } else if name == "lo" {
        Some("lo is the loopback interface")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(refused(format!(
            "invalid interface name {name:?}: {reason}"
        ))),
        None => Ok(()),
    }
}

/// Checks a requested MAC address: a unicast one, not all zeros.
pub(super) fn validate_mac(mac: [u8; 6]) -> Result<()> {
    if mac[0] & 1 == 1 || mac == [0; 6] {
        return Err(refused(format!(
            "invalid MAC address {}: give a unicast, non-zero address",
            crate::ids::format_mac(&mac)
        )));
    }
    Ok(())
}

/// Refuses a MAC address another endpoint on `network` already has: the
/// datapath tells containers apart by it (anti-spoofing).
pub(super) fn check_mac_unused(state: &State, network: &Network, mac: [u8; 6]) -> Result<()> {
    let user = state.containers_on(&network.name).find(|c| {
        c.endpoint(&network.name)
            .is_some_and(|endpoint| endpoint.mac == mac)
    });
    match user {
        Some(user) => Err(refused(format!(
            "MAC address {} is already container {}'s on network {}",
            crate::ids::format_mac(&mac),
            user.name,
            network.name
        ))),
        None => Ok(()),
    }
}

impl Controller {
    /// Refuses an interface name an adopted namespace already has.
    pub(super) async fn check_ifname_free(&self, netns_path: &Path, ifname: &str) -> Result<()> {
        let names = self.host.interface_names(netns_path).await?;
        if names.iter().any(|n| n == ifname) {
            return Err(refused(format!(
                "the namespace at {} already has an interface {ifname}",
                netns_path.display()
            )));
        }
        Ok(())
    }
}

/// A new endpoint on `network` with `ip` and `ip6` (checked) or the
/// lowest free ones.
pub(super) fn new_endpoint(
    state: &State,
    network: &Network,
    (ip, ip6): (Option<Ipv4Addr>, Option<Ipv6Addr>),
    ifname: &str,
) -> Result<Endpoint> {
    let ip6 = super::ipv6::endpoint_ip6(state, network, ip6)?;
    let ip = endpoint_ip(state, network, ip)?;
    let mac = match (ip, ip6) {
        (Some(ip), _) => ids::mac_for(ip),
        (None, Some(ip6)) => ids::mac_for6(ip6),
        (None, None) => {
            return Err(super::ControllerError::Refused(format!(
                "network {} has neither IPv4 nor IPv6",
                network.name
            )));
        }
    };
    let id = ids::new_id().map_err(HostError::io("read /dev/urandom"))?;
    Ok(Endpoint {
        // macvlan and ipvlan endpoints have no host side.
        host_veth: match network.lan {
            Some(_) => String::new(),
            None => ids::host_veth_name(&id),
        },
        id,
        network: network.name.clone(),
        ip,
        ip6,
        mac,
        ifname: ifname.to_string(),
        aliases: Vec::new(),
    })
}

/// An endpoint's IPv4 address on `network`: `ip` checked, or the lowest
/// free one; none on an IPv6-only network (where `--ip` is refused).
fn endpoint_ip(state: &State, network: &Network, ip: Option<Ipv4Addr>) -> Result<Option<Ipv4Addr>> {
    let Some(v4) = network.ipv4() else {
        return match ip {
            Some(ip) => Err(super::ControllerError::Refused(format!(
                "--ip {ip}: network {} is IPv6-only (give an address with --ip6)",
                network.name
            ))),
            None => Ok(None),
        };
    };
    let pool = Pool {
        network: &network.name,
        subnet: v4.subnet,
        gateway: v4.gateway,
        used: state
            .endpoints_on(&network.name)
            .filter_map(|e| e.ip)
            .collect(),
    };
    Ok(Some(match ip {
        Some(ip) => {
            pool.check(ip)?;
            ip
        }
        None => pool.allocate()?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_follow_the_kernels_rule() {
        for good in ["eth0", "net1", "a", "cni-ebpfnet-01"] {
            assert!(validate_ifname(good).is_ok(), "{good}");
        }
        for bad in ["", "lo", ".", "..", "a/b", "a b", "x:1", "sixteen-chars-xx"] {
            let err = validate_ifname(bad).expect_err(bad);
            assert!(err.to_string().contains("invalid interface name"), "{err}");
        }
    }

    #[test]
    fn multicast_and_zero_macs_are_refused() {
        assert!(validate_mac([0x02, 0, 0, 0, 0, 1]).is_ok());
        assert!(validate_mac([0x01, 0, 0x5e, 0, 0, 1]).is_err());
        assert!(validate_mac([0; 6]).is_err());
    }
}
