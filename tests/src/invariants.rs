//! What must hold for any frame a TC program returns, whatever it did: the
//! checks of the packet fuzzer (`tests/packets_fuzz.rs`). Every reader here
//! takes arbitrary bytes and never panics.

use ebpfnet_common::maps::{FlowKey, NatEntry};

use crate::mutate::pseudo_sum;
use crate::packet::{ETH_LEN, ICMP, TCP, UDP, internet_checksum};
use crate::testrun::{TC_ACT_REDIRECT, TC_ACT_SHOT, TCX_NEXT};

/// `TC_ACT_OK`: deliver to the stack (e.g. a too-big packet the kernel
/// answers with "fragmentation needed").
pub const TC_ACT_OK: u32 = 0;
/// Every verdict a program may return.
pub const KNOWN_VERDICTS: [u32; 4] = [TCX_NEXT, TC_ACT_OK, TC_ACT_SHOT, TC_ACT_REDIRECT];

const IP: usize = ETH_LEN;

/// The addresses and, for a whole TCP/UDP/ICMP header, the ports (the echo
/// identifier twice for ICMP echo) of an IPv4 frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tuple {
    pub protocol: u8,
    pub src: [u8; 4],
    pub dst: [u8; 4],
    /// `(src, dst)`; `None` for later fragments (a first fragment carries
    /// the L4 header), other protocols, short headers.
    pub ports: Option<(u16, u16)>,
    /// A later fragment (non-zero offset): no L4 header.
    pub later_fragment: bool,
    /// The ICMP type, for ICMP.
    pub icmp_type: Option<u8>,
}

impl Tuple {
    /// `None` unless `frame` is Ethernet + IPv4 (version 4, IHL >= 5) with
    /// its whole IP header.
    pub fn of(frame: &[u8]) -> Option<Self> {
        let ihl = ipv4_ihl(frame)?;
        let u16_at = |at: usize| Some(u16::from_be_bytes(frame.get(at..at + 2)?.try_into().ok()?));
        let addr = |at: usize| -> Option<[u8; 4]> { frame.get(at..at + 4)?.try_into().ok() };
        let protocol = frame[IP + 9];
        let fragment = u16_at(IP + 6)? & 0x1fff != 0;
        let l4 = IP + ihl;
        let icmp_type = (protocol == ICMP && !fragment)
            .then(|| frame.get(l4).copied())
            .flatten();
        let ports = match protocol {
            _ if fragment => None,
            TCP | UDP => u16_at(l4).zip(u16_at(l4 + 2)),
            ICMP if matches!(icmp_type, Some(0 | 8)) => u16_at(l4 + 4).map(|id| (id, id)),
            _ => None,
        };
        Some(Self {
            protocol,
            src: addr(IP + 12)?,
            dst: addr(IP + 16)?,
            ports,
            icmp_type,
            later_fragment: fragment,
        })
    }

    /// The NAT key of this direction, when it has ports.
    pub fn flow_key(&self) -> Option<FlowKey> {
        let (sport, dport) = self.ports?;
        Some(FlowKey::new(
            self.src,
            sport,
            self.dst,
            dport,
            self.protocol,
        ))
    }

    /// Whether `entry` translates this tuple into `out`.
    pub fn translated_by(&self, entry: &NatEntry, out: &Tuple) -> bool {
        out.protocol == self.protocol
            && (out.src, out.dst) == (entry.new_src_ip, entry.new_dst_ip)
            && out.ports == Some((entry.new_src_port, entry.new_dst_port))
    }

    /// Whether `entry` translates this tuple's addresses into `out`'s (a
    /// later fragment, which has no ports).
    pub fn addresses_translated_by(&self, entry: &NatEntry, out: &Tuple) -> bool {
        out.protocol == self.protocol && (out.src, out.dst) == (entry.new_src_ip, entry.new_dst_ip)
    }

    /// An ICMP message other than echo (an error about another packet).
    pub fn is_icmp_error(&self) -> bool {
        self.protocol == ICMP && !matches!(self.icmp_type, Some(0 | 8))
    }
}

