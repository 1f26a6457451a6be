//! The one place where ebpfnet's objects become map entries and map
//! entries become words: networks, endpoints, uplinks and published ports
//! as the maps hold them, and the names of protocols and NAT kinds. The
//! constructors and enum decoding live with the types, in
//! `ebpfnet_common`; the views and the controller use only this.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use aya::maps::lpm_trie::Key;
use ebpfnet_common::{
    maps::{
        EndpointInfo, NETWORK_INTERNAL, NatKind, NetworkInfo, PublishedKey, PublishedValue,
        SubnetKey, UplinkInfo, proto,
    },
    maps6::{NetworkInfo6, SubnetKey6},
    published::PublishedKeyOf,
    published6::{PublishedKey6, PublishedValue6},
    routed6::NETWORK_ROUTED6,
};
use ipnetwork::{Ipv4Network, Ipv6Network};

use super::family::Family;
use crate::{
    portspec::{PortMapping, Protocol},
    state::{Endpoint, Network},
};

/// `NETWORKS` value of a network. An IPv6-only network has no `NETWORKS`
/// entry; its value (gateway 0.0.0.0) only carries the network's number and
/// flags into its endpoints' entries.
pub fn network_info(network: &Network) -> NetworkInfo {
    let gateway = network.gateway.unwrap_or(Ipv4Addr::UNSPECIFIED);
    NetworkInfo::new(network.number, gateway.octets(), network.internal)
}

/// `NETWORKS6` entry of a network with IPv6: its subnet and value.
pub fn network_info6(network: &Network) -> Option<(Ipv6Network, NetworkInfo6)> {
    let six = network.ipv6?;
    let info = NetworkInfo6 {
        network_id: network.number,
        flags: internal_flag(network) | routed6_flag(network),
        gateway: six.gateway.octets(),
    };
    Some((six.subnet, info))
}

/// `NETWORKS6` key of an IPv6 subnet.
pub fn subnet6_key(subnet: Ipv6Network) -> Key<SubnetKey6> {
    Key::new(
        u32::from(subnet.prefix()),
        SubnetKey6 {
            addr: subnet.network().octets(),
        },
    )
}

/// The subnet of a `NETWORKS6` key; `None` for one no daemon writes.
pub fn subnet6_of(key: &Key<SubnetKey6>) -> Option<Ipv6Network> {
    let prefix = u8::try_from(key.prefix_len()).ok()?;
    Ipv6Network::new(Ipv6Addr::from(key.data().addr), prefix).ok()
}

/// `ENDPOINTS` value of an endpoint on `network`. An endpoint without
/// IPv4 (IPv6-only network) has address 0.0.0.0: the programs drop every
/// IPv4 packet it sends, and `ENDPOINT_IPS` gets no entry for it.
pub fn endpoint_info(endpoint: &Endpoint, network: &Network) -> EndpointInfo {
    let ip = endpoint.ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
    let mut info = EndpointInfo::new(ip.octets(), endpoint.mac, &network_info(network));
    info.flags |= routed6_flag(network);
    info
}

/// `NETWORK_INTERNAL` for an `--internal` network, else 0.
fn internal_flag(network: &Network) -> u32 {
    if network.internal {
        NETWORK_INTERNAL
    } else {
        0
    }
}

/// `NETWORK_ROUTED6` for a network in IPv6 routed mode, else 0.
fn routed6_flag(network: &Network) -> u32 {
    if network.routed6 { NETWORK_ROUTED6 } else { 0 }
}

/// `UPLINKS` value of an uplink masquerading as `ip`.
pub fn uplink_info(ip: Ipv4Addr) -> UplinkInfo {
    UplinkInfo::new(ip.octets())
}

/// `NETWORKS` key of a subnet.
pub fn subnet_key(subnet: Ipv4Network) -> Key<SubnetKey> {
    Key::new(
        u32::from(subnet.prefix()),
        SubnetKey {
            addr: subnet.network().octets(),
        },
    )
}

