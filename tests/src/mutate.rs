//! Deterministic frame mutation for the packet fuzzer: a seeded RNG, the
//! mutations (bytes, lengths, header fields), and checksum repair so that
//! many mutated frames still reach the translation paths with valid sums.

use crate::packet::{ETH_LEN, ICMP, TCP, UDP, internet_checksum};

/// SplitMix64: a few lines, and the same sequence on every machine and
/// toolchain for a seed (a failing run is replayed from its seed).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform-enough in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn byte(&mut self) -> u8 {
        self.next_u64() as u8
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// Values a mutation writes into address and port fields besides random
/// ones: those the maps of a test know, so mutants hit map entries.
#[derive(Clone, Debug, Default)]
pub struct Interesting {
    pub addrs: Vec<[u8; 4]>,
    pub ports: Vec<u16>,
}

/// Smallest frame `BPF_PROG_TEST_RUN` takes for an skb (an Ethernet header).
pub const MIN_FRAME: usize = ETH_LEN;
/// Largest frame the fuzzer makes (one page holds it with the skb's room).
pub const MAX_FRAME: usize = 1514;

const IP: usize = ETH_LEN;

fn put_u16(frame: &mut [u8], at: usize, value: u16) {
    if let Some(field) = frame.get_mut(at..at + 2) {
        field.copy_from_slice(&value.to_be_bytes());
    }
}

fn ihl(frame: &[u8]) -> usize {
    frame.get(IP).map_or(20, |b| usize::from(b & 0x0f) * 4)
}

/// One to four mutations of `base`, then, half of the time, checksums
/// recomputed so the mutant is a well-formed packet of its (new) shape.
pub fn mutate(base: &[u8], rng: &mut Rng, interesting: &Interesting) -> Vec<u8> {
    let mut frame = base.to_vec();
    for _ in 0..1 + rng.below(4) {
        mutate_once(&mut frame, rng, interesting);
    }
    if rng.chance(50) {
        fix_checksums(&mut frame);
    }
    frame.truncate(MAX_FRAME);
    // `BPF_PROG_TEST_RUN` refuses (EINVAL) a frame whose ethertype announces
    // IPv4 or IPv6 without a whole fixed-size header after it.
    let min = match frame.get(12..14) {
        Some([0x08, 0x00]) => ETH_LEN + 20,
        Some([0x86, 0xdd]) => ETH_LEN + 40,
        _ => MIN_FRAME,
    };
    while frame.len() < min {
        frame.push(rng.byte());
    }
    frame
}

fn mutate_once(frame: &mut Vec<u8>, rng: &mut Rng, interesting: &Interesting) {
    let l4 = IP + ihl(frame);
    match rng.below(14) {
        0 => {
            let at = rng.below(frame.len());
            frame[at] ^= 1 << rng.below(8);
        }
        1 => {
            let at = rng.below(frame.len());
            frame[at] = rng.byte();
        }
        2 => frame.truncate(MIN_FRAME + rng.below(frame.len().saturating_sub(MIN_FRAME) + 1)),
        3 => {
            // Trailing bytes (Ethernet padding, or garbage past the IP packet).
            for _ in 0..1 + rng.below(64) {
                frame.push(rng.byte());
            }
        }
        4 => {
            // IHL from 0 to 15, version mostly kept.
            if let Some(b) = frame.get_mut(IP) {
                *b = (*b & 0xf0) | rng.below(16) as u8;
            }
        }
        5 => {
            let len = frame.len().saturating_sub(ETH_LEN);
            let total = match rng.below(3) {
                0 => rng.next_u64() as u16,
                1 => len.saturating_sub(rng.below(24)) as u16,
                _ => (len + rng.below(24)) as u16,
            };
            put_u16(frame, IP + 2, total);
        }
        6 => {
            let frag = rng.pick(&[0x2000u16, 0x4000, 0x0001, 0x2001, 0x8000, 0x1fff]);
            let frag = if rng.chance(20) {
                rng.next_u64() as u16
            } else {
                frag
            };
            put_u16(frame, IP + 6, frag);
        }
        7 | 8 => {
            let port = if rng.chance(70) && !interesting.ports.is_empty() {
                rng.pick(&interesting.ports)
            } else {
                rng.next_u64() as u16
            };
            put_u16(frame, l4 + 2 * rng.below(2), port);
        }
        9 | 10 => {
            let addr = if rng.chance(70) && !interesting.addrs.is_empty() {
                rng.pick(&interesting.addrs)
            } else {
                rng.next_u64().to_be_bytes()[..4]
                    .try_into()
                    .expect("4 bytes")
            };
            let at = IP + 12 + 4 * rng.below(2);
            if let Some(field) = frame.get_mut(at..at + 4) {
                field.copy_from_slice(&addr);
            }
        }
        11 => {
            if let Some(b) = frame.get_mut(IP + 9) {
                *b = if rng.chance(80) {
                    rng.pick(&[ICMP, TCP, UDP])
                } else {
                    rng.byte()
                };
            }
        }
        12 => {
            // TCP flags, or the ICMP type (echo, errors, others).
            let protocol = frame.get(IP + 9).copied();
            let (at, value) = match protocol {
                Some(TCP) => (
                    l4 + 13,
                    rng.pick(&[0x02, 0x12, 0x10, 0x11, 0x04, 0x14, 0x01]),
                ),
                _ => (l4, rng.pick(&[0, 8, 3, 11, 12, 5, 4, 13])),
            };
            if let Some(b) = frame.get_mut(at) {
                *b = if rng.chance(80) { value } else { rng.byte() };
            }
        }
        _ => {
            // The ethertype: IPv4, ARP, IPv6, VLAN, or anything.
            let ethertype = rng.pick(&[0x0800u16, 0x0806, 0x86dd, 0x8100, 0x88a8]);
            let ethertype = if rng.chance(20) {
                rng.next_u64() as u16
            } else {
                ethertype
            };
            put_u16(frame, 12, ethertype);
        }
    }
}

