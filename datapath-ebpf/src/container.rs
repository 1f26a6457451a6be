//! TC ingress on a container's host-side veth: what a container sends.

use aya_ebpf::programs::TcContext;
use ebpfnet_common::{
    DropReason,
    maps::{EndpointInfo, Forward, NETWORK_INTERNAL, proto},
};

use crate::{
    TCX_NEXT, conntrack,
    counters::drop_packet,
    frag,
    hook::Hook,
    icmp, ipv6, isolation, maps,
    nat::{self, MasqueradePath, ReplyPath},
    nat_packet, nexthop, overlay, overlay6,
    parse::{self, Packet},
    tail,
};

#[inline(always)]
pub fn handle(ctx: &TcContext) -> i32 {
    // SAFETY: `skb` points at the live `__sk_buff` of this invocation.
    let ifindex = unsafe { (*ctx.skb.skb).ifindex };
    // SAFETY: copied out at once.
    let Some(endpoint) = (unsafe { maps::ENDPOINTS.get(ifindex) }).copied() else {
        return TCX_NEXT;
    };
    if let Err(reason) = isolation::check_mac(ctx, &endpoint) {
        return drop_packet(reason);
    }
    let other = match parse::ethertype(ctx) {
        Some(parse::ETH_P_IP) => None,
        Some(parse::ETH_P_ARP) => match isolation::check_arp(ctx, &endpoint) {
            // ARP for a container on another host is answered here.
            Ok(()) => match overlay::answer_arp(ctx, &endpoint, ifindex) {
                Some(verdict) => return verdict,
                None => Some(Ok(())),
            },
            Err(reason) => Some(Err(reason)),
        },
        Some(parse::ETH_P_IPV6) => {
            return match ipv6::from_container(ctx, &endpoint, ifindex) {
                ipv6::Next::Verdict(verdict) => verdict,
                // Beyond its IPv6 networks: NAT66, in a program of its own.
                ipv6::Next::Outside { beyond } => tail::container6(ctx, beyond),
                // For a container on another host: answered here, as ARP.
                ipv6::Next::Solicitation => {
                    overlay6::answer_solicitation(ctx, endpoint.network_id, ifindex)
                        .unwrap_or(TCX_NEXT)
                }
            };
        }
        // Other protocols stay on the bridge, with the container's MAC.
        _ => Some(Ok(())),
    };
    if let Some(checked) = other {
        return match checked {
            Ok(()) => TCX_NEXT,
            Err(reason) => drop_packet(reason),
        };
    }
    let packet = match parse::ipv4(ctx) {
        Ok(packet) => packet,
        Err(reason) => return drop_packet(reason),
    };
    if let Err(reason) = isolation::check_ipv4(&endpoint, packet.src_ip, packet.dst_ip) {
        return drop_packet(reason);
    }
    // Later fragments of a translated datagram follow its first; ICMP
    // errors about translated flows are translated with them.
    if packet.fragment
        && let Some(verdict) = frag::follow(ctx, &packet, Hook::Container)
    {
        return verdict;
    }
    if let Some(verdict) = icmp::translate_error(ctx, &packet, Hook::Container) {
        return verdict;
    }
    // Every direction a container starts or answers; never the one that
    // enters from an uplink.
    if packet.translatable() {
        match conntrack::track(&packet, ctx.len(), Hook::Container) {
            Ok(Some(entry)) => return nat::apply(ctx, &packet, entry, Hook::Container),
            Err(reason) => return drop_packet(reason),
            Ok(None) => {}
        }
    }
    if let Some(network) = maps::network_of(packet.dst_ip) {
        // A gateway is a host address, which Docker lets every container
        // reach (published ports included).
        if network.gateway == packet.dst_ip {
            return to_host(ctx, &packet, &endpoint, ifindex);
        }
        // Same network: straight into the peer container, past the bridge
        // and the host's FORWARD chain (which may hold Docker's DROP policy
        // while bridge-nf-call-iptables is on). Addresses with no container
        // yet (broadcast, say) take the bridge.
        if network.network_id == endpoint.network_id {
            // SAFETY: copied out at once.
            return match unsafe { maps::ENDPOINT_IPS.get(packet.dst_ip) }.copied() {
                Some(peer) => nat::deliver_to_container(ctx, peer.ifindex, peer.mac),
                // A container of its overlay network on another host.
                None => {
                    overlay::to_remote(ctx, network.network_id, packet.dst_ip).unwrap_or(TCX_NEXT)
                }
            };
        }
        return drop_packet(DropReason::Isolation);
    }
    if maps::is_host_addr(packet.dst_ip) {
        return to_host(ctx, &packet, &endpoint, ifindex);
    }
    // Multicast and limited broadcast stay on the link; never NATed.
    if packet.dst_ip[0] >= 224 {
        return TCX_NEXT;
    }
    to_outside(ctx, &packet, &endpoint, ifindex)
}

