//! IPv6 published ports on crafted frames (BPF_PROG_TEST_RUN, no daemon),
//! with `container_ingress6` and `uplink_ingress6` in their `TAIL_CALLS`
//! slots as the daemon puts them: only a flow's first packet (a SYN, a
//! datagram) to a published host address opens a flow, with the client's
//! address kept, the hop limit decremented and the checksum right; a
//! mapping on one address answers only there; replies leave as the
//! published address, and a router's "packet too big" about one reaches
//! the container; a forged reset is refused; containers reach other
//! networks only through a published port, and their own from their
//! gateway; a hop limit of 1 is answered "time exceeded" both ways; an
//! `--internal` network reaches no published port. Run as root: the
//! tests fail (never skip) otherwise.

use ebpfnet_common::DropReason;
use ebpfnet_common::maps::{NETWORK_INTERNAL, NatKind};
use ebpfnet_common::published6::PublishedValue6;
use ebpfnet_tests::packet::internet_checksum;
use ebpfnet_tests::packet6::icmpv6_frame;
use ebpfnet_tests::packet6_l4::{ACK, RST, SYN, TCP, UDP, View6, tcp6, udp6};
use ebpfnet_tests::testrun::{CONTAINER_INGRESS, Datapath, TC_ACT_REDIRECT, UPLINK_INGRESS};
use ebpfnet_tests::topology::{C2_MAC, C3_IFINDEX, C3_MAC, GW_MAC, with_uplink};

const fn v6(prefix: [u8; 4], host: u8) -> [u8; 16] {
    let mut ip = [0u8; 16];
    ip[0] = prefix[0];
    ip[1] = prefix[1];
    ip[2] = prefix[2];
    ip[3] = prefix[3];
    ip[15] = host;
    ip
}
/// Network 1 (C2, C3) is fd00:e100::/64, network 2 fd00:e200::/64.
const NET1: [u8; 4] = [0xfd, 0, 0xe1, 0];
const NET2: [u8; 4] = [0xfd, 0, 0xe2, 0];
const C2_V6: [u8; 16] = v6(NET1, 2);
const C3_V6: [u8; 16] = v6(NET1, 3);
const GATEWAY1: [u8; 16] = v6(NET1, 1);
const OTHER_NETWORK: [u8; 16] = v6(NET2, 7);
/// The host's IPv6 addresses, and a client beyond the uplink.
const HOST6: [u8; 16] = v6([0x20, 0x01, 0x0d, 0xb8], 1);
const HOST6_B: [u8; 16] = v6([0x20, 0x01, 0x0d, 0xb8], 5);
const CLIENT6: [u8; 16] = v6([0x20, 0x01, 0x0d, 0xb8], 9);
const OUTSIDE_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 9];

/// IPv6 networks 1 and 2; C2 behind `d0` on network 1, C3 beside it;
/// `[::]:8080/tcp` leads to C2:80, `[HOST6_B]:5353/udp` to C3:53,
/// `[::]:7070/tcp` to C2:70; the IPv6 programs in their slots.
fn setup(dp: &mut Datapath, d0: u32) {
    for (id, prefix) in [(1, NET1), (2, NET2)] {
        dp.add_plain_network6(id, v6(prefix, 0), v6(prefix, 1));
    }
    dp.add_container6(d0, C2_V6, C2_MAC);
    dp.add_endpoint_ip6(C3_V6, C3_IFINDEX, C3_MAC);
    dp.add_host_addr6(HOST6, 7);
    dp.add_host_addr6(HOST6_B, 7);
    dp.publish6(
        [0; 16],
        8080,
        TCP,
        PublishedValue6::new(C2_V6, 80, d0, C2_MAC),
    );
    dp.publish6(
        [0; 16],
        7070,
        TCP,
        PublishedValue6::new(C2_V6, 70, d0, C2_MAC),
    );
    dp.publish6(
        HOST6_B,
        5353,
        UDP,
        PublishedValue6::new(C3_V6, 53, C3_IFINDEX, C3_MAC),
    );
    dp.fill_tail_calls();
}