/// The subnet of a `NETWORKS` key; `None` for one no daemon writes.
pub fn subnet_of(key: &Key<SubnetKey>) -> Option<Ipv4Network> {
    let prefix = u8::try_from(key.prefix_len()).ok()?;
    Ipv4Network::new(Ipv4Addr::from(key.data().addr), prefix).ok()
}

pub fn protocol_number(protocol: Protocol) -> u8 {
    match protocol {
        Protocol::Tcp => proto::TCP,
        Protocol::Udp => proto::UDP,
    }
}

/// `tcp`, `udp`, `icmp`, or `proto-N`.
pub fn protocol_name(protocol: u8) -> String {
    match protocol {
        proto::TCP => "tcp".into(),
        proto::UDP => "udp".into(),
        proto::ICMP => "icmp".into(),
        other => format!("proto-{other}"),
    }
}

/// `PUBLISHED` key of a mapping on an IPv4 host address (`None` for an
/// IPv6 one, which is `PUBLISHED6`'s).
pub fn published_key(m: &PortMapping) -> Option<PublishedKey> {
    match m.host_ip {
        IpAddr::V4(ip) => Some(PublishedKey::new(
            ip.octets(),
            m.host_port,
            protocol_number(m.protocol),
        )),
        IpAddr::V6(_) => None,
    }
}

/// `PUBLISHED6` key of a mapping on an IPv6 host address (`None` for an
/// IPv4 one).
pub fn published_key6(m: &PortMapping) -> Option<PublishedKey6> {
    match m.host_ip {
        IpAddr::V6(ip) => Some(PublishedKey6::new(
            ip.octets(),
            m.host_port,
            protocol_number(m.protocol),
        )),
        IpAddr::V4(_) => None,
    }
}

/// `PUBLISHED6` value of a mapping into `endpoint`'s IPv6 address (the
/// controller publishes an IPv6 mapping only into an endpoint with one).
pub fn published_value6(m: &PortMapping, endpoint: &Endpoint, ifindex: u32) -> PublishedValue6 {
    PublishedValue6::new(
        endpoint.ip6.unwrap_or(Ipv6Addr::UNSPECIFIED).octets(),
        m.container_port,
        ifindex,
        endpoint.mac,
    )
}

/// `PUBLISHED` value of a mapping into `endpoint`, whose host veth is
/// interface `ifindex` (an endpoint with IPv4: the controller publishes
/// an IPv4 mapping only into an endpoint with one).
pub fn published_value(m: &PortMapping, endpoint: &Endpoint, ifindex: u32) -> PublishedValue {
    PublishedValue::new(
        endpoint.ip.unwrap_or(Ipv4Addr::UNSPECIFIED).octets(),
        m.container_port,
        ifindex,
        endpoint.mac,
    )
}

/// The mapping a `PUBLISHED` or `PUBLISHED6` key stands for, without its
/// container port: `10.0.0.5:8080/udp`, `[::1]:8080/udp`.
pub fn describe_key<A: Family>(key: &PublishedKeyOf<A>) -> String {
    format!(
        "{}/{}",
        SocketAddr::new(key.host_ip.ip(), key.host_port),
        protocol_name(key.protocol)
    )
}

