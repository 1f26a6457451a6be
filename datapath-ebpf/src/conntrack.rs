//! Connection tracking for NAT: two tables (TCP, everything else), one entry
//! per direction of each flow, written together.
//!
//! New flows claim their tuples with `BPF_NOEXIST`, so two CPUs racing on
//! one flow never give it two translations. The tables are plain hashes:
//! when full they refuse new flows rather than evict established ones.

use aya_ebpf::{
    bindings::{BPF_F_NO_PREALLOC, BPF_NOEXIST},
    btf_maps::HashMap,
    helpers::bpf_ktime_get_coarse_ns,
    macros::btf_map,
};
use ebpfnet_common::{
    DropReason,
    maps::{
        FlowKey, NatEntry, NatKind, REPLY_SEEN, TCP_ACK_SEEN, TCP_FIN_SEEN, TCP_RST_SEEN,
        TCP_SEQ_SEEN, proto,
    },
    names::NAT_CAPACITY,
};

use crate::{
    hook::Hook,
    masquerade_quota,
    parse::{Packet, TCP_ACK, TCP_FIN, TCP_RST},
};

type NatTable =
    HashMap<FlowKey, NatEntry, { NAT_CAPACITY as usize }, { BPF_F_NO_PREALLOC as usize }>;

#[btf_map]
static NAT_TCP: NatTable = HashMap::new();

#[btf_map]
static NAT_OTHER: NatTable = HashMap::new();

/// How far outside the sequence space seen so far an RST may lie and still
/// count as genuine (segments in flight, an ACK lost past this hop).
const RST_SLACK: u32 = 1 << 16;

#[inline(always)]
fn table(protocol: u8) -> &'static NatTable {
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

/// A copy of the entry for `key`, without touching its statistics or flags
/// (also for packets that belong to a flow without being one of its
/// packets: ICMP errors about it, later fragments).
#[inline(always)]
pub fn lookup(key: &FlowKey) -> Option<NatEntry> {
    // SAFETY: copied out at once.
    table(key.protocol)
        .get_ptr(key)
        .map(|entry| unsafe { *entry })
}

/// The entry for `key`, read in place (no copy on the caller's stack),
/// without touching it. Valid for this program run, as `track`'s.
#[inline(always)]
pub fn peek(key: &FlowKey) -> Option<&'static NatEntry> {
    // SAFETY: see `track`: plain hash entries stay readable until the end
    // of this program run.
    table(key.protocol)
        .get_ptr(key)
        .map(|entry| unsafe { &*entry })
}

/// The entry for `packet`'s direction, updated for this packet. The
/// reference is into the map (a copy would not fit the programs' stack):
/// the tables are plain hashes, whose entries stay readable until the end
/// of this program run even when deleted meanwhile (freed after an RCU
/// grace period, never recycled in place as LRU entries are).
/// `Ok(None)`: no flow `hook` applies (or a SYN reopening a closed one);
/// an entry of another hook is left untouched. `Err`: a TCP reset that
/// does not fit the flow's sequence space, to be dropped.
#[inline(always)]
pub fn track(
    packet: &Packet,
    len: u32,
    hook: Hook,
) -> Result<Option<&'static mut NatEntry>, DropReason> {
    let key = key_of(packet);
    let table = table(packet.protocol);
    let Some(entry) = table.get_ptr_mut(key) else {
        return Ok(None);
    };
    // SAFETY: the pointer is valid for this program run (see above);
    // concurrent updates of the statistics from two CPUs may lose a count,
    // never corrupt state.
    unsafe {
        let entry: &'static mut NatEntry = &mut *entry;
        // Checked before any write: a packet at the wrong hook (a forged
        // one on an uplink, say) must not move a flow's state.
        if !hook.applies(entry) {
            return Ok(None);
        }
        // A new connection on the tuple of a closed one is a new flow, with
        // a translation of its own.
        if packet.opens_tcp() && is_closed(entry) {
            return Ok(None);
        }
        if packet.protocol == proto::TCP {
            let was_closed = is_closed(entry);
            if packet.tcp_flags & TCP_RST != 0 {
                // A spoofed reset must not end a live flow (and free its
                // tuple for someone else).
                let peer = table.get_ptr(entry.twin_key(packet.protocol)).map(|p| *p);
                if !rst_in_window(packet, entry, peer.as_ref()) {
                    return Err(DropReason::TcpOutOfWindow);
                }
                entry.tcp_flags |= TCP_RST_SEEN;
            } else {
                record_sequence(packet, entry);
            }
            if packet.tcp_flags & TCP_FIN != 0 {
                entry.tcp_flags |= TCP_FIN_SEEN;
            }
            // This direction just closed: if that ends the flow, a
            // masqueraded one no longer holds its port (the quota counts
            // live flows; a SYN may take the tuple over).
            if !was_closed && is_closed(entry) {
                flow_closed(packet, entry);
            }
        }
        // Jiffy resolution is plenty for idle collection, and the coarse
        // clock is a read of a variable, not of the clock source.
        entry.last_seen_ns = bpf_ktime_get_coarse_ns();
        entry.packets = entry.packets.wrapping_add(1);
        entry.bytes = entry.bytes.wrapping_add(u64::from(len));
        // Written once: later replies leave the flag (and its line) alone.
        if entry.tcp_flags & REPLY_SEEN == 0
            && (entry.kind == NatKind::PublishedReply as u8
                || entry.kind == NatKind::MasqueradeReply as u8)
        {
            entry.tcp_flags |= REPLY_SEEN;
        }
        Ok(Some(entry))
    }
}

