//! The egress MTU on crafted frames (BPF_PROG_TEST_RUN): a packet too big
//! for the uplink is answered with ICMP "fragmentation needed" back into
//! the container when it has DF set, and dropped (counted) when not.
//! Run as root: the tests fail (never skip) otherwise.

use ebpfnet_common::DropReason;
use ebpfnet_common::maps::{Config, proto};
use ebpfnet_tests::netns::ip_ok;
use ebpfnet_tests::packet::{
    ETH_LEN, ICMP, IP_DF, IP_MF, TCP_ACK, TCP_SYN, View, internet_checksum,
};
use ebpfnet_tests::packet_icmp::{ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED};
use ebpfnet_tests::testrun::{CONTAINER_INGRESS, Datapath, TC_ACT_REDIRECT};
use ebpfnet_tests::topology::{C2, C2_MAC, GW_MAC, HOST, OUTSIDE, from_c2, with_uplink};

const GATEWAY: [u8; 4] = [10, 214, 0, 1];

/// A UDP datagram from C2 to OUTSIDE whose IP packet is `ip_len` bytes.
fn datagram(ip_len: usize, frag: u16) -> Vec<u8> {
    from_c2(OUTSIDE)
        .frag(frag)
        .udp(45000, 53, &vec![0x5a; ip_len - 28], true)
}

/// A TCP segment from C2 to OUTSIDE whose IP packet is `ip_len` bytes
/// (checksum not fixed: nobody checks it here).
/// Opens the TCP flow [`segment`]s belong to: only a SYN starts one.
fn open_segment_flow(dp: &Datapath, ifindex: u32) {
    let syn = from_c2(OUTSIDE).tcp(45001, 443, TCP_SYN);
    assert_eq!(
        dp.run(CONTAINER_INGRESS, &syn, Some(ifindex)).verdict,
        TC_ACT_REDIRECT,
        "the SYN opening the flow"
    );
}

fn segment(ip_len: usize) -> Vec<u8> {
    let b = from_c2(OUTSIDE);
    let small = b.tcp(45001, 443, TCP_ACK);
    let mut l4 = View(&small).l4().to_vec();
    l4.resize(ip_len - 20, 0x5a);
    b.ipv4(proto::TCP, &l4)
}

/// Asserts `out` is "fragmentation needed" (`mtu`) from C2's gateway to C2
/// quoting `sent`'s IP header and `quoted` bytes of its datagram.
fn assert_frag_needed(out: &[u8], sent: &[u8], mtu: u16, quoted: usize) {
    let v = View(out);
    assert_eq!((v.dst_mac(), v.src_mac()), (C2_MAC, GW_MAC), "MACs");
    assert_eq!((v.src_ip(), v.dst_ip(), v.protocol()), (GATEWAY, C2, ICMP));
    assert!(v.ipv4_checksum_ok(), "IPv4 checksum of the error");
    let icmp = v.l4();
    assert_eq!((icmp[0], icmp[1]), (ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED));
    assert_eq!(u16::from_be_bytes([icmp[6], icmp[7]]), mtu, "next-hop MTU");
    assert_eq!(internet_checksum(icmp, 0), 0, "ICMP checksum of the error");
    let quote = &sent[ETH_LEN..ETH_LEN + 20 + quoted];
    assert_eq!(&icmp[8..], quote, "quoted header and datagram start");
    assert_eq!(out.len(), ETH_LEN + 20 + 8 + 20 + quoted, "error length");
}

/// The masquerade port range the daemon would configure.
fn configure(dp: &mut Datapath) {
    dp.set_config(Config {
        masq_port_min: 61000,
        masq_port_max: 65535,
        ..Default::default()
    });
}

fn run(dp: &Datapath, frame: &[u8], ifindex: u32) -> Vec<u8> {
    let outcome = dp.run(CONTAINER_INGRESS, frame, Some(ifindex));
    assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "expected a redirect");
    outcome.out
}

