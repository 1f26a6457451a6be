//! IPv6 frames for the tests of what containers may send: ICMPv6 with
//! valid checksums, optionally behind a Hop-by-Hop header (the classic RA
//! guard evasion).

use crate::packet::{ethernet, internet_checksum};

pub const ETH_P_IPV6: u16 = 0x86dd;
pub const ICMPV6: u8 = 58;
pub const ICMPV6_ECHO_REQUEST: u8 = 128;
pub const ICMPV6_ROUTER_ADVERTISEMENT: u8 = 134;
pub const ICMPV6_NEIGHBOR_SOLICITATION: u8 = 135;
pub const ICMPV6_NEIGHBOR_ADVERTISEMENT: u8 = 136;
pub const ICMPV6_REDIRECT: u8 = 137;
const HOP_BY_HOP: u8 = 0;

/// `fe80::` + the EUI-64 of `mac`, as the kernel derives it.
pub fn link_local(mac: [u8; 6]) -> [u8; 16] {
    let mut ip = [0u8; 16];
    ip[0] = 0xfe;
    ip[1] = 0x80;
    ip[8] = mac[0] ^ 0x02;
    ip[9] = mac[1];
    ip[10] = mac[2];
    ip[11] = 0xff;
    ip[12] = 0xfe;
    ip[13] = mac[3];
    ip[14] = mac[4];
    ip[15] = mac[5];
    ip
}

/// A neighbour solicitation or advertisement body: flags (`0x60`:
/// solicited and override, for an advertisement), the target, and a
/// link-layer address option (1: source, 2: target) with `mac`.
pub fn neighbor_body(flags: u8, target: [u8; 16], option: Option<(u8, [u8; 6])>) -> Vec<u8> {
    let mut body = vec![flags, 0, 0, 0];
    body.extend_from_slice(&target);
    if let Some((kind, mac)) = option {
        body.extend_from_slice(&[kind, 1]);
        body.extend_from_slice(&mac);
    }
    body
}

/// The solicited-node multicast group of `ip` (ff02::1:ffXX:XXXX).
pub fn solicited_node(ip: [u8; 16]) -> [u8; 16] {
    let mut group = [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 0];
    group[13..].copy_from_slice(&ip[13..]);
    group
}

/// ff02::1, every node on the link.
pub const ALL_NODES: [u8; 16] = [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

/// The Ethernet multicast address of an IPv6 multicast group.
pub fn multicast_mac(group: [u8; 16]) -> [u8; 6] {
    [0x33, 0x33, group[12], group[13], group[14], group[15]]
}

/// A router advertisement body announcing `prefix`/64 for autoconfiguration.
pub fn router_advertisement(prefix: [u8; 8]) -> Vec<u8> {
    // Hop limit, flags, router lifetime 1800 s, reachable, retransmit.
    let mut body = vec![64, 0, 0x07, 0x08, 0, 0, 0, 0, 0, 0, 0, 0];
    // Prefix information: type 3, length 4 (32 bytes), /64, on-link and
    // autonomous, lifetimes, reserved, prefix.
    body.extend_from_slice(&[3, 4, 64, 0xc0]);
    body.extend_from_slice(&86400u32.to_be_bytes());
    body.extend_from_slice(&14400u32.to_be_bytes());
    body.extend_from_slice(&[0; 4]);
    body.extend_from_slice(&prefix);
    body.extend_from_slice(&[0; 8]);
    body
}

/// What only a router may send, from `mac` (its link-local address) to
/// all nodes: a router advertisement of `prefix`/64 and a redirect to
/// `redirect_dst`, each without and with a Hop-by-Hop header.
pub fn router_messages(mac: [u8; 6], prefix: [u8; 8], redirect_dst: [u8; 16]) -> Vec<Vec<u8>> {
    let (macs, src) = ((mac, multicast_mac(ALL_NODES)), link_local(mac));
    let ra = router_advertisement(prefix);
    let mut frames = Vec::new();
    for hop_by_hop in [false, true] {
        let advertise = ICMPV6_ROUTER_ADVERTISEMENT;
        frames.push(icmpv6_frame(
            macs, src, ALL_NODES, advertise, &ra, hop_by_hop,
        ));
        let redirect = &[0; 36];
        frames.push(icmpv6_frame(
            macs,
            src,
            redirect_dst,
            ICMPV6_REDIRECT,
            redirect,
            hop_by_hop,
        ));
    }
    frames
}

/// An ICMPv6 message of `icmp_type` with `body` (after the 4-byte header)
/// from `src` to `dst`, hop limit 255 as ND requires.
pub fn icmpv6_frame(
    macs: ([u8; 6], [u8; 6]),
    src: [u8; 16],
    dst: [u8; 16],
    icmp_type: u8,
    body: &[u8],
    hop_by_hop: bool,
) -> Vec<u8> {
    let mut icmp = vec![icmp_type, 0, 0, 0];
    icmp.extend_from_slice(body);
    let mut pseudo = Vec::with_capacity(40);
    pseudo.extend_from_slice(&src);
    pseudo.extend_from_slice(&dst);
    pseudo.extend_from_slice(&(icmp.len() as u32).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, ICMPV6]);
    let sum = pseudo
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    let csum = internet_checksum(&icmp, sum);
    icmp[2..4].copy_from_slice(&csum.to_be_bytes());

    let mut payload = Vec::new();
    let first = if hop_by_hop {
        // Next header ICMPv6, length 0 (8 bytes), PadN of 4 bytes.
        payload.extend_from_slice(&[ICMPV6, 0, 1, 4, 0, 0, 0, 0]);
        HOP_BY_HOP
    } else {
        ICMPV6
    };
    payload.extend_from_slice(&icmp);
    let mut ip6 = vec![0x60, 0, 0, 0];
    ip6.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    ip6.push(first);
    ip6.push(255);
    ip6.extend_from_slice(&src);
    ip6.extend_from_slice(&dst);
    ip6.extend_from_slice(&payload);
    ethernet(macs.1, macs.0, ETH_P_IPV6, &ip6)
}
