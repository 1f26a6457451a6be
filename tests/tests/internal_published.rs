//! `--internal` networks and the host's published ports, as Docker: its
//! rules drop what a published port's DNAT sends out of an internal
//! bridge (iptables `DOCKER-ISOLATION-STAGE-1 -i BRIDGE ! -d SUBNET -j
//! DROP`, nftables "INTERNAL NETWORK EGRESS"; moby's
//! `integration/network/bridge/*tablesdoc/generated/usernet-internal.md`),
//! so a container of an internal network never reaches another container
//! through a published port of a host address — the uplink's, its own
//! gateway — over IPv4 or IPv6, TCP or UDP, while a container of another
//! (not internal) network does; the host's own services on the gateway
//! stay reachable (Docker filters no INPUT).

use std::time::Duration;

use ebpfnet_tests::ipv6::{ipam_configs, v6_of};
use ebpfnet_tests::ipv6_publish::*;
use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;

const UP6: &str = "fd00:e9:ff::1";
const OUTSIDE6: &str = "fd00:e9:ff::2";

#[test]
fn internal_networks_reach_no_published_port_on_either_family() {
    let env = TestEnv::new("intpub");
    env.create_network("ipa", &["--ipv6"]);
    env.create_network("ipb", &["--ipv6"]);
    env.create_network("ipi", &["--ipv6", "--internal"]);
    let _uplink6 = Uplink6::with(&env, &[UP6], OUTSIDE6);
    env.create_container(
        "iw",
        &["--network", "ipa", "-p", "8080:80", "-p", "8080:80/udp"],
    );
    env.create_container("ob", &["--network", "ipb"]);
    env.create_container("ic", &["--network", "ipi"]);
    let _server = echo_server6("iw", "iw", 80);
    let _host = host_echo_server6("host", 9797);
    let gateways = ipam_configs(&env.inspect_network("ipi"));
    let (gw4, gw6) = (gateways[0].1.clone(), gateways[1].1.clone());
    let uplink4 = env.uplink_ip.clone();
    let targets = [uplink4.as_str(), UP6, gw4.as_str(), gw6.as_str()];

    // Another network's container reaches the port on every host
    // address, both families, TCP and UDP: the port is there to refuse.
    // (The daemon follows new host addresses through netlink: wait.)
    for ip in targets {
        for proto in ["tcp", "udp"] {
            let reached = wait_for(Duration::from_secs(10), || {
                ask("ob", proto, ip, 8080).is_ok_and(|r| r.starts_with("iw peer="))
            });
            assert!(reached, "ob -> {proto} {ip}:8080 never answered");
        }
    }

    // The internal network's container: refused, and counted.
    let dropped = drop_count(&env, "internal_network");
    for ip in targets {
        for proto in ["tcp", "udp"] {
            let reply = ask("ic", proto, ip, 8080);
            assert!(
                reply.is_err(),
                "ic -> {proto} {ip}:8080 answered: {reply:?}"
            );
        }
    }
    assert!(
        drop_count(&env, "internal_network") >= dropped + 8,
        "internal_network drops did not grow by one per probe"
    );
    let (ic4, ic6) = (env.ip_of("ic", "ipi"), v6_of(&env, "ic", "ipi").0);
    let flows = env.ok(&["flows"]);
    assert!(
        !flows
            .lines()
            .any(|l| l.contains(&format!("{ic4}:")) || l.contains(&format!("[{ic6}]:"))),
        "a flow from the internal network:\n{flows}"
    );

    // The host itself stays reachable through the gateway, both families.
    for ip in [gw4.as_str(), gw6.as_str()] {
        let reply = ask("ic", "tcp", ip, 9797);
        assert!(
            reply.as_ref().is_ok_and(|r| r.starts_with("host peer=")),
            "ic -> host {ip}:9797: {reply:?}"
        );
    }
}