/// What a NAT entry's kind byte says, as `ebpfnet flows` shows it.
pub fn nat_kind_name(kind: u8) -> &'static str {
    match NatKind::try_from(kind) {
        Ok(NatKind::PublishedRequest) => "published",
        Ok(NatKind::PublishedReply) => "published-reply",
        Ok(NatKind::MasqueradeRequest) => "masquerade",
        Ok(NatKind::MasqueradeReply) => "masquerade-reply",
        Ok(NatKind::RoutedRequest) => "routed",
        Ok(NatKind::RoutedReply) => "routed-reply",
        Ok(NatKind::Nat46Request) => "published-4to6",
        Ok(NatKind::Nat46Reply) => "published-4to6-reply",
        Err(_) => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use ebpfnet_common::maps::NETWORK_INTERNAL;

    use super::*;

    #[test]
    fn mappings_encode_as_the_programs_read_them() {
        let m = PortMapping {
            host_ip: Ipv4Addr::new(10, 0, 0, 5).into(),
            host_port: 8080,
            container_port: 80,
            protocol: Protocol::Udp,
        };
        let key = published_key(&m).expect("IPv4");
        assert_eq!(published_key6(&m), None);
        assert_eq!(key, PublishedKey::new([10, 0, 0, 5], 8080, 17));
        assert_eq!(describe_key(&key), "10.0.0.5:8080/udp");
        let endpoint = Endpoint {
            id: "e".into(),
            network: "bridge".into(),
            ip: Some(Ipv4Addr::new(10, 214, 0, 2)),
            mac: [2, 0x42, 10, 214, 0, 2],
            ifname: "eth0".into(),
            host_veth: "veth01234567".into(),
            ip6: None,
            aliases: Vec::new(),
        };
        let value = published_value(&m, &endpoint, 42);
        assert_eq!(value.container_ip, [10, 214, 0, 2]);
        assert_eq!(value.container_port, 80);
        assert_eq!(value.ifindex, 42);
        assert_eq!(value.container_mac, [2, 0x42, 10, 214, 0, 2]);
        let network = Network {
            id: String::new(),
            name: "bridge".into(),
            subnet: Some("10.214.0.0/16".parse().expect("cidr")),
            gateway: Some(Ipv4Addr::new(10, 214, 0, 1)),
            internal: true,
            bridge: "ebpfnet0".into(),
            created: String::new(),
            number: 3,
            lan: None,
            owner: None,
            ipv6: None,
            overlay: None,
            routed6: false,
        };
        let info = endpoint_info(&endpoint, &network);
        assert_eq!(
            (info.ip, info.network_id, info.flags),
            ([10, 214, 0, 2], 3, NETWORK_INTERNAL)
        );
        assert_eq!(network_info(&network).gateway, [10, 214, 0, 1]);
    }

    #[test]
    fn ipv6_mappings_encode_into_published6() {
        let m = PortMapping {
            host_ip: "2001:db8::1".parse().expect("ip"),
            host_port: 8080,
            container_port: 80,
            protocol: Protocol::Tcp,
        };
        assert_eq!(published_key(&m), None);
        let key = published_key6(&m).expect("IPv6");
        let ip: Ipv6Addr = "2001:db8::1".parse().expect("ip");
        assert_eq!(key, PublishedKey6::new(ip.octets(), 8080, 6));
        assert_eq!(describe_key(&key), "[2001:db8::1]:8080/tcp");
        let endpoint = Endpoint {
            id: "e".into(),
            network: "n6".into(),
            ip: None,
            mac: [2, 0x42, 0, 0, 0, 2],
            ifname: "eth0".into(),
            host_veth: "veth01234567".into(),
            ip6: Some("fd00:eb::2".parse().expect("ip")),
            aliases: Vec::new(),
        };
        let value = published_value6(&m, &endpoint, 42);
        let container: Ipv6Addr = "fd00:eb::2".parse().expect("ip");
        assert_eq!(
            value,
            PublishedValue6::new(container.octets(), 80, 42, [2, 0x42, 0, 0, 0, 2])
        );
    }

    #[test]
    fn subnets_go_both_ways() {
        let subnet: Ipv4Network = "10.1.2.0/24".parse().expect("cidr");
        let key = subnet_key(subnet);
        assert_eq!((key.prefix_len(), key.data().addr), (24, [10, 1, 2, 0]));
        assert_eq!(subnet_of(&key), Some(subnet));
        assert_eq!(subnet_of(&Key::new(33, SubnetKey { addr: [0; 4] })), None);
    }

    #[test]
    fn names_of_protocols_and_kinds() {
        assert_eq!(protocol_name(6), "tcp");
        assert_eq!(protocol_name(1), "icmp");
        assert_eq!(protocol_name(47), "proto-47");
        assert_eq!(
            nat_kind_name(NatKind::MasqueradeReply as u8),
            "masquerade-reply"
        );
        assert_eq!(nat_kind_name(0), "unknown");
    }
}