#[test]
fn too_big_for_the_uplink_answers_frag_needed_or_drops() {
    with_uplink(0, |dp, ifindex, _uplink| {
        configure(dp);
        // The uplink (d1) carries 1280 bytes; C2's veth 1500.
        ip_ok(&["link", "set", "d1", "mtu", "1280"]);
        // With the next hop's MAC known, bpf_fib_lookup itself refuses a
        // packet larger than the egress MTU (FRAG_NEEDED): the route is
        // still found, and the sender still gets the error.
        let gateway_mac = "02:00:00:00:00:fe";
        ip_ok(&[
            "neigh",
            "replace",
            "192.0.2.254",
            "lladdr",
            gateway_mac,
            "dev",
            "d1",
        ]);
        for len in [1281, 1400, 1500] {
            let sent = datagram(len, IP_DF);
            assert_frag_needed(&run(dp, &sent, ifindex), &sent, 1280, 8);
        }
        // TCP: 20 bytes quoted, the whole header without options.
        open_segment_flow(dp, ifindex);
        let sent = segment(1400);
        assert_frag_needed(&run(dp, &sent, ifindex), &sent, 1280, 20);
        // What fits leaves masqueraded, on the flow the big ones opened.
        let fits = datagram(1280, IP_DF);
        let out = run(dp, &fits, ifindex);
        let v = View(&out);
        assert_eq!(
            (v.src_ip(), v.dst_ip(), v.protocol()),
            (HOST, OUTSIDE, proto::UDP)
        );
        assert_eq!(out.len(), fits.len());
        // Without DF a router would fragment; the datapath cannot: the
        // packet is lost (counted), the sender still learns the MTU.
        let sent = datagram(1400, 0);
        let before = dp.drops(DropReason::TooBig);
        assert_frag_needed(&run(dp, &sent, ifindex), &sent, 1280, 8);
        assert_eq!(
            dp.drops(DropReason::TooBig),
            before + 1,
            "too_big not counted"
        );
        // A later fragment too big for the uplink (its first one fitted)
        // names no socket in a quote: only dropped.
        let first = datagram(1280, IP_MF);
        assert_eq!(View(&run(dp, &first, ifindex)).src_ip(), HOST);
        let later = datagram(1400, 0x00a0);
        dp.expect_drop(CONTAINER_INGRESS, &later, Some(ifindex), DropReason::TooBig);
    });
}

#[test]
fn uplink_mtu_does_not_limit_what_fits() {
    with_uplink(0, |dp, ifindex, _uplink| {
        configure(dp);
        let sent = datagram(1500, IP_DF);
        let out = run(dp, &sent, ifindex);
        assert_eq!(View(&out).src_ip(), HOST, "masqueraded");
        assert_eq!(out.len(), sent.len());
    });
}

#[test]
fn gso_packets_are_judged_by_their_segments() {
    with_uplink(0, |dp, ifindex, _uplink| {
        configure(dp);
        ip_ok(&["link", "set", "d1", "mtu", "1280"]);
        // A TSO sender's 3000-byte packet of 1448-byte segments: each
        // segment is too big for the uplink, though bpf_check_mtu passes
        // every GSO packet (and BPF_MTU_CHK_SEGS fails on one without a
        // transport header, as here).
        open_segment_flow(dp, ifindex);
        let sent = segment(3000);
        let outcome = dp.run_gso(CONTAINER_INGRESS, &sent, Some(ifindex), 1448);
        assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "expected a redirect");
        assert_frag_needed(&outcome.out, &sent, 1280, 20);
        // Segments of 20 + 20 + 1240 bytes fit: the packet leaves whole.
        let outcome = dp.run_gso(CONTAINER_INGRESS, &sent, Some(ifindex), 1240);
        assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "expected a redirect");
        let v = View(&outcome.out);
        assert_eq!(
            (v.src_ip(), v.protocol()),
            (HOST, proto::TCP),
            "masqueraded"
        );
        assert_eq!(outcome.out.len(), sent.len());
        // One byte more per segment is too much.
        let outcome = dp.run_gso(CONTAINER_INGRESS, &sent, Some(ifindex), 1241);
        assert_frag_needed(&outcome.out, &sent, 1280, 20);
    });
}
