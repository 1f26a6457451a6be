//! TC ingress on a container's host-side veth: what a container sends.

use aya_ebpf::{
    bindings::{
        BPF_FIB_LKUP_RET_FRAG_NEEDED, BPF_FIB_LKUP_RET_NO_NEIGH, BPF_FIB_LKUP_RET_SUCCESS,
        bpf_fib_lookup as FibParams,
    },
    helpers::bpf_fib_lookup,
    programs::TcContext,
};
use ebpfnet_common::{
    DropReason,
    maps::{EndpointInfo, Forward, NETWORK_INTERNAL, NatKind, proto},
};

use crate::{
    TCX_NEXT, conntrack,
    counters::drop_packet,
    frag,
    hook::Hook,
    icmp, isolation, maps, nat,
    parse::{self, Packet},
};

const AF_INET: u8 = 2;

#[inline(always)]
pub fn handle(ctx: &TcContext) -> i32 {
    // SAFETY: `skb` points at the live `__sk_buff` of this invocation.
    let ifindex = unsafe { (*ctx.skb.skb).ifindex };
    // SAFETY: copied out at once.
    let Some(endpoint) = (unsafe { maps::ENDPOINTS.get(ifindex) }).copied() else {
        return TCX_NEXT;
    };
    match parse::ethertype(ctx) {
        Some(parse::ETH_P_IP) => {}
        Some(parse::ETH_P_ARP) => {
            return match isolation::check_arp(ctx, &endpoint) {
                Ok(()) => TCX_NEXT,
                Err(reason) => drop_packet(reason),
            };
        }
        _ => return TCX_NEXT,
    }
    let packet = match parse::ipv4(ctx) {
        Ok(packet) => packet,
        Err(reason) => return drop_packet(reason),
    };
    if let Err(reason) = isolation::check_source(ctx, &endpoint, packet.src_ip) {
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
    if packet.translatable()
        && let Some(entry) = conntrack::track(&packet, ctx.len())
        && entry.kind != NatKind::MasqueradeReply as u8
    {
        return nat::apply(ctx, &packet, &entry);
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
                None => TCX_NEXT,
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
/// the client's own address kept; anything else is for the host itself.
#[inline(always)]
fn to_host(ctx: &TcContext, packet: &Packet, endpoint: &EndpointInfo, ifindex: u32) -> i32 {
    if packet.fragment || (packet.protocol != proto::TCP && packet.protocol != proto::UDP) {
        return TCX_NEXT;
    }
    match maps::published(packet.dst_ip, packet.dst_port, packet.protocol) {
        Some((target, any_ip)) => nat::start_published(
            ctx,
            packet,
            &target,
            any_ip,
            Forward::Peer,
            ifindex,
            endpoint.mac,
        ),
        None => TCX_NEXT,
    }
}

#[inline(always)]
fn to_outside(ctx: &TcContext, packet: &Packet, endpoint: &EndpointInfo, ifindex: u32) -> i32 {
    if endpoint.flags & NETWORK_INTERNAL != 0 {
        return drop_packet(DropReason::InternalNetwork);
    }
    if packet.fragment {
        return drop_packet(DropReason::Fragment);
    }
    // Only new flows start here: echo replies leave through their own entry.
    let echo_reply = packet.protocol == proto::ICMP && packet.icmp_type == parse::ICMP_ECHO_REPLY;
    if !packet.translatable() || echo_reply {
        return TCX_NEXT;
    }
    let Some(uplink) = egress(ctx, packet, ifindex) else {
        return TCX_NEXT;
    };
    // SAFETY: copied out at once.
    let Some(info) = (unsafe { maps::UPLINKS.get(uplink) }).copied() else {
        return TCX_NEXT;
    };
    nat::start_masquerade(ctx, packet, uplink, info.ip, ifindex, endpoint.mac)
}

/// The interface the host would route `packet` out of. An input lookup from
/// the container's veth: the controller turns forwarding on for that veth
/// only, so the lookup is allowed while the host's `ip_forward` stays off.
#[inline(always)]
fn egress(ctx: &TcContext, packet: &Packet, ifindex: u32) -> Option<u32> {
    // SAFETY: a zeroed `bpf_fib_lookup` is a valid request to fill in.
    let mut params: FibParams = unsafe { core::mem::zeroed() };
    params.family = AF_INET;
    params.l4_protocol = packet.protocol;
    params.ifindex = ifindex;
    params.__bindgen_anon_3.ipv4_src = u32::from_ne_bytes(packet.src_ip);
    params.__bindgen_anon_4.ipv4_dst = u32::from_ne_bytes(packet.dst_ip);
    let ret = unsafe {
        bpf_fib_lookup(
            ctx.skb.skb.cast(),
            &mut params,
            size_of::<FibParams>() as i32,
            0,
        )
    };
    // FRAG_NEEDED: the route is found (and `params.ifindex` filled) but the
    // packet is larger than that device's MTU; `mtu` answers the sender.
    if ret == i64::from(BPF_FIB_LKUP_RET_SUCCESS)
        || ret == i64::from(BPF_FIB_LKUP_RET_NO_NEIGH)
        || ret == i64::from(BPF_FIB_LKUP_RET_FRAG_NEEDED)
    {
        Some(params.ifindex)
    } else {
        None
    }
}
