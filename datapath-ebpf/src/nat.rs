//! Applying NAT entries and creating the entries of new flows: published
//! ports (DNAT, source kept) and masquerade (SNAT to the uplink address).

use aya_ebpf::{
    helpers::{bpf_get_prandom_u32, bpf_redirect_neigh, bpf_redirect_peer},
    programs::TcContext,
};
use ebpfnet_common::{
    DropReason,
    maps::{
        FlowKey, Forward, NatEntry, NatKind, PUBLISHED_ANY_IP, PublishedKey, PublishedStats,
        PublishedValue, proto,
    },
};

use crate::{
    conntrack,
    counters::drop_packet,
    csum::{self, Addr},
    frag, maps, mtu,
    parse::Packet,
};

/// Field offsets inside the L4 header of what NAT rewrites.
const SRC_PORT_OFF: usize = 0;
const DST_PORT_OFF: usize = 2;
const ICMP_ID_OFF: usize = 4;

/// How many random masquerade ports to try before giving up on a flow.
const MASQ_TRIES: u32 = 32;

/// Rewrites `packet` as `entry` says and sends it on. Returns the verdict.
#[inline(always)]
pub fn apply(ctx: &TcContext, packet: &Packet, entry: &NatEntry) -> i32 {
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
    forward(ctx, entry)
}

#[inline(always)]
fn rewrite(ctx: &TcContext, packet: &Packet, entry: &NatEntry) -> Result<(), ()> {
    if packet.protocol == proto::ICMP {
        // Both "ports" of an echo are its identifier.
        csum::set_port(
            ctx,
            packet,
            ICMP_ID_OFF,
            packet.src_port,
            entry.new_src_port,
        )?;
    } else {
        csum::set_port(
            ctx,
            packet,
            SRC_PORT_OFF,
            packet.src_port,
            entry.new_src_port,
        )?;
        csum::set_port(
            ctx,
            packet,
            DST_PORT_OFF,
            packet.dst_port,
            entry.new_dst_port,
        )?;
    }
    csum::set_ip(ctx, packet, Addr::Src, entry.new_src_ip)?;
    csum::set_ip(ctx, packet, Addr::Dst, entry.new_dst_ip)
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

/// Sends a rewritten packet where `entry` says its direction goes.
#[inline(always)]
pub fn forward(ctx: &TcContext, entry: &NatEntry) -> i32 {
    if entry.forward == Forward::Peer as u8 {
        deliver_to_container(ctx, entry.ifindex, entry.dst_mac)
    } else {
        unsafe { bpf_redirect_neigh(entry.ifindex, core::ptr::null_mut(), 0, 0) as i32 }
    }
}

/// The entry for the answers to `packet`'s flow: they are rewritten to carry
/// `packet`'s own tuple reversed, which is what its sender expects back.
#[inline(always)]
fn answer_entry(
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

/// A new flow to a published port. `reply_ifindex`/`reply_forward`/
/// `reply_mac` say where the container's replies go: out of the uplink the
/// request came in on, or (hairpin) straight into the client container.
#[inline(always)]
pub fn start_published(
    ctx: &TcContext,
    packet: &Packet,
    target: &PublishedValue,
    any_ip: bool,
    reply_forward: Forward,
    reply_ifindex: u32,
    reply_mac: [u8; 6],
) -> i32 {
    let request_key = conntrack::key_of(packet);
    let mut request = conntrack::new_entry(
        NatKind::PublishedRequest as u8,
        Forward::Peer as u8,
        target.ifindex,
        target.container_mac,
    );
    request.new_src_ip = packet.src_ip;
    request.new_src_port = packet.src_port;
    request.new_dst_ip = target.container_ip;
    request.new_dst_port = target.container_port;
    if any_ip {
        request.tcp_flags |= PUBLISHED_ANY_IP;
    }
    // Replies leave as if from the published address.
    let reply = answer_entry(
        packet,
        NatKind::PublishedReply,
        reply_forward,
        reply_ifindex,
        reply_mac,
    );
    // The tuple the container's replies carry.
    let back = request.twin_key(packet.protocol);
    // The reply tuple of a published flow is fixed by the client's; an old
    // entry for it belongs to an earlier flow of the same client port.
    if conntrack::insert(&back, &reply).is_err()
        || conntrack::insert(&request_key, &request).is_err()
    {
        conntrack::release(&back);
        return drop_packet(DropReason::NatInsertFailed);
    }
    apply(ctx, packet, &request)
}

/// Per-mapping counters, for packets of the client → container direction.
#[inline(always)]
fn count_published(packet: &Packet, any_ip: bool, len: u32, new_flow: bool) {
    let key = PublishedKey {
        host_ip: if any_ip { [0; 4] } else { packet.dst_ip },
        host_port: packet.dst_port,
        protocol: packet.protocol,
        _pad: 0,
    };
    match maps::PUBLISHED_STATS.get_ptr_mut(key) {
        Some(stats) => unsafe {
            // SAFETY: per-CPU value.
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

/// A new flow from a container to the outside, masqueraded behind
/// `uplink_ip` and sent out of `uplink`.
#[inline(always)]
pub fn start_masquerade(
    ctx: &TcContext,
    packet: &Packet,
    uplink: u32,
    uplink_ip: [u8; 4],
    container_ifindex: u32,
    container_mac: [u8; 6],
) -> i32 {
    let config = maps::config();
    if config.masq_port_max < config.masq_port_min {
        return drop_packet(DropReason::MasqueradePortsExhausted);
    }
    let range = u32::from(config.masq_port_max - config.masq_port_min) + 1;
    let reply = answer_entry(
        packet,
        NatKind::MasqueradeReply,
        Forward::Peer,
        container_ifindex,
        container_mac,
    );
    let mut port = 0u16;
    let mut back = FlowKey::default();
    for _ in 0..MASQ_TRIES {
        // Independent random probes: a run of published ports or busy
        // tuples inside the range cannot swallow every try.
        let candidate = config.masq_port_min + (unsafe { bpf_get_prandom_u32() } % range) as u16;
        // A masquerade port never shadows a published one (cilium#34041).
        if maps::port_is_published(uplink_ip, candidate, packet.protocol) {
            continue;
        }
        let (src_port, dst_port) = if packet.protocol == proto::ICMP {
            (candidate, candidate)
        } else {
            (packet.dst_port, candidate)
        };
        back = FlowKey::new(
            packet.dst_ip,
            src_port,
            uplink_ip,
            dst_port,
            packet.protocol,
        );
        if conntrack::claim(&back, &reply, packet.opens_tcp()) {
            port = candidate;
            break;
        }
    }
    if port == 0 {
        return drop_packet(DropReason::MasqueradePortsExhausted);
    }
    let mut request = conntrack::new_entry(
        NatKind::MasqueradeRequest as u8,
        Forward::Neigh as u8,
        uplink,
        [0; 6],
    );
    request.new_src_ip = uplink_ip;
    request.new_src_port = port;
    request.new_dst_ip = packet.dst_ip;
    request.new_dst_port = if packet.protocol == proto::ICMP {
        port
    } else {
        packet.dst_port
    };
    if let Err(reason) = conntrack::insert(&conntrack::key_of(packet), &request) {
        conntrack::release(&back);
        return drop_packet(reason);
    }
    apply(ctx, packet, &request)
}
