//! In-place rewrites of addresses and ports with incremental checksum
//! updates (RFC 1624) through the kernel's csum helpers, which also handle
//! CHECKSUM_PARTIAL skbs from local senders.

use aya_ebpf::{bindings::BPF_F_PSEUDO_HDR, programs::TcContext};
use ebpfnet_common::maps::proto;

use crate::{
    nat_packet,
    parse::{IP_CSUM_OFF, IP_DST_OFF, IP_SRC_OFF, IP_TTL_OFF, Packet},
};

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
        && let Some((csum_off, flags)) = nat_packet::l4_checksum(packet)
    {
        ctx.l4_csum_replace(csum_off, from, to, flags | u64::from(BPF_F_PSEUDO_HDR) | 4)
            .map_err(|_| ())?;
    }
    ctx.l3_csum_replace(IP_CSUM_OFF, from, to, 4)
        .map_err(|_| ())?;
    ctx.store(offset, &new, 0).map_err(|_| ())
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
