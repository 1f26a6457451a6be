//! Isolation between networks (every protocol, both directions, `network
//! connect`/`disconnect` taking effect at once), nothing unsolicited from an
//! uplink, anti-spoofing of IP and MAC, and masquerade (UDP, ICMP,
//! concurrent flows, never on a published port).

use std::collections::BTreeSet;
use std::time::Duration;

use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;

/// (TCP answered, UDP answered, ping answered) from `ns` to `ip` (port 7000).
fn reach(ns: &str, ip: &str) -> (bool, bool, bool) {
    (
        request(ns, ip, 7000, "tcp").is_ok(),
        request(ns, ip, 7000, "udp").is_ok(),
        ping(ns, ip),
    )
}

#[test]
fn networks_isolated_connect_and_disconnect_take_effect_at_once() {
    let env = TestEnv::new("isol");
    env.create_network("isA", &["--subnet", "10.241.0.0/24"]);
    env.create_network("isB", &["--subnet", "10.242.0.0/24"]);
    env.create_container("ia1", &["--network", "isA"]);
    env.create_container("ib1", &["--network", "isB"]);
    let _sa = echo_server("ia1", "ia1", 7000);
    let _sb = echo_server("ib1", "ib1", 7000);
    let (a1, b1) = (env.ip_of("ia1", "isA"), env.ip_of("ib1", "isB"));
    let none = (false, false, false);
    let all = (true, true, true);

    let drops = drop_count(&env, "isolation");
    assert_eq!(reach("ia1", &b1), none, "ia1 -> ib1 (tcp, udp, ping)");
    assert_eq!(reach("ib1", &a1), none, "ib1 -> ia1 (tcp, udp, ping)");
    assert!(
        drop_count(&env, "isolation") > drops,
        "isolation drops not counted"
    );

    env.ok(&["network", "connect", "isB", "ia1"]);
    let a1b = env.ip_of("ia1", "isB");
    assert_eq!(reach("ia1", &b1), all, "after connect: ia1 -> ib1");
    assert_eq!(reach("ib1", &a1b), all, "after connect: ib1 -> ia1 on isB");

    env.ok(&["network", "disconnect", "isB", "ia1"]);
    assert_eq!(reach("ia1", &b1), none, "after disconnect: ia1 -> ib1");
    assert_eq!(
        reach("ib1", &a1b),
        none,
        "after disconnect: ib1 -> old address"
    );
    assert_eq!(
        reach("ib1", &a1),
        none,
        "after disconnect: ib1 -> ia1 on isA"
    );
}

#[test]
fn nothing_unsolicited_from_the_uplink_reaches_containers() {
    let env = TestEnv::new("unsol");
    let (up, out) = (env.uplink_ip.clone(), env.outside_ns.clone());
    env.create_network("unB", &["--subnet", "10.243.0.0/24"]);
    env.create_container("u1", &["-p", "8080:7000"]);
    env.create_container("u2", &["--network", "unB"]);
    let _s1 = echo_server("u1", "u1", 7000);
    let _s2 = echo_server("u2", "u2", 7000);
    let _so = echo_server(&out, "outside", 9000);
    let (u1, u2) = (env.ip_of("u1", "bridge"), env.ip_of("u2", "unB"));
    for net in ["10.214.0.0/16", "10.243.0.0/24"] {
        netns_exec_ok(&out, &["ip", "route", "add", net, "via", &up]);
    }
    let before = drop_count(&env, "unsolicited");
    for ip in [&u1, &u2] {
        assert_eq!(reach(&out, ip), (false, false, false), "outside -> {ip}");
    }
    assert!(
        drop_count(&env, "unsolicited") > before,
        "unsolicited drops not counted"
    );
    // Published ports and replies do come in.
    assert!(request(&out, &up, 8080, "tcp").is_ok_and(|r| r.starts_with("u1 ")));
    for ns in ["u1", "u2"] {
        for proto in ["tcp", "udp"] {
            let r = request(ns, &env.outside_ip, 9000, proto);
            assert!(r.is_ok(), "{ns} -> outside {proto}: {r:?}");
        }
        assert!(ping(ns, &env.outside_ip), "{ns} cannot ping the outside");
    }
}

