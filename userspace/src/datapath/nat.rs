//! Pure decisions over NAT entries: which entry is a flow's other direction,
//! when a flow is idle too long, which flows came through a mapping.

use std::collections::HashMap;

use ebpfnet_common::maps::{
    FlowKey, NatEntry, NatKind, PublishedKey, TCP_FIN_SEEN, TCP_RST_SEEN, proto,
};

use super::NatRecord;

const SECOND_NS: u64 = 1_000_000_000;
/// TCP flows that saw a FIN or an RST.
pub const TCP_CLOSING_TIMEOUT_NS: u64 = 10 * SECOND_NS;
pub const TCP_TIMEOUT_NS: u64 = 7200 * SECOND_NS;
pub const UDP_TIMEOUT_NS: u64 = 120 * SECOND_NS;
pub const ICMP_TIMEOUT_NS: u64 = 30 * SECOND_NS;

/// The key of the other direction of the flow `key` belongs to: the reverse
/// of the tuple `entry` translates the packet into.
pub fn twin_key(key: &FlowKey, entry: &NatEntry) -> FlowKey {
    entry.twin_key(key.protocol)
}

pub fn kind(entry: &NatEntry) -> Option<NatKind> {
    match entry.kind {
        1 => Some(NatKind::PublishedRequest),
        2 => Some(NatKind::PublishedReply),
        3 => Some(NatKind::MasqueradeRequest),
        4 => Some(NatKind::MasqueradeReply),
        _ => None,
    }
}

/// How long a flow may stay idle; `tcp_flags` are both directions' bits.
pub fn idle_timeout_ns(protocol: u8, tcp_flags: u8) -> u64 {
    match protocol {
        proto::TCP if tcp_flags & (TCP_FIN_SEEN | TCP_RST_SEEN) != 0 => TCP_CLOSING_TIMEOUT_NS,
        proto::TCP => TCP_TIMEOUT_NS,
        proto::ICMP => ICMP_TIMEOUT_NS,
        _ => UDP_TIMEOUT_NS,
    }
}

/// Entries by key, for finding twins.
pub fn index(records: &[NatRecord]) -> HashMap<FlowKey, NatEntry> {
    records.iter().map(|r| (r.key, r.entry)).collect()
}

/// Keys of the flows idle for longer than their timeout, both directions.
/// A flow's last activity and flags are those of its two entries together,
/// so a one-way stream keeps its silent direction alive.
pub fn expired(records: &[NatRecord], now_ns: u64) -> Vec<FlowKey> {
    let by_key = index(records);
    records
        .iter()
        .filter(|r| {
            let twin = by_key.get(&twin_key(&r.key, &r.entry));
            let last_seen = twin.map_or(r.entry.last_seen_ns, |t| {
                t.last_seen_ns.max(r.entry.last_seen_ns)
            });
            let flags = r.entry.tcp_flags | twin.map_or(0, |t| t.tcp_flags);
            now_ns.saturating_sub(last_seen) > idle_timeout_ns(r.key.protocol, flags)
        })
        .map(|r| r.key)
        .collect()
}

/// Keys of both directions of every flow that came in through `mapping`:
/// request entries whose destination is the published address and port
/// (any host address for a `0.0.0.0` mapping), and their reply twins.
pub fn flows_of_mapping(records: &[NatRecord], mapping: &PublishedKey) -> Vec<FlowKey> {
    let wildcard = mapping.host_ip == [0; 4];
    records
        .iter()
        .filter(|r| {
            kind(&r.entry) == Some(NatKind::PublishedRequest)
                && r.key.protocol == mapping.protocol
                && r.key.dst_port == mapping.host_port
                && (wildcard || r.key.dst_ip == mapping.host_ip)
        })
        .flat_map(|r| [r.key, twin_key(&r.key, &r.entry)])
        .collect()
}

#[cfg(test)]
mod tests {
    use ebpfnet_common::maps::PUBLISHED_ANY_IP;

    use super::*;

    fn key(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, protocol: u8) -> FlowKey {
        FlowKey::new(src, sport, dst, dport, protocol)
    }

    const CLIENT: [u8; 4] = [203, 0, 113, 2];
    const HOST: [u8; 4] = [203, 0, 113, 1];
    const CONTAINER: [u8; 4] = [10, 214, 0, 2];

