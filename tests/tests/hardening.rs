//! The boundary tried as an attacker would, end to end: router
//! advertisements and MAC theft from a container namespace, crafted
//! packets to loopback, hop limits, a container reaching its own published
//! port, NAT state that leaves with its container, and masquerade ports
//! kept out of the host's range.

use std::time::Duration;

use ebpfnet_tests::packet::{Ipv4Builder, TCP_SYN};
use ebpfnet_tests::packet6::{
    ALL_NODES, ICMPV6_NEIGHBOR_SOLICITATION, ICMPV6_ROUTER_ADVERTISEMENT, icmpv6_frame, link_local,
    multicast_mac, router_advertisement,
};
use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;

/// The prefix the attacker's router advertisement offers.
const RA_PREFIX: [u8; 8] = [0x20, 0x01, 0x0d, 0xb8, 0x0e, 0xb1, 0, 0];

fn has_ra_address(ns: Option<&str>, dev: &str) -> bool {
    let out = match ns {
        Some(ns) => netns_exec_ok(ns, &["ip", "-6", "addr", "show", "dev", dev]),
        None => ip_ok(&["-6", "addr", "show", "dev", dev]),
    };
    out.contains("2001:db8:eb1:")
}

#[test]
fn router_advertisements_from_a_container_configure_nothing() {
    let env = TestEnv::new("raguard");
    env.create_network("ran", &["--subnet", "10.244.0.0/24"]);
    env.create_container("ra1", &["--network", "ran"]);
    env.create_container("ra2", &["--network", "ran"]);
    let bridge = env.bridge_of("ran");
    let veth = env.host_veth_of("ra1", "ran");
    for dev in [&bridge, &veth] {
        assert_eq!(
            sysctl(&format!("net.ipv6.conf.{dev}.accept_ra")).as_deref(),
            Some("0"),
            "{dev} accepts router advertisements"
        );
    }
    // ra2 would take an address from any RA that reached it.
    netns_exec_ok("ra2", &["sysctl", "-qw", "net.ipv6.conf.eth0.accept_ra=1"]);
    let mac = mac_bytes(&netns_mac("ra1", "eth0"));
    let ra = router_advertisement(RA_PREFIX);
    for hop_by_hop in [false, true] {
        let frame = icmpv6_frame(
            (mac, multicast_mac(ALL_NODES)),
            link_local(mac),
            ALL_NODES,
            ICMPV6_ROUTER_ADVERTISEMENT,
            &ra,
            hop_by_hop,
        );
        assert_frames_dropped(&env, "ra1", &frame, 3, "router_advertisement");
    }
    // Every advertisement was counted dropped at ra1's veth: none reached
    // the bridge, so no address can come of one later.
    assert!(
        !has_ra_address(Some("ra2"), "eth0"),
        "ra2 configured the attacker's prefix"
    );
    assert!(
        !has_ra_address(None, &bridge),
        "the host configured the attacker's prefix"
    );
}

#[test]
fn a_neighbours_mac_in_any_frame_stays_put() {
    let env = TestEnv::new("macsteal");
    env.create_network("msn", &["--subnet", "10.245.0.0/24"]);
    env.create_container("ms1", &["--network", "msn"]);
    env.create_container("ms2", &["--network", "msn"]);
    let victim = netns_mac("ms2", "eth0");
    let victim_mac = mac_bytes(&victim);
    let attacker_veth = env.host_veth_of("ms1", "msn");
    // An IPv6 neighbour solicitation from ms1 with ms2's MAC.
    let frame = icmpv6_frame(
        (victim_mac, multicast_mac(ALL_NODES)),
        link_local(victim_mac),
        ALL_NODES,
        ICMPV6_NEIGHBOR_SOLICITATION,
        &[0; 20],
        false,
    );
    assert_frames_dropped(&env, "ms1", &frame, 3, "spoofed_mac");
    let out = std::process::Command::new("bridge")
        .args(["fdb", "show", "dev", &attacker_veth])
        .output()
        .expect("bridge fdb");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        !table.contains(&victim),
        "the bridge learned ms2's MAC on ms1's port:\n{table}"
    );
    // ms2 is still reachable from ms1.
    let _s = echo_server("ms2", "ms2", 7000);
    assert!(request("ms1", &env.ip_of("ms2", "msn"), 7000, "tcp").is_ok());
}

#[test]
fn containers_cannot_reach_loopback_published_ports() {
    let env = TestEnv::new("loopin");
    env.create_container("lo1", &["-p", "127.0.0.1:8090:7000"]);
    env.create_container("lo2", &[]);
    let _server = echo_server("lo1", "lo1", 7000);
    let sniff = sniffer("lo1", "eth0");
    let gateway = env.inspect_network("bridge")["IPAM"]["Config"][0]["Gateway"]
        .as_str()
        .unwrap_or_else(|| panic!("bridge has no gateway"))
        .to_string();
    let gw_mac = mac_for_ip(&gateway);
    let lo2_ip = env.ip_of("lo2", "bridge");
    let frame = Ipv4Builder::new(parse_ipv4(&lo2_ip), [127, 0, 0, 1])
        .macs(mac_bytes(&netns_mac("lo2", "eth0")), mac_bytes(&gw_mac))
        .tcp(40000, 8090, TCP_SYN);
    // Every frame was counted dropped: none can reach lo1 later.
    assert_frames_dropped(&env, "lo2", &frame, 3, "loopback_from_container");
    assert!(
        !sniff.lines().iter().any(|l| l.contains(":7000")),
        "a crafted packet to 127.0.0.1 reached lo1: {:?}",
        sniff.lines()
    );
    // Host processes still reach it.
    assert!(host_tcp("127.0.0.1", 8090, "hi").is_ok_and(|r| r.contains("lo1")));
}

