//! ICMP errors about IPv4 clients' flows into an IPv6-only container
//! (`nat46_icmp`) on crafted frames (BPF_PROG_TEST_RUN, no daemon): an
//! ICMPv6 error from the container reaches the client as the ICMPv4 error
//! RFC 7915 maps it to, from the published address, quoting the client's
//! own packet byte for byte (its L4 checksum restored); an ICMPv4 error
//! from a router or the client reaches the container as ICMPv6, from the
//! sender's embedded address, quoting the container's own packet; every
//! checksum verifies independently; what RFC 7915 does not translate is
//! dropped, and an error about no flow is left to the host.
//! Run as root: the tests fail (never skip) otherwise.

use ebpfnet_common::DropReason;
use ebpfnet_common::nat46;
use ebpfnet_tests::packet::{ETH_LEN, Ipv4Builder, TCP, TCP_ACK, TCP_SYN, UDP, View};
use ebpfnet_tests::packet_icmp::{icmp_error, mtu_word};
use ebpfnet_tests::packet6_l4::udp6;
use ebpfnet_tests::packet46_icmp::{icmp4_of, icmp6_error, icmp6_of};
use ebpfnet_tests::testrun::{CONTAINER_INGRESS, Datapath, TC_ACT_REDIRECT, UPLINK_INGRESS};
use ebpfnet_tests::topology::{C2_MAC, CLIENT, GW_MAC, HOST, with_uplink};
use ebpfnet_tests::topology46::{C2_V6, c2_syn_ack, client, setup};

/// A router between the host and the client.
const ROUTER: [u8; 4] = [198, 51, 100, 1];

type Head = (u8, u8, [u8; 4]);

/// Runs `frame` through `program` (on `ifindex`): it must be redirected.
fn redirected(dp: &Datapath, program: &str, frame: &[u8], ifindex: u32) -> Vec<u8> {
    let outcome = dp.run(program, frame, Some(ifindex));
    assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "{program}: {frame:02x?}");
    outcome.out
}

#[test]
fn container_errors_reach_the_client_as_icmpv4() {
    with_uplink(0, |dp, d0, uplink| {
        setup(dp, d0);
        let me6 = nat46::client6(CLIENT);
        let syn = client().tcp_seq(40000, 8090, TCP_SYN, 1000, 0);
        // What C2 got; its errors quote it.
        let got = redirected(dp, UPLINK_INGRESS, &syn, uplink);
        let error = |(kind, code, rest): Head, quote: usize| {
            icmp6_error(
                (C2_MAC, GW_MAC),
                (C2_V6, me6),
                (kind, code, rest),
                &got,
                quote,
            )
        };
        let word = |n: u32| n.to_be_bytes();
        let cases: [(Head, Head); 8] = [
            ((1, 4, [0; 4]), (3, 3, [0; 4])),
            ((1, 0, [0; 4]), (3, 1, [0; 4])),
            ((1, 1, [0; 4]), (3, 10, [0; 4])),
            ((2, 0, word(1400)), (3, 4, mtu_word(1380))),
            ((2, 0, word(1 << 20)), (3, 4, mtu_word(65535))),
            ((3, 0, [0; 4]), (11, 0, [0; 4])),
            // A problem at the hop limit (7) is one at the TTL (8).
            ((4, 0, word(7)), (12, 0, [8, 0, 0, 0])),
            ((4, 1, word(6)), (3, 2, [0; 4])),
        ];
        for (six, four) in cases {
            let frame = error(six, 1232);
            let out = redirected(dp, CONTAINER_INGRESS, &frame, d0);
            assert_eq!(out.len(), frame.len() - 40, "{six:?}: 40 bytes less");
            assert_eq!(out[ETH_LEN + 8], 63, "{six:?}: one hop less");
            let t = icmp4_of(&out, HOST, CLIENT);
            assert_eq!((t.kind, t.code, t.rest), four, "ICMPv6 {six:?}");
            // The client's own segment: its header's fields, and its TCP
            // header and data byte for byte, checksum included.
            let sent = &syn[ETH_LEN..];
            assert_eq!(&t.quoted_ip[12..20], &sent[12..20], "{six:?}: addresses");
            assert_eq!((t.quoted_ip[9], &t.quoted_ip[2..4]), (TCP, &sent[2..4]));
            assert_eq!(t.quoted_l4, View(&syn).l4(), "{six:?}: quoted segment");
        }
        // A short quote (8 bytes of TCP: no checksum to restore).
        let out = redirected(dp, CONTAINER_INGRESS, &error((1, 4, [0; 4]), 48), d0);
        let t = icmp4_of(&out, HOST, CLIENT);
        assert_eq!(t.quoted_l4, View(&syn).l4()[..8], "short quote");
        // What RFC 7915 does not translate is dropped, not passed on.
        for six in [
            (1, 5, [0; 4]),
            (4, 2, word(40)),
            (4, 0, word(2)),
            (4, 0, word(41)),
        ] {
            dp.expect_drop(
                CONTAINER_INGRESS,
                &error(six, 1232),
                Some(d0),
                DropReason::Untranslatable,
            );
        }

        // UDP: a datagram to a port the container does not serve.
        let datagram = client().udp(40001, 5353, b"hello", true);
        let got = redirected(dp, UPLINK_INGRESS, &datagram, uplink);
        let frame = icmp6_error((C2_MAC, GW_MAC), (C2_V6, me6), (1, 4, [0; 4]), &got, 1232);
        let out = redirected(dp, CONTAINER_INGRESS, &frame, d0);
        let t = icmp4_of(&out, HOST, CLIENT);
        assert_eq!((t.kind, t.code, t.quoted_ip[9]), (3, 3, UDP));
        assert_eq!(t.quoted_l4, View(&datagram).l4(), "quoted datagram");
    });
}

