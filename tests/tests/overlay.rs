//! Overlay networks across hosts: two "hosts" (namespaces with their own
//! daemons, `tests/src/hosts.rs`) on an underlay bridge, joined by a real
//! etcd. Containers of one overlay network on different hosts talk by
//! address (ping, TCP, UDP) and by name through VXLAN done by the eBPF
//! programs; two overlay networks stay apart; an overlay container
//! masquerades out of its own host and publishes ports on it; a host that
//! dies takes its containers out of the other host's map within the lease
//! TTL, and its address claims are given back after a grace period, while
//! a restarted daemon, or one whose etcd is gone, keeps its host's overlay
//! going.

use std::time::Duration;

use ebpfnet_tests::overlay_hosts::*;
use ebpfnet_tests::traffic::wait_within;
use ebpfnet_tests::*;
use serde_json::Value;

/// The lease TTL the daemon documents (docs/cluster.md).
const LEASE_TTL: Duration = Duration::from_secs(10);
/// How long a node stays gone before the others give its address claims
/// back (docs/cluster.md), and how often they look (every 5 s).
const CLAIM_GRACE: Duration = Duration::from_secs(30);
const CLAIM_SWEEP: Duration = Duration::from_secs(5);
/// Bytes of the bulk transfers across hosts.
const BULK: usize = 4 << 20;

/// The container's address on `eth0`.
fn ip_of(container: &str) -> String {
    let addrs = ipv4_addrs(Some(container), "eth0");
    let first = addrs
        .first()
        .unwrap_or_else(|| panic!("{container} has no address"));
    first.split('/').next().unwrap_or_default().to_string()
}

