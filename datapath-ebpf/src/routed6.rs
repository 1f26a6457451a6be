//! IPv6 routed mode (`gateway_mode_ipv6=routed`, Docker's): the containers
//! of such a network reach the outside with their own addresses, no NAT66;
//! from outside only their published container ports (`ROUTED6`) and
//! ICMPv6 echo reach them, besides the replies of their own flows; from
//! containers of other networks (not `--internal`) only those published
//! ports and ICMPv6 echo, as Docker's isolation rules let them (moby's
//! DOCKER-ISOLATION-STAGE-1 returns early for a routed network, and its
//! rules for the routed network accept ICMPv6).
//!
//! Flow state is the NAT66 tables': a flow's two directions get entries
//! that rewrite nothing (`RoutedRequest` for the direction that opened it,
//! `RoutedReply` for its answer), so `nat6::apply` forwards both ways with
//! the hop limit decremented, `conntrack6` follows TCP, the idle-flow
//! collector ends them and `ebpfnet flows` lists them; ICMPv6 errors about
//! them go through `errors6`. No masquerade port is taken, so no share
//! is counted.

use aya_ebpf::{
    btf_maps::{HashMap, PerCpuArray},
    helpers::bpf_redirect_neigh,
    macros::btf_map,
    programs::TcContext,
};
use ebpfnet_common::{
    DropReason,
    flows6::{FlowKey6, ICMPV6, NatEntry6},
    maps::{EndpointAddr, EndpointInfo, FROM_CONTAINER, Forward, NETWORK_INTERNAL, NatKind, proto},
    routed6::{NETWORK_ROUTED6, ROUTED6_CAPACITY, RoutedPortKey6},
};

use crate::{
    TCX_NEXT,
    conntrack::{self, Reuse},
    conntrack6,
    counters::drop_packet,
    hook::Hook,
    hoplimit6, maps, masquerade6, nat, nat6,
    parse::FlowPacket,
    parse6::{HOP_LIMIT_OFF, ICMPV6_ECHO_REPLY, ICMPV6_ECHO_REQUEST, Packet6},
};

/// The container ports open on routed networks, written by the controller.
#[btf_map]
static ROUTED6: HashMap<RoutedPortKey6, u32, { ROUTED6_CAPACITY as usize }> = HashMap::new();

/// Both directions of a new routed flow and their keys: too big for the
/// stack.
#[repr(C)]
pub struct RoutedFlow6 {
    request: NatEntry6,
    reply: NatEntry6,
    key: FlowKey6,
    back: FlowKey6,
}

#[btf_map]
static ROUTED_FLOW6: PerCpuArray<RoutedFlow6, 1> = PerCpuArray::new();

/// Where one direction of a flow goes: how, the device, the MAC.
#[derive(Clone, Copy)]
struct Way {
    forward: Forward,
    ifindex: u32,
    mac: [u8; 6],
}

impl Way {
    #[inline(always)]
    fn into_container(container: EndpointAddr) -> Self {
        Self {
            forward: Forward::Peer,
            ifindex: container.ifindex,
            mac: container.mac,
        }
    }

    #[inline(always)]
    fn out_of(uplink: u32) -> Self {
        Self {
            forward: Forward::Neigh,
            ifindex: uplink,
            mac: [0; 6],
        }
    }
}

/// Where a new flow's directions go: the request where the opening packet
/// goes, the reply back to where it came from.
struct Ends {
    request: Way,
    reply: Way,
}

/// A packet from a container of a routed network to beyond its networks,
/// routed out of `uplink`, of no flow yet: a flow's first packet starts
/// one; an echo reply (to an echo request from outside, which needs no
/// flow) and protocols without ports leave as they are; anything else of
/// no flow is dropped.
#[inline(never)]
pub fn to_outside(
    ctx: &TcContext,
    packet: &Packet6,
    endpoint: &EndpointInfo,
    ifindex: u32,
    uplink: u32,
) -> i32 {
    // SAFETY: only tested for presence.
    let is_uplink =
        masquerade6::uplink_ip(uplink).is_some() || unsafe { maps::UPLINKS.get(uplink) }.is_some();
    if !is_uplink {
        // Routed elsewhere (the host itself, a VPN): the host's business.
        return TCX_NEXT;
    }
    if packet.fragment {
        return drop_packet(DropReason::Fragment);
    }
    if packet.hop_limit <= 1 {
        return hoplimit6::expired(ctx, packet, Hook::Container);
    }
    let echo_reply = packet.protocol == ICMPV6 && packet.icmp_type == ICMPV6_ECHO_REPLY;
    if echo_reply || !packet.translatable() {
        return forward(ctx, packet, uplink);
    }
    if !packet.opens_flow() {
        return drop_packet(DropReason::NoFlow);
    }
    let ends = Ends {
        request: Way::out_of(uplink),
        reply: Way::into_container(EndpointAddr::new(ifindex, endpoint.mac)),
    };
    start(ctx, packet, &ends, Hook::Container)
}

