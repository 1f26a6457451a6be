//! State objects for unit tests: a plain bridge network, a container with
//! nothing attached and an endpoint, each with empty names and ids where a
//! test does not care, for tests to change what matters to them
//! (`Network { internal: true, ..fixtures::network("n", "10.1.0.0/16") }`);
//! NAT entries of either family.

use std::net::Ipv4Addr;

use ebpfnet_common::{flow::NatEntryOf, maps::NatKind};
use ipnetwork::Ipv4Network;

use crate::state::{Container, Endpoint, NetMode, Network};

/// Bridge network `name` on `subnet` (a CIDR), gateway its first host;
/// number 1, no id, bridge or creation time, no options.
pub fn network(name: &str, subnet: &str) -> Network {
    let subnet: Ipv4Network = subnet.parse().expect("a CIDR in a test");
    Network {
        id: String::new(),
        name: name.into(),
        subnet: Some(subnet),
        gateway: Some(Ipv4Addr::from(u32::from(subnet.network()) + 1)),
        internal: false,
        bridge: String::new(),
        created: String::new(),
        number: 1,
        lan: None,
        owner: None,
        ipv6: None,
        overlay: None,
        routed6: false,
    }
}

/// Container `name` with id `id` in a namespace of its own, with no
/// endpoints, ports, options or labels.
pub fn container(name: &str, id: &str) -> Container {
    Container {
        id: id.into(),
        name: name.into(),
        created: String::new(),
        endpoints: Vec::new(),
        ports: Vec::new(),
        mode: NetMode::Owned,
        hostname: None,
        extra_hosts: Vec::new(),
        dns: Vec::new(),
        links: Vec::new(),
        labels: Default::default(),
    }
}

/// `eth0` on `network` with address `ip`: no id, zero MAC, no host veth,
/// no IPv6, no aliases.
pub fn endpoint(network: &str, ip: Ipv4Addr) -> Endpoint {
    Endpoint {
        id: String::new(),
        network: network.into(),
        ip: Some(ip),
        mac: [0; 6],
        ifname: "eth0".into(),
        host_veth: String::new(),
        ip6: None,
        aliases: Vec::new(),
    }
}

/// A NAT entry of `kind` that rewrites its packets to `src -> dst`
/// (address, port), of either family; everything else zero.
pub fn rewrite<A: Copy + Default>(
    (new_src_ip, new_src_port): (A, u16),
    (new_dst_ip, new_dst_port): (A, u16),
    kind: NatKind,
) -> NatEntryOf<A> {
    NatEntryOf {
        new_src_ip,
        new_src_port,
        new_dst_ip,
        new_dst_port,
        kind: kind as u8,
        ..NatEntryOf::default()
    }
}