#[test]
fn containers_of_one_overlay_network_talk_across_hosts_and_not_across_networks() {
    let (_underlay, _etcd, a, b) = cluster_of_two("overlay");
    for (subnet, name) in [("10.129.7.0/24", "ovl1"), ("10.129.8.0/24", "ovl2")] {
        a.ok(&[
            "network", "create", "-d", "overlay", "--subnet", subnet, name,
        ]);
    }
    wait_within(
        "B sees both overlay networks",
        Duration::from_secs(10),
        || sees_network(&b, "ovl1") && sees_network(&b, "ovl2"),
    );
    a.ok(&[
        "container",
        "create",
        "ovA1",
        "--network",
        "ovl1",
        "-p",
        "8081:80",
    ]);
    a.ok(&["container", "create", "ovA2", "--network", "ovl2"]);
    b.ok(&["container", "create", "ovB1", "--network", "ovl1"]);
    b.ok(&["container", "create", "ovB2", "--network", "ovl2"]);
    let (a1, a2, b1, b2) = (ip_of("ovA1"), ip_of("ovA2"), ip_of("ovB1"), ip_of("ovB2"));
    // Addresses come from the cluster's IPAM: never one twice.
    assert!(a1 != b1 && a2 != b2, "{a1} {b1} {a2} {b2}");
    for container in ["ovA1", "ovB2"] {
        let link = netns_exec_ok(container, &["ip", "link", "show", "eth0"]);
        assert!(link.contains("mtu 1450"), "{container}: {link}");
    }
    // Each host's map learns the other's containers from the store.
    wait_knows(&a, "OVERLAY_PEERS", &[(&b1, &b), (&b2, &b)]);
    wait_knows(&b, "OVERLAY_PEERS", &[(&a1, &a)]);
    // `status` counts the overlay maps' entries (two peers on A).
    let status: Value =
        serde_json::from_str(&a.ok(&["--format", "json", "status"])).expect("status JSON");
    let fill = |map: &str| {
        status["Maps"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["Name"] == map)
            .and_then(|m| m["Entries"].as_u64())
    };
    assert_eq!(fill("OVERLAY_PEERS"), Some(2), "status of A: {status}");
    assert_eq!(fill("OVERLAY_NETWORKS"), Some(2), "status of A: {status}");
    assert!(ping("ovA1", &b1), "ovA1 -> ovB1 ({b1})");
    assert!(ping("ovB1", &a1), "ovB1 -> ovA1 ({a1})");
    assert!(ping("ovB2", &a2), "ovB2 -> ovA2 ({a2})");
    // Names of the other host's containers, from the store, on the
    // network's own name server; not across overlay networks.
    let found = netns_exec_ok("ovA1", &["getent", "hosts", "ovB1"]);
    assert!(found.starts_with(&b1), "ovA1 resolving ovB1: {found:?}");
    let found = netns_exec_ok("ovB2", &["getent", "hosts", "ovA2"]);
    assert!(found.starts_with(&a2), "ovB2 resolving ovA2: {found:?}");
    let other = netns_exec("ovA1", &["getent", "hosts", "ovB2"]);
    assert!(
        !other.status.success(),
        "ovA1 resolved ovB2 of another network"
    );
    // The ARP entry came from the local answer, with the remote MAC.
    let neigh = netns_exec_ok("ovA1", &["ip", "neigh", "show", &b1]);
    assert!(neigh.contains(&netns_mac("ovB1", "eth0")), "{neigh}");

    let _tcp = tcp_server("ovB1", "0.0.0.0", 80);
    let reply = tcp_request("ovA1", &b1, 80);
    assert!(
        reply.contains(&format!("peer={a1}")),
        "TCP ovA1 -> ovB1: {reply:?}"
    );
    // Bulk both ways: full-size segments (MTU 1450, GSO through the
    // VXLAN device) arrive whole.
    let _sink = paths::sink("ovB1", 9000);
    let sent = paths::upload("ovA1", &b1, 9000, BULK).unwrap_or_else(|e| panic!("upload: {e}"));
    assert_eq!(sent, format!("got {BULK}"), "upload ovA1 -> ovB1");
    let _source = paths::source("ovB1", 9001, BULK);
    let got = paths::download("ovA1", &b1, 9001).unwrap_or_else(|e| panic!("download: {e}"));
    assert_eq!(got, format!("got {BULK}"), "download ovB1 -> ovA1");
    let _udp = udp_echo_server("ovA1", 5353);
    assert_eq!(
        udp_request("ovB1", &a1, 5353, "overlay-udp").trim(),
        "overlay-udp"
    );

    // Isolation: ovl1 and ovl2 share hosts and the VXLAN device, not traffic.
    assert_apart(&a, ping, [("ovA1", &b2, "ovB2"), ("ovB2", &a1, "ovA1")]);
    assert!(
        tcp_request("ovA2", &b1, 80).is_empty(),
        "ovA2 (ovl2) reached ovB1"
    );

    // Connected to ovl1 as well, ovA2 reaches ovB1 there (eth1), by
    // address and name; disconnected, no longer.
    a.ok(&["network", "connect", "ovl1", "ovA2"]);
    let a2_on_1 = ipv4_addrs(Some("ovA2"), "eth1");
    assert_eq!(a2_on_1.len(), 1, "ovA2 eth1: {a2_on_1:?}");
    let a2_on_1 = a2_on_1[0].split('/').next().unwrap_or_default().to_string();
    wait_knows(&b, "OVERLAY_PEERS", &[(&a2_on_1, &a)]);
    let reply = tcp_request("ovA2", &b1, 80);
    assert!(
        reply.contains(&format!("peer={a2_on_1}")),
        "connected: {reply:?}"
    );
    a.ok(&["network", "disconnect", "ovl1", "ovA2"]);
    assert!(!ping("ovA2", &b1), "ovA2 reached ovB1 after the disconnect");

    // Out of its own host (masquerade), as a bridge container: B's host
    // sees A's underlay address.
    let _outside = tcp_server(&b.ns, "0.0.0.0", 7070);
    let reply = tcp_request("ovA1", "198.18.93.2", 7070);
    assert!(reply.contains("peer=198.18.93.1"), "masquerade: {reply:?}");
    // A port published on its own host, reached from the other host.
    let _web = tcp_server("ovA1", "0.0.0.0", 80);
    let reply = tcp_request(&b.ns, "198.18.93.1", 8081);
    assert!(reply.contains("hello from ovA1"), "published: {reply:?}");

    // A global network with containers on it is not removed.
    let out = b.cli(&["network", "rm", "ovl1"]);
    assert!(!out.status.success(), "network rm of a network in use");
    // The endpoints leave the store, the local sides go on every host,
    // and the VXLAN device with them.
    let containers = [(&a, "ovA1"), (&a, "ovA2"), (&b, "ovB1"), (&b, "ovB2")];
    remove_overlay((&a, &b), &containers, "OVERLAY_PEERS", &["ovl1", "ovl2"]);
}

