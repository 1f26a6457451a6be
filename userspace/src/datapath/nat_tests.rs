use ebpfnet_common::maps::{MasqUsageKey, NatEntry, PUBLISHED_ANY_IP, TCP_SEQ_SEEN};

use super::*;
use crate::testing::fixtures::rewrite;

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
            last_seen_ns: last_seen.0,
            ..rewrite((CLIENT, 40000), (CONTAINER, 80), NatKind::PublishedRequest)
        },
    };
    let reply = NatRecord {
        key: key(CONTAINER, 80, CLIENT, 40000, protocol),
        entry: NatEntry {
            last_seen_ns: last_seen.1,
            ..rewrite((HOST, 8080), (CLIENT, 40000), NatKind::PublishedReply)
        },
    };
    [request, reply]
}

#[test]
fn twins_point_at_each_other() {
    let [request, reply] = published_flow(proto::TCP, (0, 0));
    assert_eq!(request.entry.twin_key(request.key.protocol), reply.key);
    assert_eq!(reply.entry.twin_key(reply.key.protocol), request.key);
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
    // Several mappings in one pass: each flow found once, none of another.
    let both = [
        mapping(HOST, 8080, proto::TCP),
        mapping([0; 4], 8080, proto::UDP),
        mapping(HOST, 9999, proto::TCP),
    ];
    let found = super::flows_of_mappings(&records, &both);
    assert_eq!(found, vec![tcp[0].key, tcp[1].key, udp[0].key, udp[1].key]);
    // Masquerade entries never belong to a mapping.
    let mut masq = tcp;
    masq[0].entry.kind = NatKind::MasqueradeRequest as u8;
    masq[0].entry.tcp_flags = PUBLISHED_ANY_IP;
    assert!(flows_of_mapping(&masq, &mapping([0; 4], 8080, proto::TCP)).is_empty());
}
