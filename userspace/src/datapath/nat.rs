//! Pure decisions over NAT entries: which entry is a flow's other direction,
//! when a flow is idle too long, which flows came through a mapping.

use std::collections::{BTreeMap, HashMap};

use ebpfnet_common::maps::{
    FlowKey, MasqUsageKey, NatEntry, NatKind, PublishedKey, REPLY_SEEN, TCP_ACK_SEEN, TCP_FIN_SEEN,
    TCP_RST_SEEN, proto,
};

use super::NatRecord;

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

/// How long a flow may stay idle, from its two directions' flags (`twin`
/// absent: its other direction is gone).
pub fn idle_timeout_ns(protocol: u8, entry: &NatEntry, twin: Option<&NatEntry>) -> u64 {
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
        proto::ICMP => ICMP_TIMEOUT_NS,
        _ if flags & REPLY_SEEN != 0 => UDP_TIMEOUT_NS,
        _ => UDP_UNANSWERED_TIMEOUT_NS,
    }
}

/// Entries by key, for finding twins.
pub fn index(records: &[NatRecord]) -> HashMap<FlowKey, NatEntry> {
    records.iter().map(|r| (r.key, r.entry)).collect()
}

/// The other direction of `record`'s flow, if it is still there: the entry
/// at its tuple must point back (a SYN may have given that tuple to a newer
/// flow once this one was over).
fn twin_of<'a>(by_key: &'a HashMap<FlowKey, NatEntry>, record: &NatRecord) -> Option<&'a NatEntry> {
    let key = twin_key(&record.key, &record.entry);
    by_key
        .get(&key)
        .filter(|twin| twin_key(&key, twin) == record.key)
}

