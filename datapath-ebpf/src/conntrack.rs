//! Connection tracking for NAT: two LRU tables (TCP, everything else), one
//! entry per direction of each flow, written together.

use aya_ebpf::{
    bindings::BPF_NOEXIST, btf_maps::LruHashMap, helpers::bpf_ktime_get_ns, macros::btf_map,
};
use ebpfnet_common::{
    DropReason,
    maps::{FlowKey, NatEntry, NatKind, REPLY_SEEN, TCP_FIN_SEEN, TCP_RST_SEEN, proto},
    names::NAT_CAPACITY,
};

use crate::parse::{Packet, TCP_FIN, TCP_RST};

#[btf_map]
static NAT_TCP: LruHashMap<FlowKey, NatEntry, { NAT_CAPACITY as usize }> = LruHashMap::new();

#[btf_map]
static NAT_OTHER: LruHashMap<FlowKey, NatEntry, { NAT_CAPACITY as usize }> = LruHashMap::new();

#[inline(always)]
fn table(protocol: u8) -> &'static LruHashMap<FlowKey, NatEntry, { NAT_CAPACITY as usize }> {
    if protocol == proto::TCP {
        &NAT_TCP
    } else {
        &NAT_OTHER
    }
}

/// The key of the direction `packet` travels in.
#[inline(always)]
pub fn key_of(packet: &Packet) -> FlowKey {
    FlowKey::new(
        packet.src_ip,
        packet.src_port,
        packet.dst_ip,
        packet.dst_port,
        packet.protocol,
    )
}

/// The entry for `packet`'s direction, updated for this packet; a copy, so
/// the caller never holds a pointer into a map an LRU may recycle.
#[inline(always)]
pub fn track(packet: &Packet, len: u32) -> Option<NatEntry> {
    let key = key_of(packet);
    let entry = table(packet.protocol).get_ptr_mut(key)?;
    // SAFETY: the pointer is valid for this program run; concurrent updates
    // of the statistics from two CPUs may lose a count, never corrupt state.
    unsafe {
        let entry = &mut *entry;
        // A new connection on the tuple of a closed one is a new flow, with
        // a translation of its own.
        if packet.opens_tcp() && is_closed(entry) {
            return None;
        }
        entry.last_seen_ns = bpf_ktime_get_ns();
        entry.packets = entry.packets.wrapping_add(1);
        entry.bytes = entry.bytes.wrapping_add(u64::from(len));
        if packet.tcp_flags & TCP_FIN != 0 {
            entry.tcp_flags |= TCP_FIN_SEEN;
        }
        if packet.tcp_flags & TCP_RST != 0 {
            entry.tcp_flags |= TCP_RST_SEEN;
        }
        if entry.kind == NatKind::PublishedReply as u8
            || entry.kind == NatKind::MasqueradeReply as u8
        {
            entry.tcp_flags |= REPLY_SEEN;
        }
        Some(*entry)
    }
}

/// A new entry for one direction, stamped now.
#[inline(always)]
pub fn new_entry(kind: u8, forward: u8, ifindex: u32, dst_mac: [u8; 6]) -> NatEntry {
    let now = unsafe { bpf_ktime_get_ns() };
    NatEntry {
        ifindex,
        kind,
        forward,
        dst_mac,
        created_ns: now,
        last_seen_ns: now,
        ..NatEntry::default()
    }
}

#[inline(always)]
fn is_closed(entry: &NatEntry) -> bool {
    entry.tcp_flags & (TCP_FIN_SEEN | TCP_RST_SEEN) != 0
}

/// Claims `key` for a new flow's reply direction; fails when another flow
/// already uses that tuple (so two live flows never share a translation).
/// With `reuse_closed` (a TCP SYN), the tuple of a TCP flow that is over is
/// taken over, so closed flows do not hold masquerade ports until they are
/// collected (as conntrack lets a SYN reopen a TIME_WAIT tuple).
#[inline(always)]
pub fn claim(key: &FlowKey, entry: &NatEntry, reuse_closed: bool) -> bool {
    let table = table(key.protocol);
    if table.insert(key, entry, u64::from(BPF_NOEXIST)).is_ok() {
        return true;
    }
    if !reuse_closed {
        return false;
    }
    // SAFETY: read once, as a copy.
    let Some(old) = table.get_ptr(key).map(|old| unsafe { *old }) else {
        return false;
    };
    if !flow_is_over(table, key.protocol, &old) {
        return false;
    }
    table.insert(key, entry, 0).is_ok()
}

/// Whether the flow that `reply` (one direction's entry) belongs to is over:
/// reset, or closed with a FIN in both directions. A half-closed flow may
/// still carry data the other way, so its tuple stays taken.
#[inline(always)]
fn flow_is_over(
    table: &LruHashMap<FlowKey, NatEntry, { NAT_CAPACITY as usize }>,
    protocol: u8,
    reply: &NatEntry,
) -> bool {
    if reply.tcp_flags & TCP_RST_SEEN != 0 {
        return true;
    }
    if reply.tcp_flags & TCP_FIN_SEEN == 0 {
        return false;
    }
    match table.get_ptr(reply.twin_key(protocol)) {
        // SAFETY: read once, as a copy.
        Some(other) => unsafe { (*other).tcp_flags & (TCP_FIN_SEEN | TCP_RST_SEEN) != 0 },
        // The other direction is gone already (collected or evicted).
        None => true,
    }
}

/// Writes the request direction of a flow whose reply direction is claimed.
#[inline(always)]
pub fn insert(key: &FlowKey, entry: &NatEntry) -> Result<(), DropReason> {
    table(key.protocol)
        .insert(key, entry, 0)
        .map_err(|_| DropReason::NatInsertFailed)
}

/// Removes a claimed reply direction when its request could not be written.
#[inline(always)]
pub fn release(key: &FlowKey) {
    let _ = table(key.protocol).remove(key);
}

/// A copy of the entry for `key`, without touching its statistics or flags:
/// for packets that belong to a flow without being one of its packets
/// (ICMP errors about it, later fragments).
#[inline(always)]
pub fn lookup(key: &FlowKey) -> Option<NatEntry> {
    // SAFETY: copied out at once.
    table(key.protocol).get_ptr(key).map(|entry| unsafe { *entry })
}
