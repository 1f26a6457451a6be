//! Applying IPv6 NAT entries: addresses and ports rewritten with the L4
//! checksum fixed through its pseudo-header (IPv6 has no header checksum;
//! ICMPv6's covers the pseudo-header too), hop limit decremented, and the
//! packet sent where the entry says.

use aya_ebpf::{
    bindings::{BPF_F_MARK_MANGLED_0, BPF_F_PSEUDO_HDR},
    helpers::bpf_redirect_neigh,
    programs::TcContext,
};
use ebpfnet_common::{
    DropReason,
    flows6::{ICMPV6, NatEntry6},
    maps::{Forward, NatKind, proto},
};

use crate::{
    conntrack6,
    counters::drop_packet,
    hook::Hook,
    nat,
    parse6::{self, DST_OFF, HOP_LIMIT_OFF, Packet6, SRC_OFF},
    publish6,
};

const SRC_PORT_OFF: usize = 0;
const DST_PORT_OFF: usize = 2;
const ICMP_ID_OFF: usize = 4;

/// Where the L4 checksum sits, and the flags its updates need.
#[inline(always)]
fn l4_checksum(packet: &Packet6) -> Option<(usize, u64)> {
    match packet.protocol {
        proto::TCP => Some((packet.l4_off + 16, 0)),
        proto::UDP => Some((packet.l4_off + 6, u64::from(BPF_F_MARK_MANGLED_0))),
        ICMPV6 => Some((packet.l4_off + 2, 0)),
        _ => None,
    }
}

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
    let (csum_off, flags) = l4_checksum(packet).ok_or(())?;
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

/// Rewrites a port (or the echo identifier), both in host byte order.
#[inline(always)]
fn set_port(ctx: &TcContext, packet: &Packet6, field: usize, old: u16, new: u16) -> Result<(), ()> {
    if old == new {
        return Ok(());
    }
    let (csum_off, flags) = l4_checksum(packet).ok_or(())?;
    let (old_be, new_be) = (old.to_be(), new.to_be());
    ctx.l4_csum_replace(csum_off, u64::from(old_be), u64::from(new_be), flags | 2)
        .map_err(|_| ())?;
    ctx.store(packet.l4_off + field, &new_be, 0).map_err(|_| ())
}

#[inline(always)]
fn rewrite(ctx: &TcContext, packet: &Packet6, entry: &NatEntry6) -> Result<(), ()> {
    if packet.protocol == ICMPV6 {
        set_port(ctx, packet, ICMP_ID_OFF, packet.src_port, entry.new_src_port)?;
    } else {
        set_port(ctx, packet, SRC_PORT_OFF, packet.src_port, entry.new_src_port)?;
        set_port(ctx, packet, DST_PORT_OFF, packet.dst_port, entry.new_dst_port)?;
    }
    set_ip(ctx, packet, SRC_OFF, &packet.src_ip, &entry.new_src_ip)?;
    set_ip(ctx, packet, DST_OFF, &packet.dst_ip, &entry.new_dst_ip)?;
    // Routed: one hop less (no checksum covers it).
    ctx.store(HOP_LIMIT_OFF, &(packet.hop_limit - 1), 0)
        .map_err(|_| ())
}

/// Rewrites `packet` as `entry` says and sends it on. A packet whose hop
/// limit runs out here goes to the host's stack untranslated, which
/// answers "time exceeded" as a router (from a container), or is dropped
/// and counted (from an uplink).
#[inline(never)]
pub fn apply(ctx: &TcContext, packet: &Packet6, entry: &NatEntry6, hook: Hook) -> i32 {
    if packet.hop_limit <= 1 {
        return nat::ttl_expired(hook);
    }
    // Client → container packets of a published flow count on their mapping.
    if entry.kind == NatKind::PublishedRequest as u8 {
        publish6::count(packet, entry, ctx.len());
    }
    if rewrite(ctx, packet, entry).is_err() {
        return drop_packet(DropReason::Malformed);
    }
    if entry.forward == Forward::Peer as u8 {
        nat::deliver_to_container(ctx, entry.ifindex, entry.dst_mac)
    } else {
        // SAFETY: plain helper call; no neighbour parameters given.
        unsafe { bpf_redirect_neigh(entry.ifindex, core::ptr::null_mut(), 0, 0) as i32 }
    }
}

/// Whether `hook` applies the entries of `kind` (as `Hook::applies`).
#[inline(always)]
pub fn applies(hook: Hook, kind: u8) -> bool {
    match hook {
        Hook::Uplink => {
            kind == NatKind::PublishedRequest as u8 || kind == NatKind::MasqueradeReply as u8
        }
        Hook::Container => kind != NatKind::MasqueradeReply as u8,
    }
}

/// An IPv6 packet from an uplink that belongs to a translated flow (a
/// reply of a masqueraded one): translated and delivered. `None`: none of
/// ours. A subprogram of its own.
#[inline(never)]
pub fn from_uplink(ctx: &TcContext) -> Option<i32> {
    let packet = parse6::ipv6(ctx).ok()?;
    if !packet.translatable() {
        // Errors from the path about masqueraded flows (PMTU), at the
        // caller's level: the stack is tight below `uplink_ingress`.
        return None;
    }
    match conntrack6::track(packet, ctx.len()) {
        Ok(Some(entry)) if applies(Hook::Uplink, entry.kind) => {
            Some(apply(ctx, packet, entry, Hook::Uplink))
        }
        Err(reason) => Some(drop_packet(reason)),
        _ => None,
    }
}
