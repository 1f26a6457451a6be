//! IPv4 clients into IPv6-only containers (Docker's "proxy 4 to 6",
//! without a proxy): a TCP or UDP flow from an uplink to an IPv4 host
//! address and a port published into an IPv6-only container
//! (`PUBLISHED6` keyed by the IPv4-mapped address, `nat46` in common) is
//! translated to IPv6 (`nat46_xlate`) with the client's address embedded
//! in `64:ff9b:1::/96`, so the container sees who connected; its replies
//! (`container_ingress6`, by the flow's `Nat46Reply` entry) go back as
//! IPv4 from the published address.
//!
//! Both directions live in the IPv6 NAT tables, keyed as the translated
//! packets read (`nat46::client6`, `nat46::mapped`): conntrack's logic
//! (`BPF_NOEXIST` claims, TCP state, the RST window) and the flow views
//! work on them unchanged. `uplink_ingress` looks at `NAT46_PORTS` (one
//! array read) only on its miss path, after every IPv4 table: the IPv4
//! flows do not pay for this.

use aya_ebpf::{
    btf_maps::{Array, PerCpuArray},
    helpers::bpf_redirect_neigh,
    macros::btf_map,
    programs::TcContext,
};
use ebpfnet_common::{
    DropReason,
    flows6::NatEntry6,
    maps::{Forward, NatKind, PUBLISHED_ANY_IP, proto},
    nat46::{self, NAT46_PORTS_CAPACITY},
    published6::PublishedValue6,
};

use crate::{
    TCX_NEXT, conntrack6,
    counters::drop_packet,
    hook::Hook,
    icmp, maps, nat, nat46_icmp, nat46_xlate,
    parse::{self, IP_OFF, Packet},
    parse6::{IPV6_HEADER_LEN, Packet6},
    publish6::{self, PublishedFlow6, ReplyWay},
};

/// Host ports that lead into an IPv6-only container from IPv4 (bits
/// `NAT46_TCP`, `NAT46_UDP`), written by the controller.
#[btf_map]
static NAT46_PORTS: Array<u8, { NAT46_PORTS_CAPACITY as usize }> = Array::new();

/// The IPv4 packet as the IPv6 tables key it (the client embedded, the
/// host address IPv4-mapped): `conntrack6` reads it as a parsed IPv6 one.
#[btf_map]
static VIEW46: PerCpuArray<Packet6, 1> = PerCpuArray::new();

/// Both directions of a new translated flow and their keys.
#[btf_map]
static NEW_FLOW46: PerCpuArray<PublishedFlow6, 1> = PerCpuArray::new();

/// Whether `packet`'s destination port may lead into an IPv6-only
/// container (`uplink_ingress` then tail-calls `uplink_ingress46`).
#[inline(always)]
pub fn wanted(packet: &Packet) -> bool {
    port_marked(packet.dst_port, packet.protocol)
}

/// Whether `port` of `protocol` is marked in `NAT46_PORTS` (masquerade
/// never takes such a port either, cilium#34041).
#[inline(always)]
pub fn port_marked(port: u16, protocol: u8) -> bool {
    let bit = nat46::port_bit(protocol);
    bit != 0
        && NAT46_PORTS
            .get(u32::from(port))
            .is_some_and(|ports| ports & bit != 0)
}

/// Whether `packet` is an ICMP error quoting a packet from a port marked
/// in `NAT46_PORTS` (the answer of a translated flow, which `nat46_icmp`
/// translates into its container). Asked by `uplink_ingress` for ICMP
/// only, at the end of its miss path. A subprogram of its own.
#[inline(never)]
pub fn error_wanted(ctx: &TcContext, packet: &Packet) -> bool {
    if !icmp::is_error(packet) {
        return false;
    }
    // The quoted IPv4 header (without options, as translated answers
    // are), then its source port.
    let quoted = packet.l4_off + 8;
    let (Ok(head), Ok(port)) = (
        ctx.load::<[u8; 10]>(quoted),
        ctx.load::<[u8; 2]>(quoted + 20),
    ) else {
        return false;
    };
    head[0] == 0x45 && port_marked(u16::from_be_bytes(port), head[9])
}

/// `uplink_ingress46`: a packet of a translated flow, or the first of a
/// new one, goes into its container as IPv6; anything else is what
/// `uplink_ingress` would have done with it.
#[inline(always)]
pub fn from_uplink(ctx: &TcContext) -> i32 {
    let Ok(packet) = parse::ipv4(ctx) else {
        return TCX_NEXT;
    };
    // An ICMP error about a translated flow (`error_wanted`).
    if packet.protocol == proto::ICMP {
        return nat46_icmp::from_uplink(ctx, &packet).unwrap_or_else(|| not_ours(&packet));
    }
    let Some(view) = view_of(&packet) else {
        return drop_packet(DropReason::Malformed);
    };
    // A fragmented datagram is not translated: its later fragments carry
    // no ports to follow (the host's stack gets it, as any fragment).
    if packet.first_fragment {
        return not_ours(&packet);
    }
    match conntrack6::track(view, ctx.len(), Hook::Uplink) {
        Ok(Some(entry)) if entry.kind == NatKind::Nat46Request as u8 => {
            return to_container(ctx, &packet, entry);
        }
        Err(reason) => return drop_packet(reason),
        Ok(_) => {}
    }
    if view.opens_flow()
        && let Some((target, any_ip)) = lookup(packet.dst_ip, packet.dst_port, packet.protocol)
    {
        if packet.ttl <= 1 {
            return nat::answer_ttl_expired(ctx, &packet, Hook::Uplink);
        }
        // What cannot be translated makes no state.
        if let Err(reason) = nat46_xlate::translatable(ctx, &packet) {
            return drop_packet(reason);
        }
        return start(ctx, &packet, view, target, any_ip);
    }
    not_ours(&packet)
}

