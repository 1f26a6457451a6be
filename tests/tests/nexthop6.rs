//! The next hop cached in IPv6 flows' NAT entries (datapath `nexthop.rs`),
//! as `nexthop.rs` checks it for IPv4: a masqueraded flow and the replies
//! of a published one leave by the uplink with the outside peer's MAC
//! cached under a generation; when that MAC changes and the host learns
//! it (neighbour discovery), the daemon moves the generation on and the
//! flows resolve again. With a stale cache their packets would go to the
//! old MAC, which the peer's interface drops.

use std::time::Duration;

use ebpfnet_tests::ipv6_publish::*;
use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;
use serde_json::Value;

const UP6: &str = "fd00:e9:ff::1";
const OUTSIDE6: &str = "fd00:e9:ff::2";
const NEW_MAC: &str = "02:5e:00:00:0b:6b";

/// (kind, nh_gen, dst_mac) of every NAT6_TCP entry that leaves by a next
/// hop (`forward` 2, `Neigh`), from the pinned map.
fn neigh_entries(env: &TestEnv) -> Vec<(u64, u64, String)> {
    let dump = bpftool_dump(&env.pin_dir.join("NAT6_TCP"));
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

/// Waits for `client` (a `hold_client`) to print a reply within `within`.
fn replies(client: &Recorder, within: Duration) -> bool {
    client.drain();
    wait_for(within, || {
        client
            .next_line(Duration::from_millis(300))
            .is_some_and(|line| line.starts_with("reply "))
    })
}

fn outside_mac(env: &TestEnv) -> String {
    let out = netns_exec_ok(&env.outside_ns, &["cat", "/sys/class/net/eth0/address"]);
    out.trim().to_string()
}

/// Whether an entry of `kind` caches `mac` under a generation.
fn cached(env: &TestEnv, kind: u64, mac: &str) -> bool {
    neigh_entries(env)
        .iter()
        .any(|(k, generation, m)| *k == kind && *generation != 0 && m == mac)
}

#[test]
fn ipv6_flows_follow_a_next_hop_whose_mac_changes() {
    let env = TestEnv::new("nh6mac");
    env.create_network("nh6", &["--ipv6"]);
    let _uplink6 = Uplink6::with(&env, &[UP6], OUTSIDE6);
    env.create_container("nh6c", &["--network", "nh6", "-p", "8080:7000"]);
    let _outside_srv = echo_server6(&env.outside_ns, "out", 7000);
    let _container_srv = echo_server6("nh6c", "nh6c", 7000);
    // The daemon follows the uplink's new address (netlink) before the
    // masqueraded flow can leave with it.
    assert!(
        wait_for(Duration::from_secs(10), || {
            ask("nh6c", "tcp", OUTSIDE6, 7000).is_ok()
        }),
        "no NAT66 to the outside"
    );
    // A masqueraded flow (container -> outside) and a published one
    // (outside -> container, whose replies leave by the uplink).
    let (masq, _) = hold_client("nh6c", OUTSIDE6, 7000);
    let (published, _) = hold_client(&env.outside_ns, UP6, 8080);
    assert!(replies(&masq, Duration::from_secs(3)), "masquerade flow");
    assert!(
        replies(&published, Duration::from_secs(3)),
        "published flow"
    );

    // Both outbound directions (published reply 2, masquerade request 3)
    // cached the peer's MAC under a generation.
    let old_mac = outside_mac(&env);
    for kind in [2, 3] {
        assert!(
            cached(&env, kind, &old_mac),
            "no IPv6 entry of kind {kind} cached next hop {old_mac}: {:?}",
            neigh_entries(&env)
        );
    }

    // The peer's MAC changes and the host learns it.
    netns_exec_ok(
        &env.outside_ns,
        &["ip", "link", "set", "dev", "eth0", "address", NEW_MAC],
    );
    ip_ok(&[
        "-6",
        "neigh",
        "replace",
        OUTSIDE6,
        "lladdr",
        NEW_MAC,
        "dev",
        &env.uplink,
        "nud",
        "reachable",
    ]);

    // Both flows go on, now to the new MAC.
    assert!(
        replies(&masq, Duration::from_secs(3)),
        "masquerade flow stalled after the next hop's MAC changed: {:?}",
        masq.lines()
    );
    assert!(
        replies(&published, Duration::from_secs(3)),
        "published flow stalled after the next hop's MAC changed: {:?}",
        published.lines()
    );
    for kind in [2, 3] {
        assert!(
            cached(&env, kind, NEW_MAC),
            "no IPv6 entry of kind {kind} re-cached next hop {NEW_MAC}: {:?}",
            neigh_entries(&env)
        );
    }
}
