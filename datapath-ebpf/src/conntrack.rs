//! Connection tracking for NAT, for both address families: two tables per
//! family (TCP, everything else), one entry per direction of each flow,
//! written together. The logic is written once: generic over [`Family`]
//! (the tables of an address family) and `parse::FlowPacket` (what it
//! reads of a parsed packet), and `track` as a macro (`track::define_track`);
//! `conntrack6` holds the IPv6 tables and its `track`.
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
    flow::{FlowAddr, FlowKeyOf, MasqUsageKeyOf, NatEntryOf},
    maps::{
        FlowKey, NatEntry, NatKind, TCP_ACK_SEEN, TCP_FIN_SEEN, TCP_RST_SEEN, TCP_SEQ_SEEN, proto,
    },
    names::{MASQ_USAGE_CAPACITY, NAT_CAPACITY},
};

use crate::{
    hook::Hook,
    masquerade_quota,
    parse::{FlowPacket, Packet, TCP_ACK},
};

pub type NatTable<A> =
    HashMap<FlowKeyOf<A>, NatEntryOf<A>, { NAT_CAPACITY as usize }, { BPF_F_NO_PREALLOC as usize }>;

/// The masquerade counters of a family (see `masquerade_quota`).
pub type UsageTable<A> = HashMap<MasqUsageKeyOf<A>, u32, { MASQ_USAGE_CAPACITY as usize }>;

#[btf_map]
static NAT_TCP: NatTable<[u8; 4]> = HashMap::new();

#[btf_map]
static NAT_OTHER: NatTable<[u8; 4]> = HashMap::new();

/// An address family's tables: its NAT tables and masquerade counters.
pub trait Family: FlowAddr + 'static {
    /// The NAT tables of TCP and of every other protocol.
    fn tables() -> (&'static NatTable<Self>, &'static NatTable<Self>);
    fn usage() -> &'static UsageTable<Self>;

    /// The NAT table of `protocol`'s flows.
    #[inline(always)]
    fn table(protocol: u8) -> &'static NatTable<Self> {
        let (tcp, other) = Self::tables();
        if protocol == proto::TCP { tcp } else { other }
    }

    /// Whether `hook` applies `entry` (IPv6 adds routed flows, `nat6`).
    #[inline(always)]
    fn applies(hook: Hook, entry: &NatEntryOf<Self>) -> bool {
        hook.applies(entry)
    }

    /// Whether entries of `kind` are a flow's answering direction, whose
    /// first packet sets `REPLY_SEEN`.
    #[inline(always)]
    fn is_reply(kind: u8) -> bool {
        kind == NatKind::PublishedReply as u8 || kind == NatKind::MasqueradeReply as u8
    }
}

impl Family for [u8; 4] {
    #[inline(always)]
    fn tables() -> (&'static NatTable<Self>, &'static NatTable<Self>) {
        (&NAT_TCP, &NAT_OTHER)
    }

    #[inline(always)]
    fn usage() -> &'static UsageTable<Self> {
        &masquerade_quota::MASQ_USAGE
    }
}

/// How far outside the sequence space seen so far an RST may lie and still
/// count as genuine (segments in flight, an ACK lost past this hop).
const RST_SLACK: u32 = 1 << 16;

/// The key of the direction `packet` travels in.
#[inline(always)]
pub fn key_of(packet: &Packet) -> FlowKey {
    packet.key()
}

/// A copy of the entry for `key`, without touching its statistics or flags
/// (also for packets that belong to a flow without being one of its
/// packets: ICMP errors about it, later fragments).
#[inline(always)]
pub fn lookup<A: Family>(key: &FlowKeyOf<A>) -> Option<NatEntryOf<A>> {
    // SAFETY: copied out at once.
    A::table(key.protocol)
        .get_ptr(key)
        .map(|entry| unsafe { *entry })
}

