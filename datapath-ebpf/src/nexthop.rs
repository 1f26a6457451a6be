//! The next hop of a flow leaving by an uplink, cached in its NAT entry.
//!
//! `bpf_redirect_neigh(ifindex, NULL)` does a route lookup and a neighbour
//! lookup for every packet. A flow's next hop rarely changes, so its first
//! packets resolve it with `bpf_fib_lookup` (route and neighbour, the MACs
//! filled in) and keep the egress MACs in the entry (`dst_mac`, `src_mac`,
//! under `nh_gen`); later packets get those MACs written and leave with a
//! plain `bpf_redirect`.
//!
//! Invalidation: `NEXTHOP_GEN` holds a generation (1 to 255) that the
//! daemon moves on whenever a route, a neighbour's link-layer address or
//! an uplink changes (rtnetlink notifications). An entry cached under
//! another generation resolves again on its next packet. While the map
//! holds 0 (no daemon has started watching yet) nothing is cached. A next
//! hop the FIB cannot give MACs for (neighbour not resolved, NO_NEIGH; a
//! route out of another interface than the flow's) keeps using
//! `bpf_redirect_neigh`, which resolves the neighbour in the kernel.
//!
//! With the next hop, the entry records whether the container's veth has
//! an MTU no larger than the egress device's (`NH_MTU_FITS`): while the
//! generation holds, its packets skip the MTU check (mtu.rs, mtu6.rs).
//!
//! Both families' entries cache it the same way ([`NextHop`] is what
//! differs: the route lookup's request).

use core::mem::offset_of;

use aya_ebpf::{
    bindings::{
        BPF_FIB_LKUP_RET_FRAG_NEEDED, BPF_FIB_LKUP_RET_NO_NEIGH, BPF_FIB_LKUP_RET_SUCCESS,
        BPF_FIB_LOOKUP_OUTPUT, bpf_fib_lookup as FibParams,
    },
    btf_maps::{Array, PerCpuArray},
    helpers::{bpf_fib_lookup, bpf_redirect, bpf_redirect_neigh},
    macros::btf_map,
    programs::TcContext,
};
use ebpfnet_common::{
    DropReason,
    maps::{NH_MTU_FITS, NatEntryOf},
};

use crate::{counters::drop_packet, hook::Hook, mtu, nat6};

const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

/// An address family's side of a next-hop lookup.
pub trait NextHop: Copy {
    /// Where `dst_mac` sits in the family's entry (`src_mac` follows).
    const MACS_OFF: usize;
    /// The family's IP header length: a lookup's `tot_len` that fits any
    /// MTU.
    const HEADER_LEN: u16;

    /// Fills the zeroed `params` to look up the route from `src` to `dst`
    /// from the current device `here` (a container's veth); returns the
    /// lookup's flags.
    fn request(params: &mut FibParams, src: &Self, dst: &Self, here: u32) -> u32;
}

impl NextHop for [u8; 4] {
    const MACS_OFF: usize = offset_of!(NatEntryOf<[u8; 4]>, dst_mac);
    const HEADER_LEN: u16 = 20;

    /// An input lookup from the container's veth: the controller turns
    /// forwarding on for that veth only, so the lookup is allowed while
    /// the host's `ip_forward` stays off.
    #[inline(always)]
    fn request(params: &mut FibParams, src: &Self, dst: &Self, here: u32) -> u32 {
        params.family = AF_INET;
        params.ifindex = here;
        params.__bindgen_anon_3.ipv4_src = u32::from_ne_bytes(*src);
        params.__bindgen_anon_4.ipv4_dst = u32::from_ne_bytes(*dst);
        0
    }
}

impl NextHop for [u8; 16] {
    const MACS_OFF: usize = offset_of!(NatEntryOf<[u8; 16]>, dst_mac);
    const HEADER_LEN: u16 = 40;

    /// An output lookup from the container's veth (the container's veth
    /// need not forward IPv6; the lookup refuses a device without IPv6
    /// forwarding, which the controller turns on for the veths only).
    #[inline(always)]
    fn request(params: &mut FibParams, src: &Self, dst: &Self, here: u32) -> u32 {
        params.family = AF_INET6;
        params.ifindex = here;
        params.__bindgen_anon_3.ipv6_src = nat6::words(src);
        params.__bindgen_anon_4.ipv6_dst = nat6::words(dst);
        BPF_FIB_LOOKUP_OUTPUT
    }
}

// The cached MACs sit in the entry as in an Ethernet header: destination,
// then source.
const _: () = assert!(
    offset_of!(NatEntryOf<[u8; 4]>, src_mac) == <[u8; 4] as NextHop>::MACS_OFF + 6
        && offset_of!(NatEntryOf<[u8; 16]>, src_mac) == <[u8; 16] as NextHop>::MACS_OFF + 6
);

/// The generation next hops are cached under (see the module's text).
#[btf_map]
static NEXTHOP_GEN: Array<u32, 1> = Array::new();

