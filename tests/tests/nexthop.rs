//! The next hop cached in a flow's NAT entry (datapath `nexthop.rs`):
//! established flows leaving by the uplink carry the MACs a FIB lookup
//! found, and keep working when the next hop changes under them — the
//! outside peer's MAC changes, the host learns it (as from the peer's
//! gratuitous ARP), the daemon moves the next-hop generation on and the
//! flows resolve again. With a stale cache their packets would go to the
//! old MAC, which the peer's interface drops.

use std::time::Duration;

use ebpfnet_tests::nexthop::*;
use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;

const NEW_MAC: &str = "02:5e:00:00:0b:0b";

#[test]
fn flows_follow_a_next_hop_whose_mac_changes() {
    let env = TestEnv::new("nhmac");
    env.create_container("nh1", &["-p", "8080:7000"]);
    let _outside_srv = echo_server(&env.outside_ns, "out", 7000);
    let _container_srv = echo_server("nh1", "nh1", 7000);
    // A masqueraded flow (container -> outside) and a published one
    // (outside -> container, whose replies leave by the uplink).
    let (masq, _) = hold_client("nh1", &env.outside_ip, 7000);
    let (published, _) = hold_client(&env.outside_ns, &env.uplink_ip, 8080);
    // Both outbound directions cached the peer's MAC under a generation.
    let clients = (&masq, &published);
    let old_mac = outside_mac(&env);
    flows_cache_mac(&env, "NAT_TCP", clients, &old_mac, "at first");

    // The peer's MAC changes and the host learns it; both flows go on,
    // now to the new MAC.
    move_peer_mac(&env, &env.outside_ip, NEW_MAC);
    flows_cache_mac(
        &env,
        "NAT_TCP",
        clients,
        NEW_MAC,
        "after the next hop's MAC changed",
    );
}

#[test]
fn flows_follow_a_route_that_moves_to_another_gateway() {
    let env = TestEnv::new("nhgw");
    env.create_container("nh2", &["-p", "8080:7000"]);
    // A far address behind the outside namespace, first routed through
    // its address on the uplink link, then through a second address of
    // it (another gateway, with another MAC on a macvlan).
    let far = "198.51.100.7";
    netns_exec_ok(
        &env.outside_ns,
        &["ip", "addr", "add", &format!("{far}/32"), "dev", "lo"],
    );
    let second_gw = second_gateway(&env);
    ip_ok(&[
        "route",
        "add",
        &format!("{far}/32"),
        "via",
        &env.outside_ip,
        "dev",
        &env.uplink,
    ]);
    let _route = RouteGuard(format!("{far}/32"));
    let _srv = echo_server(&env.outside_ns, "far", 7000);
    let (masq, _) = hold_client("nh2", far, 7000);
    assert!(replies(&masq, Duration::from_secs(3)), "masquerade flow");
    let old_mac = outside_mac(&env);
    assert!(
        caches(&env, "NAT_TCP", 3, &old_mac),
        "the flow did not cache {old_mac}: {:?}",
        neigh_entries(&env, "NAT_TCP")
    );

    // The route moves to the other gateway; the first one stops taking
    // the flow's packets (its MAC now belongs to nobody on the link).
    ip_ok(&[
        "route",
        "replace",
        &format!("{far}/32"),
        "via",
        &second_gw.0,
        "dev",
        &env.uplink,
    ]);
    netns_exec_ok(
        &env.outside_ns,
        &["ip", "link", "set", "dev", "eth0", "address", NEW_MAC],
    );
    assert!(
        replies(&masq, Duration::from_secs(3)),
        "masquerade flow stalled after its route moved: {:?}",
        masq.lines()
    );
    assert!(
        caches(&env, "NAT_TCP", 3, &second_gw.1),
        "the flow did not re-cache the new gateway {}: {:?}",
        second_gw.1,
        neigh_entries(&env, "NAT_TCP")
    );
}

/// A second gateway on the uplink's link: a macvlan of the outside
/// namespace's eth0 with an address of its own. (address, MAC)
fn second_gateway(env: &TestEnv) -> (String, String) {
    let prefix = env.outside_ip.rsplit_once('.').map_or("", |(p, _)| p);
    let address = format!("{prefix}.3");
    let ns = env.outside_ns.as_str();
    netns_exec_ok(
        ns,
        &[
            "ip", "link", "add", "gw2", "link", "eth0", "type", "macvlan", "mode", "bridge",
        ],
    );
    netns_exec_ok(
        ns,
        &["ip", "addr", "add", &format!("{address}/24"), "dev", "gw2"],
    );
    netns_exec_ok(ns, &["ip", "link", "set", "gw2", "up"]);
    // Answer ARP for .3 only on gw2, and take the far address's traffic
    // there too.
    netns_exec_ok(ns, &["sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1"]);
    let mac = netns_exec_ok(ns, &["cat", "/sys/class/net/gw2/address"]);
    (address, mac.trim().to_string())
}

/// Removes a host route made by a test, also on failure.
struct RouteGuard(String);

impl Drop for RouteGuard {
    fn drop(&mut self) {
        let _ = ip(&["route", "del", &self.0]);
    }
}
