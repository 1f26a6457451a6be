//! `uplink_ingress` on crafted frames (BPF_PROG_TEST_RUN, no network):
//! published ports, masquerade replies, and what must pass unchanged or drop.
//! Run as root: the tests fail (never skip) otherwise.

use ebpfnet_common::DropReason;
use ebpfnet_common::maps::{Forward, NatEntry, NatKind, PUBLISHED_ANY_IP, proto};
use ebpfnet_tests::packet::{
    IP_MF, Ipv4Builder, TCP_ACK, TCP_SYN, View, arp_request, assert_rewritten, ipv6_frame,
};
use ebpfnet_tests::testrun::{Datapath, TC_ACT_REDIRECT, TC_ACT_SHOT, TCX_NEXT, UPLINK_INGRESS};
use ebpfnet_tests::topology::{
    C2, C2_IFINDEX, C2_MAC, CLIENT, HOST, OUTSIDE as REMOTE, add_networks, flow,
    masquerade_reply_to_c2, target,
};
use ebpfnet_tests::{require_root, serial};

/// Without a ctx the test run's skb comes from `lo`, index 1: the uplink.
const UPLINK_IFINDEX: u32 = 1;

/// The shared topology; 203.0.113.1:8080/tcp → C2:80 and
/// 203.0.113.1:5353/udp → C2:53.
fn setup() -> Datapath {
    let mut dp = Datapath::load();
    add_networks(&mut dp, UPLINK_IFINDEX);
    dp.publish(HOST, 8080, proto::TCP, target(C2, 80, C2_IFINDEX, C2_MAC));
    dp.publish(HOST, 5353, proto::UDP, target(C2, 53, C2_IFINDEX, C2_MAC));
    dp
}

/// The frame `request` should become after DNAT to C2:`port`.
fn dnat(request: &Ipv4Builder, port: u16, build: impl Fn(&Ipv4Builder, u16) -> Vec<u8>) -> Vec<u8> {
    let mut b = request.clone();
    b.dst_ip = C2;
    b.dst_mac = C2_MAC;
    // Routed into the container: one hop less.
    b.ttl -= 1;
    build(&b, port)
}

fn expect_redirect(dp: &Datapath, frame: &[u8], expected: &[u8]) {
    let outcome = dp.run(UPLINK_INGRESS, frame, None);
    assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "expected TC_ACT_REDIRECT");
    assert_rewritten(&outcome.out, expected);
}

#[test]
fn published_tcp_syn_is_redirected_and_tracked() {
    let _g = serial();
    require_root();
    let mut dp = setup();
    let b = Ipv4Builder::new(CLIENT, HOST);
    let syn = b.tcp(40000, 8080, TCP_SYN);
    let expected = dnat(&b, 80, |b, p| b.tcp(40000, p, TCP_SYN));
    expect_redirect(&dp, &syn, &expected);
    let v = View(&expected);
    assert_eq!(
        (v.src_ip(), v.src_port(), v.dst_ip(), v.dst_port()),
        (CLIENT, 40000, C2, 80)
    );

    let request = dp
        .nat_get(&flow(CLIENT, 40000, HOST, 8080, proto::TCP))
        .expect("NAT_TCP holds the request key");
    assert_eq!(request.kind, NatKind::PublishedRequest as u8);
    assert_eq!(request.forward, Forward::Peer as u8);
    assert_eq!((request.new_src_ip, request.new_src_port), (CLIENT, 40000));
    assert_eq!((request.new_dst_ip, request.new_dst_port), (C2, 80));
    assert_eq!((request.ifindex, request.dst_mac), (C2_IFINDEX, C2_MAC));
    assert_eq!(request.tcp_flags & PUBLISHED_ANY_IP, 0);
    let reply = dp
        .nat_get(&flow(C2, 80, CLIENT, 40000, proto::TCP))
        .expect("NAT_TCP holds the reply key");
    assert_eq!(reply.kind, NatKind::PublishedReply as u8);
    assert_eq!(reply.forward, Forward::Neigh as u8);
    assert_eq!((reply.new_src_ip, reply.new_src_port), (HOST, 8080));
    assert_eq!((reply.new_dst_ip, reply.new_dst_port), (CLIENT, 40000));
    assert_eq!(reply.ifindex, UPLINK_IFINDEX);

    // The next segment of the flow goes through the entry the same way.
    let ack = b.tcp(40000, 8080, TCP_ACK);
    expect_redirect(&dp, &ack, &dnat(&b, 80, |b, p| b.tcp(40000, p, TCP_ACK)));
    let request = dp
        .nat_get(&flow(CLIENT, 40000, HOST, 8080, proto::TCP))
        .unwrap();
    assert_eq!(request.packets, 1, "the tracked packet was not counted");
}

