//! `container_ingress` (with `uplink_ingress` for round trips) on crafted
//! frames: replies of published flows, hairpin to published ports,
//! masquerade. Each test runs in a throwaway namespace whose `d0` link is
//! the container's host-side veth and `d1` the routed uplink.
//! Run as root: the tests fail (never skip) otherwise.

use ebpfnet_common::DropReason;
use ebpfnet_common::maps::{Config, Forward, NatKind, PublishedValue, proto};
use ebpfnet_tests::packet::{Ipv4Builder, TCP_ACK, TCP_SYN, View, assert_rewritten};
use ebpfnet_tests::testrun::{CONTAINER_INGRESS, TC_ACT_REDIRECT, UPLINK_INGRESS};
use ebpfnet_tests::topology::{
    C2, C2_MAC, C3, C3_IFINDEX, C3_MAC, CLIENT, HOST, OUTSIDE, flow, from_c2, published_reply,
    target, with_container, with_uplink,
};

#[test]
fn published_reply_is_rewritten_and_redirected() {
    with_container(0, |dp, ifindex| {
        let uplink = ifindex; // any interface: bpf_redirect_neigh only records it
        let reply = published_reply(8080, CLIENT, 40000, uplink);
        dp.nat_insert(flow(C2, 80, CLIENT, 40000, proto::TCP), reply);
        let b = from_c2(CLIENT);
        let outcome = dp.run(
            CONTAINER_INGRESS,
            &b.tcp(80, 40000, TCP_SYN | TCP_ACK),
            Some(ifindex),
        );
        assert_eq!(
            outcome.verdict, TC_ACT_REDIRECT,
            "bpf_redirect_neigh verdict"
        );
        let mut expected = b.clone();
        // Routed: one hop less.
        expected.ttl -= 1;
        expected.src_ip = HOST;
        assert_rewritten(&outcome.out, &expected.tcp(8080, 40000, TCP_SYN | TCP_ACK));
        let v = View(&outcome.out);
        assert_eq!((v.src_ip(), v.src_port()), (HOST, 8080));
        assert_eq!((v.dst_ip(), v.dst_port()), (CLIENT, 40000));
    });
}

#[test]
fn published_round_trip_through_both_programs() {
    with_container(0, |dp, ifindex| {
        // Publish C2:80 on the host too, then SYN in from the uplink (lo).
        let c2 = target(C2, 80, ifindex, C2_MAC);
        dp.publish(HOST, 8081, proto::TCP, c2);
        let syn = Ipv4Builder::new(CLIENT, HOST).tcp(40001, 8081, TCP_SYN);
        assert_eq!(dp.run(UPLINK_INGRESS, &syn, None).verdict, TC_ACT_REDIRECT);
        // C2 answers; the reply leaves as from 203.0.113.1:8081.
        let b = from_c2(CLIENT);
        let outcome = dp.run(
            CONTAINER_INGRESS,
            &b.tcp(80, 40001, TCP_SYN | TCP_ACK),
            Some(ifindex),
        );
        assert_eq!(outcome.verdict, TC_ACT_REDIRECT);
        let mut expected = b.clone();
        // Routed: one hop less.
        expected.ttl -= 1;
        expected.src_ip = HOST;
        assert_rewritten(&outcome.out, &expected.tcp(8081, 40001, TCP_SYN | TCP_ACK));
    });
}

