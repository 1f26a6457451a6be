//! IPv6-only networks (`--ipv4=false`) end to end: containers with only an
//! IPv6 address and default route, ping6 and TCP by address and by name
//! (AAAA from the name server on the IPv6 gateway, the only one in
//! resolv.conf), isolation from another network, no IPv4 sent from such a
//! container, what cannot work refused (publishing on IPv4 too: IPv6
//! publishing is `publish6.rs`'s), a restart and prune; and the
//! IPv6 default route of a container that joins IPv6 networks later.

use ebpfnet_tests::cli::CmdOutput;
use ebpfnet_tests::ipv6::*;
use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;

/// `ip -6 route show default` in `ns`.
fn route6(ns: &str) -> String {
    netns_exec_ok(ns, &["ip", "-6", "route", "show", "default"])
}

#[test]
fn ipv6_only_containers_talk_by_address_and_name_and_are_isolated() {
    let mut env = TestEnv::new("v6only");
    env.create_network(
        "o6",
        &["--ipv6", "--ipv4=false", "--subnet", "fd00:e7:1::/64"],
    );
    let net = env.inspect_network("o6");
    assert_eq!(net["EnableIPv4"], false, "{net:#}");
    assert_eq!(net["EnableIPv6"], true, "{net:#}");
    assert_eq!(
        ipam_configs(&net),
        [("fd00:e7:1::/64".to_string(), "fd00:e7:1::1".to_string())]
    );
    // The bridge has the IPv6 gateway and no IPv4 address.
    let bridge = env.bridge_of("o6");
    assert_eq!(ip_ok(&["-4", "-o", "addr", "show", "dev", &bridge]), "");
    env.create_container("oa", &["--network", "o6"]);
    env.create_container("ob", &["--network", "o6", "--ip6", "fd00:e7:1::b"]);
    let (a6, prefix, gw6) = v6_of(&env, "oa", "o6");
    assert_eq!(
        (a6.as_str(), prefix, gw6.as_str()),
        ("fd00:e7:1::2", 64, "fd00:e7:1::1")
    );
    let endpoint = env.endpoint("oa", "o6");
    assert_eq!(endpoint["IPAddress"], "", "{endpoint:#}");
    assert_eq!(endpoint["Gateway"], "", "{endpoint:#}");

    // Only IPv6 inside: no IPv4 address or route, the IPv6 default route.
    let v4 = netns_exec_ok("oa", &["ip", "-4", "-o", "addr", "show", "dev", "eth0"]);
    assert_eq!(v4, "", "IPv4 on an IPv6-only network");
    let r4 = netns_exec_ok("oa", &["ip", "-4", "route", "show"]);
    assert_eq!(r4, "", "IPv4 routes on an IPv6-only network");
    assert!(
        route6("oa").contains("via fd00:e7:1::1 dev eth0"),
        "{}",
        route6("oa")
    );

    let _server = assert_talk6("o6", ("oa", &a6), ("ob", "fd00:e7:1::b"), &gw6, 8080);
    // resolv.conf lists the IPv6 gateway only; it answers AAAA.
    let resolv = netns_exec_ok("oa", &["cat", "/etc/resolv.conf"]);
    assert!(resolv.starts_with("nameserver fd00:e7:1::1\n"), "{resolv}");
    assert!(!resolv.contains("nameserver 1"), "{resolv}");
    let answer = netns_exec_ok("oa", &[python(), "-c", AAAA_QUERY, &gw6, "ob"]);
    assert_eq!(answer.trim(), "answer 0 fd00:e7:1::b");
    let hosts = netns_exec_ok("oa", &["cat", "/etc/hosts"]);
    assert!(hosts.contains("\nfd00:e7:1::2\t"), "{hosts}");

    // Isolated from another (dual-stack) network, either way.
    env.create_network("d7", &["--ipv6", "--subnet", "fd00:e7:2::/64"]);
    env.create_container("da", &["--network", "d7"]);
    let d6 = v6_of(&env, "da", "d7").0;
    let isolation = drop_count(&env, "isolation");
    assert!(!ping6("oa", &d6), "o6 reached d7");
    assert!(!ping6("da", &a6), "d7 reached o6");
    assert!(drop_count(&env, "isolation") >= isolation + 2);
    // IPv4 the container makes up is dropped (it has no IPv4 address).
    // (A route and a neighbour entry of its own: no ARP first, which the
    // datapath drops as spoofed ARP.)
    let da4 = env.ip_of("da", "d7");
    netns_exec_ok("oa", &["ip", "addr", "add", "10.77.0.9/24", "dev", "eth0"]);
    netns_exec_ok("oa", &["ip", "route", "add", &da4, "dev", "eth0"]);
    netns_exec_ok(
        "oa",
        &[
            "ip",
            "neigh",
            "add",
            &da4,
            "lladdr",
            "02:42:0a:4d:00:01",
            "dev",
            "eth0",
        ],
    );
    let spoofed = drop_count(&env, "spoofed_ip");
    let ping4 = netns_exec(
        "oa",
        &["ping", "-4", "-n", "-c", "1", "-W", "1", "-I", "eth0", &da4],
    );
    assert!(!ping4.status.success(), "IPv4 from an IPv6-only container");
    assert!(drop_count(&env, "spoofed_ip") > spoofed);

    // What an IPv6-only network cannot have is refused, nothing made.
    // (An IPv4 mapping is translated, or relayed for this host's own
    // clients, 127.0.0.1 included: publish46.rs, relay46.rs.)
    env.fails_with(
        &[
            "container",
            "create",
            "op",
            "--network",
            "o6",
            "--ip",
            "10.77.0.5",
        ],
        &["is IPv6-only"],
    );
    assert!(
        !netns_exists("op"),
        "a refused container left its namespace"
    );
    env.fails_with(
        &["network", "create", "bad", "--ipv4=false"],
        &["needs IPv4 or IPv6"],
    );
    env.fails_with(
        &[
            "network",
            "create",
            "bad",
            "--ipv6",
            "--ipv4=false",
            "--subnet",
            "10.78.0.0/24",
        ],
        &["--ipv4=false leaves the network without IPv4"],
    );
    env.fails_with(
        &[
            "network",
            "create",
            "bad",
            "-d",
            "macvlan",
            "-o",
            "parent=lo",
            "--ipv6",
            "--ipv4=false",
        ],
        &["without IPv4"],
    );
    let names = env.ok(&["network", "ls", "-q", "--format", "{{.Name}}"]);
    assert!(!names.contains("bad"), "{names}");

    // A restart keeps it all; prune removes the network once empty.
    env.stop_daemon();
    env.start_daemon();
    assert_eq!(env.inspect_network("o6")["EnableIPv4"], false);
    assert!(ping6("oa", "fd00:e7:1::b"), "after the restart");
    let out = client6("oa", "ob", 8080);
    assert!(
        out.stdout_str().starts_with("hello from ob"),
        "{}",
        out.stderr_str()
    );
    env.ok(&["container", "rm", "oa", "ob"]);
    env.ok(&["network", "prune", "--force"]);
    let names = env.ok(&["network", "ls", "-q", "--format", "{{.Name}}"]);
    assert!(!names.contains("o6"), "{names}");
    assert!(
        ip(&["link", "show", "dev", &bridge]).status.code() != Some(0),
        "bridge {bridge} left behind"
    );
}

