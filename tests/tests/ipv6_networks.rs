//! IPv6 networks end to end: dual-stack networks made by the CLI, IPv6
//! addresses usable at once in the containers (no DAD), ping6 and TCP over
//! IPv6 by address and by name (AAAA from the embedded name server, which
//! listens on the IPv6 gateway too), PTR under ip6.arpa, `--ip6` checked,
//! isolation between IPv6 networks and `--internal`, bad input refused with
//! nothing made, the daemon's `--ipv6` for the default network, and a
//! restart that keeps it all.

use ebpfnet_tests::cli::CmdOutput;
use ebpfnet_tests::ipv6::*;
use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;

/// `ip -6 addr show dev DEV` in `ns` (the host's when `None`).
fn ip6_addr(ns: Option<&str>, dev: &str) -> String {
    let args = ["-6", "addr", "show", "dev", dev];
    match ns {
        Some(ns) => netns_exec_ok(ns, &[&["ip"][..], &args].concat()),
        None => ip_ok(&args),
    }
}

#[test]
fn dual_stack_containers_talk_over_ipv6_by_address_and_name() {
    let env = TestEnv::new("v6dual");
    env.create_network(
        "d6",
        &[
            "--ipv6",
            "--subnet",
            "10.61.0.0/24",
            "--subnet",
            "fd00:e6:1::/64",
        ],
    );
    let net = env.inspect_network("d6");
    assert_eq!(net["EnableIPv6"], true, "{net:#}");
    assert_eq!(net["EnableIPv4"], true, "{net:#}");
    assert_eq!(
        ipam_configs(&net),
        [
            ("10.61.0.0/24".to_string(), "10.61.0.1".to_string()),
            ("fd00:e6:1::/64".to_string(), "fd00:e6:1::1".to_string())
        ]
    );
    env.create_container("v6a", &["--network", "d6"]);
    env.create_container("v6b", &["--network", "d6", "--ip6", "fd00:e6:1::b"]);
    let (a6, prefix, gw6) = v6_of(&env, "v6a", "d6");
    assert_eq!(
        (a6.as_str(), prefix, gw6.as_str()),
        ("fd00:e6:1::2", 64, "fd00:e6:1::1")
    );
    assert_eq!(v6_of(&env, "v6b", "d6").0, "fd00:e6:1::b");
    let members = env.inspect_network("d6")["Containers"].to_string();
    assert!(members.contains("fd00:e6:1::2/64"), "{members}");

    // Usable at once: no tentative address, DAD off, the default route.
    let inside = ip6_addr(Some("v6a"), "eth0");
    assert!(inside.contains("fd00:e6:1::2/64"), "{inside}");
    assert!(!inside.contains("tentative"), "{inside}");
    let dad = netns_exec_ok("v6a", &["sysctl", "-n", "net.ipv6.conf.eth0.accept_dad"]);
    assert_eq!(dad.trim(), "0");
    let route = netns_exec_ok("v6a", &["ip", "-6", "route", "show", "default"]);
    assert!(route.contains("via fd00:e6:1::1 dev eth0"), "{route}");
    // The gateway on the bridge, which takes no router advertisement.
    let bridge = env.bridge_of("d6");
    let on_bridge = ip6_addr(None, &bridge);
    assert!(
        on_bridge.contains("fd00:e6:1::1/64") && !on_bridge.contains("tentative"),
        "{on_bridge}"
    );
    assert_eq!(
        sysctl(&format!("net.ipv6.conf.{bridge}.accept_ra")).as_deref(),
        Some("0")
    );
    let veth = env.host_veth_of("v6a", "d6");
    assert_eq!(
        sysctl(&format!("net.ipv6.conf.{veth}.accept_ra")).as_deref(),
        Some("0")
    );

    // ping6 each other and the gateway, by address; TCP over IPv6, by
    // address and by name (AAAA), the source kept.
    let v6b = ("v6b", "fd00:e6:1::b");
    let _server = assert_talk6("d6", ("v6a", &a6), v6b, &gw6, 8080);

    // resolv.conf lists the IPv6 gateway, whose server answers AAAA; PTR
    // under ip6.arpa gives the name back.
    let resolv = netns_exec_ok("v6a", &["cat", "/etc/resolv.conf"]);
    assert!(
        resolv.contains("nameserver 10.61.0.1\nnameserver fd00:e6:1::1\n"),
        "{resolv}"
    );
    let answer = netns_exec_ok("v6a", &[python(), "-c", AAAA_QUERY, &gw6, "v6b"]);
    assert_eq!(answer.trim(), "answer 0 fd00:e6:1::b");
    let ahosts = netns_exec_ok("v6a", &["getent", "ahostsv6", "v6b"]);
    assert!(ahosts.starts_with("fd00:e6:1::b"), "{ahosts}");
    let ptr = netns_exec_ok("v6a", &["getent", "hosts", "fd00:e6:1::b"]);
    assert!(ptr.contains("v6b.d6"), "PTR: {ptr}");
    // Its own IPv6 address is in its /etc/hosts, as Docker writes it.
    let hosts = netns_exec_ok("v6a", &["cat", "/etc/hosts"]);
    assert!(hosts.contains("\nfd00:e6:1::2\t"), "{hosts}");

    // --ip6 checked: taken, the gateway, outside the subnet, on a network
    // without IPv6; nothing is left of a refused container.
    for (args, why) in [
        (
            vec!["--network", "d6", "--ip6", "fd00:e6:1::b"],
            "already in use on network d6",
        ),
        (
            vec!["--network", "d6", "--ip6", "fd00:e6:1::1"],
            "gateway address",
        ),
        (
            vec!["--network", "d6", "--ip6", "fd00:e6:2::5"],
            "not inside subnet",
        ),
        (vec!["--ip6", "fd00:e6:1::9"], "network bridge has no IPv6"),
    ] {
        let mut create = vec!["container", "create", "v6c"];
        create.extend(args);
        env.fails_with(&create, &[why]);
        assert!(!netns_exists("v6c"), "{why}: namespace left behind");
    }
    env.ok(&["container", "create", "v6c"]);
    env.fails_with(
        &["network", "connect", "d6", "v6c", "--ip6", "fd00:e6:1::2"],
        &["fd00:e6:1::2 is already in use"],
    );
    env.ok(&["network", "connect", "d6", "v6c", "--ip6", "fd00:e6:1::c"]);
    assert!(ping6("v6c", "fd00:e6:1::b"), "a connected container's IPv6");
    // Freed addresses come back: v6a's goes, the next container gets it.
    env.ok(&["container", "rm", "v6a"]);
    env.create_container("v6d", &["--network", "d6"]);
    assert_eq!(v6_of(&env, "v6d", "d6").0, "fd00:e6:1::2");
}

