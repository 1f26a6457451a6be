//! ICMP errors about translated flows on crafted frames (BPF_PROG_TEST_RUN):
//! "fragmentation needed", "time exceeded" and "port unreachable" for
//! masqueraded and published flows, both ways, with the quoted packet,
//! the outer header and every checksum rewritten (checked independently).
//! Run as root: the tests fail (never skip) otherwise.

use ebpfnet_common::DropReason;
use ebpfnet_common::maps::{Config, proto};
use ebpfnet_tests::packet::{Ipv4Builder, TCP_ACK, TCP_SYN, View};
use ebpfnet_tests::packet_icmp::*;
use ebpfnet_tests::testrun::{CONTAINER_INGRESS, Datapath, TC_ACT_REDIRECT, UPLINK_INGRESS};
use ebpfnet_tests::topology::{
    C2, C2_IFINDEX, C2_MAC, C3, CLIENT, HOST, OUTSIDE, add_networks, flow, from_c2,
    masquerade_reply_to_c2, target, with_container, with_uplink,
};
use ebpfnet_tests::{require_root, serial};

/// Without a ctx the test run's skb comes from `lo`, index 1: the uplink.
const UPLINK_IFINDEX: u32 = 1;
/// A router on the path, beyond the uplink.
const ROUTER: [u8; 4] = [203, 0, 113, 254];

fn setup() -> Datapath {
    let mut dp = Datapath::load();
    add_networks(&mut dp, UPLINK_IFINDEX);
    dp
}

/// The answer direction of C2:`port` masqueraded as HOST:`masq` to
/// OUTSIDE:`remote`: what an error from the outside is translated by.
fn masquerade_reply(dp: &mut Datapath, protocol: u8, remote: u16, masq: u16, port: u16) {
    let entry = masquerade_reply_to_c2(OUTSIDE, remote, port, C2_IFINDEX);
    dp.nat_insert(flow(OUTSIDE, remote, HOST, masq, protocol), entry);
}

/// What a program must do with an ICMP error: `kind` from `sender` quoting
/// `quote` bytes of `sent` must leave redirected as the same error from
/// `translated` quoting as many bytes of `original`, every checksum
/// rewritten.
struct Translation<'a> {
    kind: ErrorKind,
    quote: usize,
    sender: &'a Ipv4Builder,
    sent: &'a [u8],
    translated: &'a Ipv4Builder,
    original: &'a [u8],
}

impl Translation<'_> {
    fn expect(&self, dp: &Datapath, program: &str, ifindex: Option<u32>) {
        let error = self.kind.frame(self.sender, self.sent, self.quote);
        let expected = self.kind.frame(self.translated, self.original, self.quote);
        let outcome = dp.run(program, &error, ifindex);
        assert_eq!(
            outcome.verdict, TC_ACT_REDIRECT,
            "{program}: expected a redirect"
        );
        assert_error_rewritten(&outcome.out, &expected);
    }
}

/// A router's `kind` error to the host quoting `quote` bytes of `sent`
/// (what left the uplink) must reach C2, with C2's MAC, quoting as many
/// bytes of `original` (what C2 had sent).
fn expect_router_error_reaches_c2(
    dp: &Datapath,
    kind: ErrorKind,
    quote: usize,
    sent: &[u8],
    original: &[u8],
) {
    let mut to_c2 = Ipv4Builder::new(ROUTER, C2);
    to_c2.dst_mac = C2_MAC;
    Translation {
        kind,
        quote,
        sender: &Ipv4Builder::new(ROUTER, HOST),
        sent,
        translated: &to_c2,
        original,
    }
    .expect(dp, UPLINK_INGRESS, None);
}

/// C2's "port unreachable" to `peer` about the whole of `received` (what
/// reached C2 from `peer`) must leave as the host's, about `original` (what
/// the host received).
fn expect_port_unreachable_leaves_as_host(
    dp: &Datapath,
    ifindex: u32,
    peer: [u8; 4],
    received: &[u8],
    original: &[u8],
) {
    let mut from_host = from_c2(peer);
    from_host.src_ip = HOST;
    Translation {
        kind: ErrorKind::PORT_UNREACH,
        quote: received.len() - 14,
        sender: &from_c2(peer),
        sent: received,
        translated: &from_host,
        original,
    }
    .expect(dp, CONTAINER_INGRESS, Some(ifindex));
}

#[test]
fn frag_needed_from_a_router_reaches_the_masqueraded_container() {
    let _g = serial();
    require_root();
    let mut dp = setup();
    masquerade_reply(&mut dp, proto::TCP, 443, 61000, 45678);
    // What left the uplink, and what C2 had sent.
    let sent = Ipv4Builder::new(HOST, OUTSIDE).tcp(61000, 443, TCP_ACK);
    let original = Ipv4Builder::new(C2, OUTSIDE).tcp(45678, 443, TCP_ACK);
    // The whole segment quoted (the TCP checksum verifies on its own), and
    // the RFC 792 minimum, where the TCP checksum is not in the quote.
    for quote in [sent.len() - 14, 28] {
        let kind = ErrorKind::frag_needed(1280);
        expect_router_error_reaches_c2(&dp, kind, quote, &sent, &original);
    }
    // An error ICMP does not count as a packet of the flow.
    let reply = dp
        .nat_get(&flow(OUTSIDE, 443, HOST, 61000, proto::TCP))
        .expect("entry");
    assert_eq!(
        reply.packets, 0,
        "an ICMP error was counted as a flow packet"
    );
}

