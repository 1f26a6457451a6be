use std::net::Ipv6Addr;

use ebpfnet_common::{
    flows6::{FlowKey6, ICMPV6, MasqUsageKey6, NatEntry6},
    maps::{Forward, NatKind, PUBLISHED_ANY_IP, REPLY_SEEN, TCP_ACK_SEEN, TCP_RST_SEEN, proto},
    published6::PublishedKey6,
};

use super::*;
use crate::datapath::{
    NatRecord6,
    nat::{ICMP_TIMEOUT_NS, TCP_ESTABLISHED_TIMEOUT_NS, UDP_TIMEOUT_NS, flows_of_mappings},
};
use crate::testing::fixtures::rewrite;

const SEC: u64 = 1_000_000_000;
const CONTAINER: [u8; 16] = [0xfd, 0, 0xeb, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const UPLINK: [u8; 16] = [0xfd, 0, 0xe6, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const OUTSIDE: [u8; 16] = [0xfd, 0, 0xe6, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

/// Container [fd00:eb::2]:5000 masqueraded as [fd00:e6:ff::1]:61234 to
/// [fd00:e6:ff::2]:53, last seen at `seen` seconds.
fn masquerade(protocol: u8, flags: u8, seen: u64) -> Vec<NatRecord6> {
    let request = NatRecord6 {
        key: FlowKey6::new(CONTAINER, 5000, OUTSIDE, 53, protocol),
        entry: NatEntry6 {
            forward: Forward::Neigh as u8,
            tcp_flags: flags,
            last_seen_ns: seen * SEC,
            ..rewrite((UPLINK, 61234), (OUTSIDE, 53), NatKind::MasqueradeRequest)
        },
    };
    let reply = NatRecord6 {
        key: request.entry.twin_key(protocol),
        entry: NatEntry6 {
            forward: Forward::Peer as u8,
            tcp_flags: flags | REPLY_SEEN,
            last_seen_ns: seen * SEC,
            ..rewrite((OUTSIDE, 53), (CONTAINER, 5000), NatKind::MasqueradeReply)
        },
    };
    vec![request, reply]
}

#[test]
fn the_twin_of_a_request_is_its_reply() {
    let records = masquerade(proto::UDP, 0, 0);
    let flows = flows(&records);
    assert_eq!(flows.len(), 1);
    let (request, reply) = &flows[0];
    assert_eq!(request.key.src_ip, CONTAINER);
    assert_eq!(reply.expect("twin").key.dst_ip, UPLINK);
}

#[test]
fn idle_flows_expire_by_protocol_and_state() {
    let udp = masquerade(proto::UDP, 0, 100);
    let at = |s: u64| 100 * SEC + s;
    assert!(expired(&udp, at(UDP_TIMEOUT_NS)).is_empty());
    assert_eq!(expired(&udp, at(UDP_TIMEOUT_NS + 1)).len(), 2);
    // ICMPv6 echo takes ICMP's timeout, not UDP's.
    let echo = masquerade(ICMPV6, 0, 100);
    assert_eq!(expired(&echo, at(ICMP_TIMEOUT_NS + 1)).len(), 2);
    let tcp = masquerade(proto::TCP, TCP_ACK_SEEN, 100);
    assert!(expired(&tcp, at(UDP_TIMEOUT_NS * 10)).is_empty());
    assert_eq!(expired(&tcp, at(TCP_ESTABLISHED_TIMEOUT_NS + 1)).len(), 2);
}

#[test]
fn usage_counts_live_masqueraded_flows_per_destination() {
    let usage = masquerade_usage(&masquerade(proto::UDP, 0, 0));
    let key = MasqUsageKey6::new(CONTAINER, OUTSIDE, 53, proto::UDP);
    assert_eq!(usage.get(&key), Some(&1));
    // A reset TCP flow holds no port.
    assert!(masquerade_usage(&masquerade(proto::TCP, TCP_RST_SEEN, 0)).is_empty());
    // Echo flows count per address (port 0).
    let echo = masquerade_usage(&masquerade(ICMPV6, 0, 0));
    assert_eq!(echo.keys().next().map(|k| k.dst_port), Some(0));
}

#[test]
fn flows_of_an_address_take_both_directions() {
    let records = masquerade(proto::UDP, 0, 0);
    let keys = flows_of_address(&records, CONTAINER);
    assert!(keys.contains(&records[0].key) && keys.contains(&records[1].key));
    assert!(flows_of_address(&records, [9; 16]).is_empty());
}

fn ip(text: &str) -> [u8; 16] {
    text.parse::<Ipv6Addr>().expect(text).octets()
}

/// A published flow from `client` to `host:8080` into `[fd00::2]:80`:
/// its request and reply records.
fn flow(client: &str, host: &str, protocol: u8) -> [NatRecord6; 2] {
    let key = FlowKey6::new(ip(client), 40000, ip(host), 8080, protocol);
    let request = NatEntry6 {
        new_src_ip: ip(client),
        new_src_port: 40000,
        new_dst_ip: ip("fd00::2"),
        new_dst_port: 80,
        kind: NatKind::PublishedRequest as u8,
        tcp_flags: PUBLISHED_ANY_IP,
        ..NatEntry6::default()
    };
    let reply = NatEntry6 {
        new_src_ip: ip(host),
        new_src_port: 8080,
        new_dst_ip: ip(client),
        new_dst_port: 40000,
        kind: NatKind::PublishedReply as u8,
        ..NatEntry6::default()
    };
    [
        NatRecord6 {
            key: request.twin_key(protocol),
            entry: reply,
        },
        NatRecord6 {
            key,
            entry: request,
        },
    ]
}

#[test]
fn a_mapping_takes_the_flows_it_let_in_both_ways() {
    let mut records = Vec::new();
    records.extend(flow("2001:db8::9", "2001:db8::1", proto::TCP));
    records.extend(flow("2001:db8::9", "2001:db8::5", proto::TCP));
    records.extend(flow("2001:db8::7", "2001:db8::1", proto::UDP));
    let exact = PublishedKey6::new(ip("2001:db8::1"), 8080, proto::TCP);
    let cut = flows_of_mappings(&records, &[exact]);
    let [reply, request] = flow("2001:db8::9", "2001:db8::1", proto::TCP);
    assert_eq!(cut, [request.key, request.entry.twin_key(proto::TCP)]);
    assert_eq!(cut[1], reply.key);
    // `::` takes every TCP flow of the port, whatever address it came to.
    let every = PublishedKey6::new([0; 16], 8080, proto::TCP);
    assert_eq!(flows_of_mappings(&records, &[every]).len(), 4);
    // Another port or protocol takes none.
    let other = PublishedKey6::new([0; 16], 8081, proto::TCP);
    assert!(flows_of_mappings(&records, &[other]).is_empty());
}
