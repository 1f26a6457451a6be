//! Helpers of the next-hop cache tests (`nexthop.rs` for IPv4,
//! `nexthop6.rs` for IPv6): the next hops the pinned NAT table of either
//! family caches, the outside peer's MAC, and a held client's replies.

use std::time::Duration;

use serde_json::Value;

use crate::TestEnv;
use crate::netns::netns_exec_ok;
use crate::traffic::{Recorder, bpftool_dump, wait_for};

/// (kind, nh_gen, dst_mac) of every entry of the pinned NAT table `map`
/// (`NAT_TCP`, `NAT6_TCP`) that leaves by a next hop (`forward` 2,
/// `Neigh`).
pub fn neigh_entries(env: &TestEnv, map: &str) -> Vec<(u64, u64, String)> {
    let dump = bpftool_dump(&env.pin_dir.join(map));
    let mut found = Vec::new();
    for e in dump.as_array().into_iter().flatten() {
        let value = &e["formatted"]["value"];
        if value["forward"].as_u64() != Some(2) {
            continue;
        }
        let mac: Vec<String> = value["dst_mac"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_u64)
            .map(|b| format!("{b:02x}"))
            .collect();
        found.push((
            value["kind"].as_u64().unwrap_or(0),
            value["nh_gen"].as_u64().unwrap_or(0),
            mac.join(":"),
        ));
    }
    found
}

/// Whether an entry of `kind` in `map` caches `mac` under a generation.
pub fn caches(env: &TestEnv, map: &str, kind: u64, mac: &str) -> bool {
    neigh_entries(env, map)
        .iter()
        .any(|(k, generation, m)| *k == kind && *generation != 0 && m == mac)
}

/// Waits for `client` (a `hold_client`) to print a reply within `within`.
pub fn replies(client: &Recorder, within: Duration) -> bool {
    client.drain();
    wait_for(within, || {
        client
            .next_line(Duration::from_millis(300))
            .is_some_and(|line| line.starts_with("reply "))
    })
}

/// The MAC of the outside namespace's `eth0` (the uplink's peer).
pub fn outside_mac(env: &TestEnv) -> String {
    let out = netns_exec_ok(&env.outside_ns, &["cat", "/sys/class/net/eth0/address"]);
    out.trim().to_string()
}

/// Changes the outside peer's MAC to `new_mac` and makes the host learn
/// it (as from a gratuitous ARP or an unsolicited neighbour advertisement)
/// for its address `peer_ip` (IPv4 or IPv6).
pub fn move_peer_mac(env: &TestEnv, peer_ip: &str, new_mac: &str) {
    netns_exec_ok(
        &env.outside_ns,
        &["ip", "link", "set", "dev", "eth0", "address", new_mac],
    );
    crate::netns::ip_ok(&[
        "neigh",
        "replace",
        peer_ip,
        "lladdr",
        new_mac,
        "dev",
        &env.uplink,
        "nud",
        "reachable",
    ]);
}

/// The masqueraded and the published flow of a next-hop MAC test both
/// answer (`when` names the moment, for the failure message), and both
/// outbound kinds of `map` (published reply 2, masquerade request 3)
/// cache `mac` under a generation.
#[track_caller]
pub fn flows_cache_mac(
    env: &TestEnv,
    map: &str,
    (masq, published): (&Recorder, &Recorder),
    mac: &str,
    when: &str,
) {
    assert!(
        replies(masq, Duration::from_secs(3)),
        "masquerade flow stalled {when}: {:?}",
        masq.lines()
    );
    assert!(
        replies(published, Duration::from_secs(3)),
        "published flow stalled {when}: {:?}",
        published.lines()
    );
    for kind in [2, 3] {
        assert!(
            caches(env, map, kind, mac),
            "no {map} entry of kind {kind} cached next hop {mac} {when}: {:?}",
            neigh_entries(env, map)
        );
    }
}
