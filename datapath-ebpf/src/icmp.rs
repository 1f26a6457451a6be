//! ICMP errors about translated flows (destination unreachable, including
//! "fragmentation needed"; time exceeded; parameter problem), translated
//! both ways as Linux's `nf_nat_icmp_reply_translation` and Cilium's
//! `bpf/lib/nat.h` do.
//!
//! An error quotes a packet of the flow travelling the other way: its IP
//! header and at least 8 bytes of its L4 header. The NAT entry of the
//! quoted tuple's reverse is the direction the error travels in, so it
//! says how the quoted packet looked on the other side: its source becomes
//! the entry's new destination, its destination the entry's new source.
//! The outer destination (the quoted packet's sender) follows the quoted
//! source; an outer source that is the quoted destination (the peer itself
//! answering, e.g. "port unreachable") follows it, while a router on the
//! path keeps its own address. Every checksum is updated incrementally:
//! the outer IP header's, the quoted IP header's, the quoted L4 checksum
//! when it is in the quote (the quote is too short to recompute TCP's, so
//! it is adjusted as nf_nat does), and the ICMP checksum over all of it.

use aya_ebpf::programs::TcContext;
use ebpfnet_common::{
    DropReason,
    maps::{FlowKey, NatEntry, proto},
};

use crate::{
    conntrack,
    counters::drop_packet,
    csum::{self, Addr},
    hook::Hook,
    nat,
    parse::{ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, IP_OFF, IP_OFFSET_MASK, Packet},
};

const ICMP_DEST_UNREACH: u8 = 3;
const ICMP_TIME_EXCEEDED: u8 = 11;
const ICMP_PARAMETER_PROB: u8 = 12;
const ICMP_HEADER_LEN: usize = 8;

/// A ones' complement sum of 16-bit big-endian words (RFC 1071), and
/// incremental checksum updates (RFC 1624, eqn. 3).
#[derive(Clone, Copy, Default)]
pub struct Sum(u32);

impl Sum {
    #[inline(always)]
    pub fn of(bytes: &[u8]) -> Sum {
        let mut sum = Sum(0);
        sum.add(bytes);
        sum
    }

    /// Adds `bytes` (an even number) as big-endian words.
    #[inline(always)]
    pub fn add(&mut self, bytes: &[u8]) {
        let mut i = 0;
        while i + 1 < bytes.len() {
            self.0 += u32::from(u16::from_be_bytes([bytes[i], bytes[i + 1]]));
            i += 2;
        }
        self.fold();
    }

    /// Records that a covered 16-bit word went from `old` to `new`.
    #[inline(always)]
    fn word(&mut self, old: u16, new: u16) {
        self.0 += u32::from(!old) + u32::from(new);
        self.fold();
    }

    /// Records that a covered address went from `old` to `new`.
    #[inline(always)]
    fn addr(&mut self, old: [u8; 4], new: [u8; 4]) {
        self.word(
            u16::from_be_bytes([old[0], old[1]]),
            u16::from_be_bytes([new[0], new[1]]),
        );
        self.word(
            u16::from_be_bytes([old[2], old[3]]),
            u16::from_be_bytes([new[2], new[3]]),
        );
    }

    #[inline(always)]
    fn fold(&mut self) {
        self.0 = (self.0 & 0xffff) + (self.0 >> 16);
        self.0 = (self.0 & 0xffff) + (self.0 >> 16);
    }

    /// The checksum field of data that sums to `self`.
    #[inline(always)]
    pub fn checksum(self) -> u16 {
        !(self.0 as u16)
    }

    /// `csum` updated by the changes recorded in `self` (RFC 1624).
    #[inline(always)]
    fn update(self, csum: u16) -> u16 {
        let mut sum = Sum(u32::from(!csum) + self.0);
        sum.fold();
        sum.checksum()
    }
}

