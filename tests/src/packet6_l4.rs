//! IPv6 TCP and UDP frames with valid checksums, and a view of a frame a
//! program rewrote (addresses, ports, hop limit, the L4 checksum checked
//! through the pseudo-header), for the IPv6 publishing packet tests.

use crate::packet::{ethernet, internet_checksum};
use crate::packet6::ETH_P_IPV6;

pub const TCP: u8 = 6;
pub const UDP: u8 = 17;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const ACK: u8 = 0x10;
const IP_OFF: usize = 14;
const L4_OFF: usize = IP_OFF + 40;

/// The unfolded sum of the IPv6 pseudo-header (RFC 8200 §8.1).
fn pseudo_sum(src: &[u8; 16], dst: &[u8; 16], protocol: u8, len: usize) -> u32 {
    let words = src
        .chunks(2)
        .chain(dst.chunks(2))
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum::<u32>();
    words + (len as u32 >> 16) + (len as u32 & 0xffff) + u32::from(protocol)
}

/// An IPv6 packet of `protocol` carrying `l4` (its checksum at
/// `csum_off` filled in), in an Ethernet frame `macs.0` → `macs.1`.
fn frame(
    macs: ([u8; 6], [u8; 6]),
    ips: ([u8; 16], [u8; 16]),
    protocol: u8,
    mut l4: Vec<u8>,
    csum_off: usize,
    hop_limit: u8,
) -> Vec<u8> {
    let sum = pseudo_sum(&ips.0, &ips.1, protocol, l4.len());
    let csum = internet_checksum(&l4, sum);
    l4[csum_off..csum_off + 2].copy_from_slice(&csum.to_be_bytes());
    let mut ip6 = vec![0x60, 0, 0, 0];
    ip6.extend_from_slice(&(l4.len() as u16).to_be_bytes());
    ip6.push(protocol);
    ip6.push(hop_limit);
    ip6.extend_from_slice(&ips.0);
    ip6.extend_from_slice(&ips.1);
    ip6.extend_from_slice(&l4);
    ethernet(macs.1, macs.0, ETH_P_IPV6, &ip6)
}

/// A TCP segment without payload: `ports` (source, destination), `flags`,
/// `seq`, `ack`.
pub fn tcp6(
    macs: ([u8; 6], [u8; 6]),
    ips: ([u8; 16], [u8; 16]),
    ports: (u16, u16),
    flags: u8,
    (seq, ack): (u32, u32),
    hop_limit: u8,
) -> Vec<u8> {
    let mut l4 = Vec::with_capacity(20);
    l4.extend_from_slice(&ports.0.to_be_bytes());
    l4.extend_from_slice(&ports.1.to_be_bytes());
    l4.extend_from_slice(&seq.to_be_bytes());
    l4.extend_from_slice(&ack.to_be_bytes());
    l4.extend_from_slice(&[5 << 4, flags, 0xff, 0xff, 0, 0, 0, 0]);
    frame(macs, ips, TCP, l4, 16, hop_limit)
}

/// A UDP datagram carrying `payload`.
pub fn udp6(
    macs: ([u8; 6], [u8; 6]),
    ips: ([u8; 16], [u8; 16]),
    ports: (u16, u16),
    payload: &[u8],
    hop_limit: u8,
) -> Vec<u8> {
    let len = 8 + payload.len();
    let mut l4 = Vec::with_capacity(len);
    l4.extend_from_slice(&ports.0.to_be_bytes());
    l4.extend_from_slice(&ports.1.to_be_bytes());
    l4.extend_from_slice(&(len as u16).to_be_bytes());
    l4.extend_from_slice(&[0, 0]);
    l4.extend_from_slice(payload);
    frame(macs, ips, UDP, l4, 6, hop_limit)
}

/// Fields of an IPv6 TCP or UDP frame without extension headers.
pub struct View6<'a>(pub &'a [u8]);

impl View6<'_> {
    pub fn dst_mac(&self) -> [u8; 6] {
        self.0[..6].try_into().expect("frame")
    }
    pub fn hop_limit(&self) -> u8 {
        self.0[IP_OFF + 7]
    }
    pub fn src_ip(&self) -> [u8; 16] {
        self.0[IP_OFF + 8..IP_OFF + 24].try_into().expect("frame")
    }
    pub fn dst_ip(&self) -> [u8; 16] {
        self.0[IP_OFF + 24..IP_OFF + 40].try_into().expect("frame")
    }
    pub fn src_port(&self) -> u16 {
        u16::from_be_bytes([self.0[L4_OFF], self.0[L4_OFF + 1]])
    }
    pub fn dst_port(&self) -> u16 {
        u16::from_be_bytes([self.0[L4_OFF + 2], self.0[L4_OFF + 3]])
    }
    /// Whether the TCP or UDP checksum holds over the pseudo-header of
    /// the addresses the frame now carries.
    pub fn l4_checksum_ok(&self) -> bool {
        let protocol = self.0[IP_OFF + 6];
        let len = usize::from(u16::from_be_bytes([self.0[IP_OFF + 4], self.0[IP_OFF + 5]]));
        let l4 = &self.0[L4_OFF..L4_OFF + len];
        internet_checksum(
            l4,
            pseudo_sum(&self.src_ip(), &self.dst_ip(), protocol, len),
        ) == 0
    }
}
