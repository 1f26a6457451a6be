//! NAT66 masquerade: a container's new IPv6 flow to the outside leaves
//! with the uplink's IPv6 address and a port from ebpfnet's masquerade
//! range (never a port published on every address), claimed with
//! `BPF_NOEXIST` and counted against the container's per-destination
//! share, as for IPv4.

use aya_ebpf::{
    btf_maps::{Array, HashMap, PerCpuArray},
    helpers::bpf_get_prandom_u32,
    macros::btf_map,
    programs::TcContext,
};
use ebpfnet_common::{
    DropReason,
    flows6::{FlowKey6, ICMPV6, MasqUsageKey6, NatEntry6, UplinkInfo6},
    maps::{Config, EndpointInfo, Forward, NETWORK_INTERNAL, NatKind, proto},
    names::UPLINKS_CAPACITY,
    routed6::NETWORK_ROUTED6,
};

use crate::{
    TCX_NEXT,
    conntrack::{self, Reuse},
    conntrack6,
    counters::drop_packet,
    errors6, frag6,
    hook::Hook,
    hoplimit6, maps, masquerade, masquerade_quota, nat_packet, nat6, nexthop,
    parse6::{self, Packet6},
    publish6, routed6,
};

/// The uplinks' IPv6 addresses, written by the controller.
#[btf_map]
static UPLINKS6: HashMap<u32, UplinkInfo6, { UPLINKS_CAPACITY as usize }> = HashMap::new();

/// The IPv6 address of uplink `ifindex`, if it has one.
#[inline(always)]
pub fn uplink_ip(ifindex: u32) -> Option<[u8; 16]> {
    // SAFETY: copied out at once.
    unsafe { UPLINKS6.get(ifindex) }.map(|info| info.ip)
}

/// The IPv6 masquerade port handed out last, as an offset into the range.
#[btf_map]
static MASQ_CURSOR6: Array<u32, 1> = Array::new();

/// Both directions of a new IPv6 flow, their keys and the container's
/// share it counts on: too big for the stack.
#[repr(C)]
pub struct NewFlow6 {
    pub request: NatEntry6,
    pub reply: NatEntry6,
    pub key: FlowKey6,
    pub back: FlowKey6,
    pub usage: MasqUsageKey6,
    pub path: Path6,
}

#[btf_map]
static NEW_FLOW6: PerCpuArray<NewFlow6, 1> = PerCpuArray::new();

/// The entry of `container_ingress6`: the container behind the veth the
/// packet came in on (checked by `container_ingress`, which tail-called).
#[inline(always)]
pub fn from_container(ctx: &TcContext) -> i32 {
    // SAFETY: `skb` points at the live `__sk_buff` of this invocation.
    let ifindex = unsafe { (*ctx.skb.skb).ifindex };
    // SAFETY: copied out at once.
    match unsafe { maps::ENDPOINTS.get(ifindex) }.copied() {
        Some(endpoint) => to_outside(ctx, &endpoint, ifindex),
        None => drop_packet(DropReason::Untranslatable),
    }
}

