//! Pure decisions over IPv6 NAT entries, as `nat` for IPv4: a flow's other
//! direction, idle flows (with `nat`'s timeouts), the masquerade counts
//! the programs must hold, and the flows of an address.

use std::collections::{BTreeMap, HashMap};

use ebpfnet_common::{
    flows6::{FlowKey6, ICMPV6, MasqUsageKey6, NatEntry6},
    maps::{NatEntry, NatKind, TCP_FIN_SEEN, TCP_RST_SEEN, proto},
};

use super::{NatRecord6, nat};

/// What `nat`'s timeouts read of an entry: its flags.
fn state_of(entry: &NatEntry6) -> NatEntry {
    NatEntry {
        tcp_flags: entry.tcp_flags,
        ..NatEntry::default()
    }
}

/// How long a flow may stay idle (`nat::idle_timeout_ns`; ICMPv6 as ICMP).
pub fn idle_timeout_ns(protocol: u8, entry: &NatEntry6, twin: Option<&NatEntry6>) -> u64 {
    let protocol = if protocol == ICMPV6 {
        proto::ICMP
    } else {
        protocol
    };
    let twin = twin.map(state_of);
    nat::idle_timeout_ns(protocol, &state_of(entry), twin.as_ref())
}

fn index(records: &[NatRecord6]) -> HashMap<FlowKey6, NatEntry6> {
    records.iter().map(|r| (r.key, r.entry)).collect()
}

/// The other direction of `record`'s flow, if its tuple still points back.
fn twin_of<'a>(
    by_key: &'a HashMap<FlowKey6, NatEntry6>,
    record: &NatRecord6,
) -> Option<&'a NatEntry6> {
    let key = record.entry.twin_key(record.key.protocol);
    by_key
        .get(&key)
        .filter(|twin| twin.twin_key(key.protocol) == record.key)
}

/// The records of flows idle longer than their timeout (both directions'
/// last activity counts), as read.
pub fn expired(records: &[NatRecord6], now_ns: u64) -> Vec<NatRecord6> {
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

/// Whether the entry read again is still the one GC decided on.
pub fn unchanged(read: &NatEntry6, now: &NatEntry6) -> bool {
    read.created_ns == now.created_ns && read.last_seen_ns == now.last_seen_ns
}

/// Both directions of every flow to, from or through `ip`.
pub fn flows_of_address(records: &[NatRecord6], ip: [u8; 16]) -> Vec<FlowKey6> {
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

/// Live masqueraded flows per container and destination (what
/// `MASQ_USAGE6` must hold); a TCP flow that is over holds no port.
pub fn masquerade_usage(records: &[NatRecord6]) -> BTreeMap<MasqUsageKey6, u32> {
    let by_key = index(records);
    let mut usage = BTreeMap::new();
    for r in records {
        if NatKind::try_from(r.entry.kind) != Ok(NatKind::MasqueradeRequest) {
            continue;
        }
        let twin = twin_of(&by_key, r);
        let flags = r.entry.tcp_flags | twin.map_or(0, |t| t.tcp_flags);
        let fin_both = twin.is_none_or(|t| {
            r.entry.tcp_flags & TCP_FIN_SEEN != 0 && t.tcp_flags & TCP_FIN_SEEN != 0
        });
        if r.key.protocol == proto::TCP && (flags & TCP_RST_SEEN != 0 || fin_both) {
            continue;
        }
        let key = MasqUsageKey6::new(r.key.src_ip, r.key.dst_ip, r.key.dst_port, r.key.protocol);
        *usage.entry(key).or_insert(0) += 1;
    }
    usage
}

/// Each flow once: its request with the other direction when that is
/// still there, or an entry whose flow has no request left.
pub fn flows(records: &[NatRecord6]) -> Vec<(NatRecord6, Option<NatRecord6>)> {
    let by_key = index(records);
    records
        .iter()
        .filter_map(|r| {
            let twin = twin_of(&by_key, r).map(|entry| NatRecord6 {
                key: r.entry.twin_key(r.key.protocol),
                entry: *entry,
            });
            let request = matches!(
                NatKind::try_from(r.entry.kind),
                Ok(NatKind::PublishedRequest | NatKind::MasqueradeRequest | NatKind::RoutedRequest)
            );
            (twin.is_none() || request).then_some((*r, twin))
        })
        .collect()
}

#[cfg(test)]
#[path = "nat6_tests.rs"]
mod tests;
