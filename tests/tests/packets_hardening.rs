//! The datapath's boundary on crafted frames: every frame from a container
//! carries its own MAC, IPv6 stays on the link without router messages,
//! nothing reaches loopback, routed packets lose a hop, and NAT state is
//! created only by a flow's first packet and ended only by a plausible
//! reset. Run as root: the tests fail (never skip) otherwise.

use ebpfnet_common::DropReason;
use ebpfnet_common::maps::{Config, TCP_RST_SEEN, proto};
use ebpfnet_tests::packet::{Ipv4Builder, TCP_ACK, TCP_SYN, View, assert_rewritten};
use ebpfnet_tests::packet6::{
    ALL_NODES, ICMPV6_ECHO_REQUEST, ICMPV6_NEIGHBOR_SOLICITATION, icmpv6_frame, link_local,
    multicast_mac, router_messages,
};
use ebpfnet_tests::testrun::{CONTAINER_INGRESS, TC_ACT_REDIRECT, UPLINK_INGRESS};
use ebpfnet_tests::topology::{
    C2, C2_MAC, C3, C3_MAC, CLIENT, HOST, OUTSIDE, flow, from_c2, masquerade_reply_to_c2, target,
    with_container, with_uplink,
};

const TCP_RST: u8 = 0x04;

#[test]
fn every_ethertype_must_carry_the_container_mac() {
    with_container(0, |dp, ifindex| {
        let src = link_local(C2_MAC);
        let ns = icmpv6_frame(
            (C3_MAC, multicast_mac(ALL_NODES)),
            src,
            ALL_NODES,
            ICMPV6_NEIGHBOR_SOLICITATION,
            &[0; 20],
            false,
        );
        dp.expect_container_drop(ifindex, &ns, DropReason::SpoofedMac);
        // Any ethertype: a neighbour's MAC never leaves this port.
        let mut lldp = ns.clone();
        lldp[12..14].copy_from_slice(&0x88ccu16.to_be_bytes());
        dp.expect_container_drop(ifindex, &lldp, DropReason::SpoofedMac);
        // The container's own MAC passes, on its link.
        let own = icmpv6_frame(
            (C2_MAC, multicast_mac(ALL_NODES)),
            src,
            ALL_NODES,
            ICMPV6_NEIGHBOR_SOLICITATION,
            &[0; 20],
            false,
        );
        dp.expect_pass(CONTAINER_INGRESS, &own, Some(ifindex));
        lldp[6..12].copy_from_slice(&C2_MAC);
        dp.expect_pass(CONTAINER_INGRESS, &lldp, Some(ifindex));
    });
}

#[test]
fn router_advertisements_and_redirects_never_leave_a_container() {
    with_container(0, |dp, ifindex| {
        let prefix = [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0];
        for frame in router_messages(C2_MAC, prefix, ALL_NODES) {
            dp.expect_container_drop(ifindex, &frame, DropReason::RouterAdvertisement);
        }
        let src = link_local(C2_MAC);
        // An echo on the link is fine, also behind a Hop-by-Hop header.
        let dst = link_local(C3_MAC);
        let echo = icmpv6_frame(
            (C2_MAC, C3_MAC),
            src,
            dst,
            ICMPV6_ECHO_REQUEST,
            &[0, 1, 0, 1],
            true,
        );
        dp.expect_pass(CONTAINER_INGRESS, &echo, Some(ifindex));
    });
}

#[test]
fn ipv6_stays_on_the_link_until_networks_carry_it() {
    with_container(0, |dp, ifindex| {
        let global: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        let link = link_local(C2_MAC);
        let echo = |src, dst| {
            icmpv6_frame(
                (C2_MAC, C3_MAC),
                src,
                dst,
                ICMPV6_ECHO_REQUEST,
                &[0, 1, 0, 1],
                false,
            )
        };
        dp.expect_drop(
            CONTAINER_INGRESS,
            &echo(global, link_local(C3_MAC)),
            Some(ifindex),
            DropReason::Ipv6Disabled,
        );
        dp.expect_drop(
            CONTAINER_INGRESS,
            &echo(link, global),
            Some(ifindex),
            DropReason::Ipv6Disabled,
        );
        // ff05:: (site scope) is beyond the link.
        let mut site = ALL_NODES;
        site[1] = 0x05;
        dp.expect_drop(
            CONTAINER_INGRESS,
            &echo(link, site),
            Some(ifindex),
            DropReason::Ipv6Disabled,
        );
    });
}

