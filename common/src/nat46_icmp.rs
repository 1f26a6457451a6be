//! ICMP error headers of translated flows (`nat46`) between the families,
//! as RFC 7915 maps them (§4.2 ICMPv4 → ICMPv6, §5.2 ICMPv6 → ICMPv4):
//! type, code and the header's second word (MTU, pointer). What the RFC
//! does not translate (or says to drop silently) is `None`: the datapath
//! drops it rather than pass it on untranslated. Pure functions, shared
//! by the eBPF side and its unit tests.

/// An ICMP or ICMPv6 header without its checksum: type, code and the
/// second 32-bit word (network byte order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpHead {
    pub kind: u8,
    pub code: u8,
    pub rest: [u8; 4],
}

pub const ICMP_DEST_UNREACH: u8 = 3;
pub const ICMP_TIME_EXCEEDED: u8 = 11;
pub const ICMP_PARAMETER_PROB: u8 = 12;
pub const ICMP_FRAG_NEEDED: u8 = 4;
pub const ICMPV6_DEST_UNREACH: u8 = 1;
pub const ICMPV6_PACKET_TOO_BIG: u8 = 2;
pub const ICMPV6_TIME_EXCEEDED: u8 = 3;
pub const ICMPV6_PARAM_PROBLEM: u8 = 4;

/// The smallest MTU of IPv4 (RFC 791) and the largest its 16-bit field holds.
const IPV4_MIN_MTU: u32 = 68;
/// IPv6's minimum MTU (RFC 8200 §5): the least "packet too big" says.
/// Linux's TCP ignores one below it (since 5.14), and RFC 8021 deprecates
/// the atomic fragments it once asked for: told 1280, the container sends
/// packets of 1260 bytes as IPv4, which leave without DF
/// (`nat46::DF_ABOVE`) for the router before the small hop to fragment.
const IPV6_MIN_MTU: u32 = 1280;
/// How much longer an IPv6 header is than an IPv4 one without options.
const HEADER_GROWTH: u32 = 20;

/// RFC 1191's plateau table, for routers that leave the MTU at zero.
const PLATEAUS: [u16; 10] = [32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68];

#[inline(always)]
const fn head(kind: u8, code: u8, rest: u32) -> Option<IcmpHead> {
    Some(IcmpHead {
        kind,
        code,
        rest: rest.to_be_bytes(),
    })
}

/// An ICMPv4 error → its ICMPv6 form (RFC 7915 §4.2). `quoted_len`: the
/// quoted packet's total length, for "fragmentation needed" without an
/// MTU (a plateau below it, RFC 1191 §5).
#[inline(always)]
pub fn icmp4_to_icmp6(icmp: IcmpHead, quoted_len: u16) -> Option<IcmpHead> {
    match (icmp.kind, icmp.code) {
        (ICMP_DEST_UNREACH, 0 | 1 | 5..=8 | 11 | 12) => head(ICMPV6_DEST_UNREACH, 0, 0),
        // Protocol unreachable: parameter problem at the Next Header field.
        (ICMP_DEST_UNREACH, 2) => head(ICMPV6_PARAM_PROBLEM, 1, 6),
        (ICMP_DEST_UNREACH, 3) => head(ICMPV6_DEST_UNREACH, 4, 0),
        (ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED) => {
            let mut mtu = u16::from_be_bytes([icmp.rest[2], icmp.rest[3]]);
            if mtu == 0 {
                mtu = plateau_below(quoted_len);
            }
            // The IPv6 packet may be 20 bytes longer than the IPv4 one;
            // never below IPv6's minimum.
            let mtu = (u32::from(mtu) + HEADER_GROWTH).max(IPV6_MIN_MTU);
            head(ICMPV6_PACKET_TOO_BIG, 0, mtu)
        }
        (ICMP_DEST_UNREACH, 9 | 10 | 13 | 15) => head(ICMPV6_DEST_UNREACH, 1, 0),
        (ICMP_TIME_EXCEEDED, code) => head(ICMPV6_TIME_EXCEEDED, code, 0),
        (ICMP_PARAMETER_PROB, 0 | 2) => match pointer4_to_6(icmp.rest[0]) {
            Some(pointer) => head(ICMPV6_PARAM_PROBLEM, 0, pointer),
            None => None,
        },
        _ => None,
    }
}

/// An ICMPv6 error → its ICMPv4 form (RFC 7915 §5.2).
#[inline(always)]
pub fn icmp6_to_icmp4(icmp: IcmpHead) -> Option<IcmpHead> {
    match (icmp.kind, icmp.code) {
        (ICMPV6_DEST_UNREACH, 0 | 2 | 3) => head(ICMP_DEST_UNREACH, 1, 0),
        (ICMPV6_DEST_UNREACH, 1) => head(ICMP_DEST_UNREACH, 10, 0),
        (ICMPV6_DEST_UNREACH, 4) => head(ICMP_DEST_UNREACH, 3, 0),
        (ICMPV6_PACKET_TOO_BIG, _) => {
            // 20 bytes less for the IPv4 header, kept within what IPv4
            // can carry (its field is 16 bits; no MTU is below 68).
            let mtu = u32::from_be_bytes(icmp.rest)
                .saturating_sub(HEADER_GROWTH)
                .clamp(IPV4_MIN_MTU, 0xffff);
            head(ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, mtu)
        }
        (ICMPV6_TIME_EXCEEDED, code) => head(ICMP_TIME_EXCEEDED, code, 0),
        (ICMPV6_PARAM_PROBLEM, 0) => match pointer6_to_4(u32::from_be_bytes(icmp.rest)) {
            // The pointer is the first byte of the word.
            Some(pointer) => head(ICMP_PARAMETER_PROB, 0, u32::from(pointer) << 24),
            None => None,
        },
        // Unrecognized next header: protocol unreachable.
        (ICMPV6_PARAM_PROBLEM, 1) => head(ICMP_DEST_UNREACH, 2, 0),
        _ => None,
    }
}