/// A packet from a container of another network (not `--internal`) to a
/// container of a routed network, of no flow yet: a flow's first packet
/// to a published container port, or an echo request, starts one, both
/// ways between the two veths, as Docker's rules let other networks reach
/// a routed network's published ports and ping its containers (the echo
/// flow carries the replies back; errors about it go through `errors6`).
/// `Some(Ok(entry))`: the caller applies `entry` (kept
/// out of this subprogram, whose frame would push `nat6::apply`'s chain
/// past the 512-byte stack); `Some(Err(reason))`: no flow (`TtlExceeded`:
/// the caller answers "time exceeded"); `None`: anything else (the caller
/// refuses it). `len`: the packet's length. A subprogram of its own.
#[inline(never)]
pub fn from_other_network(
    packet: &Packet6,
    endpoint: &EndpointInfo,
    ifindex: u32,
    len: u32,
) -> Option<Result<&'static mut NatEntry6, DropReason>> {
    let echo = packet.protocol == ICMPV6 && packet.icmp_type == ICMPV6_ECHO_REQUEST;
    if endpoint.flags & NETWORK_INTERNAL != 0
        || packet.fragment
        || !(echo || matches!(packet.protocol, proto::TCP | proto::UDP))
        || !packet.opens_flow()
    {
        return None;
    }
    if !echo {
        let open = RoutedPortKey6::new(packet.dst_ip, packet.dst_port, packet.protocol);
        // SAFETY: only tested for presence.
        unsafe { ROUTED6.get(open) }?;
    }
    // SAFETY: copied out at once.
    let target = unsafe { maps::ENDPOINT_IPS6.get(packet.dst_ip) }.copied()?;
    if packet.hop_limit <= 1 {
        return Some(Err(DropReason::TtlExceeded));
    }
    let ends = Ends {
        request: Way::into_container(target),
        reply: Way::into_container(EndpointAddr::new(ifindex, endpoint.mac)),
    };
    let Some(slot) = ROUTED_FLOW6.get_ptr_mut(0) else {
        return Some(Err(DropReason::NatInsertFailed));
    };
    // SAFETY: this CPU's slot, used by one program run at a time.
    let flow = unsafe { &mut *slot };
    if claim(packet, &ends, flow) {
        return Some(Ok(&mut flow.request));
    }
    // Another CPU started this very flow first: its entry wins.
    Some(match conntrack6::track(packet, len, Hook::Container) {
        Ok(Some(entry)) => Ok(entry),
        Ok(None) => Err(DropReason::NatInsertFailed),
        Err(reason) => Err(reason),
    })
}

/// An IPv6 packet from an uplink to a container of a routed network that
/// belongs to no flow: an echo request goes in, a flow's first packet to
/// a published container port starts one. `None`: neither (the caller
/// drops it as unsolicited), or not to a routed network at all. A
/// subprogram of its own.
#[inline(never)]
pub fn from_uplink(ctx: &TcContext, packet: &Packet6) -> Option<i32> {
    let network = maps::network6_of(packet.dst_ip)?;
    if network.flags & NETWORK_ROUTED6 == 0 || network.gateway == packet.dst_ip {
        return None;
    }
    // SAFETY: copied out at once.
    let container = unsafe { maps::ENDPOINT_IPS6.get(packet.dst_ip) }.copied()?;
    if packet.fragment {
        return None;
    }
    if packet.protocol == ICMPV6 && packet.icmp_type == ICMPV6_ECHO_REQUEST {
        if packet.hop_limit <= 1 {
            return Some(hoplimit6::expired(ctx, packet, Hook::Uplink));
        }
        if ctx
            .store(HOP_LIMIT_OFF, &(packet.hop_limit - 1), 0)
            .is_err()
        {
            return Some(drop_packet(DropReason::Malformed));
        }
        return Some(nat::deliver_to_container(
            ctx,
            container.ifindex,
            container.mac,
        ));
    }
    if !matches!(packet.protocol, proto::TCP | proto::UDP) || !packet.opens_flow() {
        return None;
    }
    let open = RoutedPortKey6::new(packet.dst_ip, packet.dst_port, packet.protocol);
    // SAFETY: only tested for presence.
    unsafe { ROUTED6.get(open) }?;
    if packet.hop_limit <= 1 {
        return Some(hoplimit6::expired(ctx, packet, Hook::Uplink));
    }
    // SAFETY: `skb` points at the live `__sk_buff` of this invocation.
    let uplink = unsafe { (*ctx.skb.skb).ifindex };
    let ends = Ends {
        request: Way::into_container(container),
        reply: Way::out_of(uplink),
    };
    Some(start(ctx, packet, &ends, Hook::Uplink))
}

