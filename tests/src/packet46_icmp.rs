//! ICMPv6 error frames and independent checks of translated ICMP errors,
//! for the packet tests of `nat46_icmp` (errors of IPv4 clients' flows
//! into IPv6-only containers, translated between the families).

use ebpfnet_common::nat46;

use crate::packet::{ETH_LEN, ETH_P_IP, ICMP, View, ethernet, internet_checksum};
use crate::packet6::{ETH_P_IPV6, ICMPV6};

const IPV6_HEADER_LEN: usize = 40;

/// The unfolded sum of an IPv6 pseudo-header (RFC 8200 §8.1).
fn pseudo_sum6(src: &[u8], dst: &[u8], protocol: u8, len: usize) -> u32 {
    let words: u32 = src
        .chunks(2)
        .chain(dst.chunks(2))
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    words + (len as u32 >> 16) + (len as u32 & 0xffff) + u32::from(protocol)
}

/// An ICMPv6 error `src` → `dst` (MACs `macs.0` → `macs.1`, hop limit 64)
/// of `kind`/`code` with second word `rest`, quoting the first
/// `quote_len` bytes of the IPv6 packet in `quoted` (an Ethernet frame).
pub fn icmp6_error(
    macs: ([u8; 6], [u8; 6]),
    (src, dst): ([u8; 16], [u8; 16]),
    (kind, code, rest): (u8, u8, [u8; 4]),
    quoted: &[u8],
    quote_len: usize,
) -> Vec<u8> {
    let ip = &quoted[ETH_LEN..];
    let mut icmp = vec![kind, code, 0, 0];
    icmp.extend_from_slice(&rest);
    icmp.extend_from_slice(&ip[..quote_len.min(ip.len())]);
    let csum = internet_checksum(&icmp, pseudo_sum6(&src, &dst, ICMPV6, icmp.len()));
    icmp[2..4].copy_from_slice(&csum.to_be_bytes());
    let mut packet = vec![0x60, 0, 0, 0];
    packet.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
    packet.extend_from_slice(&[ICMPV6, 64]);
    packet.extend_from_slice(&src);
    packet.extend_from_slice(&dst);
    packet.extend_from_slice(&icmp);
    ethernet(macs.1, macs.0, ETH_P_IPV6, &packet)
}

/// What a translated error says and quotes.
#[derive(Debug)]
pub struct Translated {
    pub kind: u8,
    pub code: u8,
    pub rest: [u8; 4],
    /// The quoted packet's IP header (without options) and the rest of
    /// the quote (its L4 header and data).
    pub quoted_ip: Vec<u8>,
    pub quoted_l4: Vec<u8>,
}

/// Checks an ICMPv4 error frame (`src` → `dst`) as made from an ICMPv6
/// one: Ethernet type, addresses, protocol, no options, the outer IPv4
/// checksum, the ICMP checksum over the whole message, the quoted IPv4
/// header's checksum, DF on either header only above 1260 bytes (RFC 7915
/// §5.1). Returns what it says and quotes.
pub fn icmp4_of(frame: &[u8], src: [u8; 4], dst: [u8; 4]) -> Translated {
    let v = View(frame);
    assert_eq!(v.ethertype(), ETH_P_IP, "not IPv4: {frame:02x?}");
    assert_eq!((v.src_ip(), v.dst_ip()), (src, dst), "outer addresses");
    assert_eq!((v.protocol(), v.ihl()), (ICMP, 20), "outer protocol");
    assert!(v.ipv4_checksum_ok(), "outer IPv4 checksum");
    assert!(v.l4_checksum_ok(), "ICMP checksum");
    let icmp = v.l4();
    let quoted = &icmp[8..];
    assert_eq!(quoted[0], 0x45, "quoted IPv4 header: {quoted:02x?}");
    assert_eq!(internet_checksum(&quoted[..20], 0), 0, "quoted checksum");
    for (what, ip) in [("outer", &frame[ETH_LEN..]), ("quoted", quoted)] {
        let len = u16::from_be_bytes([ip[2], ip[3]]);
        let df = ip[6] & 0x40 != 0;
        assert_eq!(df, nat46::dont_fragment(len), "{what} DF at {len} bytes");
    }
    Translated {
        kind: icmp[0],
        code: icmp[1],
        rest: icmp[4..8].try_into().expect("ICMP header"),
        quoted_ip: quoted[..20].to_vec(),
        quoted_l4: quoted[20..].to_vec(),
    }
}

/// Checks an ICMPv6 error frame (`src` → `dst`, hop limit `hops`) as made
/// from an ICMPv4 one: Ethernet type, addresses, next header, payload
/// length (the frame's end), the ICMPv6 checksum over its pseudo-header.
/// Returns what it says and quotes.
pub fn icmp6_of(frame: &[u8], src: [u8; 16], dst: [u8; 16], hops: u8) -> Translated {
    assert_eq!(
        u16::from_be_bytes([frame[12], frame[13]]),
        ETH_P_IPV6,
        "not IPv6: {frame:02x?}"
    );
    let ip = &frame[ETH_LEN..];
    let len = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
    assert_eq!(IPV6_HEADER_LEN + len, ip.len(), "payload length");
    assert_eq!((ip[0] >> 4, ip[6], ip[7]), (6, ICMPV6, hops), "IPv6 header");
    assert_eq!((&ip[8..24], &ip[24..40]), (&src[..], &dst[..]), "addresses");
    let icmp = &ip[IPV6_HEADER_LEN..];
    let sum = pseudo_sum6(&src, &dst, ICMPV6, icmp.len());
    assert_eq!(internet_checksum(icmp, sum), 0, "ICMPv6 checksum");
    let quoted = &icmp[8..];
    assert_eq!(quoted[0] >> 4, 6, "quoted IPv6 header: {quoted:02x?}");
    Translated {
        kind: icmp[0],
        code: icmp[1],
        rest: icmp[4..8].try_into().expect("ICMPv6 header"),
        quoted_ip: quoted[..IPV6_HEADER_LEN].to_vec(),
        quoted_l4: quoted[IPV6_HEADER_LEN..].to_vec(),
    }
}
