//! Pure decisions over NAT entries, for both address families (IPv4's
//! `NAT_TCP`/`NAT_OTHER`, IPv6's `NAT6_TCP`/`NAT6_OTHER`): which entry is a
//! flow's other direction, when a flow is idle too long, the masquerade
//! counts the programs must hold, which flows belong to an address or came
//! through a mapping.

use std::collections::{BTreeMap, HashMap, HashSet};

use ebpfnet_common::{
    flow::{FlowAddr, FlowKeyOf, MasqUsageKeyOf, NatEntryOf},
    maps::{
        FlowKey, NatKind, PublishedKey, REPLY_SEEN, TCP_ACK_SEEN, TCP_FIN_SEEN, TCP_RST_SEEN, proto,
    },
    published::PublishedKeyOf,
};

use super::{NatRecord, NatRecordOf};

const SECOND_NS: u64 = 1_000_000_000;
/// A TCP flow that was reset, or closed by both ends.
pub const TCP_CLOSED_TIMEOUT_NS: u64 = 10 * SECOND_NS;
/// A TCP flow closed by one end only: the other may still send (Linux
/// keeps FIN_WAIT 120 s).
pub const TCP_HALF_CLOSED_TIMEOUT_NS: u64 = 120 * SECOND_NS;
/// A TCP handshake not finished (Cilium's SYN timeout): spoofed SYNs go
/// quickly.
pub const TCP_OPENING_TIMEOUT_NS: u64 = 60 * SECOND_NS;
/// An established TCP flow: Linux conntrack's 5 days, so keepalives of
/// long-idle connections are never raced.
pub const TCP_ESTABLISHED_TIMEOUT_NS: u64 = 5 * 24 * 3600 * SECOND_NS;
/// UDP with an answer, and without (Linux: 120 s and 30 s).
pub const UDP_TIMEOUT_NS: u64 = 120 * SECOND_NS;
pub const UDP_UNANSWERED_TIMEOUT_NS: u64 = 30 * SECOND_NS;
pub const ICMP_TIMEOUT_NS: u64 = 30 * SECOND_NS;

/// How long a flow may stay idle, from its two directions' flags (`twin`
/// absent: its other direction is gone). ICMPv6 echo lives as ICMP's.
pub fn idle_timeout_ns<A: FlowAddr>(
    protocol: u8,
    entry: &NatEntryOf<A>,
    twin: Option<&NatEntryOf<A>>,
) -> u64 {
    let flags = entry.tcp_flags | twin.map_or(0, |t| t.tcp_flags);
    match protocol {
        proto::TCP => {
            let fin_both = twin.is_none_or(|t| {
                entry.tcp_flags & TCP_FIN_SEEN != 0 && t.tcp_flags & TCP_FIN_SEEN != 0
            });
            let handshake_done = twin.is_some_and(|t| {
                entry.tcp_flags & TCP_ACK_SEEN != 0 && t.tcp_flags & TCP_ACK_SEEN != 0
            });
            if flags & TCP_RST_SEEN != 0 || (flags & TCP_FIN_SEEN != 0 && fin_both) {
                TCP_CLOSED_TIMEOUT_NS
            } else if flags & TCP_FIN_SEEN != 0 {
                TCP_HALF_CLOSED_TIMEOUT_NS
            } else if handshake_done {
                TCP_ESTABLISHED_TIMEOUT_NS
            } else {
                TCP_OPENING_TIMEOUT_NS
            }
        }
        p if p == A::ICMP => ICMP_TIMEOUT_NS,
        _ if flags & REPLY_SEEN != 0 => UDP_TIMEOUT_NS,
        _ => UDP_UNANSWERED_TIMEOUT_NS,
    }
}

/// Entries by key, for finding twins.
fn index<A: FlowAddr>(records: &[NatRecordOf<A>]) -> HashMap<FlowKeyOf<A>, NatEntryOf<A>> {
    records.iter().map(|r| (r.key, r.entry)).collect()
}

/// The other direction of `record`'s flow, if it is still there: the entry
/// at its tuple must point back (a SYN may have given that tuple to a newer
/// flow once this one was over).
fn twin_of<'a, A: FlowAddr>(
    by_key: &'a HashMap<FlowKeyOf<A>, NatEntryOf<A>>,
    record: &NatRecordOf<A>,
) -> Option<&'a NatEntryOf<A>> {
    let key = record.entry.twin_key(record.key.protocol);
    by_key
        .get(&key)
        .filter(|twin| twin.twin_key(key.protocol) == record.key)
}

/// The records of the flows idle for longer than their timeout, both
/// directions, as read (so the caller can check they are unchanged before
/// deleting). A flow's last activity is that of its two entries together,
/// so a one-way stream keeps its silent direction alive.
pub fn expired<A: FlowAddr>(records: &[NatRecordOf<A>], now_ns: u64) -> Vec<NatRecordOf<A>> {
    let by_key = index(records);
    records
        .iter()
        .filter(|r| {
            let twin = twin_of(&by_key, r);
            let last_seen = twin.map_or(r.entry.last_seen_ns, |t| {
                t.last_seen_ns.max(r.entry.last_seen_ns)
            });
            now_ns.saturating_sub(last_seen) > idle_timeout_ns(r.key.protocol, &r.entry, twin)
        })
        .copied()
        .collect()
}