fn from_outside(dst: [u8; 16], dport: u16, flags: u8, seq_ack: (u32, u32), hops: u8) -> Vec<u8> {
    tcp6(
        (OUTSIDE_MAC, GW_MAC),
        (CLIENT6, dst),
        (40000, dport),
        flags,
        seq_ack,
        hops,
    )
}

/// A SYN from C2 port 41000 to `dst:dport`.
fn c2_syn(dst: [u8; 16], dport: u16) -> Vec<u8> {
    tcp6(
        (C2_MAC, GW_MAC),
        (C2_V6, dst),
        (41000, dport),
        SYN,
        (7, 0),
        64,
    )
}

/// C2's SYN-ACK from port `sport` to `peer` (sequence and
/// acknowledgement numbers `nums`) through `container_ingress` on `d0`:
/// redirected (`what` names it); the frame that leaves.
#[track_caller]
fn c2_syn_ack(
    dp: &Datapath,
    d0: u32,
    (sport, (peer, dport)): (u16, ([u8; 16], u16)),
    nums: (u32, u32),
    what: &str,
) -> Vec<u8> {
    let macs = (C2_MAC, GW_MAC);
    let reply = tcp6(macs, (C2_V6, peer), (sport, dport), SYN | ACK, nums, 64);
    let outcome = dp.run(CONTAINER_INGRESS, &reply, Some(d0));
    assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "{what}");
    outcome.out
}

#[test]
fn only_a_first_packet_to_a_published_address_opens_a_flow() {
    with_uplink(0, |dp, d0, uplink| {
        setup(dp, d0);
        // A stray ACK is the host's to answer; a hop limit of 1 starts
        // nothing: "time exceeded" goes back out from the published address.
        dp.expect_pass(
            UPLINK_INGRESS,
            &from_outside(HOST6, 8080, ACK, (1, 1), 64),
            Some(uplink),
        );
        let expired = dp.drops(DropReason::TtlExceeded);
        let probe = from_outside(HOST6, 8080, SYN, (1000, 0), 1);
        let outcome = dp.run(UPLINK_INGRESS, &probe, Some(uplink));
        assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "time exceeded goes out");
        assert_time_exceeded(&outcome.out, (HOST6, CLIENT6), OUTSIDE_MAC);
        assert_eq!(dp.drops(DropReason::TtlExceeded), expired + 1);
        assert!(dp.nat6_entries().is_empty(), "state from no SYN");
        // A port not published, an address not the host's: untouched.
        dp.expect_pass(
            UPLINK_INGRESS,
            &from_outside(HOST6, 8081, SYN, (1000, 0), 64),
            Some(uplink),
        );
        dp.expect_pass(
            UPLINK_INGRESS,
            &from_outside(CLIENT6, 8080, SYN, (1000, 0), 64),
            Some(uplink),
        );
        // The SYN: into C2, its source kept, one hop less, checksum right.
        let syn = from_outside(HOST6, 8080, SYN, (1000, 0), 64);
        let outcome = dp.run(UPLINK_INGRESS, &syn, Some(uplink));
        assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "SYN to [HOST6]:8080");
        let out = View6(&outcome.out);
        assert_eq!((out.src_ip(), out.src_port()), (CLIENT6, 40000));
        assert_eq!((out.dst_ip(), out.dst_port()), (C2_V6, 80));
        assert_eq!((out.dst_mac(), out.hop_limit()), (C2_MAC, 63));
        assert!(out.l4_checksum_ok(), "TCP checksum after DNAT");
        let kinds: Vec<u8> = dp.nat6_entries().iter().map(|(_, e)| e.kind).collect();
        assert_eq!(kinds.len(), 2, "both directions");
        assert!(kinds.contains(&(NatKind::PublishedRequest as u8)));
        assert!(kinds.contains(&(NatKind::PublishedReply as u8)));

        // C2's SYN-ACK leaves as [HOST6]:8080, checksum right.
        let reply = c2_syn_ack(dp, d0, (80, (CLIENT6, 40000)), (5000, 1001), "reply");
        let out = View6(&reply);
        assert_eq!((out.src_ip(), out.src_port()), (HOST6, 8080));
        assert_eq!((out.dst_ip(), out.dst_port()), (CLIENT6, 40000));
        assert_eq!(out.hop_limit(), 63);
        assert!(
            out.l4_checksum_ok(),
            "TCP checksum after the reverse rewrite"
        );
        // A reset far outside the window is refused; one in it goes in.
        dp.expect_drop(
            UPLINK_INGRESS,
            &from_outside(HOST6, 8080, RST | ACK, (900_000_000, 5001), 64),
            Some(uplink),
            DropReason::TcpOutOfWindow,
        );
        let outcome = dp.run(
            UPLINK_INGRESS,
            &from_outside(HOST6, 8080, RST | ACK, (1001, 5001), 64),
            Some(uplink),
        );
        assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "reset in the window");
    });
}