/// Room for the FIB request: in the frame of `resolve` its 64 bytes would
/// take the container program's call chain past the 512-byte stack.
#[btf_map]
static FIB_REQUEST: PerCpuArray<[u64; 8], 1> = PerCpuArray::new();

const _: () = assert!(size_of::<FibParams>() == size_of::<[u64; 8]>());

/// The next hop a new masqueraded flow's route lookup found ([`egress`]),
/// for its entry: written by every such lookup, read right
/// after it in the same program run.
#[repr(C)]
pub struct Found {
    /// 0: nothing found (or next hops are not cached).
    pub generation: u8,
    pub dst_mac: [u8; 6],
    pub src_mac: [u8; 6],
    /// 1: the container's veth MTU fits the egress device's (`mtu::fits`).
    pub fits: u8,
    pub _pad: [u8; 2],
    pub ifindex: u32,
}

#[btf_map]
static FOUND: PerCpuArray<Found, 1> = PerCpuArray::new();

/// The interface the host routes a new flow's first packet out of (from
/// `src` to `dst`, of `protocol`, from the container's veth `ifindex`),
/// `None` when there is no route. FRAG_NEEDED counts as one: the route is
/// found (and `params.ifindex` filled) but the packet is larger than that
/// device's MTU, which `mtu`/`mtu6` answer. A next hop with MACs is
/// remembered for the new flow's entry ([`seed`]).
#[inline(always)]
pub fn egress<A: NextHop>(
    ctx: &TcContext,
    src: &A,
    dst: &A,
    protocol: u8,
    ifindex: u32,
) -> Option<u32> {
    match route(ctx, src, dst, protocol, ifindex) {
        0 => None,
        egress => Some(egress),
    }
}

/// [`egress`]'s lookup; 0: no route. A subprogram of its own (five
/// arguments, the most a BPF call takes: hence no `Option`): its 64-byte
/// request would otherwise sit in the program's frame beside everything
/// else.
#[inline(never)]
fn route<A: NextHop>(ctx: &TcContext, src: &A, dst: &A, protocol: u8, ifindex: u32) -> u32 {
    // Read before the lookup: a change that lands meanwhile is a newer one.
    let generation = generation();
    // SAFETY: a zeroed `bpf_fib_lookup` is a valid request to fill in.
    let mut params: FibParams = unsafe { core::mem::zeroed() };
    let flags = A::request(&mut params, src, dst, ifindex);
    params.l4_protocol = protocol;
    // SAFETY: plain helper call on a request of the size given.
    let ret = unsafe {
        bpf_fib_lookup(
            ctx.skb.skb.cast(),
            &mut params,
            size_of::<FibParams>() as i32,
            flags,
        )
    };
    let found = ret == i64::from(BPF_FIB_LKUP_RET_SUCCESS);
    remember(ctx, generation, found.then_some(&params));
    if found
        || ret == i64::from(BPF_FIB_LKUP_RET_NO_NEIGH)
        || ret == i64::from(BPF_FIB_LKUP_RET_FRAG_NEEDED)
    {
        params.ifindex
    } else {
        0
    }
}

/// Records what a route lookup made under `generation` (read before it)
/// found: the MACs of a next hop out of `ifindex`, or nothing.
#[inline(always)]
fn remember(ctx: &TcContext, generation: u8, params: Option<&FibParams>) {
    let Some(slot) = FOUND.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: this CPU's slot, used by one program run at a time.
    let found = unsafe { &mut *slot };
    match params {
        Some(params) if generation != 0 => {
            found.dst_mac = params.dmac;
            found.src_mac = params.smac;
            found.ifindex = params.ifindex;
            found.fits = u8::from(mtu::fits(ctx, params.ifindex));
            found.generation = generation;
        }
        _ => found.generation = 0,
    }
}

/// Caches in a new flow's `entry` the next hop [`remember`] recorded, if
/// it leaves by the entry's interface: its packets, the first included,
/// then need no lookup of their own.
#[inline(always)]
pub fn seed<A>(entry: &mut NatEntryOf<A>) {
    let Some(slot) = FOUND.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: as in `remember`.
    let found = unsafe { &mut *slot };
    if found.generation != 0 && found.ifindex == entry.ifindex {
        entry.dst_mac = found.dst_mac;
        entry.src_mac = found.src_mac;
        set_fits(entry, found.fits != 0);
        entry.nh_gen = found.generation;
    }
    found.generation = 0;
}

/// The current generation; 0: cache nothing.
#[inline(always)]
pub fn generation() -> u8 {
    // An array lookup, inlined by the verifier.
    match NEXTHOP_GEN.get(0) {
        Some(&generation) if generation <= u32::from(u8::MAX) => generation as u8,
        _ => 0,
    }
}

/// Whether `entry`'s cached next hop (and `NH_MTU_FITS`) is current.
#[inline(always)]
pub fn is_current<A>(entry: &NatEntryOf<A>) -> bool {
    let generation = generation();
    generation != 0 && entry.nh_gen == generation
}

