//! IPv6 on macvlan networks (`-d macvlan --ipv6 --subnet V6 --gateway V6`):
//! the containers are IPv6 hosts of the parent's LAN, a test-made veth
//! whose other end is in an "outside" namespace on the same segment.
//! Addresses from ebpfnet's IPAM, usable at once (no DAD), the IPv6
//! default route via the LAN's router, no NAT: each side sees the other's
//! own address. What IPv6 cannot have on such networks is refused.

use ebpfnet_tests::cli::CmdOutput;
use ebpfnet_tests::ipv6::*;
use ebpfnet_tests::lan::{DualStackLan, LanSegment};
use ebpfnet_tests::*;

/// The LAN's IPv4 and IPv6 prefixes; the outside namespace is `.1`/`::1`.
const LAN4: &str = "192.0.2";
const LAN6: &str = "2001:db8:e8::";

const LAN: DualStackLan = DualStackLan {
    lan4: LAN4,
    lan6: LAN6,
};

#[test]
fn macvlan_containers_are_ipv6_hosts_of_the_lan() {
    let mut env = TestEnv::new("mv6");
    let lan = LAN.segment();
    LAN.create_network(&env, "mv6net", &lan.parent, &["-d", "macvlan"]);
    let net = env.inspect_network("mv6net");
    assert_eq!(net["EnableIPv6"], true, "{net:#}");
    assert_eq!(
        ipam_configs(&net)[1],
        (format!("{LAN6}/64"), format!("{LAN6}1"))
    );
    env.create_container("m6a", &["--network", "mv6net"]);
    env.create_container(
        "m6b",
        &["--network", "mv6net", "--ip6", &format!("{LAN6}b")],
    );
    let (a6, prefix, gw6) = v6_of(&env, "m6a", "mv6net");
    assert_eq!((a6.as_str(), prefix), (&*format!("{LAN6}2"), 64));
    assert_eq!(gw6, format!("{LAN6}1"));
    let b6 = format!("{LAN6}b");

    // Usable at once (DAD off), the IPv6 default route via the router.
    let inside = netns_exec_ok("m6a", &["ip", "-6", "addr", "show", "dev", "eth0"]);
    assert!(inside.contains(&format!("{a6}/64")), "{inside}");
    assert!(!inside.contains("tentative"), "{inside}");
    let dad = netns_exec_ok("m6a", &["sysctl", "-n", "net.ipv6.conf.eth0.accept_dad"]);
    assert_eq!(dad.trim(), "0");
    let route = netns_exec_ok("m6a", &["ip", "-6", "route", "show", "default"]);
    assert!(route.contains(&format!("via {gw6} dev eth0")), "{route}");

    // Both ways with the LAN, and between the containers: no NAT.
    assert!(ping6("m6a", &gw6), "m6a -> the LAN's router");
    assert!(ping6(&lan.ns, &a6), "LAN -> m6a");
    assert!(ping6("m6a", &b6), "m6a -> m6b");
    let _outside = server6(&lan.ns, 8080);
    let out = client6("m6a", &gw6, 8080);
    assert_eq!(
        out.stdout_str(),
        format!("hello from {} peer={a6}\n", lan.ns),
        "the LAN sees the container's own address: {}",
        out.stderr_str()
    );
    let _inside = server6("m6b", 8081);
    let out = client6(&lan.ns, &b6, 8081);
    assert_eq!(
        out.stdout_str(),
        format!("hello from m6b peer={gw6}\n"),
        "{}",
        out.stderr_str()
    );

    // A restart keeps the addresses and the traffic.
    env.stop_daemon();
    env.start_daemon();
    assert_eq!(v6_of(&env, "m6a", "mv6net").0, a6);
    assert!(ping6(&lan.ns, &a6), "LAN -> m6a after the restart");
    env.ok(&["container", "rm", "m6a", "m6b"]);
    assert!(!ping6(&lan.ns, &a6), "{a6} still answers after rm");
    env.ok(&["network", "rm", "mv6net"]);
}

#[test]
fn what_ipv6_cannot_have_on_a_lan_network_is_refused() {
    let env = TestEnv::new("mv6bad");
    let lan = LanSegment::new(&format!("{LAN4}.1/24"), None);
    let parent = format!("parent={}", lan.parent);
    let (links, namespaces) = (host_links(), netns_list());
    for (args, why) in [
        (
            vec!["-d", "macvlan", "-o", &parent, "--ipv6"],
            "needs the LAN's IPv6 --subnet",
        ),
        (
            vec!["-d", "macvlan", "-o", &parent, "--ipv6", "--ipv4=false"],
            "without IPv4",
        ),
        (
            vec![
                "-d",
                "ipvlan",
                "-o",
                &parent,
                "-o",
                "ipvlan_mode=l3",
                "--ipv6",
                "--subnet",
                "2001:db8:e9::/64",
            ],
            "IPv6 works on macvlan and ipvlan l2 networks only",
        ),
    ] {
        let mut create = vec!["network", "create", "bad6"];
        create.extend(args);
        env.fails_with(&create, &[why]);
    }
    assert_eq!(host_links(), links, "a refused create made a link");
    assert_eq!(
        netns_list(),
        namespaces,
        "a refused create left a namespace"
    );
    let names = env.ok(&["network", "ls", "-q", "--format", "{{.Name}}"]);
    assert!(!names.contains("bad6"), "{names}");
}