/// What a container sends to an address outside its IPv6 networks: a
/// packet of a translated flow, or the first of a new masqueraded one.
#[inline(always)]
fn to_outside(ctx: &TcContext, endpoint: &EndpointInfo, ifindex: u32) -> i32 {
    let packet = match parse6::ipv6(ctx) {
        Ok(packet) => packet,
        Err(reason) => return drop_packet(reason),
    };
    // Later fragments of a translated datagram follow its first (frag6.rs).
    if let Some(verdict) = frag6::follow(ctx, packet, Hook::Container) {
        return verdict;
    }
    // An error about a packet the container received leaves as its flow;
    // one about no flow to another network's container is isolated.
    if packet.protocol == ICMPV6 && errors6::is_error(packet.icmp_type) {
        return errors6::translate(ctx, packet, Hook::Container).unwrap_or_else(|| {
            drop_packet(if maps::network6_of(packet.dst_ip).is_some() {
                DropReason::Isolation
            } else {
                DropReason::Untranslatable
            })
        });
    }
    if packet.translatable() {
        match conntrack6::track(packet, ctx.len(), Hook::Container) {
            Ok(Some(entry)) => return nat6::apply(ctx, packet, entry, Hook::Container),
            Err(reason) => return drop_packet(reason),
            _ => {}
        }
    }
    // Published ports of host addresses (hairpin; refused to `--internal`
    // networks), the gateway, other networks (publish6.rs).
    if let Some(verdict) = publish6::from_container(ctx, packet, endpoint, ifindex) {
        return verdict;
    }
    if endpoint.flags & NETWORK_INTERNAL != 0 {
        return drop_packet(DropReason::InternalNetwork);
    }
    // Routed elsewhere than an uplink (the host itself, a VPN): the host's
    // business, untranslated.
    let (src, dst) = (&packet.src_ip, &packet.dst_ip);
    let Some(uplink) = nexthop::egress(ctx, src, dst, packet.protocol, ifindex) else {
        return TCX_NEXT;
    };
    // A routed network's containers leave with their own address.
    if endpoint.flags & NETWORK_ROUTED6 != 0 {
        return routed6::to_outside(ctx, packet, endpoint, ifindex, uplink);
    }
    // SAFETY: read within this run; the controller replaces whole entries.
    let Some(info) = (unsafe { UPLINKS6.get(uplink) }) else {
        // An uplink without an IPv6 address: the container's own address
        // must not leave through it.
        // SAFETY: only tested for presence.
        return if unsafe { maps::UPLINKS.get(uplink) }.is_some() {
            drop_packet(DropReason::Untranslatable)
        } else {
            TCX_NEXT
        };
    };
    // A later fragment whose first did not pass here: no ports to find.
    if packet.later_fragment() {
        return drop_packet(DropReason::Fragment);
    }
    let expired = || hoplimit6::expired(ctx, packet, Hook::Container);
    if let Some(verdict) = nat_packet::refuse_new_masquerade(packet, expired) {
        return verdict;
    }
    let Some(slot) = NEW_FLOW6.get_ptr_mut(0) else {
        return drop_packet(DropReason::NatInsertFailed);
    };
    // SAFETY: this CPU's slot, used by one program run at a time.
    let flow = unsafe { &mut *slot };
    flow.path = Path6 {
        uplink,
        uplink_ip: info.ip,
        container_ifindex: ifindex,
        container_mac: endpoint.mac,
        _pad: [0; 2],
    };
    start_and_send(ctx, packet, flow)
}

/// Where a masqueraded flow leaves and whose it is.
#[repr(C)]
pub struct Path6 {
    uplink: u32,
    uplink_ip: [u8; 16],
    container_ifindex: u32,
    container_mac: [u8; 6],
    _pad: [u8; 2],
}

/// Claims the reply tuple `flow.back` with masquerade port `candidate`,
/// unless that port is published on IPv6 on the uplink's address or on
/// every address (`::`): a reply to this flow and a new connection to the
/// mapping would be the same tuple (cilium#34041). A subprogram of its
/// own, so the loop that probes ports stays small.
#[inline(never)]
fn try_port(flow: &mut NewFlow6, candidate: u16, reuse: Reuse) -> bool {
    if publish6::lookup(&flow.back.dst_ip, candidate, flow.back.protocol).is_some() {
        return false;
    }
    flow.back.dst_port = candidate;
    conntrack::claim(&flow.back, &flow.reply, reuse, None)
}

enum Started {
    /// Both entries claimed; the request is in this CPU's slot.
    New,
    /// Another CPU masqueraded this very flow first: its entry wins.
    Existing,
    /// Done: this verdict.
    Verdict(i32),
}

