//! The topology the packet tests share: two networks, a host, an outside
//! client, containers C2 and C3, and helpers that set it up in a fresh
//! [`Datapath`] (inside a throwaway namespace for `container_ingress`).

use ebpfnet_common::maps::{
    EndpointInfo, FlowKey, Forward, NatEntry, NatKind, NetworkInfo, PublishedValue, proto,
};

use crate::packet::Ipv4Builder;
use crate::testrun::{Datapath, PacketNetns};
use crate::{require_root, serial};

/// The host's uplink address.
pub const HOST: [u8; 4] = [203, 0, 113, 1];
/// A client on the uplink's segment.
pub const CLIENT: [u8; 4] = [203, 0, 113, 2];
/// A host beyond the uplink's router.
pub const OUTSIDE: [u8; 4] = [198, 51, 100, 9];
pub const C2: [u8; 4] = [10, 214, 0, 2];
pub const C2_MAC: [u8; 6] = [0x02, 0x42, 0x0a, 0xd6, 0x00, 0x02];
pub const C3: [u8; 4] = [10, 214, 0, 3];
pub const C3_MAC: [u8; 6] = [0x02, 0x42, 0x0a, 0xd6, 0x00, 0x03];
/// Host-side veth indexes that stand for containers in map values only.
pub const C2_IFINDEX: u32 = 42;
pub const C3_IFINDEX: u32 = 43;
/// The MAC C2 sends IPv4 to (its gateway's).
pub const GW_MAC: [u8; 6] = [0x02, 0x42, 0x0a, 0xd6, 0x00, 0x01];

/// A [`FlowKey`] `src:sport → dst:dport`.
pub fn flow(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, protocol: u8) -> FlowKey {
    FlowKey::new(src, sport, dst, dport, protocol)
}

/// `container:port` behind `ifindex` with `mac`, as a published target.
pub fn target(container: [u8; 4], port: u16, ifindex: u32, mac: [u8; 6]) -> PublishedValue {
    PublishedValue {
        container_ip: container,
        container_port: port,
        ifindex,
        container_mac: mac,
        ..Default::default()
    }
}

/// The answer direction of a flow C2:`c2_port` masqueraded to
/// `remote`:`remote_port`: rewritten back to C2 (behind `ifindex`, a peer).
pub fn masquerade_reply_to_c2(
    remote: [u8; 4],
    remote_port: u16,
    c2_port: u16,
    ifindex: u32,
) -> NatEntry {
    NatEntry {
        new_src_ip: remote,
        new_src_port: remote_port,
        new_dst_ip: C2,
        new_dst_port: c2_port,
        ifindex,
        kind: NatKind::MasqueradeReply as u8,
        forward: Forward::Peer as u8,
        dst_mac: C2_MAC,
        ..Default::default()
    }
}

/// The reply direction of a port published as `HOST`:`host_port`, to
/// `client`:`client_port`: it leaves as `HOST`:`host_port` through `uplink`.
pub fn published_reply(host_port: u16, client: [u8; 4], client_port: u16, uplink: u32) -> NatEntry {
    NatEntry {
        new_src_ip: HOST,
        new_src_port: host_port,
        new_dst_ip: client,
        new_dst_port: client_port,
        ifindex: uplink,
        kind: NatKind::PublishedReply as u8,
        forward: Forward::Neigh as u8,
        ..Default::default()
    }
}

/// Network 1 = 10.214.0.0/16 (gateway .0.1), network 2 = 10.215.0.0/16;
/// the gateways and `HOST` (on `uplink`) are host addresses.
pub fn add_networks(dp: &mut Datapath, uplink: u32) {
    for (id, second) in [(1, 214), (2, 215)] {
        let info = NetworkInfo {
            network_id: id,
            gateway: [10, second, 0, 1],
            flags: 0,
        };
        dp.add_network([10, second, 0, 0], 16, info);
        dp.add_host_addr([10, second, 0, 1], 100 + id);
    }
    dp.add_host_addr(HOST, uplink);
    dp.add_uplink(uplink, HOST);
}

/// A frame from C2 (its own MAC and IP, to its gateway's MAC) to `dst`.
pub fn from_c2(dst: [u8; 4]) -> Ipv4Builder {
    Ipv4Builder::new(C2, dst).macs(C2_MAC, GW_MAC)
}

/// Runs `test(dp, d0)` in a fresh namespace: C2 (endpoint `flags`, network
/// 1) is the container behind `d0`; 203.0.113.1:8080/tcp leads to C3:80.
pub fn with_container(flags: u32, test: impl FnOnce(&mut Datapath, u32) + Send) {
    with_uplink(flags, |dp, d0, _uplink| test(dp, d0));
}

/// Like [`with_container`], passing also `d1`: the uplink (203.0.113.1)
/// that `bpf_fib_lookup` from `d0` picks for outside addresses.
pub fn with_uplink(flags: u32, test: impl FnOnce(&mut Datapath, u32, u32) + Send) {
    let _g = serial();
    require_root();
    let ns = PacketNetns::new();
    let d0 = ns.ifindex;
    let uplink = ns.route_out_of_d1();
    ns.run(move || {
        let mut dp = Datapath::load();
        add_networks(&mut dp, uplink);
        let endpoint = EndpointInfo {
            ip: C2,
            mac: C2_MAC,
            network_id: 1,
            flags,
            ..Default::default()
        };
        dp.add_endpoint(d0, endpoint);
        dp.publish(HOST, 8080, proto::TCP, target(C3, 80, C3_IFINDEX, C3_MAC));
        test(&mut dp, d0, uplink);
    });
}