#[test]
fn hairpin_to_published_port_goes_to_the_target_container() {
    with_container(0, |dp, ifindex| {
        let b = from_c2(HOST);
        let outcome = dp.run(
            CONTAINER_INGRESS,
            &b.tcp(40002, 8080, TCP_SYN),
            Some(ifindex),
        );
        assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "hairpin verdict");
        let mut expected = b.clone();
        // Routed: one hop less.
        expected.ttl -= 1;
        expected.dst_ip = C3;
        expected.dst_mac = C3_MAC;
        assert_rewritten(&outcome.out, &expected.tcp(40002, 80, TCP_SYN));

        // C3's replies go straight back into C2, as from 203.0.113.1:8080.
        let reply = dp
            .nat_get(&flow(C3, 80, C2, 40002, proto::TCP))
            .expect("hairpin reply entry");
        assert_eq!(reply.kind, NatKind::PublishedReply as u8);
        assert_eq!(reply.forward, Forward::Peer as u8);
        assert_eq!((reply.ifindex, reply.dst_mac), (ifindex, C2_MAC));
        assert_eq!((reply.new_src_ip, reply.new_src_port), (HOST, 8080));

        // A host port that is not published is the host's business.
        dp.expect_pass(CONTAINER_INGRESS, &b.tcp(40003, 22, TCP_SYN), Some(ifindex));
    });
}

#[test]
fn hairpin_via_a_gateway_address() {
    with_container(0, |dp, ifindex| {
        let c3 = target(C3, 80, C3_IFINDEX, C3_MAC);
        dp.publish([0; 4], 9090, proto::TCP, c3);
        // Two flows, two client ports: C3 must never see one tuple twice.
        for (gateway, port) in [([10, 214, 0, 1], 40004), ([10, 215, 0, 1], 40005)] {
            let b = from_c2(gateway);
            let outcome = dp.run(
                CONTAINER_INGRESS,
                &b.tcp(port, 9090, TCP_SYN),
                Some(ifindex),
            );
            assert_eq!(
                outcome.verdict, TC_ACT_REDIRECT,
                "C2 → {gateway:?}:9090 (published on 0.0.0.0) was not redirected"
            );
            let mut expected = b.clone();
            // Routed: one hop less.
            expected.ttl -= 1;
            expected.dst_ip = C3;
            expected.dst_mac = C3_MAC;
            assert_rewritten(&outcome.out, &expected.tcp(port, 80, TCP_SYN));
        }
    });
}

#[test]
fn masquerade_skips_published_ports_and_round_trips() {
    with_uplink(0, |dp, ifindex, uplink| {
        dp.set_config(Config {
            masq_port_min: 61000,
            masq_port_max: 61001,
            ..Default::default()
        });
        dp.publish(HOST, 61000, proto::TCP, PublishedValue::default());
        let b = from_c2(OUTSIDE);
        let outcome = dp.run(
            CONTAINER_INGRESS,
            &b.tcp(45678, 443, TCP_SYN),
            Some(ifindex),
        );
        assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "masquerade verdict");
        let mut expected = b.clone();
        // Routed: one hop less.
        expected.ttl -= 1;
        expected.src_ip = HOST;
        // 61000 is published: the only port left is 61001 (cilium#34041).
        assert_rewritten(&outcome.out, &expected.tcp(61001, 443, TCP_SYN));

        let request = dp
            .nat_get(&flow(C2, 45678, OUTSIDE, 443, proto::TCP))
            .expect("request entry");
        assert_eq!(request.kind, NatKind::MasqueradeRequest as u8);
        assert_eq!(
            (request.forward, request.ifindex),
            (Forward::Neigh as u8, uplink)
        );
        assert_eq!((request.new_src_ip, request.new_src_port), (HOST, 61001));
        let reply = dp
            .nat_get(&flow(OUTSIDE, 443, HOST, 61001, proto::TCP))
            .expect("reply entry");
        assert_eq!(reply.kind, NatKind::MasqueradeReply as u8);
        assert_eq!(
            (reply.forward, reply.ifindex),
            (Forward::Peer as u8, ifindex)
        );
        assert_eq!(
            (reply.new_dst_ip, reply.new_dst_port, reply.dst_mac),
            (C2, 45678, C2_MAC)
        );

        // The answer comes in on the uplink and goes back into C2.
        let answer = Ipv4Builder::new(OUTSIDE, HOST);
        let outcome = dp.run(
            UPLINK_INGRESS,
            &answer.tcp(443, 61001, TCP_SYN | TCP_ACK),
            None,
        );
        assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "masquerade reply verdict");
        let mut expected = answer.clone();
        // Routed: one hop less.
        expected.ttl -= 1;
        expected.dst_ip = C2;
        expected.dst_mac = C2_MAC;
        assert_rewritten(&outcome.out, &expected.tcp(443, 45678, TCP_SYN | TCP_ACK));

        // A ping leaves with its identifier translated into the range.
        let outcome = dp.run(CONTAINER_INGRESS, &b.icmp_echo(8, 7, 1), Some(ifindex));
        assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "masqueraded ping verdict");
        let id = u16::from_be_bytes([outcome.out[38], outcome.out[39]]);
        assert!(
            (61000..=61001).contains(&id),
            "echo id {id} outside the range"
        );
        let mut expected = b.clone();
        // Routed: one hop less.
        expected.ttl -= 1;
        expected.src_ip = HOST;
        assert_rewritten(&outcome.out, &expected.icmp_echo(8, id, 1));

        // Range = the published port only: no port left for a new flow.
        dp.set_config(Config {
            masq_port_min: 61000,
            masq_port_max: 61000,
            ..Default::default()
        });
        let frame = b.tcp(45679, 443, TCP_SYN);
        let reason = DropReason::MasqueradePortsExhausted;
        dp.expect_container_drop(ifindex, &frame, reason);
    });
}

