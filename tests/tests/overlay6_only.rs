//! IPv6-only overlay networks (`network create -d overlay --ipv6
//! --ipv4=false`) across two "hosts" (namespaces with their own daemons
//! on an underlay bridge, `tests/src/hosts.rs`) and a real etcd: the
//! network has no IPv4 on any host, its containers no IPv4 address; their
//! endpoints are keyed in etcd by their IPv6 addresses; ping6 and TCP
//! cross the VXLAN (IPv4 underlay), names resolve (AAAA) across hosts,
//! two IPv6-only overlays stay apart, NAT66 takes a container out of its
//! own host, and removing the containers and networks empties etcd.

use std::time::Duration;

use ebpfnet_tests::etcd::Etcd;
use ebpfnet_tests::hosts::{Host, Underlay};
use ebpfnet_tests::ipv6::{client6, ipam_configs, ping6, server6};
use ebpfnet_tests::overlay_hosts::{cluster_host, drops, peers, sees_network};
use ebpfnet_tests::overlay6_hosts::{etcd_keys, inspect, peers6, two_on_each, underlay6};
use ebpfnet_tests::traffic::wait_within;
use ebpfnet_tests::*;
use serde_json::Value;

const ENDPOINTS: &str = "/ebpfnet/v1/endpoints/";
const SUBNET6: &str = "fd00:eb:1:66::/64";

fn create_only6(host: &Host, name: &str, subnet6: Option<&str>) {
    let mut args = vec![
        "network",
        "create",
        "-d",
        "overlay",
        "--ipv6",
        "--ipv4=false",
    ];
    if let Some(subnet6) = subnet6 {
        args.extend(["--subnet", subnet6]);
    }
    args.push(name);
    host.ok(&args);
}

/// The endpoint records of `network` in etcd, by the address in the key.
fn endpoint_records(etcd: &Etcd, network: &str) -> Vec<(String, Value)> {
    etcd_keys(etcd, &format!("{ENDPOINTS}{network}/"))
        .into_iter()
        .map(|(key, value)| {
            let address = key.rsplit('/').next().unwrap_or_default().to_string();
            let record = serde_json::from_str(&value).unwrap_or_else(|e| panic!("{key}: {e}"));
            (address, record)
        })
        .collect()
}