#[test]
fn ipv6_networks_are_isolated_and_internal_holds() {
    let env = TestEnv::new("v6iso");
    // Subnets from the pool (fd00:eb::/48, a /64 each), an IPv6-only
    // address plan per network.
    env.create_network("i6a", &["--ipv6"]);
    env.create_network("i6b", &["--ipv6", "--internal"]);
    let subnet6 = |n: &str| ipam_configs(&env.inspect_network(n))[1].0.clone();
    assert_eq!(subnet6("i6a"), "fd00:eb::/64");
    assert_eq!(subnet6("i6b"), "fd00:eb:0:1::/64");
    env.create_container("ia", &["--network", "i6a"]);
    env.create_container("ib", &["--network", "i6b"]);
    env.create_container("ib2", &["--network", "i6b"]);
    let a6 = v6_of(&env, "ia", "i6a").0;
    let b6 = v6_of(&env, "ib", "i6b").0;
    let b26 = v6_of(&env, "ib2", "i6b").0;

    // Within the internal network: fine.
    assert!(ping6("ib", &b26), "same internal network");
    let _server = server6("ib2", 8080);
    assert!(
        client6("ib", &b26, 8080)
            .stdout_str()
            .starts_with("hello from ib2")
    );

    // Across networks, either way: dropped by the datapath.
    let isolation = drop_count(&env, "isolation");
    assert!(!ping6("ia", &b6), "i6a reached i6b");
    assert!(!ping6("ib", &a6), "i6b reached i6a");
    let out = client6("ia", &b26, 8080);
    assert!(
        out.stdout_str().is_empty(),
        "TCP across networks: {}",
        out.stdout_str()
    );
    assert!(drop_count(&env, "isolation") >= isolation + 3);

    // Names stay within a network: i6a's server has no AAAA for ib (it
    // relays the unknown name upstream, which may say anything but ib's).
    let gw_a = ipam_configs(&env.inspect_network("i6a"))[1].1.clone();
    let out = netns_exec("ia", &[python(), "-c", AAAA_QUERY, &gw_a, "ib"]);
    assert!(
        !out.stdout_str().contains(&b6),
        "i6a's server named ib: {}",
        out.stdout_str()
    );
    let own = netns_exec_ok("ia", &[python(), "-c", AAAA_QUERY, &gw_a, "ia"]);
    assert_eq!(own.trim(), format!("answer 0 {a6}"));

    // --internal holds for IPv6: nothing beyond the network, even with an
    // IPv6 path to the outside namespace over the uplink.
    let _outside = V6Uplink::add(&env);
    let internal = drop_count(&env, "internal_network");
    assert!(
        !ping6("ib", V6Uplink::OUTSIDE),
        "internal reached the outside"
    );
    assert!(drop_count(&env, "internal_network") > internal);
}

/// fd00:e6:ff::1/64 on the uplink and fd00:e6:ff::2/64 in the outside
/// namespace, with routes back to the container pool; removed on drop.
struct V6Uplink {
    uplink: String,
    outside_ns: String,
}