#[test]
fn a_container_never_reaches_loopback() {
    with_container(0, |dp, ifindex| {
        dp.publish([127, 0, 0, 1], 8080, proto::TCP, target(C3, 80, 43, C3_MAC));
        for dst in [[127, 0, 0, 1], [127, 1, 2, 3]] {
            let frame = from_c2(dst).tcp(40000, 8080, TCP_SYN);
            dp.expect_container_drop(ifindex, &frame, DropReason::LoopbackFromContainer);
        }
        assert_eq!(dp.nat_len(), 0, "no flow may start");
    });
}

#[test]
fn routed_packets_lose_a_hop_and_the_last_hop_goes_to_the_stack() {
    with_uplink(0, |dp, ifindex, _uplink| {
        dp.set_config(Config {
            masq_port_min: 61000,
            masq_port_max: 61999,
            ..Default::default()
        });
        let mut b = from_c2(OUTSIDE);
        b.ttl = 5;
        let outcome = dp.run(
            CONTAINER_INGRESS,
            &b.udp(5000, 53, b"q", true),
            Some(ifindex),
        );
        assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "masquerade verdict");
        let v = View(&outcome.out);
        assert_eq!(outcome.out[22], 4, "TTL after one hop");
        assert!(
            v.ipv4_checksum_ok() && v.l4_checksum_ok(),
            "checksums after the rewrite"
        );

        // TTL 1: untranslated, to the host's stack (which answers "time
        // exceeded"), and no state.
        b.ttl = 1;
        let before = dp.nat_len();
        dp.expect_pass(
            CONTAINER_INGRESS,
            &b.udp(5001, 53, b"q", true),
            Some(ifindex),
        );
        assert_eq!(dp.nat_len(), before, "a TTL-1 packet started a flow");

        // From an uplink, TTL 1 to a published port: answered "time
        // exceeded" from the host address it was sent to, back out of the
        // uplink, quoting the packet; counted, and no flow starts.
        let mut inbound = Ipv4Builder::new(CLIENT, HOST);
        inbound.ttl = 1;
        let sent = inbound.tcp(40000, 8080, TCP_SYN);
        let before = (dp.drops(DropReason::TtlExceeded), dp.nat_len());
        let outcome = dp.run(UPLINK_INGRESS, &sent, None);
        assert_eq!(
            outcome.verdict, TC_ACT_REDIRECT,
            "time exceeded goes back out"
        );
        let v = View(&outcome.out);
        assert_eq!((v.src_ip(), v.dst_ip(), v.protocol()), (HOST, CLIENT, 1));
        assert_eq!(
            (v.dst_mac(), v.src_mac()),
            (inbound.src_mac, inbound.dst_mac)
        );
        assert_eq!(&v.l4()[..2], &[11, 0], "ICMP time exceeded, TTL in transit");
        assert_eq!(&v.l4()[8..28], &sent[14..34], "quotes the IP header");
        assert!(
            v.ipv4_checksum_ok() && v.l4_checksum_ok(),
            "checksums of the error"
        );
        assert_eq!(
            (dp.drops(DropReason::TtlExceeded), dp.nat_len()),
            (before.0 + 1, before.1)
        );
        inbound.ttl = 9;
        let outcome = dp.run(UPLINK_INGRESS, &inbound.tcp(40000, 8080, TCP_SYN), None);
        assert_eq!(outcome.verdict, TC_ACT_REDIRECT);
        let mut expected = inbound.clone().macs(inbound.src_mac, C3_MAC);
        expected.dst_ip = C3;
        expected.ttl = 8;
        assert_rewritten(&outcome.out, &expected.tcp(40000, 80, TCP_SYN));
    });
}

#[test]
fn only_a_flows_first_packet_creates_state() {
    with_uplink(0, |dp, ifindex, _uplink| {
        // A stray ACK to a published port is the host's to answer.
        let stray = Ipv4Builder::new(CLIENT, HOST).tcp(40000, 8080, TCP_ACK);
        dp.expect_pass(UPLINK_INGRESS, &stray, None);
        // A stray segment from a container would leak its own address.
        let leak = from_c2(OUTSIDE).tcp(45000, 443, TCP_ACK);
        dp.expect_container_drop(ifindex, &leak, DropReason::NoFlow);
        assert_eq!(dp.nat_len(), 0);
        let syn = Ipv4Builder::new(CLIENT, HOST).tcp(40000, 8080, TCP_SYN);
        assert_eq!(dp.run(UPLINK_INGRESS, &syn, None).verdict, TC_ACT_REDIRECT);
        assert_eq!(dp.nat_len(), 2, "a SYN makes both directions");
    });
}