/// Whether `now` (read again just before deleting) is still the entry GC
/// decided on: a flow that took the tuple over meanwhile has another
/// creation time, a revived one another last-seen time.
pub fn unchanged<A>(read: &NatEntryOf<A>, now: &NatEntryOf<A>) -> bool {
    read.created_ns == now.created_ns && read.last_seen_ns == now.last_seen_ns
}

/// Keys of both directions of every flow that involves `ip` (a removed
/// container's address): as sender or receiver of either direction.
pub fn flows_of_address<A: FlowAddr>(records: &[NatRecordOf<A>], ip: A) -> Vec<FlowKeyOf<A>> {
    records
        .iter()
        .filter(|r| {
            r.key.src_ip == ip
                || r.key.dst_ip == ip
                || r.entry.new_src_ip == ip
                || r.entry.new_dst_ip == ip
        })
        .flat_map(|r| [r.key, r.entry.twin_key(r.key.protocol)])
        .collect()
}

/// Whether a TCP flow is over: reset, or closed by both ends (`twin`
/// absent: its other direction is gone).
fn tcp_flow_is_over<A>(entry: &NatEntryOf<A>, twin: Option<&NatEntryOf<A>>) -> bool {
    let flags = entry.tcp_flags | twin.map_or(0, |t| t.tcp_flags);
    flags & TCP_RST_SEEN != 0
        || twin
            .is_none_or(|t| entry.tcp_flags & TCP_FIN_SEEN != 0 && t.tcp_flags & TCP_FIN_SEEN != 0)
}

/// Live masqueraded flows per container and destination, counted from the
/// requests' entries: what `MASQ_USAGE` (`MASQ_USAGE6`) must hold. A TCP
/// flow that is over holds no port (a SYN may take its tuple over), as the
/// programs count; echo flows count per address (port 0).
pub fn masquerade_usage<A: FlowAddr>(
    records: &[NatRecordOf<A>],
) -> BTreeMap<MasqUsageKeyOf<A>, u32> {
    let by_key = index(records);
    let mut usage = BTreeMap::new();
    for r in records {
        if NatKind::try_from(r.entry.kind) != Ok(NatKind::MasqueradeRequest) {
            continue;
        }
        let twin = twin_of(&by_key, r);
        if r.key.protocol == proto::TCP && tcp_flow_is_over(&r.entry, twin) {
            continue;
        }
        let key = MasqUsageKeyOf::new(r.key.src_ip, r.key.dst_ip, r.key.dst_port, r.key.protocol);
        *usage.entry(key).or_insert(0) += 1;
    }
    usage
}

/// Each flow once: its request with the other direction when that is
/// still there, or an entry whose flow has no request left by itself.
pub fn flows<A: FlowAddr>(
    records: &[NatRecordOf<A>],
) -> Vec<(NatRecordOf<A>, Option<NatRecordOf<A>>)> {
    let by_key = index(records);
    records
        .iter()
        .filter_map(|r| {
            let twin = twin_of(&by_key, r).map(|entry| NatRecordOf {
                key: r.entry.twin_key(r.key.protocol),
                entry: *entry,
            });
            let request = matches!(
                NatKind::try_from(r.entry.kind),
                Ok(NatKind::PublishedRequest
                    | NatKind::MasqueradeRequest
                    | NatKind::RoutedRequest
                    | NatKind::Nat46Request)
            );
            (twin.is_none() || request).then_some((*r, twin))
        })
        .collect()
}

/// Keys of both directions of every flow that came in through `mapping`:
/// request entries whose destination is the published address and port
/// (any host address for a `0.0.0.0` mapping), and their reply twins.
pub fn flows_of_mapping(records: &[NatRecord], mapping: &PublishedKey) -> Vec<FlowKey> {
    flows_of_mappings(records, std::slice::from_ref(mapping))
}

/// Both directions of every flow that came in through any of `mappings`,
/// in one pass over the records (unpublishing every port of an address
/// reads a table once, not once a port). For either family.
pub fn flows_of_mappings<A: FlowAddr>(
    records: &[NatRecordOf<A>],
    mappings: &[PublishedKeyOf<A>],
) -> Vec<FlowKeyOf<A>> {
    let wanted = mappings
        .iter()
        .map(|m| (m.protocol, m.host_port, m.host_ip));
    flows_through(records, &wanted.collect())
}

/// Both directions of every flow whose request came in through one of
/// `wanted` (protocol, port, host address; the zero address for a mapping
/// on every address): request entries to that address and port, and
/// their reply twins. For either family.
pub fn flows_through<A: FlowAddr>(
    records: &[NatRecordOf<A>],
    wanted: &HashSet<(u8, u16, A)>,
) -> Vec<FlowKeyOf<A>> {
    records
        .iter()
        .filter(|r| {
            matches!(
                NatKind::try_from(r.entry.kind),
                Ok(NatKind::PublishedRequest | NatKind::Nat46Request)
            ) && (wanted.contains(&(r.key.protocol, r.key.dst_port, r.key.dst_ip))
                || wanted.contains(&(r.key.protocol, r.key.dst_port, A::default())))
        })
        .flat_map(|r| [r.key, r.entry.twin_key(r.key.protocol)])
        .collect()
}

#[cfg(test)]
#[path = "nat_tests.rs"]
mod tests;
