//! IPv4 clients into an IPv6-only container (`nat46`) on crafted frames
//! (BPF_PROG_TEST_RUN, no daemon), with the IPv6 programs and
//! `uplink_ingress46` in their `TAIL_CALLS` slots as the daemon puts them:
//! a SYN or datagram to a marked port of a mapping becomes IPv6 from the
//! client's embedded address, with its L4 checksum right after the
//! pseudo-header change and one hop less; the container's answer goes
//! back as IPv4 from the published address, IPv4 and L4 checksums right;
//! what cannot be translated (IPv4 options, UDP without checksum) makes no
//! state; an unmarked port and a stray segment are left to the host. An
//! answer of up to 1260 bytes as IPv4 (a GSO packet's: its segments)
//! leaves without DF and with an ID of its own, a larger one with DF
//! (RFC 7915 §5.1).
//! Run as root: the tests fail (never skip) otherwise.

use ebpfnet_common::DropReason;
use ebpfnet_common::maps::NatKind;
use ebpfnet_common::nat46::{self, DF_ABOVE};
use ebpfnet_tests::packet::{ETH_LEN, ETH_P_IP, ETH_P_IPV6, TCP_ACK, TCP_SYN, View};
use ebpfnet_tests::packet6_l4::{View6, udp6};
use ebpfnet_tests::testrun::{CONTAINER_INGRESS, Outcome, TC_ACT_REDIRECT, UPLINK_INGRESS};
use ebpfnet_tests::topology::{C2_MAC, CLIENT, GW_MAC, HOST, with_uplink};
use ebpfnet_tests::topology46::{C2_V6, c2_syn_ack, client, setup};

#[test]
fn tcp_is_translated_both_ways_with_checksums_right() {
    with_uplink(0, |dp, d0, uplink| {
        setup(dp, d0);
        let me6 = nat46::client6(CLIENT);
        // A stray segment of no flow, and a port not marked: the host's.
        dp.expect_pass(
            UPLINK_INGRESS,
            &client().tcp_seq(40000, 8090, TCP_ACK, 1, 1),
            Some(uplink),
        );
        dp.expect_pass(
            UPLINK_INGRESS,
            &client().tcp_seq(40000, 8091, TCP_SYN, 1000, 0),
            Some(uplink),
        );
        assert!(dp.nat6_entries().is_empty(), "state from no SYN");

        // The SYN: IPv6 into C2, from the client's embedded address.
        let syn = client().tcp_seq(40000, 8090, TCP_SYN, 1000, 0);
        let outcome = dp.run(UPLINK_INGRESS, &syn, Some(uplink));
        assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "SYN to HOST:8090");
        assert_eq!(outcome.out.len(), syn.len() + 20, "20 bytes more");
        assert_eq!(
            u16::from_be_bytes([outcome.out[12], outcome.out[13]]),
            ETH_P_IPV6
        );
        let out = View6(&outcome.out);
        assert_eq!((out.src_ip(), out.src_port()), (me6, 40000));
        assert_eq!((out.dst_ip(), out.dst_port()), (C2_V6, 80));
        assert_eq!((out.dst_mac(), out.hop_limit()), (C2_MAC, 63));
        assert!(out.l4_checksum_ok(), "TCP checksum after 4 to 6");
        let mut kinds: Vec<u8> = dp.nat6_entries().iter().map(|(_, e)| e.kind).collect();
        kinds.sort();
        let want = [NatKind::Nat46Request as u8, NatKind::Nat46Reply as u8];
        assert_eq!(kinds, want, "both directions, in the IPv6 tables");

        // C2's SYN-ACK: IPv4 from HOST:8090 to the client.
        let reply = c2_syn_ack(me6);
        let outcome = dp.run(CONTAINER_INGRESS, &reply, Some(d0));
        assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "reply");
        assert_eq!(outcome.out.len(), reply.len() - 20, "20 bytes less");
        let out = View(&outcome.out);
        assert_eq!(out.ethertype(), ETH_P_IP);
        assert_eq!((out.src_ip(), out.src_port()), (HOST, 8090));
        assert_eq!((out.dst_ip(), out.dst_port()), (CLIENT, 40000));
        assert_eq!(outcome.out[22], 63, "TTL one less than the hop limit");
        assert_eq!(outcome.out[20] & 0x40, 0, "no DF on 60 bytes");
        assert!(out.ipv4_checksum_ok(), "IPv4 header checksum");
        assert!(out.l4_checksum_ok(), "TCP checksum after 6 to 4");

        // The client's next segment follows the flow.
        let ack = client().tcp_seq(40000, 8090, TCP_ACK, 1001, 5001);
        let outcome = dp.run(UPLINK_INGRESS, &ack, Some(uplink));
        assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "ACK of the flow");
        assert!(View6(&outcome.out).l4_checksum_ok(), "ACK checksum");
    });
}

