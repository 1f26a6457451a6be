//! The IPv6 NAT tables as the controller reads them and the collector (the
//! one pass over both families the daemon runs) collects them, on real
//! pinned maps: idle flows go (both directions), live ones stay,
//! `MASQ_USAGE6` is recounted from what is left, a container's flows go
//! with its address. Run as root: the tests fail (never skip) otherwise.

use std::net::Ipv6Addr;

use ebpfnet::datapath::{Flows, Flows6, MapSizes};
use ebpfnet::host::monotonic_ns;
use ebpfnet_common::flows6::{FlowKey6, MasqUsageKey6, NatEntry6};
use ebpfnet_common::maps::{Forward, NatKind, proto};
use ebpfnet_common::names;
use ebpfnet_tests::pinned_datapath::PinnedDatapath;
use ebpfnet_tests::{require_root, serial};

const SECOND_NS: u64 = 1_000_000_000;
const CONTAINER: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xeb, 0, 0, 0, 0, 0, 2);
const UPLINK: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xe6, 0xff, 0, 0, 0, 0, 1);
const OUTSIDE: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xe6, 0xff, 0, 0, 0, 0, 2);

/// Both directions of UDP [CONTAINER]:sport -> [OUTSIDE]:53 masqueraded
/// as [UPLINK]:masq, last seen at `seen`.
fn masqueraded(sport: u16, masq: u16, seen: u64) -> [(FlowKey6, NatEntry6); 2] {
    let (c, u, o) = (CONTAINER.octets(), UPLINK.octets(), OUTSIDE.octets());
    let request = NatEntry6 {
        new_src_ip: u,
        new_src_port: masq,
        new_dst_ip: o,
        new_dst_port: 53,
        kind: NatKind::MasqueradeRequest as u8,
        forward: Forward::Neigh as u8,
        created_ns: seen,
        last_seen_ns: seen,
        ..NatEntry6::default()
    };
    let reply = NatEntry6 {
        new_src_ip: o,
        new_src_port: 53,
        new_dst_ip: c,
        new_dst_port: sport,
        kind: NatKind::MasqueradeReply as u8,
        forward: Forward::Peer as u8,
        created_ns: seen,
        last_seen_ns: seen,
        ..NatEntry6::default()
    };
    [
        (FlowKey6::new(c, sport, o, 53, proto::UDP), request),
        (request.twin_key(proto::UDP), reply),
    ]
}

#[test]
fn idle_ipv6_flows_go_live_ones_stay_and_shares_are_recounted() {
    let _serial = serial();
    require_root();
    let mut pinned = PinnedDatapath::load("gc6", MapSizes::default());
    let mut table = pinned.hash::<FlowKey6, NatEntry6>(names::NAT6_OTHER_MAP);
    let mut usage = pinned.hash::<MasqUsageKey6, u32>(names::MASQ_USAGE6_MAP);
    let now = monotonic_ns().expect("CLOCK_MONOTONIC");
    // Unanswered UDP lives 30 s.
    let idle = masqueraded(5000, 61000, now - 40 * SECOND_NS);
    let live = masqueraded(5001, 61001, now - SECOND_NS);
    for (key, entry) in idle.iter().chain(&live) {
        table.insert(key, entry, 0).expect("writing a flow");
    }
    let share = MasqUsageKey6::new(CONTAINER.octets(), OUTSIDE.octets(), 53, proto::UDP);
    usage.insert(share, 7, 0).expect("writing a count");

    let dp = pinned.dp_mut();
    assert_eq!(dp.flows6().expect("reading").len(), 4);
    assert_eq!(dp.gc(now).expect("collecting"), 2, "both idle entries");
    for (key, _) in &idle {
        assert!(table.get(key, 0).is_err(), "{key:?} outlived its timeout");
    }
    for (key, entry) in &live {
        let left = table.get(key, 0).expect("a live flow was collected");
        assert_eq!(left.last_seen_ns, entry.last_seen_ns);
    }
    assert_eq!(
        usage.get(&share, 0).ok(),
        Some(1),
        "recounted from the live flow"
    );
    assert_eq!(dp.gc(now).expect("collecting again"), 0);

    // The container's address goes: so do its flows.
    assert_eq!(dp.remove_flows_of6(CONTAINER).expect("removing"), 2);
    assert!(dp.flows6().expect("reading").is_empty());
}
