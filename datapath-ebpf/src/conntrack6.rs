//! Connection tracking for NAT66: `NAT6_TCP` and `NAT6_OTHER`, the IPv6
//! twins of `conntrack`'s tables, with the same rules: one entry per
//! direction written together, new tuples claimed with `BPF_NOEXIST`,
//! plain hashes that refuse new flows when full, TCP state from the
//! segments seen, resets checked against the window. Entries are used in
//! place (a 96-byte copy would not fit the stack).

use aya_ebpf::{
    bindings::{BPF_F_NO_PREALLOC, BPF_NOEXIST},
    btf_maps::HashMap,
    helpers::bpf_ktime_get_ns,
    macros::btf_map,
};
use ebpfnet_common::{
    DropReason,
    flows6::{FlowKey6, MasqUsageKey6, NatEntry6},
    maps::{
        NatKind, REPLY_SEEN, TCP_ACK_SEEN, TCP_FIN_SEEN, TCP_RST_SEEN, TCP_SEQ_SEEN, proto,
    },
    names::{MASQ_USAGE_CAPACITY, NAT_CAPACITY},
};

use crate::{
    conntrack::Reuse,
    masquerade_quota,
    parse::{TCP_ACK, TCP_FIN, TCP_RST},
    parse6::Packet6,
};

type NatTable6 =
    HashMap<FlowKey6, NatEntry6, { NAT_CAPACITY as usize }, { BPF_F_NO_PREALLOC as usize }>;

#[btf_map]
static NAT6_TCP: NatTable6 = HashMap::new();

#[btf_map]
static NAT6_OTHER: NatTable6 = HashMap::new();

#[btf_map]
static MASQ_USAGE6: HashMap<MasqUsageKey6, u32, { MASQ_USAGE_CAPACITY as usize }> =
    HashMap::new();

/// As in `conntrack`: how far below what the peer acknowledged an RST may lie.
const RST_SLACK: u32 = 1 << 16;

#[inline(always)]
fn table(protocol: u8) -> &'static NatTable6 {
    if protocol == proto::TCP {
        &NAT6_TCP
    } else {
        &NAT6_OTHER
    }
}

#[inline(always)]
pub fn key_of(packet: &Packet6) -> FlowKey6 {
    FlowKey6::new(
        packet.src_ip,
        packet.src_port,
        packet.dst_ip,
        packet.dst_port,
        packet.protocol,
    )
}

/// The entry at `key`, in place (plain hash: valid for this run), its
/// statistics untouched (for errors about a flow).
#[inline(always)]
pub fn lookup(key: &FlowKey6) -> Option<&'static NatEntry6> {
    entry_at(key)
}

#[inline(always)]
fn entry_at(key: &FlowKey6) -> Option<&'static NatEntry6> {
    // SAFETY: see `track`.
    table(key.protocol).get_ptr(key).map(|e| unsafe { &*e })
}

/// The entry for `packet`'s direction, updated for this packet (see
/// `conntrack::track`). A subprogram of its own: its keys would add to
/// every caller's stack.
#[inline(never)]
pub fn track(packet: &Packet6, len: u32) -> Result<Option<&'static NatEntry6>, DropReason> {
    let key = key_of(packet);
    let Some(entry) = table(packet.protocol).get_ptr_mut(key) else {
        return Ok(None);
    };
    // SAFETY: an entry of a plain (non-LRU) hash stays valid until the end
    // of this run even if deleted meanwhile; racing statistics updates may
    // lose a count, never corrupt state.
    unsafe {
        let entry: &'static mut NatEntry6 = &mut *entry;
        if packet.opens_tcp() && is_closed(entry) {
            return Ok(None);
        }
        if packet.protocol == proto::TCP {
            let was_closed = is_closed(entry);
            if packet.tcp_flags & TCP_RST != 0 {
                let peer = entry_at(&entry.twin_key(proto::TCP));
                if !rst_in_window(packet, entry, peer) {
                    return Err(DropReason::TcpOutOfWindow);
                }
                entry.tcp_flags |= TCP_RST_SEEN;
            } else {
                record_sequence(packet, entry);
            }
            if packet.tcp_flags & TCP_FIN != 0 {
                entry.tcp_flags |= TCP_FIN_SEEN;
            }
            if !was_closed && is_closed(entry) {
                flow_closed(&key, entry);
            }
        }
        entry.last_seen_ns = bpf_ktime_get_ns();
        entry.packets = entry.packets.wrapping_add(1);
        entry.bytes = entry.bytes.wrapping_add(u64::from(len));
        if entry.kind == NatKind::PublishedReply as u8
            || entry.kind == NatKind::MasqueradeReply as u8
            || entry.kind == NatKind::RoutedReply as u8
        {
            entry.tcp_flags |= REPLY_SEEN;
        }
        Ok(Some(&*entry))
    }
}

#[inline(always)]
fn seq_after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// Remembers how far this direction has sent and acknowledged.
#[inline(always)]
pub fn record_sequence(packet: &Packet6, entry: &mut NatEntry6) {
    let end = packet.tcp_seq.wrapping_add(packet.tcp_seq_len);
    if entry.tcp_flags & TCP_SEQ_SEEN == 0 || seq_after(end, entry.tcp_seq_end) {
        entry.tcp_seq_end = end;
        entry.tcp_flags |= TCP_SEQ_SEEN;
    }
    if packet.tcp_flags & TCP_ACK != 0 {
        if entry.tcp_flags & TCP_ACK_SEEN == 0 || seq_after(packet.tcp_ack, entry.tcp_ack) {
            entry.tcp_ack = packet.tcp_ack;
        }
        entry.tcp_flags |= TCP_ACK_SEEN;
    }
}

