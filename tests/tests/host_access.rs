//! Reaching published ports: from the outside (source preserved), from the
//! host itself (127.0.0.1 and host IPs, without route_localnet), from
//! containers on the same and on another network (hairpin), many flows at
//! once; a mapping bound to one host IP only answers there; a port
//! published on 127.0.0.1 never answers a crafted frame from the uplink
//! (CVE-2020-8558).

use std::time::Duration;

use ebpfnet_tests::daemon::DEFAULT_BRIDGE;
use ebpfnet_tests::packet::{Ipv4Builder, TCP_SYN};
use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;

#[track_caller]
fn answered_by(r: Result<String, String>, name: &str, what: &str) -> String {
    let r = r.unwrap_or_else(|e| panic!("{what}: no answer: {e}"));
    assert!(
        r.starts_with(&format!("{name} peer=")),
        "{what}: answered {r:?}, expected {name}"
    );
    r
}

/// Every route_localnet sysctl that matters.
fn route_localnet_values(env: &TestEnv) -> Vec<(String, Option<String>)> {
    ["all", "default", DEFAULT_BRIDGE, "lo", env.uplink.as_str()]
        .iter()
        .map(|i| {
            let k = format!("net.ipv4.conf.{i}.route_localnet");
            let v = sysctl(&k);
            (k, v)
        })
        .collect()
}

#[test]
fn published_port_from_outside_and_from_the_host() {
    let env = TestEnv::new("hacc");
    let (up, out_ip, out) = (
        env.uplink_ip.clone(),
        env.outside_ip.clone(),
        env.outside_ns.clone(),
    );
    env.create_container("ha", &PUBLISHED_TO_HOST);
    let _srv = echo_server("ha", "ha", 80);
    for (k, v) in route_localnet_values(&env) {
        assert!(v.is_none() || v.as_deref() == Some("0"), "{k} = {v:?}");
    }

    for proto in ["tcp", "udp"] {
        let r = answered_by(request(&out, &up, 8080, proto), "ha", proto);
        assert_eq!(
            peer_of(&r).map(|p| p.0),
            Some(out_ip.clone()),
            "the client's source address must be preserved ({proto}): {r}"
        );
    }
    // From the host: loopback and the uplink address, TCP and UDP.
    for ip in ["127.0.0.1", up.as_str()] {
        let r = host_tcp(ip, 8080, "from-host").unwrap_or_else(|e| panic!("host tcp {ip}: {e}"));
        assert!(
            r.starts_with("ha peer=") && r.ends_with("got=from-host"),
            "{r}"
        );
        let (r, from) = host_udp(ip, 8080, "host-udp").unwrap_or_else(|e| panic!("{e}"));
        assert!(
            r.starts_with("ha peer=") && r.ends_with("got=host-udp"),
            "{r}"
        );
        assert_eq!(
            from.to_string(),
            format!("{ip}:8080"),
            "the UDP reply must seem to come from the published address"
        );
    }
    let r = host_tcp("127.0.0.1", 8081, "lo").unwrap_or_else(|e| panic!("127.0.0.1:8081: {e}"));
    assert!(r.starts_with("ha peer="), "{r}");
    // The 127.0.0.1 mapping is not on the uplink address.
    assert!(
        request(&out, &up, 8081, "tcp").is_err(),
        "127.0.0.1:8081 reached via {up}"
    );
    assert!(
        host_tcp(&up, 8081, "x").is_err(),
        "127.0.0.1:8081 reached via {up} from the host"
    );

    for (k, v) in route_localnet_values(&env) {
        assert!(
            v.is_none() || v.as_deref() == Some("0"),
            "{k} = {v:?}: route_localnet must never be turned on"
        );
    }
}

#[test]
fn mapping_bound_to_one_host_ip_answers_only_there() {
    let env = TestEnv::new("hbind");
    let (up, out) = (env.uplink_ip.clone(), env.outside_ns.clone());
    let second = format!("{}.50", up.rsplit_once('.').unwrap().0);
    let _addr = HostAddrGuard::add(&format!("{second}/24"), &env.uplink);
    env.create_container("hb1", &[]);
    env.create_container("hb2", &[]);
    let _srv = echo_server("hb1", "hb1", 80);
    // The daemon learns new host addresses from netlink notifications
    // (HOST_ADDRS, which hairpin traffic from containers needs).
    assert!(
        wait_for(Duration::from_secs(5), || host_addrs_has(&env, &second)),
        "HOST_ADDRS lacks the new host address {second} after 5 s"
    );
    let spec = format!("{second}:8090:80");
    assert!(
        wait_for(Duration::from_secs(5), || env
            .cli(&["publish", &spec, "--container", "hb1"])
            .status
            .success()),
        "cannot publish on the new host address {second}: {}",
        env.fails(&["publish", &spec, "--container", "hb1"])
    );
    env.ok(&["publish", &format!("{up}:8092:80"), "--container", "hb1"]);

    answered_by(
        request(&out, &second, 8090, "tcp"),
        "hb1",
        "outside -> second:8090",
    );
    answered_by(request(&out, &up, 8092, "tcp"), "hb1", "outside -> up:8092");
    assert!(
        request(&out, &up, 8090, "tcp").is_err(),
        "{second}:8090 answered on {up}"
    );
    assert!(
        request(&out, &second, 8092, "tcp").is_err(),
        "{up}:8092 answered on {second}"
    );
    // From the host and from a container the same holds.
    assert!(host_tcp(&second, 8090, "h").is_ok_and(|r| r.starts_with("hb1 ")));
    assert!(
        host_tcp(&up, 8090, "h").is_err(),
        "{second}:8090 answered the host on {up}"
    );
    assert!(
        host_tcp("127.0.0.1", 8090, "h").is_err(),
        "{second}:8090 answered on 127.0.0.1"
    );
    assert!(
        host_tcp("10.214.0.1", 8090, "h").is_err(),
        "answered on the bridge gateway"
    );
    answered_by(
        request("hb2", &second, 8090, "tcp"),
        "hb1",
        "hb2 -> second:8090",
    );
    assert!(
        request("hb2", &up, 8090, "tcp").is_err(),
        "hairpin on the wrong host IP"
    );
    assert!(
        request("hb2", "10.214.0.1", 8090, "tcp").is_err(),
        "gateway answered 8090"
    );
}

