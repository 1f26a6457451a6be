//! IPv6 published ports: a new TCP or UDP flow to a host IPv6 address and
//! published port (`PUBLISHED6`, `::` for every address in `HOST_ADDRS6`)
//! goes to the container's IPv6 address and port with its source kept,
//! from an uplink (`uplink_ingress6`) or from a container (hairpin, in
//! `container_ingress6`). As for IPv4: only a flow's first packet creates
//! state, both directions are claimed with `BPF_NOEXIST`, a hop limit that
//! runs out starts no flow (answered "time exceeded", `hoplimit6`), an
//! `--internal` network's container starts none (as Docker's rules drop
//! it), and the replies are translated back by
//! the flow's other entry (`conntrack6`, `nat6`). The new flow is built in
//! a per-CPU slot: the IPv6 paths run in tail-called programs whose
//! 512-byte stacks hold little more than their parsing.

use aya_ebpf::{
    bindings::BPF_F_NO_PREALLOC,
    btf_maps::{HashMap, PerCpuArray, PerCpuHashMap},
    macros::btf_map,
    programs::TcContext,
};
use ebpfnet_common::{
    DropReason,
    flows6::{FlowKey6, NatEntry6},
    maps::{
        EndpointInfo, FROM_CONTAINER, Forward, HostAddr, NETWORK_INTERNAL, NatKind,
        PUBLISHED_ANY_IP, PublishedStats, proto,
    },
    names::{HOST_ADDRS_CAPACITY, PUBLISHED_CAPACITY},
    published6::{PublishedKey6, PublishedValue6},
    routed6::NETWORK_ROUTED6,
};

use crate::{
    TCX_NEXT,
    conntrack::{self, Reuse},
    conntrack6,
    counters::drop_packet,
    hook::Hook,
    hoplimit6, maps, nat6,
    parse::FlowPacket,
    parse6::Packet6,
    routed6, tail,
};

#[btf_map]
static PUBLISHED6: HashMap<
    PublishedKey6,
    PublishedValue6,
    { PUBLISHED_CAPACITY as usize },
    { BPF_F_NO_PREALLOC as usize },
> = HashMap::new();

#[btf_map]
static PUBLISHED_STATS6: PerCpuHashMap<
    PublishedKey6,
    PublishedStats,
    { PUBLISHED_CAPACITY as usize },
    { BPF_F_NO_PREALLOC as usize },
> = PerCpuHashMap::new();

#[btf_map]
static HOST_ADDRS6: HashMap<[u8; 16], HostAddr, { HOST_ADDRS_CAPACITY as usize }> = HashMap::new();

/// Both directions of a new published flow and their keys.
#[repr(C)]
pub struct PublishedFlow6 {
    pub request: NatEntry6,
    pub reply: NatEntry6,
    pub key: FlowKey6,
    pub back: FlowKey6,
}

#[btf_map]
static NEW_PUBLISHED6: PerCpuArray<PublishedFlow6, 1> = PerCpuArray::new();

/// Whether `ip` is one of the host's IPv6 addresses.
#[inline(always)]
pub fn is_host_addr6(ip: &[u8; 16]) -> bool {
    // SAFETY: only tested for presence.
    unsafe { HOST_ADDRS6.get(ip) }.is_some()
}

/// The mapping published on exactly `host_ip` (all zeros: on every
/// address), read in place (the controller replaces whole entries).
#[inline(always)]
pub fn exact(host_ip: &[u8; 16], port: u16, protocol: u8) -> Option<&'static PublishedValue6> {
    let key = PublishedKey6::new(*host_ip, port, protocol);
    // SAFETY: a hash map value stays readable for this program run.
    PUBLISHED6.get_ptr(key).map(|value| unsafe { &*value })
}

/// The mapping for `host_ip:port/protocol`: one published on that very
/// address, else one published on every address when `host_ip` is the
/// host's. Returns it and whether it was the wildcard one.
#[inline(always)]
pub fn lookup(
    host_ip: &[u8; 16],
    port: u16,
    protocol: u8,
) -> Option<(&'static PublishedValue6, bool)> {
    if let Some(value) = exact(host_ip, port, protocol) {
        return Some((value, false));
    }
    if !is_host_addr6(host_ip) {
        return None;
    }
    exact(&[0; 16], port, protocol).map(|value| (value, true))
}