/// A host address: a published port is reached directly (hairpin), with
/// the client's own address kept (never from an `--internal` network);
/// anything else is for the host itself.
#[inline(always)]
fn to_host(ctx: &TcContext, packet: &Packet, endpoint: &EndpointInfo, ifindex: u32) -> i32 {
    if packet.fragment || (packet.protocol != proto::TCP && packet.protocol != proto::UDP) {
        return TCX_NEXT;
    }
    // Only a flow's first packet starts one; the host answers stray ones.
    if !packet.opens_flow() {
        return TCX_NEXT;
    }
    let Some((target, any_ip)) = maps::published(packet.dst_ip, packet.dst_port, packet.protocol)
    else {
        return TCX_NEXT;
    };
    // Docker's `--internal`: a published port leads to another network's
    // container, which an internal network never reaches (its rules drop
    // what the DNAT sends out of the internal bridge).
    if endpoint.flags & NETWORK_INTERNAL != 0 {
        return drop_packet(DropReason::InternalNetwork);
    }
    // A container reaching its own published port: its request must not
    // arrive from its own address (it would drop it), so it comes from the
    // gateway, as Docker masquerades that path.
    let source = if target.container_ip == packet.src_ip {
        match maps::network_of(packet.src_ip) {
            Some(network) => network.gateway,
            None => return TCX_NEXT,
        }
    } else {
        [0; 4]
    };
    let path = ReplyPath {
        forward: Forward::Peer,
        ifindex,
        mac: endpoint.mac,
        source,
    };
    if packet.ttl <= 1 {
        return nat::answer_ttl_expired(ctx, packet, Hook::Container);
    }
    let started = nat::start_published(packet, &target, any_ip, &path);
    nat::finish(ctx, packet, started, Hook::Container)
}

#[inline(always)]
fn to_outside(ctx: &TcContext, packet: &Packet, endpoint: &EndpointInfo, ifindex: u32) -> i32 {
    if endpoint.flags & NETWORK_INTERNAL != 0 {
        return drop_packet(DropReason::InternalNetwork);
    }
    if packet.fragment {
        return drop_packet(DropReason::Fragment);
    }
    // Routed elsewhere than an uplink (a VPN, another NIC): the host's
    // business, untranslated, as before ebpfnet.
    let (src, dst) = (&packet.src_ip, &packet.dst_ip);
    let Some(uplink) = nexthop::egress(ctx, src, dst, packet.protocol, ifindex) else {
        return TCX_NEXT;
    };
    // SAFETY: copied out at once.
    let Some(info) = (unsafe { maps::UPLINKS.get(uplink) }).copied() else {
        return TCX_NEXT;
    };
    // Only new flows start here (the host's stack answers "time
    // exceeded").
    let expired = || nat::answer_ttl_expired(ctx, packet, Hook::Container);
    if let Some(verdict) = nat_packet::refuse_new_masquerade(packet, expired) {
        return verdict;
    }
    let path = MasqueradePath {
        uplink,
        uplink_ip: info.ip,
        container_ifindex: ifindex,
        container_mac: endpoint.mac,
    };
    let started = nat::start_masquerade(packet, &path);
    nat::finish(ctx, packet, started, Hook::Container)
}
