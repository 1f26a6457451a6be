//! IPv6 routed mode end to end (`-o
//! com.docker.network.bridge.gateway_mode_ipv6=routed`, Docker's): an
//! outside namespace with a route to the network's subnet via the host
//! reaches a container's published container port directly (the host
//! port plays no part) and pings it; other ports, published host ports
//! and anything unsolicited are dropped and counted; the container's own
//! flows leave with its own address (no NAT66) and their replies come
//! back; the open ports hold across a daemon restart; hop limits running
//! out are answered both ways; inspect shows the mode; bad values are
//! refused (in the same test, to start one daemon, not two). Containers
//! of other networks reach the published container ports too, and ping
//! the routed containers, as in Docker, and nothing else; the routed
//! container's ICMPv6 errors about those flows reach them.

use std::time::Duration;

use ebpfnet_tests::ipv6::v6_of;
use ebpfnet_tests::outside6::*;
use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;

const SUBNET: &str = "2001:db8:e8::/64";
const OPT: &str = "com.docker.network.bridge.gateway_mode_ipv6";

#[test]
fn a_routed_network_is_reached_on_published_container_ports_only() {
    let mut env = TestEnv::new("routed6");
    bad_gateway_modes_are_refused_with_the_reason(&env);
    let routed = format!("{OPT}=routed");
    env.create_network("r6", &["--ipv6", "--subnet", SUBNET, "-o", &routed]);
    let net = env.inspect_network("r6");
    assert_eq!(net["Options"][OPT], "routed", "{net:#}");
    env.create_container("rc", &["--network", "r6", "-p", "8080:80"]);
    let (c6, _, gw6) = v6_of(&env, "rc", "r6");
    let _uplink6 = Uplink6::add(&env);
    let out = env.outside_ns.clone();
    netns_exec_ok(&out, &["ip", "-6", "route", "add", SUBNET, "via", UPLINK6]);
    // In the container: the published port 80, and 90, which is not.
    let _web = record(Some("rc"), &[python(), "-c", SERVER, "80"], true);
    let _other = record(Some("rc"), &[python(), "-c", SERVER, "90"], true);

    // In: the published container port, with the client's own address.
    let answer = ask(&out, "tcp", &c6, 80, "in", None);
    assert_eq!(parse_answer(&answer).0, OUTSIDE6, "{answer}");
    assert!(
        wait_for(Duration::from_secs(5), || ping6_hops(&out, &c6, 64)
            .contains(" 0% packet loss")),
        "the outside cannot ping {c6}"
    );
    // Not: another port of the container, nor the host port.
    let unsolicited = drop_count(&env, "unsolicited");
    for port in [90, 8080] {
        let answer = ask(&out, "tcp", &c6, port, "no", None);
        assert!(answer.starts_with("error"), "port {port} reached: {answer}");
    }
    let answer = ask(&out, "udp", &c6, 80, "no", None);
    assert!(
        answer.starts_with("error"),
        "UDP 80 (TCP published) reached: {answer}"
    );
    // Nor the host port on the host's IPv6 address: in routed mode the
    // IPv6 half of `-p` publishes nothing there (Docker's rule).
    let answer = ask(&out, "tcp", UPLINK6, 8080, "no", None);
    assert!(
        answer.starts_with("error"),
        "[{UPLINK6}]:8080 reached: {answer}"
    );
    assert!(drop_count(&env, "unsolicited") >= unsolicited + 3);

    // Out: the container's own address, no masquerade; replies come back.
    let _server = record(Some(&out), &[python(), "-c", SERVER, "9000"], true);
    for proto in ["tcp", "udp"] {
        let answer = ask("rc", proto, OUTSIDE6, 9000, "out", None);
        assert_eq!(parse_answer(&answer).0, c6, "{proto}: {answer}");
    }
    assert!(
        ping6_hops("rc", OUTSIDE6, 64).contains(" 0% packet loss"),
        "{c6} cannot ping the outside"
    );
    let table = env.ok(&["flows"]);
    let row = table
        .lines()
        .find(|l| l.starts_with("tcp") && l.contains(&format!("[{c6}]:")) && l.contains(":9000"))
        .unwrap_or_else(|| panic!("no routed TCP flow of {c6}:\n{table}"));
    assert!(
        row.contains("routed") && !row.contains("masquerade"),
        "{row}"
    );

    // Hop limits running out at this hop: answered from the gateway to
    // the container, from the uplink's address to the outside.
    let ping = ping6_hops("rc", OUTSIDE6, 1);
    assert!(
        ping.contains(&format!("From {gw6}")) && ping.contains("Time exceeded"),
        "{ping}"
    );
    let ping = ping6_hops(&out, &c6, 1);
    assert!(
        ping.contains(&format!("From {UPLINK6}")) && ping.contains("Time exceeded"),
        "{ping}"
    );

    // The open ports are pinned: they hold with the daemon stopped, and a
    // new daemon takes them over (unpublishing after it closes the port).
    assert!(env.stop_daemon().success(), "daemon exit");
    let answer = ask(&out, "tcp", &c6, 80, "stopped", None);
    assert_eq!(parse_answer(&answer).0, OUTSIDE6, "{answer}");
    env.start_daemon();
    let answer = ask("rc", "udp", OUTSIDE6, 9000, "restarted", None);
    assert_eq!(parse_answer(&answer).0, c6, "{answer}");

    // Unpublished, the port closes.
    env.ok(&["unpublish", "8080:80", "--container", "rc"]);
    let answer = ask(&out, "tcp", &c6, 80, "gone", None);
    assert!(answer.starts_with("error"), "port 80 still open: {answer}");
}

