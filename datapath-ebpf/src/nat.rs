//! Applying NAT entries and creating the entries of new flows: published
//! ports (DNAT, source kept) here, masquerade (SNAT to the uplink address)
//! in `masquerade`.

use aya_ebpf::{helpers::bpf_redirect_peer, programs::TcContext};
use ebpfnet_common::{
    DropReason,
    maps::{
        FROM_CONTAINER, Forward, NatEntry, NatKind, PUBLISHED_ANY_IP, PublishedKey, PublishedStats,
        PublishedValue, proto,
    },
};

use crate::{
    TCX_NEXT,
    conntrack::{self, Reuse},
    counters::drop_packet,
    csum::{self, Addr},
    frag,
    hook::Hook,
    icmp_reply::{self, ErrorReply, ICMP_TIME_EXCEEDED, ICMP_TTL_EXCEEDED, Toward},
    maps, mtu, nat_packet, nexthop,
    parse::Packet,
    scratch,
};

/// What to do with a routed packet whose TTL runs out here (`hook`: where
/// it came in), when no error may be sent about it (an ICMP error itself,
/// a later fragment): a container's goes to the host's stack untranslated
/// (which routes it no further); another host's is dropped, counted.
#[inline(always)]
pub fn ttl_expired(hook: Hook) -> i32 {
    match hook {
        Hook::Container => TCX_NEXT,
        Hook::Uplink => drop_packet(DropReason::TtlExceeded),
    }
}

/// A routed packet whose TTL runs out here, answered as a router does
/// (cloud metadata services rely on that hop limit): a container's goes to
/// the host's stack untranslated, which answers "time exceeded" from the
/// gateway; another host's is answered "time exceeded" from the host
/// address it was sent to (counted as `ttl_exceeded`: it goes no further).
#[inline(always)]
pub fn answer_ttl_expired(ctx: &TcContext, packet: &Packet, hook: Hook) -> i32 {
    match hook {
        Hook::Container => TCX_NEXT,
        Hook::Uplink => {
            let _ = drop_packet(DropReason::TtlExceeded);
            let reply = ErrorReply {
                icmp_type: ICMP_TIME_EXCEEDED,
                code: ICMP_TTL_EXCEEDED,
                mtu: 0,
                source: packet.dst_ip,
                toward: Toward::Uplink,
            };
            icmp_reply::send(ctx, packet, &reply)
        }
    }
}

/// Rewrites `packet` as `entry` says and sends it on. Returns the verdict.
/// `entry` is the flow's own (in the map, or the scratch copy of a new
/// flow): a next hop resolved on the way out is cached in it (nexthop.rs).
/// A subprogram of its own, called at the programs' top level only, so
/// that the "fragmentation needed" it may build (`mtu`) has the stack left.
#[inline(never)]
pub fn apply(ctx: &TcContext, packet: &Packet, entry: &mut NatEntry, hook: Hook) -> i32 {
    if packet.ttl <= 1 {
        return answer_ttl_expired(ctx, packet, hook);
    }
    // Client → container packets of a published flow, from an uplink or a
    // container (hairpin), count on their mapping; an entry not yet tracked
    // (no packet counted) is a new flow.
    if entry.kind == NatKind::PublishedRequest as u8 {
        let any_ip = entry.tcp_flags & PUBLISHED_ANY_IP != 0;
        count_published(packet, any_ip, ctx.len(), entry.packets == 0);
    }
    // Too big for the uplink: the sender learns the path MTU (mtu.rs).
    if let Some(verdict) = mtu::enforce(ctx, packet, entry) {
        return verdict;
    }
    // The later fragments follow the first one's translation (frag.rs).
    if packet.first_fragment {
        frag::remember(ctx, packet);
    }
    if rewrite(ctx, packet, entry).is_err() {
        return drop_packet(DropReason::Malformed);
    }
    if entry.forward == Forward::Peer as u8 {
        deliver_to_container(ctx, entry.ifindex, entry.dst_mac)
    } else {
        nexthop::send(ctx, entry, hook)
    }
}

#[inline(always)]
fn rewrite(ctx: &TcContext, packet: &Packet, entry: &NatEntry) -> Result<(), ()> {
    nat_packet::set_ports(ctx, packet, (entry.new_src_port, entry.new_dst_port))?;
    csum::set_ip(ctx, packet, Addr::Src, entry.new_src_ip)?;
    csum::set_ip(ctx, packet, Addr::Dst, entry.new_dst_ip)?;
    csum::decrement_ttl(ctx, packet)
}

/// Hands the frame to the container behind host veth `ifindex`.
#[inline(always)]
pub fn deliver_to_container(ctx: &TcContext, ifindex: u32, mac: [u8; 6]) -> i32 {
    // The container's eth0 accepts only frames for its own MAC.
    if ctx.store(0, &mac, 0).is_err() {
        return drop_packet(DropReason::Malformed);
    }
    // SAFETY: plain helper call.
    unsafe { bpf_redirect_peer(ifindex, 0) as i32 }
}

/// Sends a rewritten packet where `entry` (a copy) says its direction
/// goes: a packet that belongs to a flow without being one of its own (an
/// ICMP error about it, a later fragment) uses the flow's cached next hop
/// but never resolves one.
#[inline(always)]
pub fn forward(ctx: &TcContext, entry: &NatEntry) -> i32 {
    if entry.forward == Forward::Peer as u8 {
        deliver_to_container(ctx, entry.ifindex, entry.dst_mac)
    } else {
        nexthop::send_cached(ctx, entry)
    }
}