/// The records of the flows idle for longer than their timeout, both
/// directions, as read (so the caller can check they are unchanged before
/// deleting). A flow's last activity is that of its two entries together,
/// so a one-way stream keeps its silent direction alive.
pub fn expired(records: &[NatRecord], now_ns: u64) -> Vec<NatRecord> {
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
pub fn unchanged(read: &NatEntry, now: &NatEntry) -> bool {
    read.created_ns == now.created_ns && read.last_seen_ns == now.last_seen_ns
}

/// Keys of both directions of every flow that involves `ip` (a removed
/// container's address): as sender or receiver of either direction.
pub fn flows_of_address(records: &[NatRecord], ip: [u8; 4]) -> Vec<FlowKey> {
    records
        .iter()
        .filter(|r| {
            r.key.src_ip == ip
                || r.key.dst_ip == ip
                || r.entry.new_src_ip == ip
                || r.entry.new_dst_ip == ip
        })
        .flat_map(|r| [r.key, twin_key(&r.key, &r.entry)])
        .collect()
}

/// Whether a TCP flow is over: reset, or closed by both ends (`twin`
/// absent: its other direction is gone).
fn tcp_flow_is_over(entry: &NatEntry, twin: Option<&NatEntry>) -> bool {
    let flags = entry.tcp_flags | twin.map_or(0, |t| t.tcp_flags);
    flags & TCP_RST_SEEN != 0
        || twin
            .is_none_or(|t| entry.tcp_flags & TCP_FIN_SEEN != 0 && t.tcp_flags & TCP_FIN_SEEN != 0)
}

/// Live masqueraded flows per container and destination, counted from the
/// requests' entries: what `MASQ_USAGE` must hold. A TCP flow that is over
/// holds no port (a SYN may take its tuple over), as the programs count.
pub fn masquerade_usage(records: &[NatRecord]) -> BTreeMap<MasqUsageKey, u32> {
    let by_key = index(records);
    let mut usage = BTreeMap::new();
    for r in records {
        if kind(&r.entry) != Some(NatKind::MasqueradeRequest) {
            continue;
        }
        let twin = twin_of(&by_key, r);
        if r.key.protocol == proto::TCP && tcp_flow_is_over(&r.entry, twin) {
            continue;
        }
        let key = MasqUsageKey {
            container_ip: r.key.src_ip,
            dst_ip: r.key.dst_ip,
            dst_port: if r.key.protocol == proto::ICMP {
                0
            } else {
                r.key.dst_port
            },
            protocol: r.key.protocol,
            _pad: 0,
        };
        *usage.entry(key).or_insert(0) += 1;
    }
    usage
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
    use ebpfnet_common::maps::{PUBLISHED_ANY_IP, TCP_SEQ_SEEN};

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

    fn with_flags(flags: (u8, u8)) -> (NatEntry, NatEntry) {
        let [request, reply] = published_flow(proto::TCP, (0, 0));
        let mut pair = (request.entry, reply.entry);
        pair.0.tcp_flags = flags.0;
        pair.1.tcp_flags = flags.1;
        pair
    }

    #[test]
    fn tcp_timeouts_follow_the_flow_state() {
        let timeout = |flags| {
            let (a, b) = with_flags(flags);
            idle_timeout_ns(proto::TCP, &a, Some(&b))
        };
        // A SYN never answered, or answered but never acknowledged.
        assert_eq!(timeout((TCP_SEQ_SEEN, 0)), 60 * SECOND_NS);
        assert_eq!(timeout((TCP_SEQ_SEEN, TCP_ACK_SEEN)), 60 * SECOND_NS);
        // Both ends acknowledged: established, kept as long as Linux does.
        assert_eq!(
            timeout((TCP_ACK_SEEN, TCP_ACK_SEEN)),
            5 * 24 * 3600 * SECOND_NS
        );
        // Half closed: the other end may still send.
        assert_eq!(
            timeout((TCP_ACK_SEEN | TCP_FIN_SEEN, TCP_ACK_SEEN)),
            120 * SECOND_NS
        );
        assert_eq!(timeout((TCP_FIN_SEEN, TCP_FIN_SEEN)), 10 * SECOND_NS);
        assert_eq!(timeout((TCP_ACK_SEEN, TCP_RST_SEEN)), 10 * SECOND_NS);
        let (a, _) = with_flags((TCP_FIN_SEEN, 0));
        assert_eq!(idle_timeout_ns(proto::TCP, &a, None), 10 * SECOND_NS);
    }

    #[test]
    fn udp_and_icmp_timeouts() {
        let (a, b) = with_flags((0, REPLY_SEEN));
        assert_eq!(idle_timeout_ns(proto::UDP, &a, Some(&b)), 120 * SECOND_NS);
        assert_eq!(idle_timeout_ns(proto::UDP, &a, None), 30 * SECOND_NS);
        // The FIN bit means nothing outside TCP.
        let (a, b) = with_flags((TCP_FIN_SEEN, REPLY_SEEN));
        assert_eq!(idle_timeout_ns(proto::UDP, &a, Some(&b)), 120 * SECOND_NS);
        assert_eq!(idle_timeout_ns(proto::ICMP, &a, Some(&b)), 30 * SECOND_NS);
    }

    #[test]
    fn gc_takes_both_directions_by_the_flow_last_activity() {
        let now = 1000 * SECOND_NS;
        // UDP: the request direction is silent for 200 s, but replies flow.
        let mut live = published_flow(proto::UDP, (now - 200 * SECOND_NS, now - SECOND_NS));
        live[1].entry.tcp_flags = REPLY_SEEN;
        assert!(expired(&live, now).is_empty());
        let mut dead = published_flow(proto::UDP, (now - 200 * SECOND_NS, now - 121 * SECOND_NS));
        dead[1].entry.tcp_flags = REPLY_SEEN;
        let mut gone: Vec<FlowKey> = expired(&dead, now).iter().map(|r| r.key).collect();
        gone.sort_by_key(|k| k.src_port);
        assert_eq!(gone, vec![dead[1].key, dead[0].key]);
    }

    #[test]
    fn a_fin_both_ways_shortens_the_timeout() {
        let now = 1000 * SECOND_NS;
        let mut flow = published_flow(proto::TCP, (now - 11 * SECOND_NS, now - 11 * SECOND_NS));
        flow[0].entry.tcp_flags = TCP_ACK_SEEN;
        flow[1].entry.tcp_flags = TCP_ACK_SEEN;
        assert!(expired(&flow, now).is_empty());
        flow[1].entry.tcp_flags |= TCP_FIN_SEEN;
        assert!(expired(&flow, now).is_empty(), "half closed lives on");
        flow[0].entry.tcp_flags |= TCP_FIN_SEEN;
        assert_eq!(expired(&flow, now).len(), 2);
    }

    #[test]
    fn a_clock_behind_the_entries_expires_nothing() {
        let flow = published_flow(proto::ICMP, (500, 500));
        assert!(expired(&flow, 100).is_empty());
    }

    #[test]
    fn a_twin_taken_over_by_a_newer_flow_is_not_the_old_flows() {
        let now = 1000 * SECOND_NS;
        // An old closed flow whose reply tuple a newer, live flow now holds.
        let mut old = published_flow(proto::TCP, (now - 11 * SECOND_NS, now - 11 * SECOND_NS));
        old[0].entry.tcp_flags = TCP_FIN_SEEN;
        let mut newer = old[1];
        newer.entry.new_dst_port = 40001;
        newer.entry.last_seen_ns = now;
        let records = [old[0], newer];
        // The old request is alone: expired after the closed timeout, not
        // kept alive by the newer flow's activity.
        let gone: Vec<FlowKey> = expired(&records, now).iter().map(|r| r.key).collect();
        assert_eq!(gone, vec![old[0].key]);
    }

    #[test]
    fn gc_spares_an_entry_taken_over_or_revived_after_it_was_read() {
        let [read, _] = published_flow(proto::TCP, (100, 100));
        let mut now = read.entry;
        assert!(unchanged(&read.entry, &now));
        now.last_seen_ns = 200;
        assert!(!unchanged(&read.entry, &now));
        let mut retaken = read.entry;
        retaken.created_ns = 150;
        assert!(!unchanged(&read.entry, &retaken));
    }

    #[test]
    fn a_removed_address_takes_its_flows_both_ways() {
        let published = published_flow(proto::TCP, (0, 0));
        let mut records = published.to_vec();
        let mut other = published_flow(proto::UDP, (0, 0));
        for r in &mut other {
            for ip in [
                &mut r.key.src_ip,
                &mut r.key.dst_ip,
                &mut r.entry.new_src_ip,
                &mut r.entry.new_dst_ip,
            ] {
                if *ip == CONTAINER {
                    *ip = [10, 214, 0, 9];
                }
            }
        }
        records.extend(other);
        let mut gone = flows_of_address(&records, CONTAINER);
        gone.sort_by_key(|k| k.src_port);
        gone.dedup();
        assert_eq!(gone, vec![published[1].key, published[0].key]);
        assert!(flows_of_address(&records, [10, 214, 0, 77]).is_empty());
    }

    /// A masqueraded flow `CLIENT:port -> HOST:dst_port`, both directions
    /// pointing at each other.
    fn masquerade_flow(protocol: u8, port: u16, dst_port: u16) -> [NatRecord; 2] {
        let mut flow = published_flow(protocol, (0, 0));
        flow[0].key.src_port = port;
        flow[0].key.dst_port = dst_port;
        flow[0].entry.kind = NatKind::MasqueradeRequest as u8;
        flow[0].entry.new_src_port = port;
        flow[1].key.dst_port = port;
        flow[1].entry.new_dst_port = port;
        flow[1].entry.new_src_port = dst_port;
        flow
    }

    #[test]
    fn masquerade_usage_counts_requests_per_container_and_destination() {
        let mut records = Vec::new();
        for (port, dst_port, protocol) in [
            (1, 53, proto::UDP),
            (2, 53, proto::UDP),
            (3, 443, proto::TCP),
            (4, 9, proto::ICMP),
        ] {
            records.extend(masquerade_flow(protocol, port, dst_port));
        }
        // A TCP flow that is over holds no port.
        let mut over = masquerade_flow(proto::TCP, 5, 443);
        over[0].entry.tcp_flags = TCP_RST_SEEN;
        records.extend(over);
        let usage = masquerade_usage(&records);
        let count = |dst_port, protocol| {
            usage
                .get(&MasqUsageKey {
                    container_ip: CLIENT,
                    dst_ip: HOST,
                    dst_port,
                    protocol,
                    _pad: 0,
                })
                .copied()
        };
        assert_eq!(count(53, proto::UDP), Some(2));
        assert_eq!(count(443, proto::TCP), Some(1));
        assert_eq!(count(0, proto::ICMP), Some(1));
        assert_eq!(usage.len(), 3, "replies are not counted");
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
