//! IPv6 anti-spoofing on macvlan networks: `lan_parent_egress` on the
//! parent drops what a container sends to the LAN from an IPv6 address
//! that is not its own (global or link-local), another container's address
//! from any MAC, neighbour discovery that claims another's address or MAC,
//! and router advertisements and redirects; the containers' own IPv6 (and
//! their neighbour discovery) passes. Real frames from a raw socket in the
//! container, a sniffer on the LAN's side.

use std::net::Ipv6Addr;
use std::time::Duration;

use ebpfnet_tests::lan::{DualStackLan, assert_dropped, send};
use ebpfnet_tests::packet6::*;
use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;

const LAN4: &str = "192.0.2";
const LAN6: &str = "2001:db8:e9::";

/// Prints each ICMPv6 message on ARGV[1]: `icmp6 SRC TYPE X`, X the
/// target of neighbour discovery and the MAC of its first option (`-`
/// without one), the echo identifier otherwise.
const SNIFF6: &str = r#"
import socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 0))
print("ready", flush=True)
while True:
    d, a = s.recvfrom(65535)
    if a[2] == 4 or len(d) < 62 or d[12:14] != b"\x86\xdd" or d[20] != 58:
        continue
    src = socket.inet_ntop(socket.AF_INET6, d[22:38])
    t = d[54]
    if t in (135, 136, 137) and len(d) >= 78:
        x = socket.inet_ntop(socket.AF_INET6, d[62:78])
        x += " " + (d[80:86].hex(":") if len(d) >= 86 else "-")
    else:
        x = str(struct.unpack("!H", d[58:60])[0])
    print("icmp6 %s %d %s" % (src, t, x), flush=True)
"#;

fn v6(text: &str) -> [u8; 16] {
    text.parse::<Ipv6Addr>()
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .octets()
}

/// An echo request with identifier `id`.
fn echo(macs: ([u8; 6], [u8; 6]), src: [u8; 16], dst: [u8; 16], id: u16) -> Vec<u8> {
    let mut body = id.to_be_bytes().to_vec();
    body.extend_from_slice(&[0, 1]);
    icmpv6_frame(macs, src, dst, ICMPV6_ECHO_REQUEST, &body, false)
}