/// The entry for the answers to `packet`'s flow: they are rewritten to carry
/// `packet`'s own tuple reversed, which is what its sender expects back.
#[inline(always)]
pub(crate) fn answer_entry(
    packet: &Packet,
    kind: NatKind,
    forward: Forward,
    ifindex: u32,
    dst_mac: [u8; 6],
) -> NatEntry {
    let mut entry = conntrack::new_entry(kind as u8, forward as u8, ifindex, dst_mac);
    entry.new_src_ip = packet.dst_ip;
    entry.new_src_port = packet.dst_port;
    entry.new_dst_ip = packet.src_ip;
    entry.new_dst_port = packet.src_port;
    entry
}

// Masquerade moved to its own module; callers keep reaching it here.
pub use crate::masquerade::{MasqueradePath, start_masquerade};

/// Where the replies of a new published flow go: out of the uplink the
/// request came in on, or (hairpin) straight into the client container.
pub struct ReplyPath {
    pub forward: Forward,
    pub ifindex: u32,
    pub mac: [u8; 6],
    /// For a container reaching its own published port: the address its
    /// request appears to come from (its gateway), as Docker masquerades
    /// that path, since a container drops packets from its own address.
    /// `[0; 4]`: the client's own address is kept. (Not an `Option`: LLVM
    /// lowers that to shifts of a stack pointer, which the verifier refuses.)
    pub source: [u8; 4],
}

/// What setting up a new flow came to; [`finish`] acts on it. The entries
/// are applied by the caller, at its top level: a packet too big for its
/// way out needs the stack for the ICMP error it gets.
pub enum Started {
    /// Done: this verdict (a drop, or a hand-over to the stack).
    Verdict(i32),
    /// Both entries are claimed; the request is in this CPU's scratch slot.
    New,
    /// Another CPU set this very flow up first: its entry wins.
    Existing,
}

/// Applies what [`start_published`] or [`start_masquerade`] started.
#[inline(always)]
pub fn finish(ctx: &TcContext, packet: &Packet, started: Started, hook: Hook) -> i32 {
    match started {
        Started::Verdict(verdict) => verdict,
        Started::New => match scratch::new_flow() {
            Some(flow) => apply(ctx, packet, &mut flow.request, hook),
            None => drop_packet(DropReason::NatInsertFailed),
        },
        Started::Existing => match conntrack::track(packet, ctx.len(), hook) {
            Ok(Some(entry)) => apply(ctx, packet, entry, hook),
            Ok(None) => drop_packet(DropReason::NatInsertFailed),
            Err(reason) => drop_packet(reason),
        },
    }
}

/// A new flow to a published port: both entries claimed. A subprogram of
/// its own (as [`start_masquerade`]), so its work does not add to the
/// stack of the paths that apply entries.
#[inline(never)]
pub fn start_published(
    packet: &Packet,
    target: &PublishedValue,
    any_ip: bool,
    path: &ReplyPath,
) -> Started {
    let Some(flow) = scratch::new_flow() else {
        return Started::Verdict(drop_packet(DropReason::NatInsertFailed));
    };
    let request_key = conntrack::key_of(packet);
    flow.request = conntrack::new_entry(
        NatKind::PublishedRequest as u8,
        Forward::Peer as u8,
        target.ifindex,
        target.container_mac,
    );
    let request = &mut flow.request;
    request.new_src_ip = if path.source == [0; 4] {
        packet.src_ip
    } else {
        path.source
    };
    request.new_src_port = packet.src_port;
    request.new_dst_ip = target.container_ip;
    request.new_dst_port = target.container_port;
    if any_ip {
        request.tcp_flags |= PUBLISHED_ANY_IP;
    }
    // Replies into a container: the client is one, so this direction's
    // packets come from a container's veth, never from an uplink (hook.rs).
    if path.forward == Forward::Peer {
        request.tcp_flags |= FROM_CONTAINER;
    }
    if packet.protocol == proto::TCP {
        conntrack::record_sequence(packet, request);
    }
    // Replies leave as if from the published address.
    flow.reply = answer_entry(
        packet,
        NatKind::PublishedReply,
        path.forward,
        path.ifindex,
        path.mac,
    );
    // Both tuples follow from the client's: a SYN on them is the client
    // reopening its own.
    let reopen = if packet.opens_tcp() {
        Reuse::Closed
    } else {
        Reuse::Never
    };
    if !conntrack::claim(&request_key, &flow.request, reopen, None) {
        return Started::Existing;
    }
    // The tuple the container's replies carry must be no other flow's.
    let back = flow.request.twin_key(packet.protocol);
    if !conntrack::claim(&back, &flow.reply, reopen, Some(&request_key)) {
        conntrack::release(&request_key);
        return Started::Verdict(drop_packet(DropReason::NatInsertFailed));
    }
    Started::New
}

/// Per-mapping counters, for packets of the client → container direction.
#[inline(always)]
pub(crate) fn count_published(packet: &Packet, any_ip: bool, len: u32, new_flow: bool) {
    let key = PublishedKey {
        host_ip: if any_ip { [0; 4] } else { packet.dst_ip },
        host_port: packet.dst_port,
        protocol: packet.protocol,
        _pad: 0,
    };
    match maps::PUBLISHED_STATS.get_ptr_mut(key) {
        // SAFETY: per-CPU value: only this CPU touches it.
        Some(stats) => unsafe {
            (*stats).packets += 1;
            (*stats).bytes += u64::from(len);
            (*stats).flows += u64::from(new_flow);
        },
        None => {
            let first = PublishedStats {
                packets: 1,
                bytes: u64::from(len),
                flows: u64::from(new_flow),
            };
            let _ = maps::PUBLISHED_STATS.insert(key, first, 0);
        }
    }
}
