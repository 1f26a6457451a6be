//! Fragmented datagrams on crafted frames (BPF_PROG_TEST_RUN): the first
//! fragment is translated like a whole packet, the later ones follow it by
//! the IP id; reassembled, the result is the translated datagram with a
//! UDP checksum that verifies over all of it.
//! Run as root: the tests fail (never skip) otherwise.

use ebpfnet_common::DropReason;
use ebpfnet_common::maps::{Config, proto};
use ebpfnet_tests::packet::{Ipv4Builder, UDP, View, assert_rewritten};
use ebpfnet_tests::packet_frag::{fragments, reassemble};
use ebpfnet_tests::testrun::{CONTAINER_INGRESS, Datapath, TC_ACT_REDIRECT, UPLINK_INGRESS};
use ebpfnet_tests::topology::{
    C2, C2_MAC, CLIENT, HOST, OUTSIDE, from_c2, target, with_container, with_uplink,
};

/// A datagram's payload, different in every byte position mod 251.
fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// The fragments (1480 bytes of datagram each, as with a 1500 MTU) of
/// `b`'s UDP datagram `sport → dport` carrying `data`.
fn udp_fragments(b: &Ipv4Builder, sport: u16, dport: u16, data: &[u8], id: u16) -> Vec<Vec<u8>> {
    let whole = b.udp(sport, dport, data, true);
    fragments(b, UDP, View(&whole).l4(), 1480, id)
}

/// Runs every fragment through `program`, expecting redirects; returns
/// what came out.
fn run_all(dp: &Datapath, program: &str, pieces: &[Vec<u8>], ifindex: Option<u32>) -> Vec<Vec<u8>> {
    pieces
        .iter()
        .enumerate()
        .map(|(i, piece)| {
            let outcome = dp.run(program, piece, ifindex);
            assert_eq!(
                outcome.verdict, TC_ACT_REDIRECT,
                "{program}: fragment {i} not redirected"
            );
            outcome.out
        })
        .collect()
}

#[test]
fn fragmented_datagram_to_a_published_port_and_its_fragmented_answer() {
    with_container(0, |dp, ifindex| {
        dp.publish(HOST, 5353, proto::UDP, target(C2, 53, ifindex, C2_MAC));
        let data = payload(3000);
        let request = Ipv4Builder::new(CLIENT, HOST).frag(0);
        let pieces = udp_fragments(&request, 40000, 5353, &data, 0x4242);
        assert_eq!(pieces.len(), 3);
        let out = run_all(dp, UPLINK_INGRESS, &pieces, None);
        let mut expected = request.clone();
        // Routed: one hop less.
        expected.ttl -= 1;
        expected.dst_ip = C2;
        expected.dst_mac = C2_MAC;
        for piece in &out {
            assert_eq!(
                View(piece).dst_mac(),
                C2_MAC,
                "a fragment not addressed to C2"
            );
        }
        assert_rewritten(&reassemble(&out), &expected.udp(40000, 53, &data, true));

        // C2 answers with 3000 bytes, fragmented by its own stack; they
        // leave as from the published address.
        let answer = from_c2(CLIENT).frag(0);
        let pieces = udp_fragments(&answer, 53, 40000, &data, 0x0777);
        let out = run_all(dp, CONTAINER_INGRESS, &pieces, Some(ifindex));
        let mut expected = answer.clone();
        // Routed: one hop less.
        expected.ttl -= 1;
        expected.src_ip = HOST;
        assert_rewritten(&reassemble(&out), &expected.udp(5353, 40000, &data, true));
    });
}

#[test]
fn fragmented_datagram_through_masquerade_and_back() {
    with_uplink(0, |dp, ifindex, _uplink| {
        dp.set_config(Config {
            masq_port_min: 61000,
            masq_port_max: 65535,
            ..Default::default()
        });
        let data = payload(3000);
        let b = from_c2(OUTSIDE).frag(0);
        let pieces = udp_fragments(&b, 45000, 53, &data, 0x1111);
        let out = run_all(dp, CONTAINER_INGRESS, &pieces, Some(ifindex));
        let port = View(&out[0]).src_port();
        assert!((61000..=65535).contains(&port), "masquerade port {port}");
        let mut expected = b.clone();
        // Routed: one hop less.
        expected.ttl -= 1;
        expected.src_ip = HOST;
        assert_rewritten(&reassemble(&out), &expected.udp(port, 53, &data, true));

        // The outside answers with a fragmented datagram of its own.
        let answer = Ipv4Builder::new(OUTSIDE, HOST).frag(0);
        let pieces = udp_fragments(&answer, 53, port, &data, 0x2222);
        let out = run_all(dp, UPLINK_INGRESS, &pieces, None);
        let mut expected = answer.clone();
        // Routed: one hop less.
        expected.ttl -= 1;
        expected.dst_ip = C2;
        expected.dst_mac = C2_MAC;
        assert_rewritten(&reassemble(&out), &expected.udp(53, 45000, &data, true));
    });
}

#[test]
fn later_fragment_before_its_first_is_dropped_and_counted() {
    with_uplink(0, |dp, ifindex, _uplink| {
        dp.set_config(Config {
            masq_port_min: 61000,
            masq_port_max: 65535,
            ..Default::default()
        });
        let pieces = udp_fragments(&from_c2(OUTSIDE), 45001, 53, &payload(3000), 0x3333);
        // Its ports are unknown: it cannot leave translated.
        let reason = DropReason::Fragment;
        dp.expect_drop(CONTAINER_INGRESS, &pieces[1], Some(ifindex), reason);
        // Once the first has passed, the others follow, in any order.
        let out = run_all(
            dp,
            CONTAINER_INGRESS,
            &[pieces[0].clone(), pieces[2].clone(), pieces[1].clone()],
            Some(ifindex),
        );
        for piece in &out {
            assert_eq!(View(piece).src_ip(), HOST, "a fragment left untranslated");
        }
        // Another datagram of the same flow (a new IP id) is a new record
        // and leaves on the same masquerade port.
        let next = udp_fragments(&from_c2(OUTSIDE), 45001, 53, &payload(2000), 0x3334);
        let again = run_all(dp, CONTAINER_INGRESS, &next, Some(ifindex));
        assert_eq!(View(&again[0]).src_port(), View(&out[0]).src_port());
        assert_eq!(View(&again[1]).src_ip(), HOST);
    });
}