/// Docker lets other networks reach a routed network's published ports
/// and ping its containers (moby's DOCKER-ISOLATION-STAGE-1 returns early
/// for packets to a routed network; its rules then accept ICMPv6 and the
/// published port and drop the rest; an `--internal` network's own rules
/// drop everything leaving it): a container of another network reaches
/// the routed container's published container port directly, with its
/// own address, and pings it (the reply comes back), and nothing else of
/// it; an internal network's container not even that; the routed
/// container reaches no other network's container, not even by ping.
#[test]
fn other_networks_reach_a_routed_containers_published_ports_and_ping_only() {
    let env = TestEnv::new("routed6x");
    let routed = format!("{OPT}=routed");
    env.create_network("r6x", &["--ipv6", "--subnet", SUBNET, "-o", &routed]);
    env.create_network("n6x", &["--ipv6"]);
    env.create_network("i6x", &["--ipv6", "--internal"]);
    env.create_container(
        "rx",
        &["--network", "r6x", "-p", "8080:80", "-p", "5300:53/udp"],
    );
    env.create_container("nx", &["--network", "n6x"]);
    env.create_container("ix", &["--network", "i6x"]);
    let c6 = v6_of(&env, "rx", "r6x").0;
    let n6 = v6_of(&env, "nx", "n6x").0;
    let _web = record(Some("rx"), &[python(), "-c", SERVER, "80"], true);
    let _other = record(Some("rx"), &[python(), "-c", SERVER, "90"], true);
    let _peer = record(Some("nx"), &[python(), "-c", SERVER, "9000"], true);

    // In: the published container port, the client's own address kept,
    // a routed flow (one hop: the host).
    for data in ["a", "b"] {
        let answer = ask("nx", "tcp", &c6, 80, data, None);
        assert_eq!(parse_answer(&answer).0, n6, "{answer}");
    }
    let table = env.ok(&["flows"]);
    assert!(
        table.lines().any(|l| l.starts_with("tcp")
            && l.contains(&format!("[{n6}]:"))
            && l.contains("routed")),
        "no routed flow from {n6}:\n{table}"
    );
    // ICMPv6 echo: the request in, the reply back, as a routed flow.
    let ping = wait_for(Duration::from_secs(5), || {
        ping6_hops("nx", &c6, 64).contains(" 0% packet loss")
    });
    assert!(ping, "nx cannot ping the routed container {c6}");
    let ping = ping6_hops("nx", &c6, 64);
    assert!(ping.contains(&format!("bytes from {c6}")), "{ping}");
    let table = env.ok(&["flows"]);
    assert!(
        table.lines().any(|l| l.starts_with("icmpv6")
            && l.contains(&format!("{n6} id "))
            && l.contains("routed")
            && l.contains("replied")),
        "no routed echo flow from {n6}:\n{table}"
    );
    // An ICMPv6 error the routed container sends about such a flow comes
    // back: UDP to its published container port 53, where nothing listens,
    // draws "port unreachable", which the client sees as refused.
    let answer = ask("nx", "udp", &c6, 53, "closed", None);
    assert!(
        answer.contains("Connection refused"),
        "no port unreachable from the closed published port 53: {answer}"
    );
    let table = env.ok(&["flows"]);
    assert!(
        table.lines().any(|l| l.starts_with("udp")
            && l.contains(&format!("[{n6}]:"))
            && l.contains(":53")
            && l.contains("routed")),
        "no routed UDP flow from {n6} to port 53:\n{table}"
    );
    // Not: another port, another protocol, an internal network's client,
    // nor the routed container to the other network.
    let isolation = drop_count(&env, "isolation");
    for (ns, proto, ip, port) in [
        ("nx", "tcp", c6.as_str(), 90),
        ("nx", "udp", c6.as_str(), 80),
        ("ix", "tcp", c6.as_str(), 80),
        ("rx", "tcp", n6.as_str(), 9000),
    ] {
        let answer = ask(ns, proto, ip, port, "no", None);
        assert!(
            answer.starts_with("error"),
            "{ns} -> {proto} [{ip}]:{port}: {answer}"
        );
    }
    // Nor ICMPv6 echo from an internal network's container, nor from the
    // routed container to the other network's.
    for (ns, ip) in [("ix", c6.as_str()), ("rx", n6.as_str())] {
        let ping = ping6_hops(ns, ip, 64);
        assert!(
            ping.contains("100% packet loss"),
            "{ns} pinged {ip}: {ping}"
        );
    }
    assert!(drop_count(&env, "isolation") >= isolation + 6);
}

/// Docker's other modes, a wrong value and routed without IPv6 are refused
/// and make nothing; `nat` is the default and not shown.
fn bad_gateway_modes_are_refused_with_the_reason(env: &TestEnv) {
    let option = |value: &str| format!("{OPT}={value}");
    env.fails_with(
        &["network", "create", "b1", "--ipv6", "-o", &option("bogus")],
        &[OPT, "invalid value", "bogus", "nat", "routed"],
    );
    env.fails_with(
        &[
            "network",
            "create",
            "b2",
            "--ipv6",
            "-o",
            &option("isolated"),
        ],
        &[OPT, "not supported"],
    );
    env.fails_with(
        &["network", "create", "b3", "-o", &option("routed")],
        &[OPT, "--ipv6"],
    );
    // Nothing was made.
    let list = env.ok(&["network", "ls"]);
    assert!(
        !["b1", "b2", "b3"]
            .iter()
            .any(|n| list.lines().any(|l| l.split_whitespace().any(|w| w == *n))),
        "{list}"
    );
    // `nat` is the default, accepted and not shown as routed.
    env.create_network("b4", &["--ipv6", "-o", &option("nat")]);
    let net = env.inspect_network("b4");
    assert!(net["Options"][OPT].is_null(), "{net:#}");
}