#[test]
fn a_masquerade_port_waits_for_the_last_ack_before_another_flow_takes_it() {
    with_uplink(0, |dp, ifindex, _uplink| {
        const TCP_FIN: u8 = 0x01;
        // One port: the second flow can only have the first one's.
        dp.set_config(Config {
            masq_port_min: 61000,
            masq_port_max: 61000,
            ..Default::default()
        });
        let container = from_c2(OUTSIDE);
        let outside = Ipv4Builder::new(OUTSIDE, HOST);
        let send = |dp: &mut ebpfnet_tests::testrun::Datapath, frame: Vec<u8>, from_c2: bool| {
            let outcome = if from_c2 {
                dp.run(CONTAINER_INGRESS, &frame, Some(ifindex))
            } else {
                dp.run(UPLINK_INGRESS, &frame, None)
            };
            assert_eq!(outcome.verdict, TC_ACT_REDIRECT);
        };
        // A whole connection without data, the container closing first.
        let c2 = |flags, seq_ack| container.tcp_segment((45000, 443), flags, seq_ack, b"");
        let back = |flags, seq_ack| outside.tcp_segment((443, 61000), flags, seq_ack, b"");
        send(dp, c2(TCP_SYN, (100, 0)), true);
        send(dp, back(TCP_SYN | TCP_ACK, (900, 101)), false);
        send(dp, c2(TCP_ACK, (101, 901)), true);
        send(dp, c2(TCP_FIN | TCP_ACK, (101, 901)), true);
        send(dp, back(TCP_FIN | TCP_ACK, (901, 102)), false);
        // Both FINs seen, the outside's not yet acknowledged: the server is
        // in LAST_ACK and would answer a new SYN on the tuple with a
        // challenge ACK. The port stays taken.
        let second = container.tcp_seq(45001, 443, TCP_SYN, 5000, 0);
        dp.expect_container_drop(ifindex, &second, DropReason::MasqueradePortsExhausted);
        // The last ACK: both ends are done, the port is free for another flow.
        send(dp, c2(TCP_ACK, (102, 902)), true);
        let outcome = dp.run(CONTAINER_INGRESS, &second, Some(ifindex));
        assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "the freed port's SYN");
        assert_eq!(View(&outcome.out).src_port(), 61000);
        let reply = dp
            .nat_get(&flow(OUTSIDE, 443, HOST, 61000, proto::TCP))
            .expect("the new flow's reply entry");
        assert_eq!(reply.new_dst_port, 45001);
    });
}