    /// A published flow client:40000 -> host:8080 -> container:80.
    fn published_flow(protocol: u8, last_seen: (u64, u64)) -> [NatRecord; 2] {
        let request = NatRecord {
            key: key(CLIENT, 40000, HOST, 8080, protocol),
            entry: NatEntry {
                new_src_ip: CLIENT,
                new_src_port: 40000,
                new_dst_ip: CONTAINER,
                new_dst_port: 80,
                kind: NatKind::PublishedRequest as u8,
                last_seen_ns: last_seen.0,
                ..NatEntry::default()
            },
        };
        let reply = NatRecord {
            key: key(CONTAINER, 80, CLIENT, 40000, protocol),
            entry: NatEntry {
                new_src_ip: HOST,
                new_src_port: 8080,
                new_dst_ip: CLIENT,
                new_dst_port: 40000,
                kind: NatKind::PublishedReply as u8,
                last_seen_ns: last_seen.1,
                ..NatEntry::default()
            },
        };
        [request, reply]
    }

    #[test]
    fn twins_point_at_each_other() {
        let [request, reply] = published_flow(proto::TCP, (0, 0));
        assert_eq!(twin_key(&request.key, &request.entry), reply.key);
        assert_eq!(twin_key(&reply.key, &reply.entry), request.key);
    }

    #[test]
    fn timeouts_follow_protocol_and_flags() {
        assert_eq!(idle_timeout_ns(proto::TCP, 0), 7200 * SECOND_NS);
        assert_eq!(idle_timeout_ns(proto::TCP, TCP_FIN_SEEN), 10 * SECOND_NS);
        assert_eq!(idle_timeout_ns(proto::TCP, TCP_RST_SEEN), 10 * SECOND_NS);
        assert_eq!(idle_timeout_ns(proto::UDP, 0), 120 * SECOND_NS);
        assert_eq!(idle_timeout_ns(proto::ICMP, 0), 30 * SECOND_NS);
        // The FIN bit means nothing outside TCP.
        assert_eq!(idle_timeout_ns(proto::UDP, TCP_FIN_SEEN), 120 * SECOND_NS);
    }

    #[test]
    fn gc_takes_both_directions_by_the_flow_last_activity() {
        let now = 1000 * SECOND_NS;
        // UDP: the request direction is silent for 200 s, but replies flow.
        let live = published_flow(proto::UDP, (now - 200 * SECOND_NS, now - SECOND_NS));
        assert!(expired(&live, now).is_empty());
        let dead = published_flow(proto::UDP, (now - 200 * SECOND_NS, now - 121 * SECOND_NS));
        let mut gone = expired(&dead, now);
        gone.sort_by_key(|k| k.src_port);
        assert_eq!(gone, vec![dead[1].key, dead[0].key]);
    }

    #[test]
    fn a_fin_in_either_direction_shortens_the_timeout() {
        let now = 1000 * SECOND_NS;
        let mut flow = published_flow(proto::TCP, (now - 11 * SECOND_NS, now - 11 * SECOND_NS));
        assert!(expired(&flow, now).is_empty());
        flow[1].entry.tcp_flags |= TCP_FIN_SEEN;
        assert_eq!(expired(&flow, now).len(), 2);
    }

    #[test]
    fn a_clock_behind_the_entries_expires_nothing() {
        let flow = published_flow(proto::ICMP, (500, 500));
        assert!(expired(&flow, 100).is_empty());
    }

    #[test]
    fn unpublish_finds_the_mapping_flows_both_ways() {
        let tcp = published_flow(proto::TCP, (0, 0));
        let udp = published_flow(proto::UDP, (0, 0));
        let mut records = tcp.to_vec();
        records.extend(udp);
        let mapping = |host_ip, host_port, protocol| PublishedKey {
            host_ip,
            host_port,
            protocol,
            _pad: 0,
        };
        let found = flows_of_mapping(&records, &mapping(HOST, 8080, proto::TCP));
        assert_eq!(found, vec![tcp[0].key, tcp[1].key]);
        let found = flows_of_mapping(&records, &mapping([0; 4], 8080, proto::UDP));
        assert_eq!(found, vec![udp[0].key, udp[1].key]);
        assert!(flows_of_mapping(&records, &mapping([127, 0, 0, 1], 8080, proto::TCP)).is_empty());
        assert!(flows_of_mapping(&records, &mapping(HOST, 8081, proto::TCP)).is_empty());
        // Masquerade entries never belong to a mapping.
        let mut masq = tcp;
        masq[0].entry.kind = NatKind::MasqueradeRequest as u8;
        masq[0].entry.tcp_flags = PUBLISHED_ANY_IP;
        assert!(flows_of_mapping(&masq, &mapping([0; 4], 8080, proto::TCP)).is_empty());
    }
}
