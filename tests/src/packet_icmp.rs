//! ICMP error frames for the packet tests: an error quoting (part of) a
//! packet, and an independent check of what a program made of one.

use crate::packet::{ETH_LEN, ICMP, Ipv4Builder, TCP, UDP, View, internet_checksum};

pub const ICMP_DEST_UNREACH: u8 = 3;
pub const ICMP_PORT_UNREACH: u8 = 3;
pub const ICMP_FRAG_NEEDED: u8 = 4;
pub const ICMP_TIME_EXCEEDED: u8 = 11;

/// An ICMP error from `outer` (its addresses and MACs) quoting the first
/// `quote_len` bytes of the IP packet inside `quoted` (an Ethernet frame);
/// `rest` is the second word of the ICMP header (e.g. the next-hop MTU).
pub fn icmp_error(
    outer: &Ipv4Builder,
    icmp_type: u8,
    code: u8,
    rest: [u8; 4],
    quoted: &[u8],
    quote_len: usize,
) -> Vec<u8> {
    let ip = &quoted[ETH_LEN..];
    let mut icmp = vec![icmp_type, code, 0, 0];
    icmp.extend_from_slice(&rest);
    icmp.extend_from_slice(&ip[..quote_len.min(ip.len())]);
    let csum = internet_checksum(&icmp, 0);
    icmp[2..4].copy_from_slice(&csum.to_be_bytes());
    outer.clone().frag(0).ipv4(ICMP, &icmp)
}

/// What an ICMP error says: its type, its code and the second word of its
/// header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorKind {
    pub icmp_type: u8,
    pub code: u8,
    pub rest: [u8; 4],
}

impl ErrorKind {
    pub const PORT_UNREACH: Self = Self {
        icmp_type: ICMP_DEST_UNREACH,
        code: ICMP_PORT_UNREACH,
        rest: [0; 4],
    };
    pub const TIME_EXCEEDED: Self = Self {
        icmp_type: ICMP_TIME_EXCEEDED,
        code: 0,
        rest: [0; 4],
    };

    /// "Fragmentation needed" with next-hop MTU `mtu`.
    pub fn frag_needed(mtu: u16) -> Self {
        Self {
            icmp_type: ICMP_DEST_UNREACH,
            code: ICMP_FRAG_NEEDED,
            rest: mtu_word(mtu),
        }
    }

    /// This error from `outer` quoting the first `quote_len` bytes of the
    /// IP packet inside `quoted`, as [`icmp_error`] builds it.
    pub fn frame(self, outer: &Ipv4Builder, quoted: &[u8], quote_len: usize) -> Vec<u8> {
        icmp_error(
            outer,
            self.icmp_type,
            self.code,
            self.rest,
            quoted,
            quote_len,
        )
    }
}

/// The next-hop MTU word of "fragmentation needed".
pub fn mtu_word(mtu: u16) -> [u8; 4] {
    let b = mtu.to_be_bytes();
    [0, 0, b[0], b[1]]
}

/// Offsets of an error's quoted packet: (IP header, L4 header).
pub fn quote_offsets(frame: &[u8]) -> (usize, usize) {
    let ip = View(frame).l4_off() + 8;
    (ip, ip + usize::from(frame[ip] & 0x0f) * 4)
}

/// Where a quoted L4 header keeps its checksum, if it is in the quote.
fn quoted_l4_csum(frame: &[u8]) -> Option<usize> {
    let (ip, l4) = quote_offsets(frame);
    let at = match frame[ip + 9] {
        TCP => l4 + 16,
        UDP => l4 + 6,
        _ => l4 + 2,
    };
    (at + 2 <= frame.len()).then_some(at)
}

/// Asserts that `actual` is the ICMP error `expected`, byte for byte except
/// the outer TTL and the checksums, and that every checksum verifies: the
/// outer IP header's, the ICMP message's, the quoted IP header's, and the
/// quoted L4 checksum (equal to the one of the expected, freshly built
/// quote; ones' complement zeros compare equal, and UDP's "none" stays 0).
pub fn assert_error_rewritten(actual: &[u8], expected: &[u8]) {
    assert_eq!(actual.len(), expected.len(), "ICMP error length changed");
    let (ip, _) = quote_offsets(expected);
    let l4_csum = quoted_l4_csum(expected);
    let icmp_csum = View(expected).l4_off() + 2;
    let masked = |frame: &[u8]| {
        let mut bytes = frame.to_vec();
        bytes[ETH_LEN + 8] = 0;
        for at in [ETH_LEN + 10, icmp_csum, ip + 10]
            .into_iter()
            .chain(l4_csum)
        {
            bytes[at..at + 2].fill(0);
        }
        bytes
    };
    assert_eq!(
        masked(actual),
        masked(expected),
        "rewritten ICMP error differs from the expected one"
    );
    let v = View(actual);
    assert!(v.ipv4_checksum_ok(), "outer IPv4 checksum is wrong");
    assert!(v.l4_checksum_ok(), "ICMP checksum is wrong");
    let ihl = usize::from(actual[ip] & 0x0f) * 4;
    assert_eq!(
        internet_checksum(&actual[ip..ip + ihl], 0),
        0,
        "quoted IPv4 header checksum is wrong"
    );
    if let Some(at) = l4_csum {
        let word = |f: &[u8]| u16::from_be_bytes([f[at], f[at + 1]]);
        let (got, want) = (word(actual), word(expected));
        let zero = |c: u16| c == 0 || c == 0xffff;
        let udp = expected[ip + 9] == UDP;
        assert!(
            got == want || (!udp || want != 0) && zero(got) && zero(want),
            "quoted L4 checksum {got:#06x}, expected {want:#06x}"
        );
    }
}