/// Recomputes the IPv4 header checksum and the TCP/UDP/ICMP checksum of
/// `frame` as its IHL and total length describe it; leaves what they do not
/// fit alone, and a zero UDP checksum ("none") zero.
pub fn fix_checksums(frame: &mut [u8]) {
    let ihl = ihl(frame);
    if frame.get(12..14) != Some(&[0x08, 0x00]) || ihl < 20 || frame.len() < IP + ihl {
        return;
    }
    put_u16(frame, IP + 10, 0);
    let sum = internet_checksum(&frame[IP..IP + ihl], 0);
    put_u16(frame, IP + 10, sum);
    let total = usize::from(u16::from_be_bytes([frame[IP + 2], frame[IP + 3]]));
    if total < ihl
        || frame.len() < IP + total
        || frame[IP + 6..IP + 8] != [0, 0] && frame[IP + 6..IP + 8] != [0x40, 0]
    {
        return; // no whole L4 header of a first fragment to sum
    }
    let l4 = IP + ihl..IP + total;
    let (field, pseudo) = match frame[IP + 9] {
        TCP => (16, true),
        UDP => (6, true),
        ICMP => (2, false),
        _ => return,
    };
    if l4.len() < field + 2 || frame[IP + 9] == UDP && frame[l4.start + 6..l4.start + 8] == [0, 0] {
        return;
    }
    put_u16(frame, l4.start + field, 0);
    let start = if pseudo {
        pseudo_sum(frame, l4.len())
    } else {
        0
    };
    let sum = match internet_checksum(&frame[l4.clone()], start) {
        0 if frame[IP + 9] == UDP => 0xffff,
        sum => sum,
    };
    put_u16(frame, l4.start + field, sum);
}

/// The unfolded TCP/UDP pseudo-header sum of the IPv4 packet in `frame`.
pub fn pseudo_sum(frame: &[u8], l4_len: usize) -> u32 {
    let word = |at: usize| u32::from(u16::from_be_bytes([frame[at], frame[at + 1]]));
    word(IP + 12)
        + word(IP + 14)
        + word(IP + 16)
        + word(IP + 18)
        + u32::from(frame[IP + 9])
        + l4_len as u32
}

/// `frame` in hex, 16 bytes a line, for failure messages.
pub fn hex(frame: &[u8]) -> String {
    frame
        .chunks(16)
        .map(|line| {
            line.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{Ipv4Builder, View};

    #[test]
    fn the_same_seed_gives_the_same_mutants() {
        let base = Ipv4Builder::new([10, 0, 0, 1], [10, 0, 0, 2]).tcp(1, 2, 0x02);
        let run = |seed| {
            let mut rng = Rng::new(seed);
            (0..50)
                .map(|_| mutate(&base, &mut rng, &Interesting::default()))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn fixed_checksums_verify() {
        let b = Ipv4Builder::new([10, 0, 0, 1], [10, 0, 0, 2]);
        for mut frame in [
            b.tcp(1, 2, 0x02),
            b.udp(3, 4, b"xy", true),
            b.icmp_echo(8, 5, 6),
        ] {
            frame[ETH_LEN + 12] = 99; // new source address: both sums now wrong
            fix_checksums(&mut frame);
            let v = View(&frame);
            assert!(
                v.ipv4_checksum_ok() && v.l4_checksum_ok(),
                "{}",
                hex(&frame)
            );
        }
    }
}