/// Whether an RST from the sender of `entry` lies where a genuine one can
/// (the rule of `conntrack::rst_in_window`).
#[inline(always)]
fn rst_in_window(packet: &Packet6, entry: &NatEntry6, peer: Option<&NatEntry6>) -> bool {
    let Some(peer) = peer else {
        return true;
    };
    if entry.tcp_flags & TCP_SEQ_SEEN == 0 {
        return packet.tcp_flags & TCP_ACK != 0
            && peer.tcp_flags & TCP_SEQ_SEEN != 0
            && packet.tcp_ack == peer.tcp_seq_end;
    }
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
    if seq_after(low, high) {
        return false;
    }
    packet.tcp_seq.wrapping_sub(low) <= high.wrapping_sub(low)
}

/// A new entry for one direction, stamped now.
#[inline(always)]
pub fn new_entry(entry: &mut NatEntry6, kind: u8, forward: u8, ifindex: u32, dst_mac: [u8; 6]) {
    // SAFETY: plain helper call.
    let now = unsafe { bpf_ktime_get_ns() };
    // Zeroed in place: a whole value built on the stack would not fit.
    // SAFETY: a valid, exclusive reference; all-zero is a valid entry.
    unsafe { core::ptr::write_bytes(entry as *mut NatEntry6, 0, 1) };
    entry.ifindex = ifindex;
    entry.kind = kind;
    entry.forward = forward;
    entry.dst_mac = dst_mac;
    entry.created_ns = now;
    entry.last_seen_ns = now;
}

#[inline(always)]
fn is_closed(entry: &NatEntry6) -> bool {
    entry.tcp_flags & (TCP_FIN_SEEN | TCP_RST_SEEN) != 0
}

/// Claims `key` for a new flow (`conntrack::claim`'s rule): refused when
/// another flow holds the tuple, unless `reuse` lets a TCP flow that is
/// over give it up; `claimed` is the new flow's other tuple, already
/// taken over.
#[inline(never)]
pub fn claim(key: &FlowKey6, entry: &NatEntry6, reuse: Reuse, claimed: Option<&FlowKey6>) -> bool {
    let table = table(key.protocol);
    if table.insert(key, entry, u64::from(BPF_NOEXIST)).is_ok() {
        return true;
    }
    if reuse == Reuse::Never {
        return false;
    }
    let Some(old) = entry_at(key) else {
        return false;
    };
    let taken_over = claimed.is_some_and(|other| old.twin_key(key.protocol) == *other);
    if !taken_over && !flow_is_over(key, old, reuse == Reuse::Finished) {
        return false;
    }
    table.insert(key, entry, 0).is_ok()
}

/// The other direction of the TCP flow whose entry at `key` is `entry`, if
/// it still points back.
#[inline(always)]
fn twin_of(key: &FlowKey6, entry: &NatEntry6) -> Option<&'static NatEntry6> {
    entry_at(&entry.twin_key(proto::TCP)).filter(|twin| twin.twin_key(proto::TCP) == *key)
}

/// Reset, or closed both ways (with `finished`, each FIN acknowledged).
#[inline(always)]
fn flow_is_over(key: &FlowKey6, entry: &NatEntry6, finished: bool) -> bool {
    if entry.tcp_flags & TCP_RST_SEEN != 0 {
        return true;
    }
    if entry.tcp_flags & TCP_FIN_SEEN == 0 {
        return false;
    }
    let Some(twin) = twin_of(key, entry) else {
        return true;
    };
    if twin.tcp_flags & TCP_RST_SEEN != 0 {
        return true;
    }
    twin.tcp_flags & TCP_FIN_SEEN != 0
        && (!finished || (acknowledged(entry, twin) && acknowledged(twin, entry)))
}

#[inline(always)]
fn acknowledged(sender: &NatEntry6, by: &NatEntry6) -> bool {
    by.tcp_flags & TCP_ACK_SEEN != 0 && !seq_after(sender.tcp_seq_end, by.tcp_ack)
}

/// A direction of a masqueraded TCP flow closed: when that ends the flow,
/// its port stops counting against the container's share.
#[inline(never)]
fn flow_closed(key: &FlowKey6, entry: &NatEntry6) {
    let request = entry.kind == NatKind::MasqueradeRequest as u8;
    if !request && entry.kind != NatKind::MasqueradeReply as u8 {
        return;
    }
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
        MasqUsageKey6::new(key.src_ip, key.dst_ip, key.dst_port, key.protocol)
    } else {
        // An answer from outside: its source is the flow's destination,
        // the container is where it is sent back to.
        MasqUsageKey6::new(entry.new_dst_ip, key.src_ip, key.src_port, key.protocol)
    };
    release_port(&usage);
}

/// Removes a claimed direction when the other could not be written.
#[inline(always)]
pub fn release(key: &FlowKey6) {
    let _ = table(key.protocol).remove(key);
}

/// Takes one of the container's ports to a destination (`quota` 0: no
/// limit), as `masquerade_quota::take`.
#[inline(always)]
pub fn take_port(key: &MasqUsageKey6, quota: u16) -> bool {
    masquerade_quota::take_in(&MASQ_USAGE6, key, quota)
}

/// Gives a port back, as `masquerade_quota::release`.
#[inline(always)]
pub fn release_port(key: &MasqUsageKey6) {
    masquerade_quota::release_in(&MASQ_USAGE6, key)
}
