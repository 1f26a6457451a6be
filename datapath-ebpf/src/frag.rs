//! Later fragments of translated datagrams. Only the first fragment carries
//! the L4 header: it is translated like a whole packet (its UDP/TCP checksum
//! covers the whole datagram and is updated incrementally as usual) and its
//! ports are remembered here under the datagram's identity (source,
//! destination, protocol, IP id), as Cilium's IPv4 fragment map does. The
//! later fragments find the flow through that record and get the same
//! address rewrite; they have no ports to rewrite and no L4 checksum.
//!
//! A later fragment that arrives before its first (reordering) finds no
//! record: it takes the path a fragment with unknown ports always took
//! (counted drop when it is for a container; Cilium drops these too), and
//! the sender's retransmission of the datagram repairs it.

use aya_ebpf::{
    btf_maps::LruHashMap, helpers::bpf_ktime_get_ns, macros::btf_map, programs::TcContext,
};
use ebpfnet_common::{
    DropReason,
    fragments::{FragKey, FragValue},
    maps::FlowKey,
    names::FRAGMENTS_CAPACITY,
};

use crate::{
    conntrack,
    counters::drop_packet,
    csum,
    hook::Hook,
    mtu, nat,
    parse::{IP_CSUM_OFF, IP_DST_OFF, IP_ID_OFF, IP_SRC_OFF, Packet},
};

#[btf_map]
static FRAGMENTS: LruHashMap<FragKey, FragValue, { FRAGMENTS_CAPACITY as usize }> =
    LruHashMap::new();

/// How long a first fragment's ports are trusted for its followers. The
/// 16-bit IP id of a busy sender comes round again; a datagram's fragments
/// arrive within milliseconds of each other.
const LIFETIME_NS: u64 = 10_000_000_000;

#[inline(always)]
fn key_of(ctx: &TcContext, packet: &Packet) -> Option<FragKey> {
    let id: [u8; 2] = ctx.load(IP_ID_OFF).ok()?;
    Some(FragKey {
        src_ip: packet.src_ip,
        dst_ip: packet.dst_ip,
        id: u16::from_be_bytes(id),
        protocol: packet.protocol,
        _pad: 0,
    })
}

/// Records a first fragment's ports, before it is rewritten.
#[inline(always)]
pub fn remember(ctx: &TcContext, packet: &Packet) {
    let Some(key) = key_of(ctx, packet) else {
        return;
    };
    let value = FragValue {
        src_port: packet.src_port,
        dst_port: packet.dst_port,
        _pad: 0,
        // SAFETY: plain helper call.
        created_ns: unsafe { bpf_ktime_get_ns() },
    };
    // A full LRU evicts the oldest datagram's record, never refuses.
    let _ = FRAGMENTS.insert(key, value, 0);
}

/// Translates and forwards a later fragment whose first fragment was
/// translated at this hook; `None` when there is no such record or flow.
/// A subprogram of its own: its copy of the flow's entry would otherwise
/// sit in the programs' frames beside everything else.
#[inline(never)]
pub fn follow(ctx: &TcContext, packet: &Packet, hook: Hook) -> Option<i32> {
    if !packet.fragment {
        return None;
    }
    let key = key_of(ctx, packet)?;
    // SAFETY: copied out at once.
    let first = unsafe { FRAGMENTS.get(key) }.copied()?;
    // SAFETY: plain helper call.
    if unsafe { bpf_ktime_get_ns() }.wrapping_sub(first.created_ns) > LIFETIME_NS {
        return None;
    }
    let flow = FlowKey::new(
        packet.src_ip,
        first.src_port,
        packet.dst_ip,
        first.dst_port,
        packet.protocol,
    );
    let entry = conntrack::lookup(&flow)?;
    if !hook.applies(&entry) {
        return None;
    }
    if packet.ttl <= 1 {
        return Some(nat::ttl_expired(hook));
    }
    if let Some(verdict) = mtu::enforce(ctx, packet, &entry) {
        return Some(verdict);
    }
    if set_addr(ctx, IP_SRC_OFF, packet.src_ip, entry.new_src_ip).is_err()
        || set_addr(ctx, IP_DST_OFF, packet.dst_ip, entry.new_dst_ip).is_err()
        || csum::decrement_ttl(ctx, packet).is_err()
    {
        return Some(drop_packet(DropReason::Malformed));
    }
    Some(nat::forward(ctx, &entry))
}

/// An address and the IP header checksum only: the bytes after the header
/// are payload, not an L4 header with a checksum.
#[inline(always)]
fn set_addr(ctx: &TcContext, offset: usize, old: [u8; 4], new: [u8; 4]) -> Result<(), ()> {
    if old == new {
        return Ok(());
    }
    let (from, to) = (
        u64::from(u32::from_ne_bytes(old)),
        u64::from(u32::from_ne_bytes(new)),
    );
    ctx.l3_csum_replace(IP_CSUM_OFF, from, to, 4)
        .map_err(|_| ())?;
    ctx.store(offset, &new, 0).map_err(|_| ())
}