#[test]
fn wildcard_mapping_only_on_host_addresses() {
    let _g = serial();
    require_root();
    let mut dp = setup();
    dp.publish([0; 4], 9090, proto::TCP, target(C2, 80, C2_IFINDEX, C2_MAC));
    let b = Ipv4Builder::new(CLIENT, HOST);
    let expected = dnat(&b, 80, |b, p| b.tcp(40001, p, TCP_SYN));
    expect_redirect(&dp, &b.tcp(40001, 9090, TCP_SYN), &expected);
    let request = dp
        .nat_get(&flow(CLIENT, 40001, HOST, 9090, proto::TCP))
        .unwrap();
    assert_ne!(
        request.tcp_flags & PUBLISHED_ANY_IP,
        0,
        "PUBLISHED_ANY_IP not set"
    );

    // Not an address of this host: routed on, never translated.
    let elsewhere = Ipv4Builder::new(CLIENT, [198, 51, 100, 7]).tcp(40002, 9090, TCP_SYN);
    dp.expect_pass(UPLINK_INGRESS, &elsewhere, None);
    assert!(
        dp.nat_get(&flow(CLIENT, 40002, [198, 51, 100, 7], 9090, proto::TCP))
            .is_none()
    );
}

#[test]
fn published_with_ip_options() {
    let _g = serial();
    require_root();
    let dp = setup();
    // IHL 6 (NOP NOP NOP EOL) and IHL 7 (a record-route option, 8 bytes).
    for (port, options) in [
        (40010, &[1u8, 1, 1, 0][..]),
        (40011, &[7, 7, 4, 0, 0, 0, 0, 0]),
    ] {
        let b = Ipv4Builder::new(CLIENT, HOST).options(options);
        let expected = dnat(&b, 80, |b, p| b.tcp(port, p, TCP_SYN));
        expect_redirect(&dp, &b.tcp(port, 8080, TCP_SYN), &expected);
        let expected = dnat(&b, 53, |b, p| b.udp(port, p, b"query", true));
        expect_redirect(&dp, &b.udp(port, 5353, b"query", true), &expected);
    }
}

#[test]
fn published_udp_with_and_without_checksum() {
    let _g = serial();
    require_root();
    let dp = setup();
    let b = Ipv4Builder::new(CLIENT, HOST);
    for (port, with_csum) in [(40020, true), (40021, false)] {
        let frame = b.udp(port, 5353, b"query", with_csum);
        let expected = dnat(&b, 53, |b, p| b.udp(port, p, b"query", with_csum));
        // `assert_rewritten` requires a zero checksum to stay zero.
        expect_redirect(&dp, &frame, &expected);
    }
}

#[test]
fn truncated_tcp_to_published_port_is_never_rewritten() {
    let _g = serial();
    require_root();
    let mut dp = setup();
    let b = Ipv4Builder::new(CLIENT, HOST);
    let full = b.tcp(40030, 8080, TCP_SYN);
    // Cut after the IP header, total length still claiming the segment.
    let cut = full[..34].to_vec();
    // Consistent total lengths: no L4 at all, and the ports alone.
    let bare = b.ipv4(proto::TCP, &[]);
    let ports_only = b.ipv4(proto::TCP, &full[34..38]);
    for (what, frame) in [("cut", cut), ("bare", bare), ("ports only", ports_only)] {
        let outcome = dp.run(UPLINK_INGRESS, &frame, None);
        assert!(
            outcome.verdict == TCX_NEXT && outcome.out == frame || outcome.verdict == TC_ACT_SHOT,
            "truncated TCP ({what}): verdict {} (out == in: {})",
            outcome.verdict as i32,
            outcome.out == frame
        );
    }
    assert_eq!(dp.nat_len(), 0, "a truncated segment created NAT entries");
}

/// An 8-byte TCP header by the IP total length, followed by Ethernet
/// padding to 60 bytes (what a NIC delivers for a short frame): the bytes
/// after the IP packet are not a TCP header and must not be rewritten.
#[test]
fn short_tcp_header_in_padded_frame_is_never_rewritten() {
    let _g = serial();
    require_root();
    let mut dp = setup();
    let b = Ipv4Builder::new(CLIENT, HOST);
    let full = b.tcp(40031, 8080, TCP_SYN);
    let mut padded = b.ipv4(proto::TCP, &full[34..42]);
    padded.resize(60, 0);
    let outcome = dp.run(UPLINK_INGRESS, &padded, None);
    assert!(
        outcome.verdict == TCX_NEXT && outcome.out == padded || outcome.verdict == TC_ACT_SHOT,
        "8-byte TCP header + padding: verdict {} (out == in: {}); bytes 50..52 (padding) \
         now {:02x?}",
        outcome.verdict as i32,
        outcome.out == padded,
        &outcome.out[50..52]
    );
    assert_eq!(dp.nat_len(), 0, "a truncated segment created NAT entries");
}

