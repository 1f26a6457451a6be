//! The next hop cached in IPv6 flows' NAT entries (datapath `nexthop.rs`),
//! as `nexthop.rs` checks it for IPv4: a masqueraded flow and the replies
//! of a published one leave by the uplink with the outside peer's MAC
//! cached under a generation; when that MAC changes and the host learns
//! it (neighbour discovery), the daemon moves the generation on and the
//! flows resolve again. With a stale cache their packets would go to the
//! old MAC, which the peer's interface drops.

use std::time::Duration;

use ebpfnet_tests::ipv6_publish::*;
use ebpfnet_tests::nexthop::*;
use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;

const UP6: &str = "fd00:e9:ff::1";
const OUTSIDE6: &str = "fd00:e9:ff::2";
const NEW_MAC: &str = "02:5e:00:00:0b:6b";

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
    // Both outbound directions (published reply 2, masquerade request 3)
    // cached the peer's MAC under a generation.
    let clients = (&masq, &published);
    let old_mac = outside_mac(&env);
    flows_cache_mac(&env, "NAT6_TCP", clients, &old_mac, "at first");

    // The peer's MAC changes and the host learns it (neighbour
    // discovery); both flows go on, now to the new MAC.
    move_peer_mac(&env, OUTSIDE6, NEW_MAC);
    flows_cache_mac(
        &env,
        "NAT6_TCP",
        clients,
        NEW_MAC,
        "after the next hop's MAC changed",
    );
}