#[test]
fn a_reset_ends_a_flow_only_inside_its_window() {
    with_container(0, |dp, ifindex| {
        dp.publish(HOST, 8081, proto::TCP, target(C2, 80, ifindex, C2_MAC));
        let client = Ipv4Builder::new(CLIENT, HOST);
        let server = from_c2(CLIENT);
        let (client_isn, server_isn) = (1_000, 7_000_000);
        let syn = client.tcp_seq(40000, 8081, TCP_SYN, client_isn, 0);
        assert_eq!(dp.run(UPLINK_INGRESS, &syn, None).verdict, TC_ACT_REDIRECT);
        let syn_ack = server.tcp_seq(80, 40000, TCP_SYN | TCP_ACK, server_isn, client_isn + 1);
        assert_eq!(
            dp.run(CONTAINER_INGRESS, &syn_ack, Some(ifindex)).verdict,
            TC_ACT_REDIRECT
        );
        let ack = client.tcp_seq(40000, 8081, TCP_ACK, client_isn + 1, server_isn + 1);
        assert_eq!(dp.run(UPLINK_INGRESS, &ack, None).verdict, TC_ACT_REDIRECT);

        // Spoofed resets far from the window are dropped and end nothing.
        let request_key = flow(CLIENT, 40000, HOST, 8081, proto::TCP);
        for seq in [
            client_isn + (1 << 20),
            client_isn.wrapping_sub(1 << 20),
            0xdead_beef,
        ] {
            let rst = client.tcp_seq(40000, 8081, TCP_RST, seq, 0);
            dp.expect_drop(UPLINK_INGRESS, &rst, None, DropReason::TcpOutOfWindow);
        }
        let request = dp.nat_get(&request_key).expect("request entry");
        assert_eq!(
            request.tcp_flags & TCP_RST_SEEN,
            0,
            "a spoofed reset closed the flow"
        );

        // A reset where the client's sequence stands ends it.
        let rst = client.tcp_seq(40000, 8081, TCP_RST, client_isn + 5, 0);
        assert_eq!(dp.run(UPLINK_INGRESS, &rst, None).verdict, TC_ACT_REDIRECT);
        let request = dp.nat_get(&request_key).expect("request entry");
        assert_ne!(
            request.tcp_flags & TCP_RST_SEEN,
            0,
            "an in-window reset was ignored"
        );
    });
}

#[test]
fn a_refused_syn_is_reset_only_by_its_answer() {
    with_container(0, |dp, ifindex| {
        dp.publish(HOST, 8081, proto::TCP, target(C2, 80, ifindex, C2_MAC));
        let syn = Ipv4Builder::new(CLIENT, HOST).tcp_seq(40001, 8081, TCP_SYN, 500, 0);
        assert_eq!(dp.run(UPLINK_INGRESS, &syn, None).verdict, TC_ACT_REDIRECT);
        let request = dp
            .nat_get(&flow(CLIENT, 40001, HOST, 8081, proto::TCP))
            .expect("request");
        // Its four bytes of data and the SYN itself.
        assert_eq!(request.tcp_seq_end, 505, "the SYN's sequence space");
        // The server's refusal acknowledges exactly the SYN.
        let server = from_c2(CLIENT);
        let wrong = server.tcp_seq(80, 40001, TCP_RST | TCP_ACK, 0, 9_999);
        dp.expect_container_drop(ifindex, &wrong, DropReason::TcpOutOfWindow);
        let refusal = server.tcp_seq(80, 40001, TCP_RST | TCP_ACK, 0, 505);
        assert_eq!(
            dp.run(CONTAINER_INGRESS, &refusal, Some(ifindex)).verdict,
            TC_ACT_REDIRECT
        );
    });
}