#[test]
fn a_mapping_on_one_address_answers_only_there() {
    with_uplink(0, |dp, d0, uplink| {
        setup(dp, d0);
        let query = |dst| {
            udp6(
                (OUTSIDE_MAC, GW_MAC),
                (CLIENT6, dst),
                (40001, 5353),
                b"q",
                64,
            )
        };
        dp.expect_pass(UPLINK_INGRESS, &query(HOST6), Some(uplink));
        let outcome = dp.run(UPLINK_INGRESS, &query(HOST6_B), Some(uplink));
        assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "[HOST6_B]:5353/udp");
        let out = View6(&outcome.out);
        assert_eq!(
            (out.dst_ip(), out.dst_port(), out.dst_mac()),
            (C3_V6, 53, C3_MAC)
        );
        assert_eq!(out.src_ip(), CLIENT6);
        assert!(out.l4_checksum_ok(), "UDP checksum after DNAT");
    });
}

#[test]
fn containers_cross_networks_only_through_published_ports() {
    with_uplink(0, |dp, d0, _uplink| {
        setup(dp, d0);
        let from_c2 = c2_syn;
        // Another network's container: refused, whatever the port.
        dp.expect_drop(
            CONTAINER_INGRESS,
            &from_c2(OTHER_NETWORK, 80),
            Some(d0),
            DropReason::Isolation,
        );
        // Its own published port through a host address: from its gateway.
        let outcome = dp.run(CONTAINER_INGRESS, &from_c2(HOST6, 7070), Some(d0));
        assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "hairpin to itself");
        let out = View6(&outcome.out);
        assert_eq!((out.src_ip(), out.src_port()), (GATEWAY1, 41000));
        assert_eq!(
            (out.dst_ip(), out.dst_port(), out.dst_mac()),
            (C2_V6, 70, C2_MAC)
        );
        assert!(out.l4_checksum_ok(), "hairpin checksum");
        // Its reply to the gateway comes back as the published address.
        let reply = c2_syn_ack(dp, d0, (70, (GATEWAY1, 41000)), (9, 8), "hairpin reply");
        let out = View6(&reply);
        assert_eq!((out.src_ip(), out.src_port()), (HOST6, 7070));
        assert_eq!((out.dst_ip(), out.dst_port()), (C2_V6, 41000));
        // Unpublished ports of the gateway are the host's.
        dp.expect_pass(CONTAINER_INGRESS, &from_c2(GATEWAY1, 22), Some(d0));
        // A hop limit of 1 to a published port: "time exceeded" from the
        // gateway, back into the container; no flow.
        let flows = dp.nat6_entries().len();
        let mut probe = from_c2(HOST6, 8080);
        probe[14 + 7] = 1;
        let outcome = dp.run(CONTAINER_INGRESS, &probe, Some(d0));
        assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "time exceeded goes in");
        assert_time_exceeded(&outcome.out, (GATEWAY1, C2_V6), C2_MAC);
        assert_eq!(dp.nat6_entries().len(), flows, "a flow from hop limit 1");
    });
}