/// Routes a packet of no flow out of `uplink` as it is, one hop less.
#[inline(always)]
fn forward(ctx: &TcContext, packet: &Packet6, uplink: u32) -> i32 {
    if ctx
        .store(HOP_LIMIT_OFF, &(packet.hop_limit - 1), 0)
        .is_err()
    {
        return drop_packet(DropReason::Malformed);
    }
    // SAFETY: plain helper call; no neighbour parameters given.
    unsafe { bpf_redirect_neigh(uplink, core::ptr::null_mut(), 0, 0) as i32 }
}

/// A new routed flow opened by `packet`, which entered at `hook`: both
/// entries claimed (`BPF_NOEXIST`; a TCP flow that is over gives its tuple
/// up to a new SYN), then the packet sent on by its own entry.
#[inline(always)]
fn start(ctx: &TcContext, packet: &Packet6, ends: &Ends, hook: Hook) -> i32 {
    let Some(slot) = ROUTED_FLOW6.get_ptr_mut(0) else {
        return drop_packet(DropReason::NatInsertFailed);
    };
    // SAFETY: this CPU's slot, used by one program run at a time.
    let flow = unsafe { &mut *slot };
    if claim(packet, ends, flow) {
        return nat6::apply(ctx, packet, &mut flow.request, hook);
    }
    // Another CPU started this very flow first: its entry wins.
    match conntrack6::track(packet, ctx.len(), hook) {
        Ok(Some(entry)) => nat6::apply(ctx, packet, entry, hook),
        Ok(None) => drop_packet(DropReason::NatInsertFailed),
        Err(reason) => drop_packet(reason),
    }
}

/// Writes both directions of the flow; false when either tuple is taken.
/// A flow between two containers (both ways into a container) is marked
/// `FROM_CONTAINER`: its packets only ever enter at veths (`nat6::applies`).
/// A subprogram of its own.
#[inline(never)]
fn claim(packet: &Packet6, ends: &Ends, flow: &mut RoutedFlow6) -> bool {
    let client = (&packet.src_ip, packet.src_port);
    let server = (&packet.dst_ip, packet.dst_port);
    init_way(
        &mut flow.reply,
        NatKind::RoutedReply,
        &ends.reply,
        server,
        client,
    );
    init_way(
        &mut flow.request,
        NatKind::RoutedRequest,
        &ends.request,
        client,
        server,
    );
    if ends.request.forward == Forward::Peer && ends.reply.forward == Forward::Peer {
        flow.request.tcp_flags |= FROM_CONTAINER;
        flow.reply.tcp_flags |= FROM_CONTAINER;
    }
    if packet.protocol == proto::TCP {
        conntrack::record_sequence(packet, &mut flow.request);
    }
    flow.key = packet.key();
    flow.back = flow.key.reversed();
    let reuse = if packet.opens_tcp() {
        Reuse::Closed
    } else {
        Reuse::Never
    };
    if !conntrack::claim(&flow.back, &flow.reply, reuse, None) {
        return false;
    }
    if !conntrack::claim(&flow.key, &flow.request, reuse, Some(&flow.back)) {
        conntrack::release(&flow.back);
        return false;
    }
    true
}

/// One direction's entry of a routed flow: sent `way` (forward, ifindex,
/// MAC) with its tuple `from` -> `to` unchanged (routed flows rewrite no
/// address).
#[inline(always)]
fn init_way(
    entry: &mut NatEntry6,
    kind: NatKind,
    way: &Way,
    from: (&[u8; 16], u16),
    to: (&[u8; 16], u16),
) {
    conntrack::init_entry(entry, kind as u8, way.forward as u8, way.ifindex, way.mac);
    entry.new_src_ip = *from.0;
    entry.new_src_port = from.1;
    entry.new_dst_ip = *to.0;
    entry.new_dst_port = to.1;
}