/// The entry for `key`, read in place (no copy on the caller's stack),
/// without touching it. Valid for this program run, as `track`'s.
#[inline(always)]
pub fn peek<A: Family>(key: &FlowKeyOf<A>) -> Option<&'static NatEntryOf<A>> {
    // SAFETY: see `track`: plain hash entries stay readable until the end
    // of this program run.
    A::table(key.protocol)
        .get_ptr(key)
        .map(|entry| unsafe { &*entry })
}

crate::track::define_track!(
    #[inline(always)]
    Packet,
    NatEntry
);

/// `a` comes after `b` in sequence space (RFC 1982 arithmetic).
#[inline(always)]
fn seq_after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// Remembers how far this direction has sent and acknowledged (also for a
/// flow's first packet, whose entry is new).
#[inline(always)]
pub fn record_sequence<P: FlowPacket>(packet: &P, entry: &mut NatEntryOf<P::Addr>) {
    let segment = packet.segment();
    let end = segment.seq.wrapping_add(segment.len);
    if entry.tcp_flags & TCP_SEQ_SEEN == 0 || seq_after(end, entry.tcp_seq_end) {
        entry.tcp_seq_end = end;
        entry.tcp_flags |= TCP_SEQ_SEEN;
    }
    // The opener's SYN carries no ACK: both directions with one means the
    // handshake is over.
    if segment.flags & TCP_ACK != 0 {
        if entry.tcp_flags & TCP_ACK_SEEN == 0 || seq_after(segment.ack, entry.tcp_ack) {
            entry.tcp_ack = segment.ack;
        }
        entry.tcp_flags |= TCP_ACK_SEEN;
    }
}

