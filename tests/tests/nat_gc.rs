//! The collector of idle flows on real (pinned) NAT tables: what is idle
//! past its timeout goes, both directions together; what is live stays.
//! Run as root: the tests fail (never skip) otherwise.

use std::time::Instant;

use aya::maps::{HashMap, MapData};
use ebpfnet::datapath::{Flows, MapSizes};
use ebpfnet::host::monotonic_ns;
use ebpfnet_common::maps::{
    FlowKey, NatEntry, NatKind, TCP_ACK_SEEN, TCP_FIN_SEEN, TCP_SEQ_SEEN, proto,
};
use ebpfnet_common::names;
use ebpfnet_tests::pinned_datapath::PinnedDatapath;
use ebpfnet_tests::topology::{C2, CLIENT, HOST, flow};
use ebpfnet_tests::{require_root, serial};

const SECOND_NS: u64 = 1_000_000_000;

/// The NAT table of TCP flows of `pinned`.
fn tcp_table(pinned: &PinnedDatapath) -> HashMap<MapData, FlowKey, NatEntry> {
    pinned.hash(names::NAT_TCP_MAP)
}

/// Both directions of a published TCP flow CLIENT:40000 -> HOST:8080 ->
/// C2:80, with `flags` and last seen at `last_seen`.
fn published_flow(client_port: u16, flags: u8, last_seen: u64) -> [(FlowKey, NatEntry); 2] {
    let entry =
        |kind: NatKind, (src, sport): ([u8; 4], u16), (dst, dport): ([u8; 4], u16)| NatEntry {
            new_src_ip: src,
            new_src_port: sport,
            new_dst_ip: dst,
            new_dst_port: dport,
            kind: kind as u8,
            tcp_flags: flags,
            created_ns: last_seen,
            last_seen_ns: last_seen,
            ..Default::default()
        };
    [
        (
            flow(CLIENT, client_port, HOST, 8080, proto::TCP),
            entry(NatKind::PublishedRequest, (CLIENT, client_port), (C2, 80)),
        ),
        (
            flow(C2, 80, CLIENT, client_port, proto::TCP),
            entry(NatKind::PublishedReply, (HOST, 8080), (CLIENT, client_port)),
        ),
    ]
}

#[test]
fn idle_flows_go_and_live_ones_stay() {
    let _serial = serial();
    require_root();
    let mut pinned = PinnedDatapath::load("gc", MapSizes::default());
    let mut table = tcp_table(&pinned);
    let now = monotonic_ns().expect("CLOCK_MONOTONIC");
    let open = TCP_SEQ_SEEN | TCP_ACK_SEEN;
    // Closed 20 s ago (closed flows live 10 s), established 20 s ago (5
    // days), and closed just now.
    let closed_long_ago = published_flow(40000, open | TCP_FIN_SEEN, now - 20 * SECOND_NS);
    let established = published_flow(40001, open, now - 20 * SECOND_NS);
    let closed_now = published_flow(40002, open | TCP_FIN_SEEN, now);
    for (key, entry) in closed_long_ago
        .iter()
        .chain(&established)
        .chain(&closed_now)
    {
        table.insert(key, entry, 0).expect("writing a flow");
    }
    let dp = pinned.dp_mut();
    let deleted = dp.gc(now).expect("collecting");
    assert_eq!(deleted, 2, "both directions of the idle flow, nothing else");
    for (key, _) in &closed_long_ago {
        assert!(table.get(key, 0).is_err(), "{key:?} outlived its timeout");
    }
    for (key, entry) in established.iter().chain(&closed_now) {
        let left = table.get(key, 0).expect("a live flow was collected");
        assert_eq!(left.last_seen_ns, entry.last_seen_ns);
    }
    // A second pass finds nothing more to do.
    assert_eq!(dp.gc(now).expect("collecting again"), 0);
}

/// The collector reads the tables apart from its deletions: a flow a
/// packet revives after the read, and one whose tuple a new flow takes,
/// stay; one deleted meanwhile (by the controller) is no error.
#[test]
fn flows_changed_between_the_read_and_the_sweep_stay() {
    let _serial = serial();
    require_root();
    let pinned = PinnedDatapath::load("gc", MapSizes::default());
    let mut table = tcp_table(&pinned);
    let now = monotonic_ns().expect("CLOCK_MONOTONIC");
    let closed = TCP_SEQ_SEEN | TCP_ACK_SEEN | TCP_FIN_SEEN;
    let long_ago = now - 20 * SECOND_NS;
    let revived = published_flow(40010, closed, long_ago);
    let taken_over = published_flow(40011, closed, long_ago);
    let removed = published_flow(40012, closed, long_ago);
    let idle = published_flow(40013, closed, long_ago);
    let all = [&revived, &taken_over, &removed, &idle];
    for (key, entry) in all.iter().copied().flatten() {
        table.insert(key, entry, 0).expect("writing a flow");
    }
    let dp = pinned.dp();
    let mut collector = dp.collector().expect("a collector");
    let mut plan = collector.scan(now).expect("reading the tables");
    // Meanwhile: a packet on the first flow, a SYN that takes the second's
    // request tuple, the controller removing the third.
    let (key, mut entry) = revived[1];
    entry.last_seen_ns = now;
    table.insert(key, entry, 0).expect("reviving");
    let (key, mut entry) = taken_over[0];
    entry.created_ns = now;
    entry.last_seen_ns = now;
    table.insert(key, entry, 0).expect("taking the tuple over");
    for (key, _) in &removed {
        table.remove(key).expect("removing");
    }
    let mut deleted = 0;
    while !plan.swept() {
        deleted += collector.sweep(&mut plan, 3).expect("sweeping");
    }
    collector.recount(&plan).expect("recounting");
    // The revived flow's request, the taken-over flow's reply, and both
    // directions of the idle one.
    assert_eq!(deleted, 4);
    assert_eq!(
        table.get(&revived[1].0, 0).expect("revived").last_seen_ns,
        now
    );
    assert_eq!(
        table.get(&taken_over[0].0, 0).expect("new flow").created_ns,
        now
    );
    for key in [revived[0].0, taken_over[1].0, idle[0].0, idle[1].0] {
        assert!(table.get(&key, 0).is_err(), "{key:?} outlived its timeout");
    }
}

/// A table of a million entries reads back whole, each entry once, many
/// per system call (`BPF_MAP_LOOKUP_BATCH`).
#[test]
fn a_million_entries_read_back_whole() {
    let _serial = serial();
    require_root();
    const ENTRIES: u32 = 1_000_000;
    let sizes = MapSizes {
        nat_entries: ENTRIES + 1024,
    };
    let pinned = PinnedDatapath::load("gc-big", sizes);
    let mut table = tcp_table(&pinned);
    let started = Instant::now();
    for i in 0..ENTRIES {
        let [(key, entry), _] = published_flow((i % 60_000) as u16, 0, u64::from(i));
        let key = FlowKey {
            src_ip: (i / 60_000 + 1).to_be_bytes(),
            ..key
        };
        table.insert(key, entry, 0).expect("writing a flow");
    }
    eprintln!("wrote {ENTRIES} entries in {:?}", started.elapsed());
    let dp = pinned.dp();
    let started = Instant::now();
    let flows = dp.flows().expect("reading the tables");
    let batched = started.elapsed();
    eprintln!("read {ENTRIES} entries in {batched:?}");
    assert_eq!(flows.len(), ENTRIES as usize);
    let mut seen: Vec<u64> = flows.iter().map(|r| r.entry.last_seen_ns).collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), ENTRIES as usize, "an entry read twice or lost");
}
