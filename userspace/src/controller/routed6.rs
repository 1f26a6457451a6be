//! IPv6 routed mode of bridge networks, Docker's
//! `-o com.docker.network.bridge.gateway_mode_ipv6=routed`: no NAT66, the
//! containers' IPv6 leaves with their own addresses, and outside hosts
//! with a route to the subnet via this host reach a container's published
//! container ports (the host port is not used) and ICMPv6 echo, nothing
//! else. The datapath side is `routed6` in the programs; this module
//! reads the option and keeps `ROUTED6` (the open container ports) in
//! line with the state.

use std::{
    collections::{BTreeMap, HashSet},
    net::IpAddr,
};

use ebpfnet_common::routed6::{ROUTED6_MAP, RoutedPortKey6};

use super::{Controller, ControllerError, Result};
use crate::{
    datapath::encoding::protocol_number,
    lan::DRIVER_BRIDGE,
    portspec::PortMapping,
    state::{Network, State},
};

/// The bridge option naming a network's IPv6 gateway mode.
pub const OPT_GATEWAY_MODE_IPV6: &str = "com.docker.network.bridge.gateway_mode_ipv6";
const ROUTED: &str = "routed";

fn refused(message: String) -> ControllerError {
    ControllerError::Refused(message)
}

/// Takes the IPv6 gateway mode out of a new network's `options`: whether
/// the network routes IPv6 (`routed`) or masquerades it (`nat`, the
/// default). Docker's other modes, a value that is none, and the option
/// on another driver are refused.
pub fn take_gateway_mode6(driver: &str, options: &mut BTreeMap<String, String>) -> Result<bool> {
    let Some(value) = options.remove(OPT_GATEWAY_MODE_IPV6) else {
        return Ok(false);
    };
    if driver != DRIVER_BRIDGE {
        return Err(refused(format!(
            "-o {OPT_GATEWAY_MODE_IPV6} is an option of bridge networks, not of {driver} ones"
        )));
    }
    match value.as_str() {
        "nat" => Ok(false),
        ROUTED => Ok(true),
        "nat-unprotected" | "isolated" => Err(refused(format!(
            "-o {OPT_GATEWAY_MODE_IPV6}={value} is not supported by ebpfnet: use nat (the \
             default) or routed"
        ))),
        other => Err(refused(format!(
            "invalid value {other:?} for -o {OPT_GATEWAY_MODE_IPV6}: use nat (the default) \
             or routed"
        ))),
    }
}

/// A bridge network's options as inspect shows them.
pub fn options(network: &Network) -> BTreeMap<String, String> {
    let mut options = BTreeMap::from([(
        "com.docker.network.bridge.name".to_string(),
        network.bridge.clone(),
    )]);
    if network.routed6 {
        options.insert(OPT_GATEWAY_MODE_IPV6.to_string(), ROUTED.to_string());
    }
    options
}

/// Whether a mapping opens its container port on routed networks: as in
/// Docker, unless its host address is a specific IPv4 one (then it is an
/// IPv4 mapping only); the host port plays no part.
pub fn opens_routed6(mapping: &PortMapping) -> bool {
    match mapping.host_ip {
        IpAddr::V4(ip) => ip.is_unspecified(),
        IpAddr::V6(_) => true,
    }
}

/// `ROUTED6` as `state` has it: each container's mapped container ports
/// on its IPv6 address of every routed network it is on, with how many
/// mappings open each.
pub fn routed_ports6(state: &State) -> BTreeMap<RoutedPortKey6, u32> {
    let routed: HashSet<&str> = state
        .networks
        .values()
        .filter(|n| n.routed6)
        .map(|n| n.name.as_str())
        .collect();
    let mut want = BTreeMap::new();
    if routed.is_empty() {
        return want;
    }
    for container in state.containers.values() {
        let addresses = container
            .endpoints
            .iter()
            .filter(|e| routed.contains(e.network.as_str()))
            .filter_map(|e| e.ip6);
        for ip in addresses {
            for m in container.ports.iter().filter(|m| opens_routed6(m)) {
                let key =
                    RoutedPortKey6::new(ip.octets(), m.container_port, protocol_number(m.protocol));
                *want.entry(key).or_insert(0) += 1;
            }
        }
    }
    want
}

impl Controller {
    /// Brings `ROUTED6` in line with the state, after every change of it
    /// (against what the controller wrote: the map is read once, at
    /// start). A failure is logged; the next change tries again.
    pub(super) fn sync_routed6(&mut self) {
        if let Err(e) = self.try_sync_routed6() {
            log::error!(
                "cannot update the open ports of routed IPv6 networks ({}): {e}",
                ROUTED6_MAP
            );
        }
    }