/// `a` comes after `b` in sequence space (RFC 1982 arithmetic).
#[inline(always)]
fn seq_after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// Remembers how far this direction has sent and acknowledged (also for a
/// flow's first packet, whose entry is new).
#[inline(always)]
pub fn record_sequence(packet: &Packet, entry: &mut NatEntry) {
    let end = packet.tcp_seq.wrapping_add(packet.tcp_seq_len);
    if entry.tcp_flags & TCP_SEQ_SEEN == 0 || seq_after(end, entry.tcp_seq_end) {
        entry.tcp_seq_end = end;
        entry.tcp_flags |= TCP_SEQ_SEEN;
    }
    // The opener's SYN carries no ACK: both directions with one means the
    // handshake is over.
    if packet.tcp_flags & TCP_ACK != 0 {
        if entry.tcp_flags & TCP_ACK_SEEN == 0 || seq_after(packet.tcp_ack, entry.tcp_ack) {
            entry.tcp_ack = packet.tcp_ack;
        }
        entry.tcp_flags |= TCP_ACK_SEEN;
    }
}

/// Whether an RST from the sender of `entry` lies where a genuine one can:
/// between what the peer has acknowledged and what the sender has sent (as
/// Linux conntrack's window check). A sender that never spoke may only
/// refuse the peer's SYN, acknowledging exactly it.
#[inline(always)]
fn rst_in_window(packet: &Packet, entry: &NatEntry, peer: Option<&NatEntry>) -> bool {
    let Some(peer) = peer else {
        // The other direction is gone: nothing left to protect.
        return true;
    };
    if entry.tcp_flags & TCP_SEQ_SEEN == 0 {
        return packet.tcp_flags & TCP_ACK != 0
            && peer.tcp_flags & TCP_SEQ_SEEN != 0
            && packet.tcp_ack == peer.tcp_seq_end;
    }
    // The answer to the peer's last ACK: an endpoint that does not know the
    // connection the ACK speaks of (a challenge ACK to a SYN on a reused
    // tuple, say) resets with exactly that acknowledgement as its sequence
    // number, as Linux conntrack accepts.
    if peer.tcp_flags & TCP_ACK_SEEN != 0 && packet.tcp_seq == peer.tcp_ack {
        return true;
    }
    let acked = if peer.tcp_flags & TCP_ACK_SEEN != 0 {
        peer.tcp_ack
    } else {
        entry.tcp_seq_end
    };
    let low = acked.wrapping_sub(RST_SLACK);
    let high = entry.tcp_seq_end.wrapping_add(1);
    // An acknowledgement beyond what the sender sent (from another
    // connection on the tuple) makes no window: the range would wrap to
    // nearly every sequence number.
    if seq_after(low, high) {
        return false;
    }
    packet.tcp_seq.wrapping_sub(low) <= high.wrapping_sub(low)
}

/// A new entry for one direction, stamped now (the coarse clock, as
/// `track`'s, so `created_ns` never lies after `last_seen_ns`).
#[inline(always)]
pub fn new_entry(kind: u8, forward: u8, ifindex: u32, dst_mac: [u8; 6]) -> NatEntry {
    // SAFETY: plain helper call.
    let now = unsafe { bpf_ktime_get_coarse_ns() };
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

/// When a new flow may take a tuple that another flow's entry holds.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Reuse {
    /// Never (not a TCP SYN).
    Never,
    /// The opener reopens its own tuple (a SYN on it): once the old flow is
    /// closed, as conntrack lets a SYN reopen a TIME_WAIT tuple — the
    /// opener's own stack has decided the old connection is gone.
    Closed,
    /// A different flow takes a tuple (a masquerade port): only once both
    /// ends are done with the old flow — reset, or each FIN acknowledged.
    /// A peer still in LAST_ACK would answer the new SYN with a challenge
    /// ACK, and the opener would wait a second to retransmit it.
    Finished,
}