/// Whether `packet` is an ICMP error this module translates.
#[inline(always)]
pub fn is_error(packet: &Packet) -> bool {
    packet.protocol == proto::ICMP
        && !packet.fragment
        && matches!(
            packet.icmp_type,
            ICMP_DEST_UNREACH | ICMP_TIME_EXCEEDED | ICMP_PARAMETER_PROB
        )
}

/// The quoted packet: where its headers sit and the tuple it carries.
struct Quoted {
    ip_off: usize,
    l4_off: usize,
    /// Bytes of its L4 header (and data) inside the error.
    l4_len: usize,
    protocol: u8,
    src_ip: [u8; 4],
    dst_ip: [u8; 4],
    src_port: u16,
    dst_port: u16,
}

#[inline(always)]
fn quoted(ctx: &TcContext, packet: &Packet) -> Option<Quoted> {
    let total: [u8; 2] = ctx.load(IP_OFF + 2).ok()?;
    let end = IP_OFF + usize::from(u16::from_be_bytes(total));
    let ip_off = packet.l4_off + ICMP_HEADER_LEN;
    let version_ihl: u8 = ctx.load(ip_off).ok()?;
    let ihl = usize::from(version_ihl & 0x0f) * 4;
    if version_ihl >> 4 != 4 || ihl < 20 {
        return None;
    }
    let l4_off = ip_off + ihl;
    if l4_off + 8 > end {
        return None;
    }
    // A quoted later fragment carries no ports to find its flow by.
    let frag: [u8; 2] = ctx.load(ip_off + 6).ok()?;
    if u16::from_be_bytes(frag) & IP_OFFSET_MASK != 0 {
        return None;
    }
    let protocol: u8 = ctx.load(ip_off + 9).ok()?;
    let l4: [u8; 8] = ctx.load(l4_off).ok()?;
    let (src_port, dst_port) = match protocol {
        proto::TCP | proto::UDP => (
            u16::from_be_bytes([l4[0], l4[1]]),
            u16::from_be_bytes([l4[2], l4[3]]),
        ),
        proto::ICMP if l4[0] == ICMP_ECHO_REQUEST || l4[0] == ICMP_ECHO_REPLY => {
            let id = u16::from_be_bytes([l4[4], l4[5]]);
            (id, id)
        }
        _ => return None,
    };
    Some(Quoted {
        ip_off,
        l4_off,
        l4_len: end - l4_off,
        protocol,
        src_ip: ctx.load(ip_off + 12).ok()?,
        dst_ip: ctx.load(ip_off + 16).ok()?,
        src_port,
        dst_port,
    })
}

/// Translates and forwards an ICMP error about a flow `hook` applies the
/// translation of; `None` (the packet goes its usual way) otherwise.
// A subprogram of its own: its quoted-header work would otherwise share
// the caller's 512-byte stack frame with everything else inlined there.
#[inline(never)]
pub fn translate_error(ctx: &TcContext, packet: &Packet, hook: Hook) -> Option<i32> {
    if !is_error(packet) {
        return None;
    }
    let inner = quoted(ctx, packet)?;
    // An error goes back to the quoted packet's sender; and a container
    // speaks only about packets it received itself.
    if packet.dst_ip != inner.src_ip || hook == Hook::Container && packet.src_ip != inner.dst_ip {
        return None;
    }
    let key = FlowKey::new(
        inner.dst_ip,
        inner.dst_port,
        inner.src_ip,
        inner.src_port,
        inner.protocol,
    );
    // In place: a copy would not fit this subprogram's share of the stack.
    let entry = conntrack::peek(&key)?;
    if !hook.applies(entry) {
        return None;
    }
    // Routed like the flow's packets: one hop less.
    if packet.ttl <= 1 {
        return Some(nat::ttl_expired(hook));
    }
    if rewrite(ctx, packet, &inner, entry).is_err() || csum::decrement_ttl(ctx, packet).is_err() {
        return Some(drop_packet(DropReason::Malformed));
    }
    Some(nat::forward(ctx, entry))
}