/// Whether an RST from the sender of `entry` lies where a genuine one can:
/// between what the peer has acknowledged and what the sender has sent (as
/// Linux conntrack's window check). A sender that never spoke may only
/// refuse the peer's SYN, acknowledging exactly it.
#[inline(always)]
pub(crate) fn rst_in_window<P: FlowPacket>(
    packet: &P,
    entry: &NatEntryOf<P::Addr>,
    peer: Option<&NatEntryOf<P::Addr>>,
) -> bool {
    let segment = packet.segment();
    let Some(peer) = peer else {
        // The other direction is gone: nothing left to protect.
        return true;
    };
    if entry.tcp_flags & TCP_SEQ_SEEN == 0 {
        return segment.flags & TCP_ACK != 0
            && peer.tcp_flags & TCP_SEQ_SEEN != 0
            && segment.ack == peer.tcp_seq_end;
    }
    // The answer to the peer's last ACK: an endpoint that does not know the
    // connection the ACK speaks of (a challenge ACK to a SYN on a reused
    // tuple, say) resets with exactly that acknowledgement as its sequence
    // number, as Linux conntrack accepts.
    if peer.tcp_flags & TCP_ACK_SEEN != 0 && segment.seq == peer.tcp_ack {
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
    segment.seq.wrapping_sub(low) <= high.wrapping_sub(low)
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

/// [`new_entry`] written in place (a whole IPv6 entry built on the stack
/// would not fit beside its callers).
#[inline(always)]
pub fn init_entry<A>(
    entry: &mut NatEntryOf<A>,
    kind: u8,
    forward: u8,
    ifindex: u32,
    dst_mac: [u8; 6],
) {
    // SAFETY: plain helper call.
    let now = unsafe { bpf_ktime_get_coarse_ns() };
    // SAFETY: a valid, exclusive reference; all-zero is a valid entry.
    unsafe { core::ptr::write_bytes(entry as *mut NatEntryOf<A>, 0, 1) };
    (entry.ifindex, entry.kind, entry.forward, entry.dst_mac) = (ifindex, kind, forward, dst_mac);
    (entry.created_ns, entry.last_seen_ns) = (now, now);
}

#[inline(always)]
pub(crate) fn is_closed<A>(entry: &NatEntryOf<A>) -> bool {
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
pub fn claim<A: Family>(
    key: &FlowKeyOf<A>,
    entry: &NatEntryOf<A>,
    reuse: Reuse,
    claimed: Option<&FlowKeyOf<A>>,
) -> bool {
    let table = A::table(key.protocol);
    if table.insert(key, entry, u64::from(BPF_NOEXIST)).is_ok() {
        return true;
    }
    if reuse == Reuse::Never {
        return false;
    }
    let Some(old) = peek(key) else {
        return false;
    };
    let taken_over = claimed.is_some_and(|other| old.twin_key(key.protocol) == *other);
    if !taken_over && !flow_is_over(key, old, reuse == Reuse::Finished) {
        return false;
    }
    table.insert(key, entry, 0).is_ok()
}

/// A direction of a flow closed (its first FIN or RST): when the whole flow
/// is over by that, a masqueraded flow stops counting against its
/// container's share of ports. A subprogram of its own: it reads the other
/// direction.
#[inline(never)]
pub(crate) fn flow_closed<A: Family>(key: &FlowKeyOf<A>, entry: &NatEntryOf<A>) {
    let request = entry.kind == NatKind::MasqueradeRequest as u8;
    if !request && entry.kind != NatKind::MasqueradeReply as u8 {
        return;
    }
    // The other direction decides: a reset there ended the flow already
    // (and released it then); a FIN there means this close ends it now; a
    // FIN here while the other direction is open is only half a close.
    // Gone, or taken over by a newer flow: this one ended before.
    let Some(twin) = twin_of(key, entry) else {
        return;
    };
    if twin.tcp_flags & TCP_RST_SEEN != 0 {
        return;
    }
    if entry.tcp_flags & TCP_RST_SEEN == 0 && twin.tcp_flags & TCP_FIN_SEEN == 0 {
        return;
    }
    let usage = if request {
        MasqUsageKeyOf::new(key.src_ip, key.dst_ip, key.dst_port, key.protocol)
    } else {
        // An answer from outside: its source is the flow's destination,
        // the container is where it is sent back to.
        MasqUsageKeyOf::new(entry.new_dst_ip, key.src_ip, key.src_port, key.protocol)
    };
    masquerade_quota::release(&usage);
}

/// The other direction of the TCP flow whose entry at `key` is `entry`:
/// the entry at its other tuple is its twin only if it points back (that
/// tuple may belong to a newer flow by now, which only took it over
/// because this one was over).
#[inline(always)]
fn twin_of<A: Family>(key: &FlowKeyOf<A>, entry: &NatEntryOf<A>) -> Option<&'static NatEntryOf<A>> {
    peek(&entry.twin_key(proto::TCP)).filter(|twin| twin.twin_key(proto::TCP) == *key)
}

/// Whether the flow that `entry` (one direction's entry, at `key`) belongs
/// to is over: reset, or closed with a FIN in both directions — and with
/// `finished`, each FIN acknowledged too, so neither end still waits for
/// the last ACK. A half-closed flow may still carry data the other way, so
/// its tuple stays taken.
#[inline(always)]
fn flow_is_over<A: Family>(key: &FlowKeyOf<A>, entry: &NatEntryOf<A>, finished: bool) -> bool {
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
    !finished || (acknowledged(entry, twin) && acknowledged(twin, entry))
}

/// Whether `by` has acknowledged everything `sender` sent (its FIN
/// included).
#[inline(always)]
fn acknowledged<A>(sender: &NatEntryOf<A>, by: &NatEntryOf<A>) -> bool {
    by.tcp_flags & TCP_ACK_SEEN != 0 && !seq_after(sender.tcp_seq_end, by.tcp_ack)
}

/// Removes a claimed direction when the flow's other one could not be
/// written.
#[inline(always)]
pub fn release<A: Family>(key: &FlowKeyOf<A>) {
    let _ = A::table(key.protocol).remove(key);
}
