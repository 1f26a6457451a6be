//! A small frame builder for the packet tests: Ethernet + IPv4 (with
//! options), TCP/UDP/ICMP echo with correct checksums, ARP and IPv6 frames,
//! plus readers and independent checksum verifiers for what a program wrote.

pub const ETH_P_IP: u16 = 0x0800;
pub const ETH_P_ARP: u16 = 0x0806;
pub const ETH_P_IPV6: u16 = 0x86dd;
pub const ETH_LEN: usize = 14;

pub const TCP: u8 = 6;
pub const UDP: u8 = 17;
pub const ICMP: u8 = 1;

pub const TCP_SYN: u8 = 0x02;
pub const TCP_ACK: u8 = 0x10;

/// IPv4 "more fragments" flag in the flags/offset field.
pub const IP_MF: u16 = 0x2000;
/// IPv4 "don't fragment" flag.
pub const IP_DF: u16 = 0x4000;

/// The Internet checksum (RFC 1071) of `data`, folded from `sum`.
pub fn internet_checksum(data: &[u8], mut sum: u32) -> u16 {
    for chunk in data.chunks(2) {
        let word = u16::from_be_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The unfolded sum of the TCP/UDP pseudo-header.
fn pseudo_header_sum(src: [u8; 4], dst: [u8; 4], protocol: u8, l4_len: usize) -> u32 {
    let word = |b: [u8; 2]| u32::from(u16::from_be_bytes(b));
    word([src[0], src[1]])
        + word([src[2], src[3]])
        + word([dst[0], dst[1]])
        + word([dst[2], dst[3]])
        + u32::from(protocol)
        + l4_len as u32
}

/// Builds IPv4 frames between two endpoints.
#[derive(Clone, Debug)]
pub struct Ipv4Builder {
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    pub src_ip: [u8; 4],
    pub dst_ip: [u8; 4],
    /// IP options, padded to a multiple of 4 bytes by [`Self::options`].
    pub options: Vec<u8>,
    /// The flags/fragment-offset field (host order).
    pub frag: u16,
    pub ttl: u8,
    /// Overrides the version/IHL byte when set (malformed headers).
    pub version_ihl: Option<u8>,
}

impl Ipv4Builder {
    pub fn new(src_ip: [u8; 4], dst_ip: [u8; 4]) -> Self {
        Self {
            src_mac: [0x02, 0, 0, 0, 0, 0xaa],
            dst_mac: [0x02, 0, 0, 0, 0, 0xbb],
            src_ip,
            dst_ip,
            options: Vec::new(),
            frag: IP_DF,
            ttl: 64,
            version_ihl: None,
        }
    }

    pub fn macs(mut self, src: [u8; 6], dst: [u8; 6]) -> Self {
        self.src_mac = src;
        self.dst_mac = dst;
        self
    }

    /// IP options; padded with End-of-Options to a 4-byte multiple.
    pub fn options(mut self, options: &[u8]) -> Self {
        self.options = options.to_vec();
        while !self.options.len().is_multiple_of(4) {
            self.options.push(0);
        }
        assert!(self.options.len() <= 40, "IP options longer than 40 bytes");
        self
    }

    pub fn frag(mut self, frag: u16) -> Self {
        self.frag = frag;
        self
    }

    pub fn version_ihl(mut self, byte: u8) -> Self {
        self.version_ihl = Some(byte);
        self
    }

    /// A frame carrying `l4` (already checksummed) as protocol `protocol`.
    pub fn ipv4(&self, protocol: u8, l4: &[u8]) -> Vec<u8> {
        let ihl = 20 + self.options.len();
        let total = ihl + l4.len();
        let mut ip = Vec::with_capacity(total);
        ip.push(self.version_ihl.unwrap_or(0x40 | (ihl / 4) as u8));
        ip.push(0);
        ip.extend_from_slice(&(total as u16).to_be_bytes());
        ip.extend_from_slice(&0x1234u16.to_be_bytes());
        ip.extend_from_slice(&self.frag.to_be_bytes());
        ip.push(self.ttl);
        ip.push(protocol);
        ip.extend_from_slice(&[0, 0]);
        ip.extend_from_slice(&self.src_ip);
        ip.extend_from_slice(&self.dst_ip);
        ip.extend_from_slice(&self.options);
        let csum = internet_checksum(&ip, 0);
        ip[10..12].copy_from_slice(&csum.to_be_bytes());
        ip.extend_from_slice(l4);
        ethernet(self.dst_mac, self.src_mac, ETH_P_IP, &ip)
    }

    /// A TCP segment with `flags` and a short payload.
    pub fn tcp(&self, src_port: u16, dst_port: u16, flags: u8) -> Vec<u8> {
        self.tcp_seq(src_port, dst_port, flags, 0x0102_0304, 0)
    }

    /// A TCP segment with `flags`, sequence and acknowledgement numbers,
    /// and a 4-byte payload.
    pub fn tcp_seq(&self, src_port: u16, dst_port: u16, flags: u8, seq: u32, ack: u32) -> Vec<u8> {
        self.tcp_segment((src_port, dst_port), flags, (seq, ack), b"ping")
    }

    /// A TCP segment with `flags`, (sequence, acknowledgement) numbers and
    /// `payload` (empty for a pure ACK or FIN).
    pub fn tcp_segment(
        &self,
        (src_port, dst_port): (u16, u16),
        flags: u8,
        (seq, ack): (u32, u32),
        payload: &[u8],
    ) -> Vec<u8> {
        let mut tcp = Vec::with_capacity(20 + payload.len());
        tcp.extend_from_slice(&src_port.to_be_bytes());
        tcp.extend_from_slice(&dst_port.to_be_bytes());
        tcp.extend_from_slice(&seq.to_be_bytes());
        tcp.extend_from_slice(&ack.to_be_bytes());
        tcp.push(5 << 4); // data offset
        tcp.push(flags);
        tcp.extend_from_slice(&64240u16.to_be_bytes()); // window
        tcp.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent
        tcp.extend_from_slice(payload);
        let sum = pseudo_header_sum(self.src_ip, self.dst_ip, TCP, tcp.len());
        let csum = internet_checksum(&tcp, sum);
        tcp[16..18].copy_from_slice(&csum.to_be_bytes());
        self.ipv4(TCP, &tcp)
    }

    /// A UDP datagram; `with_checksum == false` leaves the checksum 0 ("none").
    pub fn udp(
        &self,
        src_port: u16,
        dst_port: u16,
        payload: &[u8],
        with_checksum: bool,
    ) -> Vec<u8> {
        let len = 8 + payload.len();
        let mut udp = Vec::with_capacity(len);
        udp.extend_from_slice(&src_port.to_be_bytes());
        udp.extend_from_slice(&dst_port.to_be_bytes());
        udp.extend_from_slice(&(len as u16).to_be_bytes());
        udp.extend_from_slice(&[0, 0]);
        udp.extend_from_slice(payload);
        if with_checksum {
            let sum = pseudo_header_sum(self.src_ip, self.dst_ip, UDP, len);
            let csum = match internet_checksum(&udp, sum) {
                0 => 0xffff,
                c => c,
            };
            udp[6..8].copy_from_slice(&csum.to_be_bytes());
        }
        self.ipv4(UDP, &udp)
    }

    /// An ICMP echo request (type 8) or reply (type 0).
    pub fn icmp_echo(&self, icmp_type: u8, id: u16, seq: u16) -> Vec<u8> {
        let mut icmp = vec![icmp_type, 0, 0, 0];
        icmp.extend_from_slice(&id.to_be_bytes());
        icmp.extend_from_slice(&seq.to_be_bytes());
        icmp.extend_from_slice(b"abcdefgh");
        let csum = internet_checksum(&icmp, 0);
        icmp[2..4].copy_from_slice(&csum.to_be_bytes());
        self.ipv4(ICMP, &icmp)
    }
}

/// An Ethernet frame around `payload`.
pub fn ethernet(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(ETH_LEN + payload.len());
    frame.extend_from_slice(&dst);
    frame.extend_from_slice(&src);
    frame.extend_from_slice(&ethertype.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// An ARP request (IPv4 over Ethernet), broadcast from `frame_src`.
pub fn arp_request(
    frame_src: [u8; 6],
    sender_mac: [u8; 6],
    sender_ip: [u8; 4],
    target_ip: [u8; 4],
) -> Vec<u8> {
    let mut arp = vec![0, 1, 0x08, 0, 6, 4, 0, 1];
    arp.extend_from_slice(&sender_mac);
    arp.extend_from_slice(&sender_ip);
    arp.extend_from_slice(&[0; 6]);
    arp.extend_from_slice(&target_ip);
    ethernet([0xff; 6], frame_src, ETH_P_ARP, &arp)
}

/// A minimal IPv6 frame (UDP, checksum not checked by anyone here).
pub fn ipv6_frame(src_mac: [u8; 6], dst_mac: [u8; 6]) -> Vec<u8> {
    let mut ip6 = vec![0x60, 0, 0, 0, 0, 8, UDP, 64];
    ip6.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    ip6.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    ip6.extend_from_slice(&[0x9c, 0x40, 0x1f, 0x90, 0, 8, 0, 0]);
    ethernet(dst_mac, src_mac, ETH_P_IPV6, &ip6)
}

/// Field readers over an Ethernet + IPv4 frame.
#[derive(Clone, Copy, Debug)]
pub struct View<'a>(pub &'a [u8]);

impl View<'_> {
    fn u16_at(&self, off: usize) -> u16 {
        u16::from_be_bytes([self.0[off], self.0[off + 1]])
    }
    fn ip4_at(&self, off: usize) -> [u8; 4] {
        self.0[off..off + 4].try_into().unwrap()
    }
    pub fn dst_mac(&self) -> [u8; 6] {
        self.0[0..6].try_into().unwrap()
    }
    pub fn src_mac(&self) -> [u8; 6] {
        self.0[6..12].try_into().unwrap()
    }
    pub fn ethertype(&self) -> u16 {
        self.u16_at(12)
    }
    pub fn ihl(&self) -> usize {
        usize::from(self.0[ETH_LEN] & 0x0f) * 4
    }
    pub fn protocol(&self) -> u8 {
        self.0[ETH_LEN + 9]
    }
    pub fn src_ip(&self) -> [u8; 4] {
        self.ip4_at(ETH_LEN + 12)
    }
    pub fn dst_ip(&self) -> [u8; 4] {
        self.ip4_at(ETH_LEN + 16)
    }
    pub fn l4_off(&self) -> usize {
        ETH_LEN + self.ihl()
    }
    /// The L4 bytes as the IP total length bounds them.
    pub fn l4(&self) -> &[u8] {
        let total = usize::from(self.u16_at(ETH_LEN + 2));
        &self.0[self.l4_off()..ETH_LEN + total]
    }
    pub fn src_port(&self) -> u16 {
        self.u16_at(self.l4_off())
    }
    pub fn dst_port(&self) -> u16 {
        self.u16_at(self.l4_off() + 2)
    }
    /// The checksum field of the L4 header (TCP, UDP or ICMP).
    pub fn l4_checksum_field(&self) -> u16 {
        let at = match self.protocol() {
            TCP => 16,
            UDP => 6,
            _ => 2,
        };
        self.u16_at(self.l4_off() + at)
    }
    /// Whether the IPv4 header checksum verifies.
    pub fn ipv4_checksum_ok(&self) -> bool {
        internet_checksum(&self.0[ETH_LEN..ETH_LEN + self.ihl()], 0) == 0
    }
    /// Whether the TCP/UDP (with pseudo-header) or ICMP checksum verifies.
    /// A zero UDP checksum ("none") does not count as valid here.
    pub fn l4_checksum_ok(&self) -> bool {
        let l4 = self.l4();
        match self.protocol() {
            TCP | UDP => {
                let sum =
                    pseudo_header_sum(self.src_ip(), self.dst_ip(), self.protocol(), l4.len());
                self.l4_checksum_field() != 0 && internet_checksum(l4, sum) == 0
            }
            _ => internet_checksum(l4, 0) == 0,
        }
    }
}

/// Asserts `actual` is `expected` byte for byte, except the IPv4 and L4
/// checksum fields, which must verify on their own (computed here, not
/// compared): a zero UDP checksum in `expected` must have stayed zero.
pub fn assert_rewritten(actual: &[u8], expected: &[u8]) {
    assert_eq!(actual.len(), expected.len(), "frame length changed");
    let (a, e) = (View(actual), View(expected));
    let csum_at = |v: View<'_>| {
        let at = match v.protocol() {
            TCP => 16,
            UDP => 6,
            _ => 2,
        };
        [ETH_LEN + 10, v.l4_off() + at]
    };
    let masked = |v: View<'_>| {
        let mut bytes = v.0.to_vec();
        for at in csum_at(v) {
            bytes[at..at + 2].fill(0);
        }
        bytes
    };
    assert_eq!(
        masked(a),
        masked(e),
        "rewritten frame differs from the expected one"
    );
    assert!(a.ipv4_checksum_ok(), "IPv4 header checksum is wrong");
    if e.protocol() == UDP && e.l4_checksum_field() == 0 {
        assert_eq!(a.l4_checksum_field(), 0, "a zero UDP checksum was changed");
    } else {
        assert!(a.l4_checksum_ok(), "L4 checksum is wrong after the rewrite");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_frames_verify() {
        let b = Ipv4Builder::new([10, 0, 0, 1], [10, 0, 0, 2]).options(&[1, 1, 1]);
        for frame in [
            b.tcp(1, 2, TCP_SYN),
            b.udp(3, 4, b"x", true),
            b.icmp_echo(8, 5, 6),
        ] {
            let v = View(&frame);
            assert_eq!(v.ihl(), 24);
            assert!(v.ipv4_checksum_ok());
            assert!(v.l4_checksum_ok());
        }
        let udp = b.udp(3, 4, b"x", false);
        assert_eq!(View(&udp).l4_checksum_field(), 0);
    }
}