/// Records in `entry` whether its packets fit the egress MTU; the flags
/// are written only when that changes (another CPU may be updating them
/// for a packet of the same direction).
#[inline(always)]
fn set_fits<A>(entry: &mut NatEntryOf<A>, fits: bool) {
    if (entry.tcp_flags & NH_MTU_FITS != 0) != fits {
        entry.tcp_flags ^= NH_MTU_FITS;
    }
}

/// Sends a rewritten packet of `entry`'s flow out of `entry.ifindex`: with
/// the cached MACs while they are current, else resolving the next hop
/// again and caching it (at a container's hook, where the packets that
/// leave by an uplink come in; the route lookup is an input lookup from
/// its veth, as the first packet's).
#[inline(always)]
pub fn send<A: NextHop>(ctx: &TcContext, entry: &mut NatEntryOf<A>, hook: Hook) -> i32 {
    let generation = generation();
    if generation != 0 && entry.nh_gen == generation {
        return redirect_cached(ctx, entry);
    }
    if generation != 0 && hook == Hook::Container && resolve(ctx, entry, generation) {
        return redirect_cached(ctx, entry);
    }
    redirect_neigh(entry.ifindex)
}

/// As [`send`], for a copy of the entry: its cached next hop if current,
/// else the kernel resolves it. The MACs are written field by field: the
/// callers (ICMP errors, later fragments) are inlined into the programs'
/// frames, where a reference to the whole copy would keep all of it on the
/// stack.
#[inline(always)]
pub fn send_cached<A>(ctx: &TcContext, entry: &NatEntryOf<A>) -> i32 {
    let generation = generation();
    if generation != 0 && entry.nh_gen == generation {
        if ctx.store(0, &entry.dst_mac, 0).is_err() || ctx.store(6, &entry.src_mac, 0).is_err() {
            return drop_packet(DropReason::Malformed);
        }
        // SAFETY: plain helper call.
        return unsafe { bpf_redirect(entry.ifindex, 0) as i32 };
    }
    redirect_neigh(entry.ifindex)
}

#[inline(always)]
fn redirect_cached<A: NextHop>(ctx: &TcContext, entry: &NatEntryOf<A>) -> i32 {
    // SAFETY: derived from the whole entry; `dst_mac` and `src_mac` are 12
    // adjacent bytes inside it (asserted above). Written straight from
    // there: a copy would take stack the callers do not have.
    let macs = unsafe {
        &*(entry as *const NatEntryOf<A>)
            .cast::<u8>()
            .add(A::MACS_OFF)
            .cast::<[u8; 12]>()
    };
    if ctx.store(0, macs, 0).is_err() {
        return drop_packet(DropReason::Malformed);
    }
    // SAFETY: plain helper call.
    unsafe { bpf_redirect(entry.ifindex, 0) as i32 }
}

#[inline(always)]
fn redirect_neigh(ifindex: u32) -> i32 {
    // SAFETY: plain helper call; no neighbour parameters given.
    unsafe { bpf_redirect_neigh(ifindex, core::ptr::null_mut(), 0, 0) as i32 }
}

/// Looks the flow's next hop up and caches it in `entry` under
/// `generation` (read before the lookup, so a change that lands meanwhile
/// leaves an entry that resolves again). `false`: no next hop with MACs
/// out of the flow's interface; nothing cached.
#[inline(never)]
fn resolve<A: NextHop>(ctx: &TcContext, entry: &mut NatEntryOf<A>, generation: u8) -> bool {
    let Some(slot) = FIB_REQUEST.get_ptr_mut(0) else {
        return false;
    };
    // SAFETY: this CPU's slot, 8-aligned and exactly the request's size
    // (asserted above), used by one program run at a time; every bit
    // pattern is a valid request, and it is zeroed before use.
    let params = unsafe {
        let params = &mut *slot.cast::<FibParams>();
        *params = core::mem::zeroed();
        params
    };
    // SAFETY: `skb` points at the live `__sk_buff` of this invocation.
    let here = unsafe { (*ctx.skb.skb).ifindex };
    // The lookup of the flow's first packet (`egress`).
    let flags = A::request(params, &entry.new_src_ip, &entry.new_dst_ip, here);
    // A length that fits any MTU: `mtu.rs` has checked the packet already,
    // and a GSO packet must not make the lookup fail with FRAG_NEEDED.
    params.__bindgen_anon_1.tot_len = A::HEADER_LEN;
    // SAFETY: `params` is a valid request of the size given.
    let ret = unsafe {
        bpf_fib_lookup(
            ctx.skb.skb.cast(),
            params,
            size_of::<FibParams>() as i32,
            flags,
        )
    };
    if ret != i64::from(BPF_FIB_LKUP_RET_SUCCESS) || params.ifindex != entry.ifindex {
        return false;
    }
    // The generation last: a CPU that sees it current sees these MACs (up
    // to two CPUs resolving one flow across a change at the same instant,
    // which the next change, or the next resolve, puts right).
    entry.dst_mac = params.dmac;
    entry.src_mac = params.smac;
    set_fits(entry, mtu::fits(ctx, entry.ifindex));
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::Release);
    entry.nh_gen = generation;
    true
}