#[test]
fn bad_version_or_ihl_passes_unchanged() {
    let _g = serial();
    require_root();
    let dp = setup();
    let b = Ipv4Builder::new(CLIENT, HOST);
    for byte in [0x65, 0x55, 0x05, 0x44, 0x40] {
        let frame = b.clone().version_ihl(byte).tcp(40040, 8080, TCP_SYN);
        dp.expect_pass(UPLINK_INGRESS, &frame, None);
    }
}

#[test]
fn later_fragments_of_unknown_datagrams_to_containers_drop_to_host_pass() {
    let _g = serial();
    require_root();
    let dp = setup();
    // No first fragment was translated for these: their ports are unknown.
    for frag in [0x0010, IP_MF | 0x0010] {
        let to_c2 = Ipv4Builder::new(CLIENT, C2)
            .frag(frag)
            .udp(40050, 53, b"x", true);
        dp.expect_drop(UPLINK_INGRESS, &to_c2, None, DropReason::Fragment);
        let to_host = Ipv4Builder::new(CLIENT, HOST)
            .frag(frag)
            .udp(40050, 5353, b"x", true);
        dp.expect_pass(UPLINK_INGRESS, &to_host, None);
    }
    // A first fragment carries its ports: straight to a container address
    // it is as unsolicited as a whole packet.
    let first = Ipv4Builder::new(CLIENT, C2)
        .frag(IP_MF)
        .udp(40050, 53, b"x", true);
    dp.expect_drop(UPLINK_INGRESS, &first, None, DropReason::Unsolicited);
}

#[test]
fn loopback_destination_is_dropped() {
    let _g = serial();
    require_root();
    let mut dp = setup();
    dp.publish(
        [127, 0, 0, 1],
        8081,
        proto::TCP,
        target(C2, 80, C2_IFINDEX, C2_MAC),
    );
    for dst in [[127, 0, 0, 1], [127, 1, 2, 3]] {
        let frame = Ipv4Builder::new(CLIENT, dst).tcp(40060, 8081, TCP_SYN);
        dp.expect_drop(UPLINK_INGRESS, &frame, None, DropReason::LoopbackFromUplink);
    }
    assert_eq!(dp.nat_len(), 0);
}

#[test]
fn unsolicited_to_container_dropped_masquerade_reply_redirected() {
    let _g = serial();
    require_root();
    let mut dp = setup();
    let direct = Ipv4Builder::new(CLIENT, C2).tcp(40070, 80, TCP_SYN);
    dp.expect_drop(UPLINK_INGRESS, &direct, None, DropReason::Unsolicited);

    // C2:45678 → REMOTE:443 left as HOST:61000; REMOTE answers.
    let entry = masquerade_reply_to_c2(REMOTE, 443, 45678, C2_IFINDEX);
    dp.nat_insert(flow(REMOTE, 443, HOST, 61000, proto::TCP), entry);
    let b = Ipv4Builder::new(REMOTE, HOST);
    let expected = dnat(&b, 45678, |b, p| b.tcp(443, p, TCP_SYN | TCP_ACK));
    expect_redirect(&dp, &b.tcp(443, 61000, TCP_SYN | TCP_ACK), &expected);
    let seen = dp
        .nat_get(&flow(REMOTE, 443, HOST, 61000, proto::TCP))
        .unwrap();
    assert_eq!(seen.packets, 1);

    // ICMP echo reply of a masqueraded ping: identifier 61001 back to 7.
    let entry = NatEntry {
        new_src_port: 7,
        new_dst_port: 7,
        kind: NatKind::MasqueradeReply as u8,
        ..entry
    };
    dp.nat_insert(flow(REMOTE, 61001, HOST, 61001, proto::ICMP), entry);
    let expected = dnat(&b, 7, |b, id| b.icmp_echo(0, id, 1));
    expect_redirect(&dp, &b.icmp_echo(0, 61001, 1), &expected);
}

#[test]
fn non_ipv4_passes_unchanged() {
    let _g = serial();
    require_root();
    let dp = setup();
    let arp = arp_request(
        [0x02, 0, 0, 0, 0, 0xaa],
        [0x02, 0, 0, 0, 0, 0xaa],
        CLIENT,
        HOST,
    );
    dp.expect_pass(UPLINK_INGRESS, &arp, None);
    dp.expect_pass(
        UPLINK_INGRESS,
        &ipv6_frame([0x02, 0, 0, 0, 0, 0xaa], C2_MAC),
        None,
    );
}
