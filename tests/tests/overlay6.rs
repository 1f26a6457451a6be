//! Dual-stack overlay networks (`network create -d overlay --ipv6`)
//! across two "hosts" (namespaces with their own daemons on an underlay
//! bridge, `tests/src/hosts.rs`) and a real etcd, as `overlay.rs` does for
//! IPv4: every host sees the same IPv6 subnet; IPv6 addresses come from
//! the cluster's IPAM (never one twice, `--ip6` checked, freed ones handed
//! out again); ping6 and TCP over IPv6 cross the VXLAN (IPv4 underlay),
//! with the neighbour entry answered on the container's own host; AAAA
//! names across hosts; two overlay networks stay apart over IPv6; NAT66
//! out of the container's own host; a restarted daemon keeps it all.

use std::time::Duration;

use ebpfnet_tests::ipv6::{client6, ipam_configs, ping6, server6};
use ebpfnet_tests::overlay_hosts::*;
use ebpfnet_tests::overlay6_hosts::{
    assert_crosses_hosts6, assert_nat66_out, inspect, ip6_of, overlay6_create, two_on_each,
    underlay6,
};
use ebpfnet_tests::traffic::wait_within;
use ebpfnet_tests::*;

/// How often each daemon sweeps the address claims (docs/cluster.md).
const CLAIM_SWEEP: Duration = Duration::from_secs(5);

#[test]
fn ipv6_crosses_hosts_on_a_dual_stack_overlay_and_not_between_networks() {
    let (_underlay, _etcd, a, b) = cluster_of_two("overlay6");
    let a_ip6 = underlay6(&a, 1);
    let b_ip6 = underlay6(&b, 2);

    // `--ipv4=false` with an IPv4 subnet is refused with the reason;
    // nothing made (IPv6-only overlays: overlay6_only.rs).
    a.fails_with(
        &overlay6_create("only6", false, &["10.129.16.0/24"]),
        "leaves the network without IPv4",
        "an IPv6-only overlay network with an IPv4 subnet",
    );
    assert!(!sees_network(&a, "only6"));
    // A dual-stack one without an IPv6 subnet takes a /64 of the pool; one
    // with both subnets given keeps them.
    a.ok(&overlay6_create("ovl6a", true, &["10.129.17.0/24"]));
    a.ok(&overlay6_create(
        "ovl6b",
        true,
        &["10.129.18.0/24", "fd00:eb:1:77::/64"],
    ));
    wait_within("B sees both networks", Duration::from_secs(10), || {
        sees_network(&b, "ovl6a") && sees_network(&b, "ovl6b")
    });
    for name in ["ovl6a", "ovl6b"] {
        let (on_a, on_b) = (inspect(&a, name), inspect(&b, name));
        assert_eq!(on_b["EnableIPv6"], true, "{on_b}");
        assert_eq!(ipam_configs(&on_a), ipam_configs(&on_b), "{name}");
        assert_eq!(ipam_configs(&on_b).len(), 2, "{on_b}");
    }
    let configs = ipam_configs(&inspect(&b, "ovl6b"));
    assert_eq!(
        configs[1],
        (
            "fd00:eb:1:77::/64".to_string(),
            "fd00:eb:1:77::1".to_string()
        )
    );
    let subnet6a = ipam_configs(&inspect(&b, "ovl6a"))[1].0.clone();
    assert!(subnet6a.starts_with("fd00:eb:1:"), "{subnet6a}");

    let ips = two_on_each(&a, &b, "o6", ["ovl6a", "ovl6b"]);
    let [a1, _, b1, b2] = ips.clone();
    // `--ip6` is checked against the cluster's claims and the subnet.
    let refused = |ip6: &str, needle: &str, why: &str| {
        let create = [
            "container",
            "create",
            "o6B3",
            "--network",
            "ovl6a",
            "--ip6",
            ip6,
        ];
        b.fails_with(&create, needle, why)
    };
    refused(&a1, "in use", "A's IPv6 address handed out on B");
    refused(
        "fd00:99::5",
        "not inside subnet",
        "an address outside the subnet",
    );
    // The IPv6 default route via the network's IPv6 gateway.
    let gateway6 = &ipam_configs(&inspect(&a, "ovl6a"))[1].1;
    let route = netns_exec_ok("o6A1", &["ip", "-6", "route", "show", "default"]);
    assert!(route.contains(&format!("via {gateway6}")), "{route}");

    wait_knows(&a, "OVERLAY_PEERS6", &[(&b1, &b), (&b2, &b)]);
    wait_knows(&b, "OVERLAY_PEERS6", &[(&a1, &a)]);
    // ping6, TCP by address and by name (AAAA from the store), names and
    // TCP kept apart between ovl6a and ovl6b.
    assert_crosses_hosts6("o6", &ips);
    // The neighbour entry came from the local answer, with the remote MAC.
    let neigh = netns_exec_ok("o6A1", &["ip", "-6", "neigh", "show", &b1]);
    assert!(neigh.contains(&netns_mac("o6B1", "eth0")), "{neigh}");

    // Isolation over IPv6: ovl6a and ovl6b share the hosts, not traffic.
    assert_apart(&a, ping6, [("o6A1", &b2, "o6B2"), ("o6B2", &a1, "o6A1")]);

    // Out of its own host over IPv6 (NAT66), as a bridge container.
    assert_nat66_out("o6A1", (&b, &b_ip6), &a_ip6);

    let containers = [(&a, "o6A1"), (&a, "o6A2"), (&b, "o6B1"), (&b, "o6B2")];
    remove_overlay((&a, &b), &containers, "OVERLAY_PEERS6", &["ovl6a", "ovl6b"]);
}

