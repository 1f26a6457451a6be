//! NAT66 masquerade end to end: a container on a dual-stack network (ULA
//! subnet from the pool) reaches an IPv6 address in the outside namespace
//! over the test's uplink, which has no route back to the container subnet:
//! only the translation to the uplink's IPv6 address brings the replies
//! back. TCP, UDP and ICMPv6 echo; a port from the masquerade range; the
//! hop limit decremented (and a hop limit of 1 never leaving); the flows in
//! `ebpfnet flows`; nothing unsolicited in; the flows gone with the
//! container; `--internal` holding; NAT66 with the daemon stopped and
//! after a restart.

use std::time::Duration;

use ebpfnet_tests::outside6::*;
use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;

fn ping6(ns: &str, ip: &str) -> bool {
    netns_exec(ns, &["ping", "-6", "-n", "-c", "1", "-W", "1", ip])
        .status
        .success()
}

#[test]
fn ipv6_flows_leave_masqueraded_behind_the_uplink() {
    let env = TestEnv::new("nat66");
    env.create_network("n66", &["--ipv6"]);
    env.create_network("n66i", &["--ipv6", "--internal"]);
    env.create_container("c66", &["--network", "n66"]);
    env.create_container("c66i", &["--network", "n66i"]);
    let c6 = env.endpoint("c66", "n66")["GlobalIPv6Address"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(c6.starts_with("fd00:eb:"), "container address {c6}");
    let _uplink6 = Uplink6::add(&env);
    let out = env.outside_ns.clone();
    let _server = record(Some(&out), &[python(), "-c", SERVER, "9000"], true);

    // The daemon follows the uplink's new address (netlink), then echo
    // requests go out and their replies come back.
    wait_echo6("c66", OUTSIDE6, Duration::from_secs(10));

    // TCP and UDP leave from the uplink's address and a masquerade port.
    let (min, max) = masq_range(&env);
    let tcp = ask("c66", "tcp", OUTSIDE6, 9000, "t1", None);
    let (peer, port, _) = parse_answer(&tcp);
    assert_eq!(peer, UPLINK6, "{tcp}");
    assert!(
        (min..=max).contains(&port),
        "port {port} not in {min}-{max}"
    );
    // Routed: the hop limit arrives one lower.
    let udp = ask("c66", "udp", OUTSIDE6, 9000, "u1", Some(5));
    let (peer, port, hops) = parse_answer(&udp);
    assert_eq!((peer.as_str(), hops), (UPLINK6, 4), "{udp}");
    assert!(
        (min..=max).contains(&port),
        "port {port} not in {min}-{max}"
    );
    // A hop limit of 1 never leaves: the datapath answers "time exceeded"
    // (nat66_edges.rs checks the answer).
    let last_hop = ask("c66", "udp", OUTSIDE6, 9000, "u2", Some(1));
    assert!(
        last_hop.starts_with("error"),
        "hop limit 1 left: {last_hop}"
    );

    // `flows` shows them, read as IPv6.
    let table = env.ok(&["flows"]);
    let row = table
        .lines()
        .find(|l| l.starts_with("udp") && l.contains(&format!("[{c6}]:")))
        .unwrap_or_else(|| panic!("flows lists no IPv6 UDP flow of {c6}:\n{table}"));
    assert!(
        row.contains(&format!("-> [{OUTSIDE6}]:9000"))
            && row.contains(&format!("[{UPLINK6}]:{port}"))
            && row.contains("masquerade"),
        "{row}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("icmpv6") && l.contains(&c6)),
        "no ICMPv6 flow:\n{table}"
    );
    let flows = env.json(&["flows"]);
    let tcp_flow = flows
        .as_array()
        .and_then(|a| {
            a.iter().find(|f| {
                f["Protocol"] == "tcp" && f["Original"].as_str().is_some_and(|o| o.contains(&c6))
            })
        })
        .unwrap_or_else(|| panic!("no IPv6 TCP flow: {flows:#}"));
    assert_eq!(tcp_flow["Entries"][0]["Table"], "NAT6_TCP", "{tcp_flow:#}");
    assert_eq!(
        tcp_flow["Entries"][1]["NewDstIp"],
        c6.as_str(),
        "{tcp_flow:#}"
    );

    // From outside, nothing reaches the container's address directly,
    // even with a route to it.
    netns_exec_ok(
        &out,
        &["ip", "-6", "route", "add", "fd00:eb::/48", "via", UPLINK6],
    );
    let unsolicited = drop_count(&env, "unsolicited");
    assert!(!ping6(&out, &c6), "outside reached {c6} directly");
    assert!(drop_count(&env, "unsolicited") > unsolicited);

    // --internal holds for IPv6.
    let internal = drop_count(&env, "internal_network");
    assert!(!ping6("c66i", OUTSIDE6), "internal network left over IPv6");
    assert!(drop_count(&env, "internal_network") > internal);

    // The container's flows go with it.
    env.ok(&["container", "rm", "c66"]);
    let table = env.ok(&["flows"]);
    assert!(
        !table.contains(&c6),
        "flows of a removed container:\n{table}"
    );
}

#[test]
fn nat66_keeps_working_while_the_daemon_restarts() {
    let mut env = TestEnv::new("nat66r");
    env.create_network("r66", &["--ipv6"]);
    env.create_container("r6", &["--network", "r66"]);
    let _uplink6 = Uplink6::add(&env);
    let out = env.outside_ns.clone();
    let _server = record(Some(&out), &[python(), "-c", SERVER, "9000"], true);
    wait_echo6("r6", OUTSIDE6, Duration::from_secs(10));
    let udp = ask("r6", "udp", OUTSIDE6, 9000, "before", None);
    let (_, port, _) = parse_answer(&udp);
    let row = format!("[{UPLINK6}]:{port}");

    // The programs, NAT66 tables and the tail-call slot are pinned: with
    // no daemon, containers still get out and back.
    let status = env.stop_daemon();
    assert!(status.success(), "daemon exit {status:?}");
    assert!(ping6("r6", OUTSIDE6), "NAT66 stopped with the daemon");
    let udp = ask("r6", "udp", OUTSIDE6, 9000, "stopped", None);
    assert_eq!(parse_answer(&udp).0, UPLINK6, "{udp}");

    // A new daemon takes the slot over and still lists the old flow.
    env.start_daemon();
    assert!(ping6("r6", OUTSIDE6), "NAT66 after the restart");
    let table = env.ok(&["flows"]);
    assert!(table.contains(&row), "the flow of {row} was lost:\n{table}");
}