/// The largest RFC 1191 plateau below `len`, 68 at least.
#[inline(always)]
fn plateau_below(len: u16) -> u16 {
    let mut i = 0;
    while i < PLATEAUS.len() {
        if PLATEAUS[i] < len {
            return PLATEAUS[i];
        }
        i += 1;
    }
    IPV4_MIN_MTU as u16
}

/// A parameter problem's pointer into an IPv4 header → the same field of
/// the IPv6 header (RFC 7915 §4.2, figure 3); `None` where IPv6 has none.
#[inline(always)]
fn pointer4_to_6(pointer: u8) -> Option<u32> {
    match pointer {
        0 => Some(0),
        1 => Some(1),
        2 | 3 => Some(4),
        8 => Some(7),
        9 => Some(6),
        12..=15 => Some(8),
        16..=19 => Some(24),
        _ => None,
    }
}

/// The reverse (RFC 7915 §5.2, figure 6).
#[inline(always)]
fn pointer6_to_4(pointer: u32) -> Option<u8> {
    match pointer {
        0 => Some(0),
        1 => Some(1),
        4 | 5 => Some(2),
        6 => Some(9),
        7 => Some(8),
        8..=23 => Some(12),
        24..=39 => Some(16),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn icmp(kind: u8, code: u8, rest: u32) -> IcmpHead {
        IcmpHead {
            kind,
            code,
            rest: rest.to_be_bytes(),
        }
    }

    #[test]
    fn ipv4_errors_become_their_ipv6_forms() {
        let six = |kind, code, rest| icmp4_to_icmp6(icmp(kind, code, rest), 1480);
        // Port unreachable, host unreachable, admin prohibited.
        assert_eq!(six(3, 3, 0), Some(icmp(1, 4, 0)));
        assert_eq!(six(3, 1, 0), Some(icmp(1, 0, 0)));
        assert_eq!(six(3, 13, 0), Some(icmp(1, 1, 0)));
        assert_eq!(six(3, 2, 0), Some(icmp(4, 1, 6)));
        // Fragmentation needed: 20 bytes more, 1280 at least; an MTU of 0
        // is a plateau below the quoted packet's length.
        assert_eq!(six(3, 4, 1280), Some(icmp(2, 0, 1300)));
        assert_eq!(six(3, 4, 1261), Some(icmp(2, 0, 1281)));
        assert_eq!(six(3, 4, 1259), Some(icmp(2, 0, 1280)));
        assert_eq!(six(3, 4, 576), Some(icmp(2, 0, 1280)));
        assert_eq!(six(3, 4, 0), Some(icmp(2, 0, 1280)));
        assert_eq!(
            icmp4_to_icmp6(icmp(3, 4, 0), 4000),
            Some(icmp(2, 0, 2002 + 20))
        );
        assert_eq!(six(11, 0, 0), Some(icmp(3, 0, 0)));
        assert_eq!(six(11, 1, 0), Some(icmp(3, 1, 0)));
        // Parameter problem at the TTL (8) is at the hop limit (7).
        assert_eq!(six(12, 0, 8 << 24), Some(icmp(4, 0, 7)));
        assert_eq!(six(12, 0, 16 << 24), Some(icmp(4, 0, 24)));
        // Nothing in IPv6 for these: dropped.
        assert_eq!(six(12, 0, 10 << 24), None);
        assert_eq!(six(12, 1, 0), None);
        assert_eq!(six(3, 14, 0), None);
        assert_eq!(six(3, 16, 0), None);
        assert_eq!(six(4, 0, 0), None);
        assert_eq!(six(5, 1, 0), None);
    }

    #[test]
    fn ipv6_errors_become_their_ipv4_forms() {
        let four = |kind, code, rest| icmp6_to_icmp4(icmp(kind, code, rest));
        assert_eq!(four(1, 4, 0), Some(icmp(3, 3, 0)));
        assert_eq!(four(1, 0, 0), Some(icmp(3, 1, 0)));
        assert_eq!(four(1, 3, 0), Some(icmp(3, 1, 0)));
        assert_eq!(four(1, 1, 0), Some(icmp(3, 10, 0)));
        // Packet too big: 20 bytes less, within 68..=65535.
        assert_eq!(four(2, 0, 1400), Some(icmp(3, 4, 1380)));
        assert_eq!(four(2, 0, 1280), Some(icmp(3, 4, 1260)));
        assert_eq!(four(2, 0, 40), Some(icmp(3, 4, 68)));
        assert_eq!(four(2, 0, 1 << 20), Some(icmp(3, 4, 65535)));
        assert_eq!(four(3, 0, 0), Some(icmp(11, 0, 0)));
        assert_eq!(four(4, 0, 7), Some(icmp(12, 0, 8 << 24)));
        assert_eq!(four(4, 0, 30), Some(icmp(12, 0, 16 << 24)));
        assert_eq!(four(4, 1, 40), Some(icmp(3, 2, 0)));
        assert_eq!(four(4, 0, 2), None);
        assert_eq!(four(4, 2, 40), None);
        assert_eq!(four(1, 5, 0), None);
        assert_eq!(four(1, 6, 0), None);
        assert_eq!(four(128, 0, 0), None);
    }
}