/// Counts a packet of a published flow's request direction (`entry`) on
/// its mapping; an entry that counted no packet yet is a new flow. A
/// subprogram of its own.
#[inline(never)]
pub fn count(packet: &Packet6, entry: &NatEntry6, len: u32) {
    let host_ip = if entry.tcp_flags & PUBLISHED_ANY_IP != 0 {
        [0; 16]
    } else {
        packet.dst_ip
    };
    let key = PublishedKey6::new(host_ip, packet.dst_port, packet.protocol);
    let new_flow = u64::from(entry.packets == 0);
    match PUBLISHED_STATS6.get_ptr_mut(key) {
        // SAFETY: per-CPU value: only this CPU touches it.
        Some(stats) => unsafe {
            (*stats).packets += 1;
            (*stats).bytes += u64::from(len);
            (*stats).flows += new_flow;
        },
        None => {
            let first = PublishedStats {
                packets: 1,
                bytes: u64::from(len),
                flows: new_flow,
            };
            let _ = PUBLISHED_STATS6.insert(key, first, 0);
        }
    }
}

/// A packet that may open a published flow: the first of a TCP or UDP
/// flow, not a fragment.
#[inline(always)]
fn may_open(packet: &Packet6) -> bool {
    !packet.fragment
        && (packet.protocol == proto::TCP || packet.protocol == proto::UDP)
        && packet.opens_flow()
}

/// Where the replies of a new published flow go, what the request's
/// source becomes, and the kinds of its two entries.
pub struct ReplyWay {
    pub forward: Forward,
    pub ifindex: u32,
    pub mac: [u8; 6],
    /// A container reaching its own published port: its request seems to
    /// come from its gateway (it would drop its own address); all zeros:
    /// the client's address is kept.
    pub source: [u8; 16],
    /// Request and reply: `PublishedRequest`/`PublishedReply`, or
    /// `Nat46Request`/`Nat46Reply` for an IPv4 client's flow (nat46.rs).
    pub kinds: [NatKind; 2],
}

/// The entries of a flow through an IPv6 mapping.
const PUBLISHED_KINDS: [NatKind; 2] = [NatKind::PublishedRequest, NatKind::PublishedReply];

/// `uplink_ingress6`: a new flow from another host to a published port.
/// `None`: none (the caller goes on). A subprogram of its own.
#[inline(never)]
pub fn from_uplink(ctx: &TcContext, packet: &Packet6) -> Option<i32> {
    if !may_open(packet) {
        return None;
    }
    let (target, any_ip) = lookup(&packet.dst_ip, packet.dst_port, packet.protocol)?;
    // Last hop: no flow starts; the client hears "time exceeded" from the
    // published address, as from a router (hoplimit6.rs).
    if packet.hop_limit <= 1 {
        return Some(hoplimit6::expired(ctx, packet, Hook::Uplink));
    }
    let way = ReplyWay {
        forward: Forward::Neigh,
        // SAFETY: `skb` points at the live `__sk_buff` of this invocation.
        ifindex: unsafe { (*ctx.skb.skb).ifindex },
        mac: [0; 6],
        source: [0; 16],
        kinds: PUBLISHED_KINDS,
    };
    Some(start_and_send(
        ctx,
        packet,
        target,
        any_ip,
        &way,
        Hook::Uplink,
    ))
}

/// `container_ingress6`, for what no NAT entry translated: a new flow to
/// a published port of a host address (hairpin, the client's address
/// kept); else a packet to the own network's gateway is the host's, one
/// to another network's container is refused (isolation: only the
/// translated replies of published flows cross, and new flows to a routed
/// network's published container ports). `None`: not for a
/// container network nor a published port (the caller goes on).
#[inline(never)]
pub fn from_container(
    ctx: &TcContext,
    packet: &Packet6,
    endpoint: &EndpointInfo,
    ifindex: u32,
) -> Option<i32> {
    if may_open(packet)
        && let Some((target, any_ip)) = lookup(&packet.dst_ip, packet.dst_port, packet.protocol)
    {
        let source = if target.container_ip == packet.src_ip {
            maps::network6_of(packet.src_ip)?.gateway
        } else {
            [0; 16]
        };
        // Docker's `--internal`: a published port is another network's
        // container, which an internal network never reaches.
        if endpoint.flags & NETWORK_INTERNAL != 0 {
            return Some(drop_packet(DropReason::InternalNetwork));
        }
        // Answered "time exceeded" from the gateway, as a router does.
        if packet.hop_limit <= 1 {
            return Some(hoplimit6::expired(ctx, packet, Hook::Container));
        }
        let way = ReplyWay {
            forward: Forward::Peer,
            ifindex,
            mac: endpoint.mac,
            source,
            kinds: PUBLISHED_KINDS,
        };
        return Some(start_and_send(
            ctx,
            packet,
            target,
            any_ip,
            &way,
            Hook::Container,
        ));
    }
    // In no container network (found by `container_ingress`, tail.rs):
    // not for one, and the LPM is not walked again.
    if tail::beyond_networks(ctx) {
        return None;
    }
    let network = maps::network6_of(packet.dst_ip)?;
    if network.network_id == endpoint.network_id && network.gateway == packet.dst_ip {
        return Some(TCX_NEXT);
    }
    // A routed network's published container ports are open to other
    // networks too, as in Docker (routed6.rs).
    if network.flags & NETWORK_ROUTED6 != 0 {
        match routed6::from_other_network(packet, endpoint, ifindex, ctx.len()) {
            Some(Ok(entry)) => return Some(nat6::apply(ctx, packet, entry, Hook::Container)),
            Some(Err(DropReason::TtlExceeded)) => {
                return Some(hoplimit6::expired(ctx, packet, Hook::Container));
            }
            Some(Err(reason)) => return Some(drop_packet(reason)),
            None => {}
        }
    }
    Some(drop_packet(DropReason::Isolation))
}