/// A new masqueraded flow: the container's share taken, a port claimed for
/// both directions, the first packet translated and sent. The steps are
/// called one after the other from here, never inside each other: the
/// IPv6 path runs below `container_ingress`'s frame.
#[inline(always)]
fn start_and_send(ctx: &TcContext, packet: &Packet6, flow: &'static mut NewFlow6) -> i32 {
    match start(packet, flow) {
        Started::New => nat6::apply(ctx, packet, &mut flow.request, Hook::Container),
        Started::Existing => match conntrack6::track(packet, ctx.len(), Hook::Container) {
            Ok(Some(entry)) => nat6::apply(ctx, packet, entry, Hook::Container),
            Ok(None) => drop_packet(DropReason::NatInsertFailed),
            Err(reason) => drop_packet(reason),
        },
        Started::Verdict(verdict) => verdict,
    }
}

/// Takes the container's share and claims the flow's entries; gives the
/// share back unless the flow is new.
#[inline(never)]
fn start(packet: &Packet6, flow: &mut NewFlow6) -> Started {
    let config = maps::config();
    if config.masq_port_max < config.masq_port_min {
        return Started::Verdict(drop_packet(DropReason::MasqueradePortsExhausted));
    }
    flow.usage = MasqUsageKey6::new(
        packet.src_ip,
        packet.dst_ip,
        packet.dst_port,
        packet.protocol,
    );
    if !masquerade_quota::take(&flow.usage, config.masq_ports_per_destination) {
        return Started::Verdict(drop_packet(DropReason::MasqueradeQuota));
    }
    let started = claim(packet, flow, &config);
    if !matches!(started, Started::New) {
        masquerade_quota::release(&flow.usage);
    }
    started
}

#[inline(always)]
fn claim(packet: &Packet6, flow: &mut NewFlow6, config: &Config) -> Started {
    let range = u32::from(config.masq_port_max - config.masq_port_min) + 1;
    let icmp = packet.protocol == ICMPV6;
    conntrack::init_entry(
        &mut flow.reply,
        NatKind::MasqueradeReply as u8,
        Forward::Peer as u8,
        flow.path.container_ifindex,
        flow.path.container_mac,
    );
    flow.reply.new_src_ip = packet.dst_ip;
    flow.reply.new_src_port = packet.dst_port;
    flow.reply.new_dst_ip = packet.src_ip;
    flow.reply.new_dst_port = packet.src_port;
    let (take_port, reopen) = if packet.opens_tcp() {
        (Reuse::Finished, Reuse::Closed)
    } else {
        (Reuse::Never, Reuse::Never)
    };
    flow.back.src_ip = packet.dst_ip;
    flow.back.dst_ip = flow.path.uplink_ip;
    flow.back.protocol = packet.protocol;
    let mut port = 0u16;
    let first = masquerade::next_offset(&MASQ_CURSOR6, range);
    for try_number in 0..masquerade::MASQ_TRIES {
        let offset = if try_number == 0 {
            first
        } else {
            // SAFETY: plain helper call.
            (unsafe { bpf_get_prandom_u32() }) % range
        };
        let candidate = config.masq_port_min + offset as u16;
        flow.back.src_port = if icmp { candidate } else { packet.dst_port };
        if try_port(flow, candidate, take_port) {
            port = candidate;
            break;
        }
    }
    if port == 0 {
        return Started::Verdict(drop_packet(DropReason::MasqueradePortsExhausted));
    }
    conntrack::init_entry(
        &mut flow.request,
        NatKind::MasqueradeRequest as u8,
        Forward::Neigh as u8,
        flow.path.uplink,
        [0; 6],
    );
    flow.request.new_src_ip = flow.path.uplink_ip;
    flow.request.new_src_port = port;
    flow.request.new_dst_ip = packet.dst_ip;
    flow.request.new_dst_port = if icmp { port } else { packet.dst_port };
    if packet.protocol == proto::TCP {
        conntrack::record_sequence(packet, &mut flow.request);
    }
    // The next hop the route lookup just found (`nexthop::egress`).
    nexthop::seed(&mut flow.request);
    flow.key = FlowKey6::new(
        packet.src_ip,
        packet.src_port,
        packet.dst_ip,
        packet.dst_port,
        packet.protocol,
    );
    if !conntrack::claim(&flow.key, &flow.request, reopen, Some(&flow.back)) {
        conntrack::release(&flow.back);
        return Started::Existing;
    }
    Started::New
}
