//! Publishing IPv4 host ports into IPv6-only containers (Docker's "proxy 4
//! to 6", done in the datapath by SIIT-style translation, RFC 7915):
//! the addresses, map and program names the eBPF side and the controller
//! share.
//!
//! - A mapping of an IPv4 host address (`0.0.0.0` for every one) into an
//!   IPv6-only container is a `PUBLISHED6` entry keyed by the IPv4-mapped
//!   address (`::ffff:203.0.113.1`, `::ffff:0.0.0.0` for every address):
//!   the same value type, so bpftool shows both families side by side.
//! - `NAT46_PORTS` (an array indexed by host port) marks the ports that
//!   have such a mapping (bit [`NAT46_TCP`], [`NAT46_UDP`]): the IPv4
//!   uplink path tail-calls `uplink_ingress46` only for those.
//! - A translated flow's two entries live in the IPv6 NAT tables, keyed
//!   as the container's side sees it: the client as [`client6`] (its IPv4
//!   address in [`NAT46_PREFIX`]), the host address as its IPv4-mapped
//!   form (`NatKind::Nat46Request` / `Nat46Reply`).

/// The /96 the container sees IPv4 clients in: RFC 8215's local-use
/// IPv4/IPv6 translation prefix `64:ff9b:1::/48`, first /96. Not RFC
/// 6052's well-known `64:ff9b::/96`, which must not carry private IPv4
/// addresses (RFC 6052 §3.1), and LAN clients often have one.
pub const NAT46_PREFIX: [u8; 12] = [0x00, 0x64, 0xff, 0x9b, 0x00, 0x01, 0, 0, 0, 0, 0, 0];

/// `::ffff:0:0/96`, the IPv4-mapped addresses (RFC 4291 §2.5.5.2).
pub const V4_MAPPED_PREFIX: [u8; 12] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/// Array (`u32` host port) -> `u8` bits: ports that lead into an
/// IPv6-only container from IPv4.
pub const NAT46_PORTS_MAP: &str = "NAT46_PORTS";
pub const NAT46_PORTS_CAPACITY: u32 = 1 << 16;
/// `NAT46_PORTS` bits.
pub const NAT46_TCP: u8 = 1;
pub const NAT46_UDP: u8 = 2;

/// `TAIL_CALLS` slot of `uplink_ingress46`.
pub const TAIL_UPLINK46: u32 = 2;
/// The program in slot [`TAIL_UPLINK46`].
pub const UPLINK_INGRESS46_PROGRAM: &str = "uplink_ingress46";

/// RFC 7915 §5.1: an IPv6 packet translated to IPv4 (without a Fragment
/// header) carries DF only when the IPv4 packet is longer than this. The
/// IPv6 sender never goes below 1280 bytes (IPv6's minimum MTU), 1260 as
/// IPv4: a hop below that on the IPv4 side must fragment what it gets.
pub const DF_ABOVE: u16 = 1260;

/// Whether a translated IPv4 packet of `len` bytes carries DF (for a GSO
/// packet: the length of its segments).
#[inline(always)]
pub const fn dont_fragment(len: u16) -> bool {
    len > DF_ABOVE
}

/// The IPv6 address an IPv4 client appears as inside the container.
#[inline(always)]
pub const fn client6(ip: [u8; 4]) -> [u8; 16] {
    embed(NAT46_PREFIX, ip)
}

/// The IPv4-mapped form of a host address (`::ffff:a.b.c.d`).
#[inline(always)]
pub const fn mapped(ip: [u8; 4]) -> [u8; 16] {
    embed(V4_MAPPED_PREFIX, ip)
}

/// The IPv4 address in the last 32 bits.
#[inline(always)]
pub const fn embedded(ip: &[u8; 16]) -> [u8; 4] {
    [ip[12], ip[13], ip[14], ip[15]]
}

/// Whether `ip` is IPv4-mapped.
#[inline(always)]
pub const fn is_mapped(ip: &[u8; 16]) -> bool {
    has_prefix(ip, &V4_MAPPED_PREFIX)
}

/// Whether `ip` is an IPv4 client's address as the container sees it.
#[inline(always)]
pub const fn is_client6(ip: &[u8; 16]) -> bool {
    has_prefix(ip, &NAT46_PREFIX)
}

/// Byte by byte (a slice comparison could become a `memcmp` call, which
/// eBPF programs do not have).
#[inline(always)]
const fn has_prefix(ip: &[u8; 16], prefix: &[u8; 12]) -> bool {
    let mut differ = 0;
    let mut i = 0;
    while i < 12 {
        differ |= ip[i] ^ prefix[i];
        i += 1;
    }
    differ == 0
}

/// The `NAT46_PORTS` bit of `protocol` (TCP 6, UDP 17), 0 for others.
#[inline(always)]
pub const fn port_bit(protocol: u8) -> u8 {
    match protocol {
        6 => NAT46_TCP,
        17 => NAT46_UDP,
        _ => 0,
    }
}

#[inline(always)]
const fn embed(prefix: [u8; 12], ip: [u8; 4]) -> [u8; 16] {
    let p = prefix;
    [
        p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], ip[0], ip[1],
        ip[2], ip[3],
    ]
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use super::*;

    #[test]
    fn addresses_read_as_documented() {
        let client = Ipv6Addr::from(client6([203, 0, 113, 2]));
        assert_eq!(client.to_string(), "64:ff9b:1::cb00:7102");
        let host = Ipv6Addr::from(mapped([203, 0, 113, 1]));
        assert_eq!(host.to_string(), "::ffff:203.0.113.1");
        assert!(is_mapped(&host.octets()) && !is_mapped(&client.octets()));
        assert!(is_client6(&client.octets()) && !is_client6(&host.octets()));
        assert_eq!(embedded(&client.octets()), [203, 0, 113, 2]);
        assert_eq!((port_bit(6), port_bit(17), port_bit(1)), (1, 2, 0));
    }

    #[test]
    fn df_only_above_1260_bytes() {
        assert!(!dont_fragment(40) && !dont_fragment(1260));
        assert!(dont_fragment(1261) && dont_fragment(1500));
    }
}