#[test]
fn time_exceeded_about_a_masqueraded_ping() {
    let _g = serial();
    require_root();
    let mut dp = setup();
    masquerade_reply(&mut dp, proto::ICMP, 61001, 61001, 7);
    let sent = Ipv4Builder::new(HOST, OUTSIDE).icmp_echo(8, 61001, 3);
    let original = Ipv4Builder::new(C2, OUTSIDE).icmp_echo(8, 7, 3);
    let kind = ErrorKind::TIME_EXCEEDED;
    expect_router_error_reaches_c2(&dp, kind, sent.len() - 14, &sent, &original);
}

#[test]
fn frag_needed_about_a_published_flow_reaches_its_container() {
    let _g = serial();
    require_root();
    let mut dp = setup();
    dp.publish(HOST, 8080, proto::TCP, target(C2, 80, C2_IFINDEX, C2_MAC));
    let syn = Ipv4Builder::new(CLIENT, HOST).tcp(40000, 8080, TCP_SYN);
    assert_eq!(dp.run(UPLINK_INGRESS, &syn, None).verdict, TC_ACT_REDIRECT);
    // C2's answer left as HOST:8080; a router on the way cannot carry it.
    let sent = Ipv4Builder::new(HOST, CLIENT).tcp(8080, 40000, TCP_ACK);
    let original = Ipv4Builder::new(C2, CLIENT).tcp(80, 40000, TCP_ACK);
    let kind = ErrorKind::frag_needed(1400);
    expect_router_error_reaches_c2(&dp, kind, sent.len() - 14, &sent, &original);
}

#[test]
fn errors_about_unknown_flows_pass_unchanged() {
    let _g = serial();
    require_root();
    let mut dp = setup();
    masquerade_reply(&mut dp, proto::UDP, 53, 61002, 45000);
    let router = Ipv4Builder::new(ROUTER, HOST);
    // No flow has this tuple: the host's own traffic, say.
    let sent = Ipv4Builder::new(HOST, OUTSIDE).udp(61003, 53, b"query", true);
    let error = ErrorKind::PORT_UNREACH.frame(&router, &sent, 36);
    dp.expect_pass(UPLINK_INGRESS, &error, None);
    // The flow exists, but the error is not addressed to its sender.
    let sent = Ipv4Builder::new(HOST, OUTSIDE).udp(61002, 53, b"query", true);
    let elsewhere = Ipv4Builder::new(ROUTER, [203, 0, 113, 9]);
    let error = ErrorKind::PORT_UNREACH.frame(&elsewhere, &sent, 36);
    dp.expect_pass(UPLINK_INGRESS, &error, None);
}

#[test]
fn port_unreachable_from_a_container_leaves_as_the_published_address() {
    with_container(0, |dp, ifindex| {
        dp.publish(HOST, 5353, proto::UDP, target(C2, 53, ifindex, C2_MAC));
        let query = Ipv4Builder::new(CLIENT, HOST).udp(40000, 5353, b"query", true);
        assert_eq!(
            dp.run(UPLINK_INGRESS, &query, None).verdict,
            TC_ACT_REDIRECT
        );
        // C2 has no server on 53: its stack answers about what it got.
        let received = Ipv4Builder::new(CLIENT, C2).udp(40000, 53, b"query", true);
        expect_port_unreachable_leaves_as_host(dp, ifindex, CLIENT, &received, &query);

        // A container speaks only about packets it received: an error
        // about C3's published flow is not translated into it.
        let syn = Ipv4Builder::new(CLIENT, HOST).tcp(40001, 8080, TCP_SYN);
        assert_eq!(dp.run(UPLINK_INGRESS, &syn, None).verdict, TC_ACT_REDIRECT);
        let to_c3 = Ipv4Builder::new(CLIENT, C3).tcp(40001, 80, TCP_SYN);
        let forged = ErrorKind::PORT_UNREACH.frame(&from_c2(CLIENT), &to_c3, 28);
        // Not translated: it would leave untranslated, so it is dropped.
        let reason = DropReason::Untranslatable;
        dp.expect_drop(CONTAINER_INGRESS, &forged, Some(ifindex), reason);
    });
}

#[test]
fn port_unreachable_from_a_container_about_a_masquerade_reply() {
    with_uplink(0, |dp, ifindex, _uplink| {
        dp.set_config(Config {
            masq_port_min: 61000,
            masq_port_max: 65535,
            ..Default::default()
        });
        let query = from_c2(OUTSIDE).udp(45000, 53, b"query", true);
        let out = dp.run(CONTAINER_INGRESS, &query, Some(ifindex));
        assert_eq!(out.verdict, TC_ACT_REDIRECT, "masquerade verdict");
        let port = View(&out.out).src_port();
        // The answer reaches C2, whose socket is gone by now.
        let answer = Ipv4Builder::new(OUTSIDE, HOST).udp(53, port, b"answer", true);
        assert_eq!(
            dp.run(UPLINK_INGRESS, &answer, None).verdict,
            TC_ACT_REDIRECT
        );
        let received = Ipv4Builder::new(OUTSIDE, C2).udp(53, 45000, b"answer", true);
        // It leaves as the host's, about what the host received.
        expect_port_unreachable_leaves_as_host(dp, ifindex, OUTSIDE, &received, &answer);
    });
}
