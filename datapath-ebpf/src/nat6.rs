//! Applying IPv6 NAT entries: addresses and ports rewritten with the L4
//! checksum fixed through its pseudo-header (IPv6 has no header checksum;
//! ICMPv6's covers the pseudo-header too), hop limit decremented, and the
//! packet sent where the entry says.

use aya_ebpf::{bindings::BPF_F_PSEUDO_HDR, programs::TcContext};
use ebpfnet_common::{
    DropReason,
    flows6::NatEntry6,
    maps::{FROM_CONTAINER, Forward, NH_MTU_FITS, NatKind},
};

use crate::{
    conntrack6,
    counters::drop_packet,
    frag6,
    hook::Hook,
    hoplimit6, mtu6, nat, nat_packet, nat46, nexthop,
    parse6::{DST_OFF, HOP_LIMIT_OFF, Packet6, SRC_OFF},
    publish6,
};

/// Rewrites the address at `offset` from `old` to `new`, the checksum
/// word by word (four 32-bit replacements through the pseudo-header).
#[inline(always)]
pub fn set_ip(
    ctx: &TcContext,
    packet: &Packet6,
    offset: usize,
    old: &[u8; 16],
    new: &[u8; 16],
) -> Result<(), ()> {
    if old == new {
        return Ok(());
    }
    let (csum_off, flags) = nat_packet::l4_checksum(packet).ok_or(())?;
    for (from, to) in words(old).iter().zip(words(new).iter()) {
        if from != to {
            ctx.l4_csum_replace(
                csum_off,
                u64::from(*from),
                u64::from(*to),
                flags | u64::from(BPF_F_PSEUDO_HDR) | 4,
            )
            .map_err(|_| ())?;
        }
    }
    ctx.store(offset, new, 0).map_err(|_| ())
}

/// An address as the four 32-bit words the checksum helpers take (in
/// the packet's byte order).
#[inline(always)]
pub fn words(ip: &[u8; 16]) -> [u32; 4] {
    // SAFETY: same size, and every bit pattern is a valid `[u32; 4]`.
    unsafe { core::mem::transmute::<[u8; 16], [u32; 4]>(*ip) }
}

#[inline(always)]
fn rewrite(ctx: &TcContext, packet: &Packet6, entry: &NatEntry6) -> Result<(), ()> {
    nat_packet::set_ports(ctx, packet, (entry.new_src_port, entry.new_dst_port))?;
    set_ip(ctx, packet, SRC_OFF, &packet.src_ip, &entry.new_src_ip)?;
    set_ip(ctx, packet, DST_OFF, &packet.dst_ip, &entry.new_dst_ip)?;
    // Routed: one hop less (no checksum covers it).
    ctx.store(HOP_LIMIT_OFF, &(packet.hop_limit - 1), 0)
        .map_err(|_| ())
}

/// Rewrites `packet` as `entry` says and sends it on. A packet whose hop
/// limit runs out here goes no further: its sender gets "time exceeded"
/// (`hoplimit6`). `entry` is the flow's own (in the map, or the slot copy
/// of a new flow): a next hop resolved on the way out is cached in it
/// (nexthop.rs).
#[inline(never)]
pub fn apply(ctx: &TcContext, packet: &Packet6, entry: &mut NatEntry6, hook: Hook) -> i32 {
    if packet.hop_limit <= 1 {
        return hoplimit6::expired(ctx, packet, hook);
    }
    // Too big for the uplink: the sender learns the path MTU (mtu6.rs).
    // Not asked while the flow's cached next hop found the container's
    // veth MTU within the egress device's (mtu.rs).
    if hook == Hook::Container
        && entry.forward == Forward::Neigh as u8
        && !(entry.tcp_flags & NH_MTU_FITS != 0 && nexthop::is_current(entry))
        && let Some(verdict) = mtu6::enforce(ctx, packet, entry.ifindex)
    {
        return verdict;
    }
    // The answer of an IPv4 client's flow goes back as IPv4 (nat46.rs;
    // its hop limit and MTU checked above: it leaves by an uplink).
    if entry.kind == NatKind::Nat46Reply as u8 {
        return nat46::to_client(ctx, packet, entry);
    }
    // The later fragments follow the first one's translation (frag6.rs).
    if packet.first_fragment {
        frag6::remember(packet);
    }
    // Client → container packets of a published flow count on their mapping.
    if entry.kind == NatKind::PublishedRequest as u8 {
        publish6::count(packet, entry, ctx.len());
    }
    if rewrite(ctx, packet, entry).is_err() {
        return drop_packet(DropReason::Malformed);
    }
    send(ctx, entry, hook)
}

/// Sends a rewritten packet where `entry` says. A subprogram of its own:
/// a next hop's lookup (nexthop.rs) stays out of `apply`'s frame, which
/// is on the deepest call chain of `container_ingress6`.
#[inline(never)]
fn send(ctx: &TcContext, entry: &mut NatEntry6, hook: Hook) -> i32 {
    if entry.forward == Forward::Peer as u8 {
        nat::deliver_to_container(ctx, entry.ifindex, entry.dst_mac)
    } else {
        nexthop::send(ctx, entry, hook)
    }
}

/// Sends a rewritten packet where `entry` (a copy, or not this packet's
/// own: an ICMPv6 error about the flow, a later fragment) says its
/// direction goes: the flow's cached next hop if current, never a new
/// lookup (as `nat::forward`).
#[inline(always)]
pub fn forward(ctx: &TcContext, entry: &NatEntry6) -> i32 {
    if entry.forward == Forward::Peer as u8 {
        nat::deliver_to_container(ctx, entry.ifindex, entry.dst_mac)
    } else {
        nexthop::send_cached(ctx, entry)
    }
}

/// Whether `hook` applies `entry` (`Hook::applies`, and for a routed
/// flow's entries (`routed6`), which go either way: the one into a
/// container applies at an uplink, the one out of a container at its
/// veth; both of a flow between two containers (`FROM_CONTAINER`) at
/// veths only; an IPv4 client's flow (`nat46`): its request at an uplink,
/// its reply at a container's veth). Only IPv6 tables hold these kinds, so
/// the IPv4 check stays as it was.
#[inline(always)]
pub fn applies(hook: Hook, entry: &NatEntry6) -> bool {
    let kind = entry.kind;
    if kind >= NatKind::RoutedRequest as u8 {
        if kind == NatKind::Nat46Request as u8 {
            return hook == Hook::Uplink;
        }
        if kind == NatKind::Nat46Reply as u8 || entry.tcp_flags & FROM_CONTAINER != 0 {
            return hook == Hook::Container;
        }
        return (entry.forward == Forward::Peer as u8) == (hook == Hook::Uplink);
    }
    hook.applies(entry)
}

/// An IPv6 packet from an uplink that belongs to a translated flow (a
/// reply of a masqueraded one): translated and delivered. `None`: none of
/// ours. A subprogram of its own.
#[inline(never)]
pub fn from_uplink(ctx: &TcContext, packet: &Packet6) -> Option<i32> {
    if packet.later_fragment() {
        return frag6::follow(ctx, packet, Hook::Uplink);
    }
    if !packet.translatable() {
        // Errors from the path about masqueraded flows (PMTU), at the
        // caller's level: the stack is tight below `uplink_ingress`.
        return None;
    }
    match conntrack6::track(packet, ctx.len(), Hook::Uplink) {
        Ok(Some(entry)) => Some(apply(ctx, packet, entry, Hook::Uplink)),
        Err(reason) => Some(drop_packet(reason)),
        _ => None,
    }
}