#[test]
fn a_restart_keeps_the_overlay_and_a_dead_host_leaves_the_maps_and_its_addresses() {
    let (_underlay, mut etcd, mut a, mut b) = cluster_of_two("overlay-dead");
    a.ok(&["network", "create", "-d", "overlay", "ovl3"]);
    wait_within("B sees ovl3", Duration::from_secs(10), || {
        sees_network(&b, "ovl3")
    });
    a.ok(&["container", "create", "ovdA", "--network", "ovl3"]);
    b.ok(&["container", "create", "ovdB", "--network", "ovl3"]);
    b.ok(&["container", "create", "ovdB3", "--network", "ovl3"]);
    let (ip_a, ip_b, ip_b3) = (ip_of("ovdA"), ip_of("ovdB"), ip_of("ovdB3"));
    // Both ways: each host delivers only from containers it knows.
    wait_knows(&a, "OVERLAY_PEERS", &[(&ip_b, &b)]);
    wait_knows(&b, "OVERLAY_PEERS", &[(&ip_a, &a)]);
    assert!(ping("ovdA", &ip_b), "ovdA -> ovdB before the kill");
    assert!(ping("ovdB", &ip_a), "ovdB -> ovdA before the kill");
    // A daemon restart keeps its overlay: device, program and the pinned
    // map are taken over, the endpoints advertised again.
    a.restart_daemon();
    assert!(ping("ovdA", &ip_b), "ovdA -> ovdB after A's restart");
    assert!(ping("ovdB", &ip_a), "ovdB -> ovdA after A's restart");
    // etcd gone: the overlay keeps forwarding what is set up; joining
    // needs the store and says so.
    etcd.stop();
    assert!(ping("ovdA", &ip_b), "ovdA -> ovdB without etcd");
    assert!(ping("ovdB", &ip_a), "ovdB -> ovdA without etcd");
    b.fails_with(
        &["container", "create", "ovdB2", "--network", "ovl3"],
        "is unreachable",
        "joined without the store",
    );
    etcd.resume();
    b.kill_daemon();
    let took = wait_within(
        "ovdB gone from A's map",
        LEASE_TTL + Duration::from_secs(5),
        || !peers(&a).iter().any(|(ip, _)| *ip == ip_b),
    );
    eprintln!("B's containers left A's map {took:?} after the kill");
    assert!(
        !ping("ovdA", &ip_b),
        "ovdA still reaches the dead host's container"
    );

    // The dead host's address claims: kept for the grace period, then
    // given back by the survivor, so its addresses can be handed out
    // again; the survivor's own claims stay.
    let create_with = |name: &str, ip: &str| {
        a.cli(&["container", "create", name, "--network", "ovl3", "--ip", ip])
    };
    let out = create_with("ovdA2", &ip_b);
    assert!(
        !out.status.success() && out.stderr_str().contains("in use"),
        "B's address was free again right after its lease expired: {}",
        out.stderr_str()
    );
    let took = wait_within(
        "B's address claims given back",
        LEASE_TTL + CLAIM_GRACE + 2 * CLAIM_SWEEP + Duration::from_secs(5),
        || create_with("ovdA2", &ip_b).status.success(),
    );
    eprintln!("B's address went to a new container {took:?} after its map entry");
    let out = create_with("ovdA3", &ip_a);
    assert!(
        !out.status.success() && out.stderr_str().contains("in use"),
        "A's own claim was given back: {}",
        out.stderr_str()
    );
    // B comes back with its containers: the address nobody took is
    // claimed again, the one taken meanwhile is reported as a conflict.
    b.restart_daemon();
    wait_within(
        "B claims ovdB3's address again",
        2 * CLAIM_SWEEP + Duration::from_secs(5),
        || b.daemon_log().contains("claimed it again"),
    );
    let out = create_with("ovdA3", &ip_b3);
    assert!(
        !out.status.success() && out.stderr_str().contains("in use"),
        "A got ovdB3's address {ip_b3} after B claimed it again: {}",
        out.stderr_str()
    );
    assert!(
        b.daemon_log()
            .contains(&format!("{ip_b} of ovl3 of container ovdB is claimed by")),
        "no conflict reported for ovdB:\n{}",
        b.daemon_log()
    );
}
