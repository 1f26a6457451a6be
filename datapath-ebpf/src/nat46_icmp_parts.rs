//! The byte work of `nat46_icmp`: ICMP headers written into its per-CPU
//! scratch (the IP headers are `ip_header`'s), checksums summed and
//! updated there (`bpf_csum_diff`), and the packet loaded from, resized
//! and stored into through helpers.

use aya_ebpf::{
    bindings::BPF_F_RECOMPUTE_CSUM,
    helpers::{bpf_csum_diff, bpf_skb_load_bytes, bpf_skb_store_bytes},
    programs::TcContext,
};
use ebpfnet_common::{DropReason, maps::proto, nat46_icmp::IcmpHead};

pub(crate) const ICMP_HEADER_LEN: usize = 8;
const ETHERTYPE_OFF: usize = 12;
/// `BPF_ADJ_ROOM_NET`: room right after the (base) network header.
const BPF_ADJ_ROOM_NET: u32 = 0;

/// The type, code and second word of an ICMP header.
#[inline(always)]
pub(crate) fn head_of(icmp: &[u8; ICMP_HEADER_LEN]) -> IcmpHead {
    IcmpHead {
        kind: icmp[0],
        code: icmp[1],
        rest: [icmp[4], icmp[5], icmp[6], icmp[7]],
    }
}

/// Writes `head` with a zero checksum.
#[inline(always)]
pub(crate) fn write_icmp(icmp: &mut [u8; ICMP_HEADER_LEN], head: IcmpHead) {
    *icmp = [
        head.kind,
        head.code,
        0,
        0,
        head.rest[0],
        head.rest[1],
        head.rest[2],
        head.rest[3],
    ];
}

/// Where the quoted L4 checksum of `protocol` sits when the quote (its L4
/// header at `l4`) holds it; its bytes go into `csum` (zero otherwise).
#[inline(always)]
pub(crate) fn quoted_csum(
    ctx: &TcContext,
    protocol: u8,
    l4: usize,
    csum: &mut [u8; 4],
) -> Option<usize> {
    let at = l4 + if protocol == proto::TCP { 16 } else { 6 };
    *csum = [0; 4];
    match ctx.load::<[u8; 2]>(at) {
        Ok(bytes) => {
            csum[0..2].copy_from_slice(&bytes);
            Some(at - l4)
        }
        Err(_) => None,
    }
}

/// Gives the packet the family of `ethertype` (`bpf_skb_change_proto`)
/// and `grow` more bytes (or fewer) after its new IP header: room for the
/// headers written next.
#[inline(always)]
pub(crate) fn resize(ctx: &TcContext, ethertype: u16, grow: i32) -> Result<(), DropReason> {
    ctx.change_proto(ethertype.to_be(), 0)
        .map_err(|_| DropReason::Untranslatable)?;
    ctx.adjust_room(grow, BPF_ADJ_ROOM_NET, 0)
        .map_err(|_| DropReason::Untranslatable)?;
    let ethertype = ethertype.to_be();
    ctx.store(ETHERTYPE_OFF, &ethertype, 0)
        .map_err(|_| DropReason::Malformed)
}

/// The quoted L4 ports (at `l4`), and its checksum when quoted.
#[inline(always)]
pub(crate) fn store_tail(
    ctx: &TcContext,
    l4: usize,
    ports: &[u8; 4],
    csum_at: Option<usize>,
    csum: &[u8; 4],
) -> Result<(), DropReason> {
    store(ctx, l4, ports.as_ptr(), 4)?;
    match csum_at {
        Some(at) => store(ctx, l4 + at, csum.as_ptr(), 2),
        None => Ok(()),
    }
}

/// A pointer `offset` bytes into `side` (one of this CPU's `Side4`,
/// `Side6`), for the checksum helper.
#[inline(always)]
pub(crate) fn s_ptr<T>(side: &T, offset: usize) -> *const u8 {
    // SAFETY: callers (`nat46_icmp`) pass offsets of spans inside `side`
    // (its constants, checked against the types' sizes).
    unsafe { (side as *const T).cast::<u8>().add(offset) }
}

/// The same, writable (for loads into the scratch).
#[inline(always)]
pub(crate) fn at_mut<T>(side: &mut T, offset: usize) -> *mut u8 {
    // SAFETY: as in `s_ptr`.
    unsafe { (side as *mut T).cast::<u8>().add(offset) }
}

/// `bpf_csum_diff`: the sum of `to` less the sum of `from` (32 bits,
/// unfolded), both this CPU's map memory of the sizes given.
#[inline(always)]
pub(crate) fn csum_diff(
    from: *const u8,
    from_len: u32,
    to: *const u8,
    to_len: u32,
) -> Result<u32, DropReason> {
    // SAFETY: both spans lie in this CPU's `ICMP46` value (or `from` is
    // null with size 0); the helper only reads them.
    let diff = unsafe { bpf_csum_diff(from as *mut u32, from_len, to as *mut u32, to_len, 0) };
    if diff < 0 {
        return Err(DropReason::Malformed);
    }
    Ok(diff as u32)
}

/// Folds a sum of 16-bit words (in memory order) to 16 bits.
#[inline(always)]
pub(crate) fn fold(sum: u64) -> u16 {
    let sum = (sum & 0xffff_ffff) + (sum >> 32);
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = (sum & 0xffff) + (sum >> 16);
    sum as u16
}

/// The checksum field `old` (as stored) after the data it covers changed
/// by `diff` (RFC 1624). A UDP checksum (`protocol`) of zero means none
/// and stays; a computed zero is sent as all ones (RFC 768).
#[inline(always)]
pub(crate) fn updated(old: [u8; 2], diff: u32, protocol: u8) -> [u8; 2] {
    let old = u16::from_ne_bytes(old);
    if protocol == proto::UDP && old == 0 {
        return [0; 2];
    }
    let new = !fold(u64::from(!old) + u64::from(diff));
    if protocol == proto::UDP && new == 0 {
        return [0xff; 2];
    }
    new.to_ne_bytes()
}

/// Reads `len` bytes at `offset` into this CPU's scratch.
#[inline(always)]
pub(crate) fn load(ctx: &TcContext, offset: usize, to: *mut u8, len: usize) -> Option<()> {
    // SAFETY: `to` points into this CPU's `ICMP46` value with `len` bytes
    // of room (constants at every call).
    let ret =
        unsafe { bpf_skb_load_bytes(ctx.skb.skb.cast(), offset as u32, to.cast(), len as u32) };
    (ret == 0).then_some(())
}

/// Writes `len` bytes of this CPU's scratch at `offset`; a
/// `CHECKSUM_COMPLETE` sum follows the change.
#[inline(always)]
pub(crate) fn store(
    ctx: &TcContext,
    offset: usize,
    from: *const u8,
    len: usize,
) -> Result<(), DropReason> {
    // SAFETY: `from` points into this CPU's `ICMP46` value with `len`
    // bytes (constants at every call); the helper only reads it.
    let ret = unsafe {
        bpf_skb_store_bytes(
            ctx.skb.skb.cast(),
            offset as u32,
            from.cast(),
            len as u32,
            u64::from(BPF_F_RECOMPUTE_CSUM),
        )
    };
    if ret == 0 {
        Ok(())
    } else {
        Err(DropReason::Malformed)
    }
}