#[test]
fn internal_networks_reach_no_published_port() {
    with_uplink(NETWORK_INTERNAL, |dp, d0, _uplink| {
        setup(dp, d0);
        // The gateway is a host address as well (the daemon lists it).
        dp.add_host_addr6(GATEWAY1, 101);
        let syn = c2_syn;
        // As Docker's internal-network rules drop what its DNAT sends out
        // of the internal bridge: every host address, the gateway too.
        for host in [HOST6, HOST6_B, GATEWAY1] {
            dp.expect_drop(
                CONTAINER_INGRESS,
                &syn(host, 8080),
                Some(d0),
                DropReason::InternalNetwork,
            );
        }
        assert!(
            dp.nat6_entries().is_empty(),
            "a flow from an internal network"
        );
        // The host's own ports on the gateway stay reachable.
        dp.expect_pass(CONTAINER_INGRESS, &syn(GATEWAY1, 22), Some(d0));
    });
}

/// An ICMPv6 "time exceeded in transit" (type 3, code 0) from `ips.0` to
/// `ips.1` (Ethernet to `mac`), checksum right, quoting the probe.
#[track_caller]
fn assert_time_exceeded(frame: &[u8], ips: ([u8; 16], [u8; 16]), mac: [u8; 6]) {
    let out = View6(frame);
    assert_eq!(
        (out.src_ip(), out.dst_ip(), out.dst_mac()),
        (ips.0, ips.1, mac)
    );
    assert_eq!(frame[14 + 6], 58, "next header: ICMPv6");
    assert_eq!(&frame[54..56], &[3, 0], "type and code");
    assert!(icmpv6_checksum_ok(frame), "ICMPv6 checksum");
    // The quote is the probe's IPv6 header: its source is the receiver.
    assert_eq!(&frame[62 + 8..62 + 24], &ips.1, "quoted source");
}

/// The ICMPv6 checksum of the message in `frame` holds over its
/// pseudo-header (RFC 4443 §2.3).
fn icmpv6_checksum_ok(frame: &[u8]) -> bool {
    let ip = &frame[14..];
    let len = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
    let words = ip[8..40]
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum::<u32>();
    internet_checksum(&ip[40..40 + len], words + len as u32 + 58) == 0
}

#[test]
fn packet_too_big_about_a_published_reply_reaches_the_container() {
    with_uplink(0, |dp, d0, uplink| {
        setup(dp, d0);
        let syn = from_outside(HOST6, 8080, SYN, (1000, 0), 64);
        let outcome = dp.run(UPLINK_INGRESS, &syn, Some(uplink));
        assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "SYN");
        // A router on the path quotes the reply as it left the host.
        let left = tcp6(
            (GW_MAC, OUTSIDE_MAC),
            (HOST6, CLIENT6),
            (8080, 40000),
            SYN | ACK,
            (5000, 1001),
            63,
        );
        let mut body = 1280u32.to_be_bytes().to_vec();
        body.extend_from_slice(&left[14..]);
        let router = v6([0x20, 0x01, 0x0d, 0xb8], 0xfe);
        let error = icmpv6_frame((OUTSIDE_MAC, GW_MAC), router, HOST6, 2, &body, false);
        let outcome = dp.run(UPLINK_INGRESS, &error, Some(uplink));
        assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "packet too big");
        let out = &outcome.out;
        assert_eq!(View6(out).dst_ip(), C2_V6, "outer destination");
        assert_eq!(View6(out).dst_mac(), C2_MAC);
        assert!(icmpv6_checksum_ok(out), "ICMPv6 checksum");
        // The quote now reads as C2 sent it.
        let mut quoted = out[..14].to_vec();
        quoted.extend_from_slice(&out[14 + 48..]);
        let quote = View6(&quoted);
        assert_eq!((quote.src_ip(), quote.src_port()), (C2_V6, 80));
        assert_eq!((quote.dst_ip(), quote.dst_port()), (CLIENT6, 40000));
        assert!(quote.l4_checksum_ok(), "quoted TCP checksum");
    });
}
