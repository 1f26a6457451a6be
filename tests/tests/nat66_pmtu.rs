//! Path MTU through NAT66: a router beyond the uplink whose next link
//! carries 1280 bytes answers a container's bigger datagram with ICMPv6
//! "packet too big" addressed to the uplink's IPv6 address; the datapath
//! must hand it to the container as an error about its own socket, or
//! the container never learns the path MTU (IPv6 routers never fragment).
//! The same for a container of a routed network (no NAT66), to which the
//! router sends the error directly.

use std::time::Duration;

use ebpfnet_tests::outside6::{OUTSIDE6, UPLINK6, Uplink6, wait_echo6};
use ebpfnet_tests::*;

const FAR6: &str = "fd00:e6:fe::2";

/// The uplink's and the outside's IPv6 addresses ([`Uplink6`]), a `far`
/// namespace behind the outside one over a 1280-byte link (the outside
/// routes IPv6), and the host's route to it; all removed on drop.
struct FarPath6 {
    uplink: String,
    outside_ns: String,
    far_ns: String,
    _addresses: Uplink6,
}

impl FarPath6 {
    fn new(env: &TestEnv) -> Self {
        let path = Self {
            uplink: env.uplink.clone(),
            outside_ns: env.outside_ns.clone(),
            far_ns: format!("ebnt-far6-{}", std::process::id()),
            _addresses: Uplink6::add(env),
        };
        let (out, far) = (path.outside_ns.as_str(), path.far_ns.as_str());
        delete_netns(far);
        ip_ok(&["netns", "add", far]);
        ip_ok(&[
            "-n", out, "link", "add", "r6", "mtu", "1280", "type", "veth", "peer", "name", "eth0",
            "mtu", "1280", "netns", far,
        ]);
        for (ns, dev, cidr) in [
            (out, "r6", "fd00:e6:fe::1/64"),
            (far, "eth0", "fd00:e6:fe::2/64"),
        ] {
            netns_exec_ok(ns, &["ip", "-6", "addr", "add", cidr, "dev", dev, "nodad"]);
            netns_exec_ok(ns, &["ip", "link", "set", dev, "up"]);
        }
        netns_exec_ok(far, &["ip", "link", "set", "lo", "up"]);
        netns_exec_ok(out, &["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]);
        netns_exec_ok(
            far,
            &[
                "ip",
                "-6",
                "route",
                "add",
                "default",
                "via",
                "fd00:e6:fe::1",
            ],
        );
        ip_ok(&[
            "-6",
            "route",
            "add",
            "fd00:e6:fe::/64",
            "via",
            OUTSIDE6,
            "dev",
            &env.uplink,
        ]);
        path
    }
}

impl Drop for FarPath6 {
    fn drop(&mut self) {
        // The addresses go after this, when `_addresses` drops.
        let _ = ip(&["-6", "route", "del", "fd00:e6:fe::/64", "dev", &self.uplink]);
        let _ = ip(&["-n", &self.outside_ns, "link", "del", "r6"]);
        delete_netns(&self.far_ns);
    }
}

#[test]
fn packet_too_big_reaches_the_masqueraded_container() {
    let env = TestEnv::new("pmtu66");
    env.create_network("p66", &["--ipv6"]);
    env.create_container("p6", &["--network", "p66"]);
    let _path = FarPath6::new(&env);
    wait_echo6("p6", FAR6, Duration::from_secs(30));
    let learnt = paths::df_probe("p6", FAR6, 9, 1400);
    assert_eq!(
        learnt.as_deref(),
        Ok("mtu 1280"),
        "path MTU a container's socket learnt through NAT66"
    );
}

/// The uplink itself is the small hop: its MTU (1280) is below the
/// container's (1500). The datapath redirects NAT66 packets past the
/// forwarding path's MTU check, so it must answer "packet too big" itself
/// (the uplink would drop the frame without a word); then the container's
/// larger datagrams, fragmented by its own stack to the learnt MTU, make
/// the round trip.
#[test]
fn a_container_learns_the_mtu_of_a_smaller_uplink() {
    let env = TestEnv::new("mtu66");
    env.create_network("m66", &["--ipv6"]);
    env.create_container("m6", &["--network", "m66"]);
    let _uplink6 = Uplink6::add(&env);
    ip_ok(&["link", "set", &env.uplink, "mtu", "1280"]);
    netns_exec_ok(
        &env.outside_ns,
        &["ip", "link", "set", "eth0", "mtu", "1280"],
    );
    let _echo = udp_echo_server_on(&env.outside_ns, "::", 9001);
    wait_echo6("m6", OUTSIDE6, Duration::from_secs(30));
    let learnt = paths::df_probe("m6", OUTSIDE6, 9, 1400);
    assert_eq!(
        learnt.as_deref(),
        Ok("mtu 1280"),
        "path MTU a container's socket learnt from the datapath"
    );
    let got = paths::udp_round_trip("m6", OUTSIDE6, 9001, 1400, false);
    assert_eq!(
        got,
        Ok("echoed 1400".to_string()),
        "a 1400-byte datagram, fragmented to the learnt MTU, through NAT66"
    );
}

#[test]
fn packet_too_big_reaches_a_routed_container() {
    let env = TestEnv::new("pmtu66r");
    env.create_network(
        "r66",
        &[
            "--ipv6",
            "--subnet",
            "2001:db8:e9::/64",
            "-o",
            "com.docker.network.bridge.gateway_mode_ipv6=routed",
        ],
    );
    env.create_container("r6", &["--network", "r66"]);
    let path = FarPath6::new(&env);
    netns_exec_ok(
        &path.outside_ns,
        &[
            "ip",
            "-6",
            "route",
            "add",
            "2001:db8:e9::/64",
            "via",
            UPLINK6,
        ],
    );
    wait_echo6("r6", FAR6, Duration::from_secs(30));
    let learnt = paths::df_probe("r6", FAR6, 9, 1400);
    assert_eq!(
        learnt.as_deref(),
        Ok("mtu 1280"),
        "path MTU a routed container's socket learnt"
    );
}
