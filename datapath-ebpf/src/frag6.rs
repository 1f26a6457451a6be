//! Later fragments of NAT66 datagrams, the IPv6 form of `frag`. The first
//! fragment (offset 0) carries the upper-layer header: it is translated like
//! a whole packet (its UDP/TCP/ICMPv6 checksum covers the whole datagram and
//! is updated incrementally as usual), and its ports are remembered here
//! under the datagram's identity (source, destination, the Fragment
//! header's 32-bit identification, protocol). The later fragments find the
//! flow through that record and get the same address rewrite; IPv6 has no
//! header checksum and they carry no L4 header, so that is all they need.
//! Both directions: a container's datagram through masquerade, and the
//! outside's answer back.
//!
//! A later fragment that arrives before its first finds no record: it is
//! dropped and counted (`fragment`) when it would need translating, as
//! Cilium does, and the sender's retransmission repairs it.

use aya_ebpf::{
    btf_maps::LruHashMap, helpers::bpf_ktime_get_coarse_ns, macros::btf_map, programs::TcContext,
};
use ebpfnet_common::{
    DropReason,
    flows6::FlowKey6,
    fragments::{FragKey6, FragValue},
    maps::Forward,
    names::FRAGMENTS_CAPACITY,
};

use crate::{
    conntrack,
    counters::drop_packet,
    hook::Hook,
    mtu6, nat, nat6,
    parse6::{DST_OFF, HOP_LIMIT_OFF, Packet6, SRC_OFF},
};

#[btf_map]
static FRAGMENTS6: LruHashMap<FragKey6, FragValue, { FRAGMENTS_CAPACITY as usize }> =
    LruHashMap::new();

/// How long a first fragment's ports are trusted for its followers (as in
/// `frag`; Linux gives up reassembling after 60 s, senders send a
/// datagram's fragments back to back).
const LIFETIME_NS: u64 = 10_000_000_000;

#[inline(always)]
fn key_of(packet: &Packet6) -> FragKey6 {
    FragKey6 {
        src_ip: packet.src_ip,
        dst_ip: packet.dst_ip,
        id: packet.frag_id,
        protocol: packet.protocol,
        _pad: [0; 3],
    }
}

/// Records a first fragment's ports, before it is rewritten.
#[inline(never)]
pub fn remember(packet: &Packet6) {
    let value = FragValue {
        src_port: packet.src_port,
        dst_port: packet.dst_port,
        _pad: 0,
        // SAFETY: plain helper call.
        created_ns: unsafe { bpf_ktime_get_coarse_ns() },
    };
    // A full LRU evicts the oldest datagram's record, never refuses.
    let _ = FRAGMENTS6.insert(key_of(packet), value, 0);
}

/// Translates and forwards a later fragment whose first fragment was
/// translated at this hook; `None` when it is none or has no such record
/// or flow. A subprogram of its own (its keys stay out of the callers'
/// frames).
#[inline(never)]
pub fn follow(ctx: &TcContext, packet: &Packet6, hook: Hook) -> Option<i32> {
    if !packet.later_fragment() {
        return None;
    }
    // SAFETY: copied out at once.
    let first = unsafe { FRAGMENTS6.get(key_of(packet)) }.copied()?;
    // SAFETY: plain helper call.
    if unsafe { bpf_ktime_get_coarse_ns() }.wrapping_sub(first.created_ns) > LIFETIME_NS {
        return None;
    }
    let flow = FlowKey6::new(
        packet.src_ip,
        first.src_port,
        packet.dst_ip,
        first.dst_port,
        packet.protocol,
    );
    let entry = conntrack::peek(&flow)?;
    if !nat6::applies(hook, entry) {
        return None;
    }
    if packet.hop_limit <= 1 {
        return Some(nat::ttl_expired(hook));
    }
    if hook == Hook::Container
        && entry.forward == Forward::Neigh as u8
        && let Some(verdict) = mtu6::enforce(ctx, packet, entry.ifindex)
    {
        return Some(verdict);
    }
    let rewritten = (packet.src_ip == entry.new_src_ip
        || ctx.store(SRC_OFF, &entry.new_src_ip, 0).is_ok())
        && (packet.dst_ip == entry.new_dst_ip || ctx.store(DST_OFF, &entry.new_dst_ip, 0).is_ok())
        && ctx.store(HOP_LIMIT_OFF, &(packet.hop_limit - 1), 0).is_ok();
    if !rewritten {
        return Some(drop_packet(DropReason::Malformed));
    }
    Some(nat6::forward(ctx, entry))
}
