//! Anti-spoofing on macvlan networks: `lan_parent_egress` on the parent
//! (TC egress, in the host's namespace) drops what a container sends to
//! the LAN with another address than its own, or with another
//! container's address, and passes the containers' and the host's own
//! traffic. Real frames from a raw socket in the container, a sniffer on
//! the LAN's side.

use std::time::Duration;

use ebpfnet_tests::lan::{LanSegment, assert_dropped, send};
use ebpfnet_tests::packet::{Ipv4Builder, arp_request};
use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;

const LAN: &str = "192.0.2";
const PORT: u16 = 9999;

#[test]
fn a_macvlan_container_sends_to_the_lan_as_itself_only() {
    let env = TestEnv::new("mvspoof");
    let lan = LanSegment::new(&format!("{LAN}.1/24"), Some(&format!("{LAN}.254/24")));
    let opt = format!("parent={}", lan.parent);
    let subnet = format!("{LAN}.0/24");
    env.create_network("mvs", &["-d", "macvlan", "-o", &opt, "--subnet", &subnet]);
    let status = env.ok(&["status"]);
    assert!(
        status
            .lines()
            .any(|l| l.contains("lan_parent_egress") && l.contains(&lan.parent)),
        "the program on the parent: {status}"
    );
    env.create_container("mvS1", &["--network", "mvs"]);
    env.create_container("mvS2", &["--network", "mvs"]);
    let (own, other) = (env.ip_of("mvS1", "mvs"), env.ip_of("mvS2", "mvs"));
    let own_mac = mac_bytes(&netns_mac("mvS1", "eth0"));
    let router = parse_ipv4(&format!("{LAN}.1"));
    let router_mac = mac_bytes(&netns_mac(&lan.ns, "eth0"));
    let sniff = sniffer(&lan.ns, "eth0");
    let udp = |mac: [u8; 6], src: &str| {
        Ipv4Builder::new(parse_ipv4(src), router)
            .macs(mac, router_mac)
            .udp(4000, PORT, b"spoof", true)
    };
    let unassigned = format!("{LAN}.99");

    // Its own MAC, an address not its own; another container's address.
    assert_dropped(&env, "mvS1", &udp(own_mac, &unassigned), "spoofed_ip");
    assert_dropped(&env, "mvS1", &udp(own_mac, &other), "spoofed_ip");
    // Another MAC with another container's address.
    let forged = [0x02, 0, 0, 0, 0, 0x77];
    assert_dropped(&env, "mvS1", &udp(forged, &other), "spoofed_ip");
    // ARP claiming the other container's address.
    let arp = arp_request(own_mac, own_mac, parse_ipv4(&other), router);
    assert_dropped(&env, "mvS1", &arp, "spoofed_arp");

    // Its own frame passes, and is the only one the LAN saw.
    assert_eq!(send("mvS1", &udp(own_mac, &own), 1), 0, "its own frame");
    let seen = format!("udp {own}:4000 -> {LAN}.1:{PORT}");
    assert!(
        wait_for(Duration::from_secs(3), || sniff
            .lines()
            .iter()
            .any(|l| l == &seen)),
        "the container's own frame: {:?}",
        sniff.lines()
    );
    let leaked: Vec<String> = sniff
        .lines()
        .into_iter()
        .filter(|l| l.contains(&format!(":{PORT}")) && l != &seen)
        .collect();
    assert!(
        leaked.is_empty(),
        "spoofed frames reached the LAN: {leaked:?}"
    );

    // Real traffic of the containers and the host's own on the parent.
    assert!(ping("mvS1", &format!("{LAN}.1")), "mvS1 -> LAN");
    assert!(ping(&lan.ns, &other), "LAN -> mvS2");
    let host_ping = run(
        std::process::Command::new("ping").args(["-n", "-c", "1", "-W", "2", &format!("{LAN}.1")]),
        None,
        Duration::from_secs(10),
    );
    assert!(
        host_ping.status.success(),
        "the host's own traffic on the parent"
    );

    env.ok(&["container", "rm", "mvS1", "mvS2"]);
    env.ok(&["network", "rm", "mvs"]);
    let status = env.ok(&["status"]);
    assert!(
        !status.contains("lan_parent_egress on"),
        "the program outlived its network: {status}"
    );
    let pins = std::fs::read_dir(env.pin_dir.join("links"))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    assert!(
        !pins
            .iter()
            .any(|p| p.to_string_lossy().contains(&lan.parent)),
        "a link pin of the parent is left: {pins:?}"
    );
}