#[test]
fn hairpin_from_same_and_other_network() {
    let env = TestEnv::new("hpin");
    let up = env.uplink_ip.clone();
    env.create_network("hpb", &["--subnet", "10.239.0.0/24"]);
    env.create_container("hpa", &["-p", "8080:80", "-p", "8080:80/udp"]);
    env.create_container("hps", &[]);
    env.create_container("hpo", &["--network", "hpb"]);
    let _srv = echo_server("hpa", "hpa", 80);
    let a_ip = env.ip_of("hpa", "bridge");
    // Not directly: another network.
    assert!(
        request("hpo", &a_ip, 80, "tcp").is_err(),
        "hpo reaches hpa directly"
    );
    for ns in ["hps", "hpo"] {
        for proto in ["tcp", "udp"] {
            answered_by(
                request(ns, &up, 8080, proto),
                "hpa",
                &format!("{ns} -> {up}:8080/{proto}"),
            );
        }
        // Several in a row (new flows each time).
        let res = many_clients(ns, &up, 8080, "tcp", 10);
        let bad: Vec<_> = res.iter().filter(|r| r.is_err()).collect();
        assert!(bad.is_empty(), "hairpin from {ns}: {bad:?}");
    }
}

#[test]
fn many_concurrent_flows_from_outside() {
    let env = TestEnv::new("hmany");
    let (up, out_ip, out) = (
        env.uplink_ip.clone(),
        env.outside_ip.clone(),
        env.outside_ns.clone(),
    );
    env.create_container("hm", &["-p", "8080:80", "-p", "8080:80/udp"]);
    let _srv = echo_server("hm", "hm", 80);
    for proto in ["tcp", "udp"] {
        let res = many_clients(&out, &up, 8080, proto, 50);
        assert_eq!(res.len(), 50, "{res:?}");
        for r in &res {
            let (port, reply) = r
                .as_ref()
                .unwrap_or_else(|e| panic!("{proto} client failed: {e} (all: {res:?})"));
            assert_eq!(
                peer_of(reply),
                Some((out_ip.clone(), *port)),
                "{proto} reply must name this client's address and port: {reply}"
            );
            assert!(reply.starts_with("hm peer="), "{reply}");
        }
    }
}

#[test]
fn loopback_published_port_is_not_reachable_with_crafted_frames() {
    let env = TestEnv::new("hcve");
    let (up, out_ip, out) = (
        env.uplink_ip.clone(),
        env.outside_ip.clone(),
        env.outside_ns.clone(),
    );
    env.create_container(
        "cv",
        &[
            "-p",
            "127.0.0.1:8081:80",
            "-p",
            "127.0.0.1:8081:80/udp",
            "-p",
            "8080:80",
        ],
    );
    let _srv = echo_server("cv", "cv", 80);
    let sniff = sniffer("cv", "eth0");
    // The sniffer sees a legitimate published flow.
    answered_by(request(&out, &up, 8080, "tcp"), "cv", "control");
    assert!(
        wait_for(Duration::from_secs(2), || sniff.lines().iter().any(|l| l
            .starts_with(&format!("tcp {out_ip}:"))
            && l.ends_with(":80"))),
        "the sniffer in the container saw no traffic: {:?}",
        sniff.lines()
    );
    sniff.drain();

    let before = drop_count(&env, "loopback_from_uplink");
    let b = Ipv4Builder::new(parse_ipv4(&out_ip), [127, 0, 0, 1]).macs(
        mac_bytes(&netns_mac(&out, "eth0")),
        mac_bytes(&host_mac(&env.uplink)),
    );
    send_frame(&out, "eth0", &b.tcp(40001, 8081, TCP_SYN), 3);
    send_frame(&out, "eth0", &b.tcp(40002, 8080, TCP_SYN), 3);
    send_frame(&out, "eth0", &b.udp(40003, 8081, b"crafted", true), 3);
    assert!(
        wait_for(Duration::from_secs(5), || drop_count(
            &env,
            "loopback_from_uplink"
        ) >= before + 9),
        "loopback_from_uplink drops went {before} -> {}, expected +9",
        drop_count(&env, "loopback_from_uplink")
    );
    let seen: Vec<String> = sniff
        .lines()
        .into_iter()
        .filter(|l| l.contains(&format!("{out_ip}:4000")))
        .collect();
    assert!(
        seen.is_empty(),
        "crafted frames to 127.0.0.1 reached the container: {seen:?}"
    );
}