#[test]
fn ipv4_errors_reach_the_container_as_icmpv6() {
    with_uplink(0, |dp, d0, uplink| {
        setup(dp, d0);
        let me6 = nat46::client6(CLIENT);
        redirected(
            dp,
            UPLINK_INGRESS,
            &client().tcp_seq(40000, 8090, TCP_SYN, 1000, 0),
            uplink,
        );
        // C2's answer, as it left for the client; errors quote it.
        let answer = c2_syn_ack(me6);
        let sent = redirected(dp, CONTAINER_INGRESS, &answer, d0);
        let from = |src: [u8; 4]| Ipv4Builder::new(src, HOST).macs([2, 0, 0, 0, 0, 9], GW_MAC);
        let cases: [([u8; 4], Head, Head); 7] = [
            (
                ROUTER,
                (3, 4, mtu_word(1280)),
                (2, 0, 1300u32.to_be_bytes()),
            ),
            // Below IPv6's minimum MTU: 1280, what Linux's TCP heeds.
            (ROUTER, (3, 4, mtu_word(576)), (2, 0, 1280u32.to_be_bytes())),
            (ROUTER, (3, 1, [0; 4]), (1, 0, [0; 4])),
            (ROUTER, (11, 0, [0; 4]), (3, 0, [0; 4])),
            (ROUTER, (3, 2, [0; 4]), (4, 1, [0, 0, 0, 6])),
            (ROUTER, (12, 0, [8, 0, 0, 0]), (4, 0, [0, 0, 0, 7])),
            // The client itself: "port unreachable".
            (CLIENT, (3, 3, [0; 4]), (1, 4, [0; 4])),
        ];
        for (src, (kind, code, rest), six) in cases {
            let frame = icmp_error(&from(src), kind, code, rest, &sent, 576);
            let out = redirected(dp, UPLINK_INGRESS, &frame, uplink);
            assert_eq!(out.len(), frame.len() + 40, "{kind}/{code}: 40 bytes more");
            assert_eq!(out[..6], C2_MAC, "{kind}/{code}: to C2");
            let t = icmp6_of(&out, nat46::client6(src), C2_V6, 63);
            assert_eq!((t.kind, t.code, t.rest), six, "ICMPv4 {kind}/{code}");
            // C2's own segment: addresses, next header, length, and its
            // TCP header byte for byte, checksum included.
            let own = &answer[ETH_LEN..];
            assert_eq!(t.quoted_ip[4..7], own[4..7], "{kind}/{code}: header");
            assert_eq!(t.quoted_ip[8..40], own[8..40], "{kind}/{code}: addresses");
            assert_eq!(t.quoted_l4, own[40..], "{kind}/{code}: quoted segment");
        }
        // Not in RFC 7915: dropped, not passed on.
        for (kind, code, rest) in [(3, 14, [0; 4]), (12, 1, [0; 4]), (12, 0, [5, 0, 0, 0])] {
            let frame = icmp_error(&from(ROUTER), kind, code, rest, &sent, 576);
            dp.expect_drop(
                UPLINK_INGRESS,
                &frame,
                Some(uplink),
                DropReason::Untranslatable,
            );
        }
        // About no flow (another client port): the host's.
        let stranger = Ipv4Builder::new(HOST, CLIENT).tcp_seq(8090, 40009, TCP_ACK, 1, 1);
        let frame = icmp_error(&from(ROUTER), 3, 4, mtu_word(1280), &stranger, 576);
        dp.expect_pass(UPLINK_INGRESS, &frame, Some(uplink));
        // Its last hop: dropped, as the flow's own packets.
        let mut last = from(ROUTER);
        last.ttl = 1;
        let frame = icmp_error(&last, 3, 4, mtu_word(1280), &sent, 576);
        dp.expect_drop(
            UPLINK_INGRESS,
            &frame,
            Some(uplink),
            DropReason::TtlExceeded,
        );

        // UDP, a short quote, and a router that leaves the MTU out: a
        // plateau below the quoted length (RFC 1191: 1006), 20 bytes more,
        // raised to IPv6's minimum.
        redirected(
            dp,
            UPLINK_INGRESS,
            &client().udp(40001, 5353, b"hello", true),
            uplink,
        );
        let big = udp6((C2_MAC, GW_MAC), (C2_V6, me6), (53, 40001), &[7; 1400], 64);
        let sent = redirected(dp, CONTAINER_INGRESS, &big, d0);
        let frame = icmp_error(&from(ROUTER), 3, 4, [0; 4], &sent, 28);
        let out = redirected(dp, UPLINK_INGRESS, &frame, uplink);
        let t = icmp6_of(&out, nat46::client6(ROUTER), C2_V6, 63);
        assert_eq!((t.kind, t.rest), (2, 1280u32.to_be_bytes()), "plateau");
        assert_eq!(t.quoted_l4, big[ETH_LEN + 40..ETH_LEN + 48], "quoted UDP");
    });
}