    fn try_sync_routed6(&mut self) -> Result<()> {
        let want = routed_ports6(&self.state);
        let have = match self.routed_ports6.take() {
            Some(have) => have,
            None => self.datapath.routed_ports6()?,
        };
        // What the map holds, as far as known, whatever fails below.
        let mut now = have.clone();
        let written = self.write_routed6(&want, &have, &mut now);
        self.routed_ports6 = Some(now);
        written
    }

    fn write_routed6(
        &mut self,
        want: &BTreeMap<RoutedPortKey6, u32>,
        have: &BTreeMap<RoutedPortKey6, u32>,
        now: &mut BTreeMap<RoutedPortKey6, u32>,
    ) -> Result<()> {
        for (key, count) in want {
            if have.get(key) != Some(count) {
                self.datapath.set_routed_port6(*key, *count)?;
                now.insert(*key, *count);
            }
        }
        for key in have.keys().filter(|k| !want.contains_key(k)) {
            self.datapath.remove_routed_port6(*key)?;
            now.remove(key);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use ebpfnet_common::{maps::proto, routed6::NETWORK_ROUTED6};

    use super::*;
    use crate::{
        api::request::NetworkCreate,
        controller::{
            ipv6::Ipv6Request,
            tests::harness::{on, populated, tcp},
        },
        portspec::Protocol,
    };

    #[tokio::test]
    async fn a_routed_network_opens_its_containers_published_ports() {
        let mut h = populated().await;
        let c = &mut h.controller;
        c.create_network_from(&NetworkCreate {
            name: "r6".into(),
            subnet: None,
            gateway: None,
            internal: false,
            driver: None,
            options: BTreeMap::from([(OPT_GATEWAY_MODE_IPV6.into(), ROUTED.into())]),
            ipv6: Ipv6Request {
                enable: true,
                subnet: Some("2001:db8:e8::/64".parse().expect("cidr")),
                ..Ipv6Request::default()
            },
        })
        .await
        .expect("r6");
        let mut rweb = on("r6");
        rweb.ports = vec![tcp(8081, 80)];
        c.create_container("rweb", &rweb).await.expect("rweb");
        let state = c.state();
        assert!(state.networks["r6"].routed6);
        assert_eq!(
            options(&state.networks["r6"])[OPT_GATEWAY_MODE_IPV6],
            ROUTED
        );
        let ip: Ipv6Addr = "2001:db8:e8::2".parse().expect("ip");
        let open = RoutedPortKey6::new(ip.octets(), 80, proto::TCP);
        let dp = h.datapath.world();
        // `8081:80` on a dual-stack container is two mappings (0.0.0.0 and
        // ::), each opening port 80.
        assert_eq!(dp.routed6, BTreeMap::from([(open, 2)]));
        let six = dp
            .networks6
            .values()
            .find(|n| n.flags & NETWORK_ROUTED6 != 0);
        assert!(six.is_some(), "{:?}", dp.networks6);
        assert!(
            dp.endpoints
                .values()
                .any(|e| e.flags & NETWORK_ROUTED6 != 0),
            "{:?}",
            dp.endpoints
        );
        // Web (on bridge and front, not routed) opens nothing; rweb's
        // port goes with it.
        h.controller.remove_container("rweb").await.expect("rm");
        assert!(h.datapath.world().routed6.is_empty());
    }

    fn mode(driver: &str, value: &str) -> Result<bool> {
        let mut options = BTreeMap::from([(OPT_GATEWAY_MODE_IPV6.to_string(), value.to_string())]);
        let routed = take_gateway_mode6(driver, &mut options);
        assert!(options.is_empty(), "the option is taken out");
        routed
    }

    #[test]
    fn gateway_modes_are_read_and_bad_ones_named() {
        assert_eq!(mode("bridge", "routed").ok(), Some(true));
        assert_eq!(mode("bridge", "nat").ok(), Some(false));
        for (driver, value, says) in [
            ("bridge", "isolated", "not supported"),
            ("bridge", "nat-unprotected", "not supported"),
            ("bridge", "route", "invalid value \"route\""),
            ("macvlan", "routed", "bridge networks"),
        ] {
            let err = mode(driver, value).expect_err(value).to_string();
            assert!(
                err.contains(says) && err.contains(OPT_GATEWAY_MODE_IPV6),
                "{err}"
            );
        }
        let mut none = BTreeMap::new();
        assert_eq!(take_gateway_mode6("bridge", &mut none).ok(), Some(false));
    }

    #[test]
    fn a_specific_ipv4_host_address_opens_no_routed_port() {
        let mapping = |host_ip: Ipv4Addr| PortMapping {
            host_ip: IpAddr::V4(host_ip),
            host_port: 8080,
            container_port: 80,
            protocol: Protocol::Tcp,
        };
        assert!(opens_routed6(&mapping(Ipv4Addr::UNSPECIFIED)));
        assert!(!opens_routed6(&mapping(Ipv4Addr::LOCALHOST)));
    }
}