#[inline(always)]
fn rewrite(ctx: &TcContext, packet: &Packet, inner: &Quoted, entry: &NatEntry) -> Result<(), ()> {
    let (src_ip, src_port) = (entry.new_dst_ip, entry.new_dst_port);
    let (dst_ip, dst_port) = (entry.new_src_ip, entry.new_src_port);
    // Changes inside the ICMP message, for its checksum.
    let mut icmp = Sum::default();

    // The quoted IP header: addresses and its checksum.
    let mut ip = Sum::default();
    ip.addr(inner.src_ip, src_ip);
    ip.addr(inner.dst_ip, dst_ip);
    let old: [u8; 2] = ctx.load(inner.ip_off + 10).map_err(|_| ())?;
    let old = u16::from_be_bytes(old);
    let new = ip.update(old);
    icmp.addr(inner.src_ip, src_ip);
    icmp.addr(inner.dst_ip, dst_ip);
    icmp.word(old, new);
    ctx.store(inner.ip_off + 10, &new.to_be_bytes(), 0)
        .map_err(|_| ())?;
    ctx.store(inner.ip_off + 12, &src_ip, 0).map_err(|_| ())?;
    ctx.store(inner.ip_off + 16, &dst_ip, 0).map_err(|_| ())?;

    // The quoted L4 header: ports (or the echo id) and its checksum, which
    // for TCP and UDP also covers the addresses (pseudo-header).
    let mut l4 = Sum::default();
    let csum_at = match inner.protocol {
        proto::ICMP => {
            l4.word(inner.src_port, src_port);
            icmp.word(inner.src_port, src_port);
            ctx.store(inner.l4_off + 4, &src_port.to_be_bytes(), 0)
                .map_err(|_| ())?;
            Some(2)
        }
        _ => {
            l4.word(inner.src_port, src_port);
            l4.word(inner.dst_port, dst_port);
            l4.addr(inner.src_ip, src_ip);
            l4.addr(inner.dst_ip, dst_ip);
            icmp.word(inner.src_port, src_port);
            icmp.word(inner.dst_port, dst_port);
            ctx.store(inner.l4_off, &src_port.to_be_bytes(), 0)
                .map_err(|_| ())?;
            ctx.store(inner.l4_off + 2, &dst_port.to_be_bytes(), 0)
                .map_err(|_| ())?;
            if inner.protocol == proto::UDP {
                Some(6)
            } else if inner.l4_len >= 18 {
                Some(16)
            } else {
                // Not quoted: nothing to keep consistent.
                None
            }
        }
    };
    if let Some(at) = csum_at {
        let old: [u8; 2] = ctx.load(inner.l4_off + at).map_err(|_| ())?;
        let old = u16::from_be_bytes(old);
        // A zero UDP checksum means "none" and stays zero; a computed zero
        // is sent as 0xffff (RFC 768).
        if !(inner.protocol == proto::UDP && old == 0) {
            let mut new = l4.update(old);
            if inner.protocol == proto::UDP && new == 0 {
                new = 0xffff;
            }
            icmp.word(old, new);
            ctx.store(inner.l4_off + at, &new.to_be_bytes(), 0)
                .map_err(|_| ())?;
        }
    }

    // The ICMP checksum covers the whole message, quote included.
    let at = packet.l4_off + 2;
    let old: [u8; 2] = ctx.load(at).map_err(|_| ())?;
    let new = icmp.update(u16::from_be_bytes(old));
    ctx.store(at, &new.to_be_bytes(), 0).map_err(|_| ())?;

    // The outer header: to the quoted packet's sender; from its peer when
    // the peer itself answered.
    if packet.src_ip == inner.dst_ip {
        csum::set_ip(ctx, packet, Addr::Src, dst_ip)?;
    }
    csum::set_ip(ctx, packet, Addr::Dst, src_ip)
}