#[test]
fn a_macvlan_container_speaks_ipv6_as_itself_only() {
    let env = TestEnv::new("mvspoof6");
    let plan = DualStackLan {
        lan4: LAN4,
        lan6: LAN6,
    };
    let lan = plan.segment();
    let gateway6 = format!("{LAN6}1");
    plan.create_network(&env, "mvs6", &lan.parent, &["-d", "macvlan"]);
    env.create_container("mvA6", &["--network", "mvs6"]);
    env.create_container("mvB6", &["--network", "mvs6"]);
    let a6 = v6(&ipv6::v6_of(&env, "mvA6", "mvs6").0);
    let b6_text = ipv6::v6_of(&env, "mvB6", "mvs6").0;
    let b6 = v6(&b6_text);
    let (mac_a, mac_b) = (
        mac_bytes(&netns_mac("mvA6", "eth0")),
        mac_bytes(&netns_mac("mvB6", "eth0")),
    );
    let router = v6(&gateway6);
    let router_mac = mac_bytes(&netns_mac(&lan.ns, "eth0"));
    let sniff = record(Some(&lan.ns), &[python(), "-c", SNIFF6, "eth0"], true);
    let to_router = (mac_a, router_mac);
    let all_nodes = (mac_a, multicast_mac(ALL_NODES));

    // Sources not its own: an unassigned global address, the other
    // container's global and link-local addresses; and the other's global
    // address from a MAC that is nobody's.
    let unassigned = v6(&format!("{LAN6}99"));
    assert_dropped(
        &env,
        "mvA6",
        &echo(to_router, unassigned, router, 0x5101),
        "spoofed_ip",
    );
    assert_dropped(
        &env,
        "mvA6",
        &echo(to_router, b6, router, 0x5102),
        "spoofed_ip",
    );
    let b_link = link_local(mac_b);
    assert_dropped(
        &env,
        "mvA6",
        &echo(to_router, b_link, router, 0x5103),
        "spoofed_ip",
    );
    let forged = [0x02, 0, 0, 0, 0, 0x77];
    assert_dropped(
        &env,
        "mvA6",
        &echo((forged, router_mac), b6, router, 0x5104),
        "spoofed_ip",
    );

    // Neighbour discovery claiming the other's address, or its own with
    // the other's MAC; a duplicate-address probe for the other's address.
    let a_link = link_local(mac_a);
    let na = |target, mac| {
        let body = neighbor_body(0x20, target, Some((2, mac)));
        icmpv6_frame(
            all_nodes,
            a_link,
            ALL_NODES,
            ICMPV6_NEIGHBOR_ADVERTISEMENT,
            &body,
            false,
        )
    };
    assert_dropped(&env, "mvA6", &na(b6, mac_a), "spoofed_neighbor");
    assert_dropped(&env, "mvA6", &na(a6, mac_b), "spoofed_neighbor");
    let probe = icmpv6_frame(
        (mac_a, multicast_mac(solicited_node(b6))),
        [0; 16],
        solicited_node(b6),
        ICMPV6_NEIGHBOR_SOLICITATION,
        &neighbor_body(0, b6, None),
        false,
    );
    assert_dropped(&env, "mvA6", &probe, "spoofed_neighbor");

    // Router advertisements and redirects, also behind a Hop-by-Hop header.
    let ra = router_advertisement([0x20, 0x01, 0x0d, 0xb8, 0, 0x66, 0, 0]);
    for hop_by_hop in [false, true] {
        let frame = icmpv6_frame(
            all_nodes,
            a_link,
            ALL_NODES,
            ICMPV6_ROUTER_ADVERTISEMENT,
            &ra,
            hop_by_hop,
        );
        assert_dropped(&env, "mvA6", &frame, "router_advertisement");
    }
    let redirect = icmpv6_frame(to_router, a_link, router, ICMPV6_REDIRECT, &[0; 36], false);
    assert_dropped(&env, "mvA6", &redirect, "router_advertisement");

    // Its own frames pass: from its global and link-local addresses, and
    // an advertisement of its own address with its own MAC.
    assert_eq!(send("mvA6", &echo(to_router, a6, router, 0x5201), 1), 0);
    assert_eq!(send("mvA6", &echo(to_router, a_link, router, 0x5202), 1), 0);
    assert_eq!(send("mvA6", &na(a6, mac_a), 1), 0);
    let (a6_text, a_link_text) = (
        Ipv6Addr::from(a6).to_string(),
        Ipv6Addr::from(a_link).to_string(),
    );
    let (a_mac_text, b_mac_text) = (netns_mac("mvA6", "eth0"), netns_mac("mvB6", "eth0"));
    let expected = [
        format!("icmp6 {a6_text} 128 {}", 0x5201),
        format!("icmp6 {a_link_text} 128 {}", 0x5202),
        format!("icmp6 {a_link_text} 136 {a6_text} {a_mac_text}"),
    ];
    assert!(
        wait_for(Duration::from_secs(3), || {
            let seen = sniff.lines();
            expected.iter().all(|e| seen.contains(e))
        }),
        "the container's own frames: {:?}",
        sniff.lines()
    );
    let spoofed_ids: Vec<String> = (0x5101u16..=0x5104).map(|id| id.to_string()).collect();
    let leaked: Vec<String> = sniff
        .lines()
        .into_iter()
        .filter(|l| match l.split(' ').collect::<Vec<_>>()[..] {
            ["icmp6", _, "128", id] => spoofed_ids.iter().any(|s| s == id),
            ["icmp6", _, "134" | "137", ..] => true,
            ["icmp6", _, "136", target, mac] => {
                (target == b6_text && mac == a_mac_text) || (target == a6_text && mac == b_mac_text)
            }
            ["icmp6", "::", "135", target, _] => target == b6_text,
            _ => false,
        })
        .collect();
    assert!(
        leaked.is_empty(),
        "spoofed frames reached the LAN: {leaked:?}"
    );

    // Real IPv6 both ways: neighbour discovery and echo.
    assert!(ipv6::ping6("mvA6", &gateway6), "mvA6 -> LAN over IPv6");
    assert!(ipv6::ping6(&lan.ns, &b6_text), "LAN -> mvB6 over IPv6");
}
