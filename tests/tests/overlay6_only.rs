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
use ebpfnet_tests::ipv6::{ipam_configs, ping6};
use ebpfnet_tests::overlay_hosts::{assert_apart, cluster_of_two, peers, sees_network};
use ebpfnet_tests::overlay6_hosts::{
    assert_crosses_hosts6, assert_nat66_out, etcd_keys, inspect, overlay6_create, peers6,
    two_on_each, underlay6,
};
use ebpfnet_tests::traffic::wait_within;
use ebpfnet_tests::*;
use serde_json::Value;

const ENDPOINTS: &str = "/ebpfnet/v1/endpoints/";
const SUBNET6: &str = "fd00:eb:1:66::/64";

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
    let (_underlay, etcd, a, b) = cluster_of_two("overlay6only");
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

    a.ok(&overlay6_create("v6o", false, &[SUBNET6]));
    a.ok(&overlay6_create("v6p", false, &[]));
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

    let ips = two_on_each(&a, &b, "q6", ["v6o", "v6p"]);
    let [a1, _, b1, b2] = ips.clone();
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
    // ping6, TCP by address and by name (AAAA from the store), names and
    // TCP kept apart between v6o and v6p.
    assert_crosses_hosts6("q6", &ips);

    // Isolation: v6o and v6p share the hosts, not traffic.
    assert_apart(&a, ping6, [("q6A1", &b2, "q6B2"), ("q6B2", &a1, "q6A1")]);

    // Out of its own host by NAT66: B's underlay address is outside.
    assert_nat66_out("q6A1", (&b, &b_ip6), &a_ip6);

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