#[test]
fn containers_cannot_spoof_ip_or_mac() {
    let env = TestEnv::new("spoof");
    env.create_container("s1", &[]);
    env.create_container("s2", &[]);
    let srv = echo_server("s2", "s2", 7000);
    let so = echo_server(&env.outside_ns, "outside", 9000);
    let (s1, s2) = (env.ip_of("s1", "bridge"), env.ip_of("s2", "bridge"));
    let got = |tag: &str| srv.lines().iter().any(|l| l.contains(tag));

    // Control: s1's own address is received.
    udp_send_from("s1", &s1, &s2, 7000, "honest");
    assert!(
        wait_for(Duration::from_secs(2), || got("honest")),
        "s2 did not get s1's datagram: {:?}",
        srv.lines()
    );

    // A second address inside the container.
    let spoof = "10.214.0.200";
    netns_exec_ok(
        "s1",
        &["ip", "addr", "add", &format!("{spoof}/16"), "dev", "eth0"],
    );
    let before_ip = drop_count(&env, "spoofed_ip");
    udp_send_from("s1", spoof, &s2, 7000, "spoofed-ip");
    udp_send_from("s1", spoof, &env.outside_ip, 9000, "spoofed-out");
    // 3 datagrams to s2 (s1 knows its MAC); those to the outside stop at
    // the ARP for the gateway, which s1 asks as the spoofed address.
    assert!(
        wait_for(Duration::from_secs(5), || drop_count(&env, "spoofed_ip")
            >= before_ip + 3),
        "spoofed_ip drops: {before_ip} -> {}",
        drop_count(&env, "spoofed_ip")
    );
    assert!(
        !srv.lines()
            .iter()
            .any(|l| l.contains(spoof) || l.contains("spoofed-ip")),
        "a spoofed source address reached s2: {:?}",
        srv.lines()
    );
    assert!(
        !so.lines().iter().any(|l| l.contains("spoofed-out")),
        "a spoofed source address reached the outside: {:?}",
        so.lines()
    );
    netns_exec_ok(
        "s1",
        &["ip", "addr", "del", &format!("{spoof}/16"), "dev", "eth0"],
    );

    // A changed MAC. The change flushes s1's neighbours (and its ARP would
    // be dropped as spoofed): a static entry makes IPv4 frames go out with
    // the new source MAC.
    netns_exec_ok(
        "s1",
        &["ip", "link", "set", "eth0", "address", "02:42:0a:d6:00:c8"],
    );
    let s2_mac = mac_for_ip(&s2);
    netns_exec_ok(
        "s1",
        &[
            "ip",
            "neigh",
            "replace",
            &s2,
            "lladdr",
            &s2_mac,
            "dev",
            "eth0",
            "nud",
            "permanent",
        ],
    );
    let before_mac = drop_count(&env, "spoofed_mac");
    udp_send_from("s1", &s1, &s2, 7000, "spoofed-mac");
    assert!(!ping("s1", &s2), "s1 with a changed MAC pings s2");
    assert!(
        wait_for(Duration::from_secs(5), || drop_count(&env, "spoofed_mac")
            >= before_mac + 4),
        "spoofed_mac drops: {before_mac} -> {}",
        drop_count(&env, "spoofed_mac")
    );
    assert!(
        !got("spoofed-mac"),
        "a changed MAC reached s2: {:?}",
        srv.lines()
    );
    // Back to its own MAC, s1 is heard again.
    netns_exec_ok(
        "s1",
        &["ip", "link", "set", "eth0", "address", &mac_for_ip(&s1)],
    );
    udp_send_from("s1", &s1, &s2, 7000, "honest-again");
    assert!(wait_for(Duration::from_secs(2), || got("honest-again")));
}

#[test]
fn masquerade_udp_icmp_and_concurrent_flows() {
    let env = TestEnv::new("masq2");
    let (up, out_ip) = (env.uplink_ip.clone(), env.outside_ip.clone());
    env.create_network("mqB", &["--subnet", "10.244.0.0/24"]);
    env.create_container("mq1", &[]);
    env.create_container("mq2", &["--network", "mqB"]);
    let _so = echo_server(&env.outside_ns, "outside", 9000);
    let (lo, hi) = masq_range(&env);
    for ns in ["mq1", "mq2"] {
        assert!(ping(ns, &out_ip), "{ns} cannot ping the outside");
        for proto in ["tcp", "udp"] {
            let res = many_clients(ns, &out_ip, 9000, proto, 30);
            // A client socket may get the port of one that already closed:
            // that is the same flow again. Distinct flows (local ports)
            // must have distinct masquerade ports.
            let mut ports = BTreeSet::new();
            let mut local_ports = BTreeSet::new();
            for r in &res {
                let (local, reply) = r
                    .as_ref()
                    .unwrap_or_else(|e| panic!("{ns} {proto}: {e} (all: {res:?})"));
                local_ports.insert(*local);
                let (ip, port) = peer_of(reply).unwrap_or_else(|| panic!("{reply}"));
                assert_eq!(ip, up, "{ns} {proto}: not masqueraded: {reply}");
                assert!(
                    (lo..=hi).contains(&port),
                    "masquerade port {port} not in {lo}-{hi}"
                );
                ports.insert(port);
            }
            assert!(
                local_ports.len() >= 25,
                "{ns} {proto}: too few flows: {res:?}"
            );
            assert_eq!(
                ports.len(),
                local_ports.len(),
                "{ns} {proto}: flows share a source port: {res:?}"
            );
        }
    }
}

#[test]
fn masquerade_port_is_never_a_published_port() {
    let env = TestEnv::new("masqp");
    let out_ip = env.outside_ip.clone();
    env.create_container("mp", &[]);
    env.create_container("mc", &[]);
    let _so = echo_server(&env.outside_ns, "outside", 9000);
    // 1000 published UDP ports inside the masquerade range.
    let ports = publish_masquerade_ports(&env, "", "mp");
    let exhausted = drop_count(&env, "masquerade_ports_exhausted");
    let replies = sequential_udp("mc", &out_ip, 9000, 200);
    assert_eq!(replies.len(), 200);
    let (lo, hi) = ports.masq;
    check_masquerade_ports(&replies, &env.uplink_ip, ports, "masquerade", |failed| {
        format!(
            "{} of 200 masqueraded UDP flows got no reply ({:?}); masquerade_ports_exhausted \
             drops went {exhausted} -> {} with {} of {} masquerade ports free",
            failed.len(),
            failed,
            drop_count(&env, "masquerade_ports_exhausted"),
            u32::from(hi - lo) + 1 - 1000,
            u32::from(hi - lo) + 1
        )
    });
}