/// Claims both directions of the new flow and sends its first packet: the
/// request goes to the container, the reply entry waits for its answers.
/// Another CPU that set the same flow up first wins, and its entry is used.
#[inline(always)]
fn start_and_send(
    ctx: &TcContext,
    packet: &Packet6,
    target: &PublishedValue6,
    any_ip: bool,
    way: &ReplyWay,
    hook: Hook,
) -> i32 {
    let Some(slot) = NEW_PUBLISHED6.get_ptr_mut(0) else {
        return drop_packet(DropReason::NatInsertFailed);
    };
    // SAFETY: this CPU's slot, used by one program run at a time.
    let flow = unsafe { &mut *slot };
    match claim(packet, target, any_ip, way, flow) {
        Ok(true) => nat6::apply(ctx, packet, &mut flow.request, hook),
        Ok(false) => match conntrack6::track(packet, ctx.len(), hook) {
            Ok(Some(entry)) => nat6::apply(ctx, packet, entry, hook),
            Ok(None) => drop_packet(DropReason::NatInsertFailed),
            Err(reason) => drop_packet(reason),
        },
        Err(reason) => drop_packet(reason),
    }
}

/// Both entries written into `flow` and claimed. `Ok(false)`: the request
/// tuple is another flow's already (the same flow, set up by another CPU).
#[inline(never)]
pub fn claim(
    packet: &Packet6,
    target: &PublishedValue6,
    any_ip: bool,
    way: &ReplyWay,
    flow: &mut PublishedFlow6,
) -> Result<bool, DropReason> {
    conntrack::init_entry(
        &mut flow.request,
        way.kinds[0] as u8,
        Forward::Peer as u8,
        target.ifindex,
        target.container_mac,
    );
    flow.request.new_src_ip = if way.source == [0; 16] {
        packet.src_ip
    } else {
        way.source
    };
    flow.request.new_src_port = packet.src_port;
    flow.request.new_dst_ip = target.container_ip;
    flow.request.new_dst_port = target.container_port;
    if any_ip {
        flow.request.tcp_flags |= PUBLISHED_ANY_IP;
    }
    // The client is a container: this direction never enters from an uplink.
    if way.forward == Forward::Peer {
        flow.request.tcp_flags |= FROM_CONTAINER;
    }
    if packet.protocol == proto::TCP {
        conntrack::record_sequence(packet, &mut flow.request);
    }
    // Replies leave as if from the published address, to the client.
    conntrack::init_entry(
        &mut flow.reply,
        way.kinds[1] as u8,
        way.forward as u8,
        way.ifindex,
        way.mac,
    );
    flow.reply.new_src_ip = packet.dst_ip;
    flow.reply.new_src_port = packet.dst_port;
    flow.reply.new_dst_ip = packet.src_ip;
    flow.reply.new_dst_port = packet.src_port;
    // Both tuples follow from the client's: a SYN on them is the client
    // reopening its own.
    let reopen = if packet.opens_tcp() {
        Reuse::Closed
    } else {
        Reuse::Never
    };
    flow.key = packet.key();
    if !conntrack::claim(&flow.key, &flow.request, reopen, None) {
        return Ok(false);
    }
    // The tuple the container's replies carry must be no other flow's.
    flow.back = flow.request.twin_key(packet.protocol);
    if !conntrack::claim(&flow.back, &flow.reply, reopen, Some(&flow.key)) {
        conntrack::release(&flow.key);
        return Err(DropReason::NatInsertFailed);
    }
    Ok(true)
}