impl V6Uplink {
    const OUTSIDE: &str = "fd00:e6:ff::2";

    fn add(env: &TestEnv) -> Self {
        ip_ok(&[
            "-6",
            "addr",
            "add",
            "fd00:e6:ff::1/64",
            "dev",
            &env.uplink,
            "nodad",
        ]);
        let ns = &env.outside_ns;
        netns_exec_ok(
            ns,
            &[
                "ip",
                "-6",
                "addr",
                "add",
                "fd00:e6:ff::2/64",
                "dev",
                "eth0",
                "nodad",
            ],
        );
        netns_exec_ok(
            ns,
            &[
                "ip",
                "-6",
                "route",
                "add",
                "fd00:eb::/48",
                "via",
                "fd00:e6:ff::1",
            ],
        );
        Self {
            uplink: env.uplink.clone(),
            outside_ns: ns.clone(),
        }
    }
}

impl Drop for V6Uplink {
    fn drop(&mut self) {
        let _ = ip(&["-6", "addr", "del", "fd00:e6:ff::1/64", "dev", &self.uplink]);
        let _ = netns_exec(
            &self.outside_ns,
            &["ip", "-6", "addr", "flush", "dev", "eth0"],
        );
    }
}

#[test]
fn bad_ipv6_input_is_refused_and_nothing_is_made() {
    let env = TestEnv::new("v6bad");
    env.create_network("ok6", &["--ipv6", "--subnet", "fd00:e6:7::/64"]);
    let links = host_links();
    for (args, why) in [
        (vec!["--subnet", "fd00:e6:8::/64"], "add --ipv6"),
        (
            vec!["--ipv6", "--subnet", "fd00:e6:7::/80"],
            "overlaps subnet fd00:e6:7::/64 of network ok6",
        ),
        (
            vec![
                "--ipv6",
                "--subnet",
                "fd00:e6:8::/64",
                "--subnet",
                "fd00:e6:9::/64",
            ],
            "one subnet per address family",
        ),
        (
            vec![
                "--ipv6",
                "--subnet",
                "fd00:e6:8::/64",
                "--gateway",
                "fd00:e6:9::1",
            ],
            "not inside subnet",
        ),
        (
            vec!["--ipv6", "--gateway", "fd00:e6:9::1"],
            "needs the IPv6 --subnet",
        ),
        (
            vec!["--ipv6", "--subnet", "ff02::/64"],
            "not a unicast address",
        ),
        (vec!["--ipv4=false"], "needs IPv4 or IPv6"),
        (
            vec!["--ipv6", "-d", "macvlan"],
            "needs the LAN's IPv6 --subnet",
        ),
    ] {
        let mut create = vec!["network", "create", "bad6"];
        create.extend(args);
        env.fails_with(&create, &[why]);
    }
    assert_eq!(host_links(), links, "a refused network made a link");
    let names = env.ok(&["network", "ls", "-q", "--format", "{{.Name}}"]);
    assert!(!names.contains("bad6"), "{names}");
}

#[test]
fn the_daemons_ipv6_flags_and_a_restart_keep_ipv6() {
    let mut env =
        TestEnv::with_daemon_args("v6rst", &["--ipv6", "--fixed-cidr-v6", "fd00:e6:5::/64"]);
    let bridge = env.inspect_network("bridge");
    assert_eq!(bridge["EnableIPv6"], true, "{bridge:#}");
    assert_eq!(ipam_configs(&bridge)[1].0, "fd00:e6:5::/64");
    env.create_container("r1", &[]);
    env.create_network("r6", &["--ipv6", "--subnet", "fd00:e6:6::/64"]);
    env.create_container("r2", &["--network", "r6"]);
    env.ok(&["network", "connect", "r6", "r1"]);
    assert_eq!(v6_of(&env, "r1", "bridge").0, "fd00:e6:5::2");
    let r2 = v6_of(&env, "r2", "r6").0;
    let r1 = v6_of(&env, "r1", "r6").0;
    let _server = server6("r2", 8080);
    assert!(
        client6("r1", "r2", 8080)
            .stdout_str()
            .starts_with("hello from r2")
    );

    env.stop_daemon();
    env.start_daemon();
    assert_eq!(v6_of(&env, "r2", "r6").0, r2, "kept over a restart");
    assert_eq!(
        ipam_configs(&env.inspect_network("r6"))[1].0,
        "fd00:e6:6::/64"
    );
    assert!(ping6("r1", &r2), "IPv6 forwarded after the restart");
    assert!(ping6("r2", &r1), "and back");
    let out = client6("r1", "r2", 8080);
    assert!(
        out.stdout_str().starts_with("hello from r2"),
        "AAAA after the restart: {}",
        out.stderr_str()
    );
    // The next address after a restart is the next free one.
    env.create_container("r3", &["--network", "r6"]);
    let r3 = v6_of(&env, "r3", "r6").0;
    assert!(r3 != r1 && r3 != r2, "{r3} was handed out twice");
}