/// What `uplink_ingress` does with a packet no table wants: from outside,
/// a container address takes only replies and published ports.
#[inline(always)]
pub fn not_ours(packet: &Packet) -> i32 {
    if maps::network_of(packet.dst_ip).is_some() {
        return drop_packet(DropReason::Unsolicited);
    }
    TCX_NEXT
}

/// The mapping of `host:port/protocol` into an IPv6-only container: one
/// on that very address, else one on every address when it is the
/// host's. Returns it and whether it was the wildcard one.
#[inline(always)]
fn lookup(host: [u8; 4], port: u16, protocol: u8) -> Option<(&'static PublishedValue6, bool)> {
    if let Some(value) = publish6::exact(&nat46::mapped(host), port, protocol) {
        return Some((value, false));
    }
    if !maps::is_host_addr(host) {
        return None;
    }
    publish6::exact(&nat46::mapped([0; 4]), port, protocol).map(|value| (value, true))
}

/// Fills this CPU's view of `packet` as the IPv6 tables key it. A
/// subprogram of its own.
#[inline(never)]
fn view_of(packet: &Packet) -> Option<&'static mut Packet6> {
    // SAFETY: this CPU's slot, used by one program run at a time.
    let view = unsafe { &mut *VIEW46.get_ptr_mut(0)? };
    view.l4_off = IP_OFF + IPV6_HEADER_LEN;
    view.protocol = packet.protocol;
    view.hop_limit = packet.ttl;
    view.tcp_flags = packet.tcp_flags;
    view.icmp_type = 0;
    view.fragment = false;
    view.first_fragment = false;
    view.src_port = packet.src_port;
    view.dst_port = packet.dst_port;
    view.src_ip = nat46::client6(packet.src_ip);
    view.dst_ip = nat46::mapped(packet.dst_ip);
    view.tcp_seq = packet.tcp_seq;
    view.tcp_ack = packet.tcp_ack;
    view.tcp_seq_len = packet.tcp_seq_len;
    view.frag_id = 0;
    Some(view)
}

/// A new translated flow: both directions claimed, the first packet sent.
/// Another CPU that set the same flow up first wins; its entry is used.
#[inline(always)]
fn start(
    ctx: &TcContext,
    packet: &Packet,
    view: &Packet6,
    target: &PublishedValue6,
    any_ip: bool,
) -> i32 {
    let Some(slot) = NEW_FLOW46.get_ptr_mut(0) else {
        return drop_packet(DropReason::NatInsertFailed);
    };
    // SAFETY: this CPU's slot, used by one program run at a time.
    let flow = unsafe { &mut *slot };
    // SAFETY: `skb` points at the live `__sk_buff` of this invocation.
    let uplink = unsafe { (*ctx.skb.skb).ifindex };
    // Replies leave the uplink the request came in on, as IPv4 from the
    // published address to the client.
    let way = ReplyWay {
        forward: Forward::Neigh,
        ifindex: uplink,
        mac: [0; 6],
        source: [0; 16],
        kinds: [NatKind::Nat46Request, NatKind::Nat46Reply],
    };
    match publish6::claim(view, target, any_ip, &way, flow) {
        Ok(true) => to_container(ctx, packet, &flow.request),
        Ok(false) => match conntrack6::track(view, ctx.len(), Hook::Uplink) {
            Ok(Some(entry)) if entry.kind == NatKind::Nat46Request as u8 => {
                to_container(ctx, packet, entry)
            }
            Ok(_) => drop_packet(DropReason::NatInsertFailed),
            Err(reason) => drop_packet(reason),
        },
        Err(reason) => drop_packet(reason),
    }
}

/// Translates a client's packet (`entry`: its flow's request direction)
/// and hands it to the container. A subprogram of its own.
#[inline(never)]
fn to_container(ctx: &TcContext, packet: &Packet, entry: &NatEntry6) -> i32 {
    if packet.ttl <= 1 {
        return nat::answer_ttl_expired(ctx, packet, Hook::Uplink);
    }
    // Counted on the IPv4 mapping, as `ebpfnet port` and stats show it.
    let any_ip = entry.tcp_flags & PUBLISHED_ANY_IP != 0;
    nat::count_published(packet, any_ip, ctx.len(), entry.packets == 0);
    match nat46_xlate::to_ipv6(ctx, packet, entry) {
        Ok(()) => nat::deliver_to_container(ctx, entry.ifindex, entry.dst_mac),
        Err(reason) => drop_packet(reason),
    }
}

/// `nat6::apply` for a `Nat46Reply` entry (the container's answer), after
/// its checks of the hop limit (answered as for other IPv6 flows) and the
/// uplink's MTU (against the IPv6 length: 20 bytes on the safe side):
/// back to IPv4, from the published address, out of the uplink the flow
/// came in on.
#[inline(never)]
pub fn to_client(ctx: &TcContext, packet: &Packet6, entry: &NatEntry6) -> i32 {
    let plain = packet.protocol == proto::TCP || packet.protocol == proto::UDP;
    if packet.fragment || !plain || packet.l4_off != IP_OFF + IPV6_HEADER_LEN {
        return drop_packet(DropReason::Untranslatable);
    }
    match nat46_xlate::to_ipv4(ctx, packet, entry) {
        // SAFETY: plain helper call; no neighbour parameters given (the
        // kernel resolves the IPv4 next hop).
        Ok(()) => unsafe { bpf_redirect_neigh(entry.ifindex, core::ptr::null_mut(), 0, 0) as i32 },
        Err(reason) => drop_packet(reason),
    }
}