/// Claims `key` for a new flow; fails when another flow already holds that
/// tuple (so two live flows never share a translation), unless `reuse`
/// lets the new flow take over a flow that is over, so closed flows do not
/// hold masquerade ports until they are collected.
/// `claimed`: the new flow's other direction when it is claimed already;
/// an old entry whose other direction was that very tuple belonged to the
/// old flow just taken over there (its "over" can no longer be read, as
/// that direction now holds the new flow). A subprogram of its own: the
/// entries it reads to judge an old flow would otherwise add to the stack
/// of every caller it is inlined into.
#[inline(never)]
pub fn claim(key: &FlowKey, entry: &NatEntry, reuse: Reuse, claimed: Option<&FlowKey>) -> bool {
    let table = table(key.protocol);
    if table.insert(key, entry, u64::from(BPF_NOEXIST)).is_ok() {
        return true;
    }
    if reuse == Reuse::Never {
        return false;
    }
    let Some(old) = lookup(key) else {
        return false;
    };
    let taken_over = claimed.is_some_and(|other| old.twin_key(key.protocol) == *other);
    if !taken_over && !flow_is_over(key, &old, reuse == Reuse::Finished) {
        return false;
    }
    table.insert(key, entry, 0).is_ok()
}

/// A direction of a flow closed (its first FIN or RST): when the whole flow
/// is over by that, a masqueraded flow stops counting against its
/// container's share of ports. A subprogram of its own: it reads the other
/// direction.
#[inline(never)]
fn flow_closed(packet: &Packet, entry: &NatEntry) {
    let request = entry.kind == NatKind::MasqueradeRequest as u8;
    if !request && entry.kind != NatKind::MasqueradeReply as u8 {
        return;
    }
    // The other direction decides: a reset there ended the flow already
    // (and released it then); a FIN there means this close ends it now; a
    // FIN here while the other direction is open is only half a close.
    // Gone, or taken over by a newer flow: this one ended before.
    let Some(twin) = twin_of(&key_of(packet), entry) else {
        return;
    };
    if twin.tcp_flags & TCP_RST_SEEN != 0 {
        return;
    }
    if entry.tcp_flags & TCP_RST_SEEN == 0 && twin.tcp_flags & TCP_FIN_SEEN == 0 {
        return;
    }
    let usage = if request {
        masquerade_quota::key(packet)
    } else {
        // An answer from outside: its source is the flow's destination.
        masquerade_quota::key_for(
            entry.new_dst_ip,
            packet.src_ip,
            packet.src_port,
            packet.protocol,
        )
    };
    masquerade_quota::release(&usage);
}

/// The other direction of the TCP flow whose entry at `key` is `entry`:
/// the entry at its other tuple is its twin only if it points back (that
/// tuple may belong to a newer flow by now, which only took it over
/// because this one was over).
#[inline(always)]
fn twin_of(key: &FlowKey, entry: &NatEntry) -> Option<NatEntry> {
    lookup(&entry.twin_key(proto::TCP)).filter(|twin| twin.twin_key(proto::TCP) == *key)
}

/// Whether the flow that `entry` (one direction's entry, at `key`) belongs
/// to is over: reset, or closed with a FIN in both directions — and with
/// `finished`, each FIN acknowledged too, so neither end still waits for
/// the last ACK. A half-closed flow may still carry data the other way, so
/// its tuple stays taken.
#[inline(always)]
fn flow_is_over(key: &FlowKey, entry: &NatEntry, finished: bool) -> bool {
    if entry.tcp_flags & TCP_RST_SEEN != 0 {
        return true;
    }
    if entry.tcp_flags & TCP_FIN_SEEN == 0 {
        return false;
    }
    // Gone already (collected), or taken over by a newer flow: over.
    let Some(twin) = twin_of(key, entry) else {
        return true;
    };
    if twin.tcp_flags & TCP_RST_SEEN != 0 {
        return true;
    }
    if twin.tcp_flags & TCP_FIN_SEEN == 0 {
        return false;
    }
    !finished || (acknowledged(entry, &twin) && acknowledged(&twin, entry))
}

/// Whether `by` has acknowledged everything `sender` sent (its FIN
/// included).
#[inline(always)]
fn acknowledged(sender: &NatEntry, by: &NatEntry) -> bool {
    by.tcp_flags & TCP_ACK_SEEN != 0 && !seq_after(sender.tcp_seq_end, by.tcp_ack)
}

/// Removes a claimed direction when the flow's other one could not be
/// written.
#[inline(always)]
pub fn release(key: &FlowKey) {
    let _ = table(key.protocol).remove(key);
}