#[test]
fn routed_packets_lose_a_hop_as_through_a_router() {
    let env = TestEnv::new("ttl");
    env.create_container("tt1", &["-p", "5353:5353/udp"]);
    let out = env.outside_ns.clone();
    let far = ttl_server(&out, 9999);
    assert_eq!(udp_with_ttl("tt1", &env.outside_ip, 9999, 5), "ttl-probe");
    let line = far.next_line(Duration::from_secs(3)).unwrap_or_default();
    assert!(line.starts_with("ttl 4 from"), "outside saw {line:?}");

    let inside = ttl_server("tt1", 5353);
    assert_eq!(udp_with_ttl(&out, &env.uplink_ip, 5353, 5), "ttl-probe");
    let line = inside.next_line(Duration::from_secs(3)).unwrap_or_default();
    assert!(line.starts_with("ttl 4 from"), "the container saw {line:?}");

    // The last hop: the host answers "time exceeded" (IMDSv2's hop limit).
    let ping = netns_exec(
        "tt1",
        &["ping", "-c", "1", "-W", "2", "-t", "1", &env.outside_ip],
    );
    let text = String::from_utf8_lossy(&ping.stdout);
    assert!(text.contains("Time to live exceeded"), "ping -t 1: {text}");
    // From outside, to a published port: the host answers as the hop.
    let before = drop_count(&env, "ttl_exceeded");
    assert_eq!(
        ttl_probe(&out, &env.uplink_ip, 5353),
        format!("time-exceeded from {}", env.uplink_ip)
    );
    // Counted dropped (the answer came after the drop): nothing to wait for.
    assert_eq!(drop_count(&env, "ttl_exceeded"), before + 1);
    assert!(
        inside.next_line(Duration::ZERO).is_none(),
        "a TTL-1 datagram reached the container"
    );
}

#[test]
fn a_container_reaches_its_own_published_port() {
    let env = TestEnv::new("selfpin");
    env.create_container("sp1", &["-p", "8091:7000", "-p", "8091:7000/udp"]);
    let _server = echo_server("sp1", "sp1", 7000);
    let gateway = env.inspect_network("bridge")["IPAM"]["Config"][0]["Gateway"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_default();
    for proto in ["tcp", "udp"] {
        let reply = request("sp1", &env.uplink_ip, 8091, proto)
            .unwrap_or_else(|e| panic!("sp1 -> its own published {proto} port: {e}"));
        let (peer, _) = peer_of(&reply).unwrap_or_else(|| panic!("no peer in {reply:?}"));
        assert_eq!(
            peer, gateway,
            "the request must come from the gateway ({proto})"
        );
    }
}

#[test]
fn nat_state_leaves_with_its_container() {
    let env = TestEnv::new("natgone");
    env.create_container("ng1", &["-p", "8092:7000", "--ip", "10.214.0.77"]);
    let _server = echo_server("ng1", "ng1", 7000);
    let _far = echo_server(&env.outside_ns, "far", 9000);
    assert!(request(&env.outside_ns, &env.uplink_ip, 8092, "tcp").is_ok());
    assert!(request("ng1", &env.outside_ip, 9000, "udp").is_ok());
    let needle = "10.214.0.77:";
    assert!(
        env.ok(&["flows"]).contains(needle),
        "no flows of ng1 to begin with"
    );
    env.ok(&["container", "rm", "ng1"]);
    let left = env.ok(&["flows"]);
    assert!(
        !left.contains(needle),
        "flows of a removed container:\n{left}"
    );
    // A new container on the same address starts clean.
    env.create_container("ng2", &["--ip", "10.214.0.77"]);
    assert!(!env.ok(&["flows"]).contains(needle));
}

#[test]
fn masquerade_ports_stay_out_of_the_host_range() {
    let env = TestEnv::new("masqrange");
    let (low, high) = masq_range(&env);
    let range = sysctl("net.ipv4.ip_local_port_range").unwrap_or_default();
    let host: Vec<u16> = range
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    assert_eq!(host.len(), 2, "ip_local_port_range {range:?}");
    assert!(
        low > host[1] || high < host[0],
        "{low}-{high} overlaps {range}"
    );
    // A range inside the host's is refused before anything is made.
    let dir = env.dir.join("refused");
    let pins = std::path::PathBuf::from(format!(
        "/sys/fs/bpf/ebn-test-refused-{}",
        std::process::id()
    ));
    let inside = format!("{}-{}", host[0], host[0] + 100);
    let out = run_timeout(
        std::process::Command::new(&env.bin)
            .args(["daemon", "--socket"])
            .arg(dir.join("sock"))
            .arg("--state-dir")
            .arg(dir.join("state"))
            .arg("--pin-dir")
            .arg(&pins)
            .args(["--uplink", &env.uplink, "--masquerade-port-range", &inside]),
        None,
        Duration::from_secs(20),
    )
    .unwrap_or_else(|e| panic!("daemon: {e}"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a daemon started with {inside}");
    assert!(err.contains("net.ipv4.ip_local_port_range"), "error: {err}");
    assert!(
        !pins.exists() && !dir.join("state").exists(),
        "the refused daemon left state behind"
    );
}