#[test]
fn udp_goes_through_and_the_untranslatable_makes_no_state() {
    with_uplink(0, |dp, d0, uplink| {
        setup(dp, d0);
        // IPv4 options: not translated, no state.
        let options = client().options(&[1, 1, 1, 1]);
        dp.expect_drop(
            UPLINK_INGRESS,
            &options.tcp_seq(40000, 8090, TCP_SYN, 1000, 0),
            Some(uplink),
            DropReason::Untranslatable,
        );
        // UDP without a checksum: IPv6 needs one.
        let bare = client().udp(40001, 5353, b"hello", false);
        dp.expect_drop(
            UPLINK_INGRESS,
            &bare,
            Some(uplink),
            DropReason::Untranslatable,
        );
        assert!(
            dp.nat6_entries().is_empty(),
            "state from untranslatable packets"
        );

        // A datagram to the every-address mapping, and C2's answer.
        let outcome = dp.run(
            UPLINK_INGRESS,
            &client().udp(40001, 5353, b"hello", true),
            Some(uplink),
        );
        assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "UDP to 0.0.0.0:5353");
        let out = View6(&outcome.out);
        assert_eq!((out.dst_ip(), out.dst_port()), (C2_V6, 53));
        assert!(out.l4_checksum_ok(), "UDP checksum after 4 to 6");
        let answer = udp6(
            (C2_MAC, GW_MAC),
            (C2_V6, nat46::client6(CLIENT)),
            (53, 40001),
            b"world",
            64,
        );
        let outcome = dp.run(CONTAINER_INGRESS, &answer, Some(d0));
        assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "UDP answer");
        let out = View(&outcome.out);
        assert_eq!((out.src_ip(), out.src_port()), (HOST, 5353));
        assert_eq!((out.dst_ip(), out.dst_port()), (CLIENT, 40001));
        assert!(out.ipv4_checksum_ok() && out.l4_checksum_ok(), "checksums");
    });
}

#[test]
fn df_is_clear_up_to_1260_bytes_and_ids_follow_each_other() {
    with_uplink(0, |dp, d0, uplink| {
        setup(dp, d0);
        let open = client().udp(40001, 5353, b"hello", true);
        let outcome = dp.run(UPLINK_INGRESS, &open, Some(uplink));
        assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "UDP to 0.0.0.0:5353");
        // C2's answers of `payload` bytes: 28 more as IPv4.
        let answer = |payload: usize| {
            let ips = (C2_V6, nat46::client6(CLIENT));
            udp6((C2_MAC, GW_MAC), ips, (53, 40001), &vec![0x5a; payload], 64)
        };
        let fits = usize::from(DF_ABOVE) - 28;
        let first = ipv4_fields(dp.run(CONTAINER_INGRESS, &answer(fits), Some(d0)));
        assert_eq!((first.0, first.1), (DF_ABOVE, false), "1260 bytes: no DF");
        let second = ipv4_fields(dp.run(CONTAINER_INGRESS, &answer(10), Some(d0)));
        assert!(!second.1, "38 bytes: no DF");
        assert_eq!(second.2, first.2.wrapping_add(1), "the next ID");
        let big = ipv4_fields(dp.run(CONTAINER_INGRESS, &answer(fits + 1), Some(d0)));
        assert_eq!(big, (DF_ABOVE + 1, true, 0), "1261 bytes: DF, ID 0");

        // A GSO packet is judged by its segments (20 + 8 + gso_size bytes),
        // which take an ID each (the harness sets gso_segs to the frame's
        // length over gso_size).
        let gso = answer(3000);
        let segs = gso.len().div_ceil(fits) as u16;
        let sent = ipv4_fields(dp.run_gso(CONTAINER_INGRESS, &gso, Some(d0), fits as u32));
        assert!(!sent.1, "segments of 1260 bytes: no DF");
        let next = ipv4_fields(dp.run(CONTAINER_INGRESS, &answer(10), Some(d0)));
        assert_eq!(next.2, sent.2.wrapping_add(segs), "one ID per segment");
        let gso_size = fits as u32 + 1;
        let sent = ipv4_fields(dp.run_gso(CONTAINER_INGRESS, &gso, Some(d0), gso_size));
        assert_eq!(
            (sent.1, sent.2),
            (true, 0),
            "segments of 1261 bytes: DF, ID 0"
        );
    });
}

/// The IPv4 total length, DF and ID (host order) of a translated answer,
/// its checksums checked.
fn ipv4_fields(outcome: Outcome) -> (u16, bool, u16) {
    assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "answer");
    let out = View(&outcome.out);
    assert_eq!(out.ethertype(), ETH_P_IP);
    assert!(out.ipv4_checksum_ok() && out.l4_checksum_ok(), "checksums");
    let ip = &outcome.out[ETH_LEN..];
    let len = u16::from_be_bytes([ip[2], ip[3]]);
    (len, ip[6] & 0x40 != 0, u16::from_be_bytes([ip[4], ip[5]]))
}
