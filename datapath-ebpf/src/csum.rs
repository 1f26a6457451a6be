//! In-place rewrites of addresses and ports with incremental checksum
//! updates (RFC 1624) through the kernel's csum helpers, which also handle
//! CHECKSUM_PARTIAL skbs from local senders.

use aya_ebpf::{
    bindings::{BPF_F_MARK_MANGLED_0, BPF_F_PSEUDO_HDR},
    programs::TcContext,
};
use ebpfnet_common::maps::proto;

use crate::parse::{IP_CSUM_OFF, IP_DST_OFF, IP_SRC_OFF, IP_TTL_OFF, Packet};

/// Where the L4 checksum sits, and the flags its updates need.
#[inline(always)]
fn l4_checksum(packet: &Packet) -> Option<(usize, u64)> {
    match packet.protocol {
        proto::TCP => Some((packet.l4_off + 16, 0)),
        // A zero UDP checksum means "none" and must stay zero.
        proto::UDP => Some((packet.l4_off + 6, u64::from(BPF_F_MARK_MANGLED_0))),
        proto::ICMP => Some((packet.l4_off + 2, 0)),
        _ => None,
    }
}

pub enum Addr {
    Src,
    Dst,
}

#[inline(always)]
pub fn set_ip(ctx: &TcContext, packet: &Packet, which: Addr, new: [u8; 4]) -> Result<(), ()> {
    let (offset, old) = match which {
        Addr::Src => (IP_SRC_OFF, packet.src_ip),
        Addr::Dst => (IP_DST_OFF, packet.dst_ip),
    };
    if old == new {
        return Ok(());
    }
    let (from, to) = (
        u64::from(u32::from_ne_bytes(old)),
        u64::from(u32::from_ne_bytes(new)),
    );
    // TCP and UDP checksums cover the addresses through the pseudo-header;
    // ICMP's does not.
    if packet.protocol != proto::ICMP
        && let Some((csum_off, flags)) = l4_checksum(packet)
    {
        ctx.l4_csum_replace(csum_off, from, to, flags | u64::from(BPF_F_PSEUDO_HDR) | 4)
            .map_err(|_| ())?;
    }
    ctx.l3_csum_replace(IP_CSUM_OFF, from, to, 4)
        .map_err(|_| ())?;
    ctx.store(offset, &new, 0).map_err(|_| ())
}

/// Rewrites the 16-bit field at `l4_off + field_off` (a port, or the ICMP
/// echo identifier) from `old` to `new`, both in host byte order.
#[inline(always)]
pub fn set_port(
    ctx: &TcContext,
    packet: &Packet,
    field_off: usize,
    old: u16,
    new: u16,
) -> Result<(), ()> {
    if old == new {
        return Ok(());
    }
    let (old_be, new_be) = (old.to_be(), new.to_be());
    if let Some((csum_off, flags)) = l4_checksum(packet) {
        ctx.l4_csum_replace(csum_off, u64::from(old_be), u64::from(new_be), flags | 2)
            .map_err(|_| ())?;
    }
    ctx.store(packet.l4_off + field_off, &new_be, 0)
        .map_err(|_| ())
}

/// Takes one off the TTL of a packet being routed (the caller checked it
/// is above 1). TTL and protocol share one 16-bit word of the checksum.
#[inline(always)]
pub fn decrement_ttl(ctx: &TcContext, packet: &Packet) -> Result<(), ()> {
    let ttl = packet.ttl - 1;
    let old = u16::from_ne_bytes([packet.ttl, packet.protocol]);
    let new = u16::from_ne_bytes([ttl, packet.protocol]);
    ctx.l3_csum_replace(IP_CSUM_OFF, u64::from(old), u64::from(new), 2)
        .map_err(|_| ())?;
    ctx.store(IP_TTL_OFF, &ttl, 0).map_err(|_| ())
}
