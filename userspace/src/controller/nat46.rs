//! IPv4 mappings into IPv6-only containers (Docker 28's "proxy 4 to 6"):
//! a mapping on an IPv4 host address of a container whose mappings lead
//! to an endpoint without IPv4 is translated by the datapath (`nat46` in
//! the programs) for clients coming in through an uplink — a `PUBLISHED6`
//! entry keyed by the IPv4-mapped host address — and relayed by the
//! daemon (relay46) for this host's own IPv4 clients, which no uplink
//! carries and whose sockets the `connect4` hook cannot move to IPv6.
//! A mapping on an IPv4 loopback address has no `PUBLISHED6` entry (only
//! this host reaches it): the relay alone. Nothing is saved apart: a
//! mapping is translated while its container's first endpoint is
//! IPv6-only.

use std::net::{IpAddr, SocketAddrV4, SocketAddrV6};

use ebpfnet_common::published6::PublishedKey6;

use super::{Controller, ControllerError, Result};
use crate::{
    datapath::{encoding::published_value6, nat46::translated_key},
    portspec::PortMapping,
    relay46::RelayKey,
    state::{Container, Endpoint},
};

/// Whether IPv4 mappings into `endpoint` are translated to IPv6: it has
/// an IPv6 address and no IPv4 one.
pub fn translates(endpoint: &Endpoint) -> bool {
    endpoint.ip.is_none() && endpoint.ip6.is_some()
}

/// The `PUBLISHED6` key of `m` when it is translated into `endpoint` (not
/// on a loopback address: uplinks never carry those).
pub fn key_into(m: &PortMapping, endpoint: &Endpoint) -> Option<PublishedKey6> {
    translated_key(m).filter(|_| translates(endpoint) && !m.host_ip.is_loopback())
}

/// The `PUBLISHED6` keys of `container`'s translated mappings.
pub fn keys_of(container: &Container) -> Vec<PublishedKey6> {
    match container.endpoints.first() {
        Some(endpoint) => container
            .ports
            .iter()
            .filter_map(|m| key_into(m, endpoint))
            .collect(),
        None => Vec::new(),
    }
}

/// The relay an IPv4 mapping has when it is translated: it listens on the
/// mapping's own address and port.
pub fn relay_key(m: &PortMapping) -> Option<RelayKey> {
    match m.host_ip {
        IpAddr::V4(ip) => Some(RelayKey {
            protocol: m.protocol,
            listen: SocketAddrV4::new(ip, m.host_port),
        }),
        IpAddr::V6(_) => None,
    }
}

/// Where the relay of `m` into `endpoint` sends to: the container port
/// on the endpoint's IPv6 address.
pub fn relay_target(m: &PortMapping, endpoint: &Endpoint) -> Option<SocketAddrV6> {
    let ip6 = endpoint.ip6.filter(|_| translates(endpoint))?;
    Some(SocketAddrV6::new(ip6, m.container_port, 0, 0))
}

impl Controller {
    /// Publishes the IPv4 mapping `m` into the IPv6-only `endpoint`: its
    /// `PUBLISHED6` entry, then its relay; all or nothing, but at start a
    /// relay that cannot listen is only logged.
    pub(super) fn publish_translated(
        &mut self,
        m: &PortMapping,
        endpoint: &Endpoint,
        ifindex: u32,
    ) -> Result<()> {
        let key6 = key_into(m, endpoint);
        if let Some(key) = key6 {
            self.datapath
                .publish6(key, published_value6(m, endpoint, ifindex))?;
        }
        let (Some(key), Some(target)) = (relay_key(m), relay_target(m, endpoint)) else {
            return Ok(());
        };
        let Err(e) = self.relay.start(key, target) else {
            return Ok(());
        };
        if self.restoring {
            log::error!(
                "{e}: {} serves other hosts only, until the daemon restarts or it is \
                 published again",
                m.host()
            );
            return Ok(());
        }
        if let Some(key) = key6
            && let Err(undo) = self.datapath.unpublish6(&[key])
        {
            log::error!(
                "cannot take back {} after its relay failed: {undo}",
                m.host()
            );
        }
        Err(ControllerError::Refused(format!(
            "cannot publish {}: {e}",
            m.host()
        )))
    }

    /// Stops the relays of `mappings` (those that have one).
    pub(super) fn stop_relays(&mut self, mappings: &[PortMapping]) {
        for key in mappings.iter().filter_map(relay_key) {
            self.relay.stop(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv6Addr};

    use super::*;
    use crate::portspec::Protocol;

    fn mapping(ip: &str) -> PortMapping {
        PortMapping {
            host_ip: ip.parse::<IpAddr>().expect("address"),
            host_port: 8080,
            container_port: 80,
            protocol: Protocol::Tcp,
        }
    }

    fn endpoint(ip4: bool) -> Endpoint {
        let mut endpoint =
            crate::testing::fixtures::endpoint("n6", "10.1.0.2".parse().expect("address"));
        endpoint.ip = ip4.then(|| "10.1.0.2".parse().expect("address"));
        endpoint.ip6 = Some("fd00::2".parse::<Ipv6Addr>().expect("address"));
        endpoint
    }

    #[test]
    fn only_ipv4_mappings_of_ipv6_only_endpoints_are_translated() {
        let (v6only, dual) = (endpoint(false), endpoint(true));
        assert!(translates(&v6only) && !translates(&dual));
        assert!(key_into(&mapping("0.0.0.0"), &v6only).is_some());
        assert!(key_into(&mapping("0.0.0.0"), &dual).is_none());
        assert!(key_into(&mapping("::"), &v6only).is_none());
        // Loopback: relayed only, no datapath entry.
        assert!(key_into(&mapping("127.0.0.1"), &v6only).is_none());
    }

    #[test]
    fn relays_listen_on_the_mapping_and_send_to_the_ipv6_address() {
        let (v6only, dual) = (endpoint(false), endpoint(true));
        let key = relay_key(&mapping("127.0.0.1")).expect("IPv4");
        assert_eq!(key.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(key.protocol, Protocol::Tcp);
        assert!(relay_key(&mapping("::1")).is_none());
        let target = relay_target(&mapping("0.0.0.0"), &v6only).expect("IPv6-only");
        assert_eq!(target.to_string(), "[fd00::2]:80");
        assert!(relay_target(&mapping("0.0.0.0"), &dual).is_none());
    }
}