fn ipv4_ihl(frame: &[u8]) -> Option<usize> {
    if frame.get(12..14)? != [0x08, 0x00] {
        return None;
    }
    let version_ihl = *frame.get(IP)?;
    let ihl = usize::from(version_ihl & 0x0f) * 4;
    (version_ihl >> 4 == 4 && ihl >= 20 && frame.len() >= IP + ihl).then_some(ihl)
}

/// Whether the IPv4 header checksum verifies (`None`: no IPv4 header).
pub fn ipv4_checksum_ok(frame: &[u8]) -> Option<bool> {
    let ihl = ipv4_ihl(frame)?;
    Some(internet_checksum(&frame[IP..IP + ihl], 0) == 0)
}

/// The state of a frame's TCP/UDP/ICMP checksum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4Sum {
    Valid,
    Invalid,
    /// A UDP datagram sent without a checksum.
    Zero,
    /// Nothing to check: a fragment, another protocol, or a header the IP
    /// total length or the frame cut short.
    Unknown,
}

/// The L4 checksum of the IPv4 packet in `frame`, over the bytes its total
/// length covers.
pub fn l4_sum(frame: &[u8]) -> L4Sum {
    let Some(ihl) = ipv4_ihl(frame) else {
        return L4Sum::Unknown;
    };
    let total = usize::from(u16::from_be_bytes([frame[IP + 2], frame[IP + 3]]));
    let fragment = u16::from_be_bytes([frame[IP + 6], frame[IP + 7]]) & 0x3fff != 0;
    if fragment || total < ihl || frame.len() < IP + total {
        return L4Sum::Unknown;
    }
    let l4 = &frame[IP + ihl..IP + total];
    let (field, start) = match frame[IP + 9] {
        TCP if l4.len() >= 20 => (16, pseudo_sum(frame, l4.len())),
        UDP if l4.len() >= 8 => (6, pseudo_sum(frame, l4.len())),
        ICMP if l4.len() >= 8 => (2, 0),
        _ => return L4Sum::Unknown,
    };
    if frame[IP + 9] == UDP && l4[field..field + 2] == [0, 0] {
        return L4Sum::Zero;
    }
    if internet_checksum(l4, start) == 0 {
        L4Sum::Valid
    } else {
        L4Sum::Invalid
    }
}

/// Invariant (a): a frame the program changed and did not drop carries
/// valid IPv4 and L4 checksums where the input's were valid.
pub fn checksums_kept(input: &[u8], verdict: u32, out: &[u8]) -> Result<(), String> {
    if verdict == TC_ACT_SHOT || out == input {
        return Ok(());
    }
    if ipv4_checksum_ok(input) == Some(true) && ipv4_checksum_ok(out) != Some(true) {
        return Err(
            "the IPv4 header checksum is wrong after the program changed the packet".into(),
        );
    }
    match (l4_sum(input), l4_sum(out)) {
        (L4Sum::Valid, L4Sum::Valid) | (L4Sum::Zero, L4Sum::Zero | L4Sum::Valid) => Ok(()),
        (L4Sum::Valid | L4Sum::Zero, after) => Err(format!(
            "the L4 checksum was {:?} before the program changed the packet, {after:?} after",
            l4_sum(input)
        )),
        _ => Ok(()),
    }
}

/// Whether `out` is `input` with at most the MACs, the TTL and the header
/// checksum changed: a frame forwarded as it is.
pub fn forwarded_unchanged(input: &[u8], out: &[u8]) -> bool {
    let mask = |frame: &[u8]| -> Vec<u8> {
        let mut ip = frame.get(IP..).unwrap_or_default().to_vec();
        for at in [8, 10, 11] {
            if let Some(byte) = ip.get_mut(at) {
                *byte = 0;
            }
        }
        ip
    };
    input.len() == out.len()
        && frame_ethertype(input) == frame_ethertype(out)
        && mask(input) == mask(out)
}

fn frame_ethertype(frame: &[u8]) -> Option<&[u8]> {
    frame.get(12..14)
}

/// `frame` in hex, 16 bytes a line, for failure messages.
pub use crate::mutate::hex;