#[test]
fn a_restart_keeps_the_ipv6_overlay_and_freed_ipv6_addresses_come_back() {
    let (_underlay, _etcd, mut a, b) = cluster_of_two("overlay6-restart");
    a.ok(&overlay6_create("ovl6r", true, &[]));
    wait_within("B sees ovl6r", Duration::from_secs(10), || {
        sees_network(&b, "ovl6r")
    });
    a.ok(&["container", "create", "r6A", "--network", "ovl6r"]);
    b.ok(&["container", "create", "r6B", "--network", "ovl6r"]);
    let (ip_a, ip_b) = (ip6_of("r6A"), ip6_of("r6B"));
    wait_knows(&a, "OVERLAY_PEERS6", &[(&ip_b, &b)]);
    wait_knows(&b, "OVERLAY_PEERS6", &[(&ip_a, &a)]);
    assert!(ping6("r6A", &ip_b), "r6A -> r6B before the restart");
    // A daemon restart keeps the IPv6 side: the gateway, NETWORKS6 and the
    // pinned OVERLAY_PEERS6 are taken over.
    a.restart_daemon();
    assert!(ping6("r6A", &ip_b), "r6A -> r6B after A's restart");
    assert!(ping6("r6B", &ip_a), "r6B -> r6A after A's restart");
    let _web = server6("r6A", 80);
    let reply = client6("r6B", &ip_a, 80).stdout_str();
    assert!(reply.contains(&format!("peer={ip_b}")), "{reply:?}");

    // B's container goes: its IPv6 claim is given back by B's sweep, and
    // the address can then be taken on A.
    b.ok(&["container", "rm", "r6B"]);
    let took = wait_within(
        "r6B's IPv6 address free for another host",
        3 * CLAIM_SWEEP,
        || {
            a.cli(&[
                "container",
                "create",
                "r6A2",
                "--network",
                "ovl6r",
                "--ip6",
                &ip_b,
            ])
            .status
            .success()
        },
    );
    eprintln!("r6B's IPv6 address went to r6A2 {took:?} after the removal");
    assert_eq!(ip6_of("r6A2"), ip_b);
    // Reached locally now (the same address, another host).
    assert!(ping6("r6A", &ip_b), "r6A -> r6A2 ({ip_b})");
    // B's map follows.
    wait_knows(&b, "OVERLAY_PEERS6", &[(&ip_b, &a)]);
}