#[test]
fn an_ipv6_only_overlay_crosses_hosts_by_ipv6_alone() {
    let underlay = Underlay::create();
    let etcd = Etcd::start_on("overlay6only", &underlay.gateway());
    let a = cluster_host(&underlay, &etcd, 'A', 1);
    let b = cluster_host(&underlay, &etcd, 'B', 2);
    let a_ip6 = underlay6(&a, 1);
    let b_ip6 = underlay6(&b, 2);

    // Without --ipv6 there would be no family left: refused, nothing made.
    let out = a.cli(&["network", "create", "-d", "overlay", "--ipv4=false", "x"]);
    assert!(
        !out.status.success() && out.stderr_str().contains("add --ipv6"),
        "{}",
        out.stderr_str()
    );
    assert!(!sees_network(&a, "x"));

    create_only6(&a, "v6o", Some(SUBNET6));
    create_only6(&a, "v6p", None);
    wait_within("B sees both networks", Duration::from_secs(10), || {
        sees_network(&b, "v6o") && sees_network(&b, "v6p")
    });
    for name in ["v6o", "v6p"] {
        let (on_a, on_b) = (inspect(&a, name), inspect(&b, name));
        assert_eq!(on_b["EnableIPv4"], false, "{on_b}");
        assert_eq!(on_b["EnableIPv6"], true, "{on_b}");
        assert_eq!(ipam_configs(&on_a), ipam_configs(&on_b), "{name}");
        assert_eq!(ipam_configs(&on_b).len(), 1, "{on_b}");
    }
    assert_eq!(
        ipam_configs(&inspect(&b, "v6o"))[0],
        (SUBNET6.to_string(), "fd00:eb:1:66::1".to_string())
    );

    let [a1, a2, b1, b2] = two_on_each(&a, &b, "q6", ["v6o", "v6p"]);
    // No IPv4 on the container; `--ip` is refused with the reason.
    let v4 = netns_exec_ok("q6A1", &["ip", "-4", "addr", "show", "dev", "eth0"]);
    assert!(v4.trim().is_empty(), "q6A1 has IPv4: {v4}");
    let out = b.cli(&[
        "container",
        "create",
        "q6B3",
        "--network",
        "v6o",
        "--ip",
        "10.129.0.9",
    ]);
    assert!(
        !out.status.success() && out.stderr_str().contains("no IPv4"),
        "{}",
        out.stderr_str()
    );

    // In etcd: each endpoint keyed by its IPv6 address, with its host.
    wait_within(
        "both endpoints of v6o in etcd",
        Duration::from_secs(10),
        || endpoint_records(&etcd, "v6o").len() == 2,
    );
    for (address, record) in endpoint_records(&etcd, "v6o") {
        assert!(address == a1 || address == b1, "key {address}");
        assert_eq!(record["ip6"], address.as_str(), "{record}");
        let host = if address == a1 {
            "198.18.93.1"
        } else {
            "198.18.93.2"
        };
        assert_eq!(record["host"], host, "{record}");
    }

    wait_within("A knows B's addresses", Duration::from_secs(10), || {
        let p = peers6(&a);
        p.contains(&(b1.clone(), "198.18.93.2".into()))
            && p.contains(&(b2.clone(), "198.18.93.2".into()))
    });
    wait_within("B knows A's addresses", Duration::from_secs(10), || {
        peers6(&b).contains(&(a1.clone(), "198.18.93.1".into()))
    });
    assert!(peers(&a).is_empty(), "IPv4 peers: {:?}", peers(&a));
    assert!(ping6("q6A1", &b1), "q6A1 -> q6B1 ({b1})");
    assert!(ping6("q6B1", &a1), "q6B1 -> q6A1 ({a1})");
    assert!(ping6("q6B2", &a2), "q6B2 -> q6A2 ({a2})");

    // TCP over IPv6 by address and by name (AAAA from the store).
    let _web = server6("q6B1", 80);
    let reply = client6("q6A1", &b1, 80).stdout_str();
    assert!(
        reply.contains(&format!("hello from q6B1 peer={a1}")),
        "TCP q6A1 -> [{b1}]: {reply:?}"
    );
    let reply = client6("q6A1", "q6B1", 80).stdout_str();
    assert!(reply.contains(&format!("peer={a1}")), "by name: {reply:?}");
    let found = netns_exec_ok("q6B2", &["getent", "ahostsv6", "q6A2"]);
    assert!(found.contains(&a2), "q6B2 resolving q6A2: {found:?}");
    let other = netns_exec("q6A1", &["getent", "ahostsv6", "q6B2"]);
    assert!(!other.status.success(), "q6A1 resolved q6B2 of v6p");

    // Isolation: v6o and v6p share the hosts, not traffic.
    let before = drops(&a, "isolation");
    assert!(!ping6("q6A1", &b2), "q6A1 (v6o) reached q6B2 (v6p)");
    assert!(!ping6("q6B2", &a1), "q6B2 (v6p) reached q6A1 (v6o)");
    assert!(drops(&a, "isolation") > before, "no isolation drop on A");

    // Out of its own host by NAT66: B's underlay address is outside.
    let _outside = server6(&b.ns, 7070);
    let reply = client6("q6A1", &b_ip6, 7070).stdout_str();
    assert!(reply.contains(&format!("peer={a_ip6}")), "NAT66: {reply:?}");

    // Removal: the endpoints, the claims and the networks leave etcd.
    for (host, name) in [(&a, "q6A1"), (&a, "q6A2"), (&b, "q6B1"), (&b, "q6B2")] {
        host.ok(&["container", "rm", name]);
    }
    wait_within(
        "the endpoints leave etcd and the maps",
        Duration::from_secs(10),
        || etcd_keys(&etcd, ENDPOINTS).is_empty() && peers6(&a).is_empty() && peers6(&b).is_empty(),
    );
    a.ok(&["network", "rm", "v6o", "v6p"]);
    for prefix in ["/ebpfnet/v1/networks/", "/ebpfnet/v1/ipam/"] {
        let left = etcd_keys(&etcd, prefix);
        assert!(left.is_empty(), "left under {prefix}: {left:?}");
    }
    wait_within("the VXLAN devices go", Duration::from_secs(10), || {
        [&a, &b].iter().all(|h| {
            !netns_exec(&h.ns, &["ip", "link", "show", "ebpfnet-vxlan"])
                .status
                .success()
        })
    });
}