#[test]
fn two_live_flows_never_share_a_translation() {
    with_container(0, |dp, _ifindex| {
        // 8080 and 8081 both lead to C3:80: one client port through both
        // would be one tuple twice inside C3.
        dp.publish(HOST, 8081, proto::TCP, target(C3, 80, 43, C3_MAC));
        let client = Ipv4Builder::new(CLIENT, HOST);
        let first = client.tcp(40000, 8080, TCP_SYN);
        assert_eq!(
            dp.run(UPLINK_INGRESS, &first, None).verdict,
            TC_ACT_REDIRECT
        );
        let second = client.tcp(40000, 8081, TCP_SYN);
        dp.expect_drop(UPLINK_INGRESS, &second, None, DropReason::NatInsertFailed);
        assert!(
            dp.nat_get(&flow(CLIENT, 40000, HOST, 8081, proto::TCP))
                .is_none(),
            "the refused flow left its request entry behind"
        );
        let reply = dp
            .nat_get(&flow(C3, 80, CLIENT, 40000, proto::TCP))
            .expect("first reply");
        assert_eq!(
            reply.new_src_port, 8080,
            "the first flow lost its reply entry"
        );
    });
}

#[test]
fn a_syn_reopens_the_tuple_of_a_flow_that_is_over() {
    with_container(0, |dp, ifindex| {
        dp.publish(HOST, 8081, proto::TCP, target(C2, 80, ifindex, C2_MAC));
        let client = Ipv4Builder::new(CLIENT, HOST);
        let server = from_c2(CLIENT);
        const TCP_FIN: u8 = 0x01;
        for round in 0..3u32 {
            let isn = 1000 + round * 100_000;
            let syn = client.tcp_seq(40000, 8081, TCP_SYN, isn, 0);
            let before = dp.drops(DropReason::NatInsertFailed);
            assert_eq!(
                dp.run(UPLINK_INGRESS, &syn, None).verdict,
                TC_ACT_REDIRECT,
                "round {round}: the SYN on a closed flow's tuple"
            );
            assert_eq!(
                dp.drops(DropReason::NatInsertFailed),
                before,
                "round {round}"
            );
            // Both ends close: the flow is over, its tuple free again.
            let fin = client.tcp_seq(40000, 8081, TCP_FIN | TCP_ACK, isn + 5, 1);
            assert_eq!(dp.run(UPLINK_INGRESS, &fin, None).verdict, TC_ACT_REDIRECT);
            let fin_back = server.tcp_seq(80, 40000, TCP_FIN | TCP_ACK, 0, isn + 10);
            assert_eq!(
                dp.run(CONTAINER_INGRESS, &fin_back, Some(ifindex)).verdict,
                TC_ACT_REDIRECT
            );
        }
    });
}

#[test]
fn a_closed_flow_whose_port_a_newer_flow_took_is_over() {
    with_uplink(0, |dp, ifindex, uplink| {
        use ebpfnet_common::maps::{Forward, NatEntry, NatKind, TCP_FIN_SEEN};
        dp.set_config(Config {
            masq_port_min: 61001,
            masq_port_max: 61001,
            ..Default::default()
        });
        // Flow A (C2:45000 -> OUTSIDE:443) closed; its masquerade port 61000
        // was then taken over by flow B (C2:45001), still live.
        let a_request = flow(C2, 45000, OUTSIDE, 443, proto::TCP);
        dp.nat_insert(
            a_request,
            NatEntry {
                new_src_ip: HOST,
                new_src_port: 61000,
                new_dst_ip: OUTSIDE,
                new_dst_port: 443,
                ifindex: uplink,
                kind: NatKind::MasqueradeRequest as u8,
                forward: Forward::Neigh as u8,
                tcp_flags: TCP_FIN_SEEN,
                ..Default::default()
            },
        );
        dp.nat_insert(
            flow(OUTSIDE, 443, HOST, 61000, proto::TCP),
            masquerade_reply_to_c2(OUTSIDE, 443, 45001, ifindex),
        );
        // A's port is reused: its SYN starts a new flow on port 61001.
        let syn = from_c2(OUTSIDE).tcp(45000, 443, TCP_SYN);
        let outcome = dp.run(CONTAINER_INGRESS, &syn, Some(ifindex));
        assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "the reused port's SYN");
        assert_eq!(View(&outcome.out).src_port(), 61001);
        let b_reply = dp
            .nat_get(&flow(OUTSIDE, 443, HOST, 61000, proto::TCP))
            .expect("B's reply entry");
        assert_eq!(b_reply.new_dst_port, 45001, "B's flow was disturbed");
    });
}