#[test]
fn a_network_joined_later_gives_the_ipv6_default_route_and_takes_it_back() {
    let env = TestEnv::new("v6route");
    env.create_network("j1", &["--ipv6", "--subnet", "fd00:e7:11::/64"]);
    env.create_network(
        "j2",
        &["--ipv6", "--ipv4=false", "--subnet", "fd00:e7:12::/64"],
    );
    env.create_network("j3", &["--ipv6", "--subnet", "fd00:e7:13::/64"]);
    env.create_container("peer2", &["--network", "j2"]);
    // On the default network (IPv4 only): an IPv4 default route, no IPv6.
    env.create_container("rj", &[]);
    assert_eq!(route6("rj"), "");
    let r4 = netns_exec_ok("rj", &["ip", "-4", "route", "show", "default"]);
    assert!(r4.contains("dev eth0"), "{r4}");

    env.ok(&["network", "connect", "j1", "rj"]);
    assert!(
        route6("rj").contains("via fd00:e7:11::1 dev eth1"),
        "{}",
        route6("rj")
    );
    let r4_after = netns_exec_ok("rj", &["ip", "-4", "route", "show", "default"]);
    assert_eq!(r4_after, r4, "the IPv4 default route stays");
    // A second IPv6 network: the route stays with the first.
    env.ok(&["network", "connect", "j2", "rj"]);
    assert!(
        route6("rj").contains("via fd00:e7:11::1 dev eth1"),
        "{}",
        route6("rj")
    );
    assert!(ping6("rj", "fd00:e7:12::2"), "on-link over j2");
    // The network that gave it goes: the next one with IPv6 takes over.
    env.ok(&["network", "disconnect", "j1", "rj"]);
    assert!(
        route6("rj").contains("via fd00:e7:12::1 dev eth2"),
        "{}",
        route6("rj")
    );
    // Gone with the last IPv6 network; the IPv4 one never moved.
    env.ok(&["network", "disconnect", "j2", "rj"]);
    assert_eq!(route6("rj"), "");
    let r4_end = netns_exec_ok("rj", &["ip", "-4", "route", "show", "default"]);
    assert_eq!(r4_end, r4);
    // An IPv6-only container that joins an IPv4 network gets its IPv4
    // route there, its IPv6 one staying.
    env.ok(&["network", "connect", "j3", "peer2"]);
    let p4 = netns_exec_ok("peer2", &["ip", "-4", "route", "show", "default"]);
    assert!(p4.contains("dev eth1"), "{p4}");
    assert!(
        route6("peer2").contains("via fd00:e7:12::1 dev eth0"),
        "{}",
        route6("peer2")
    );
}
