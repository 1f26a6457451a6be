//! Masquerade (SNAT to the uplink address) of a container's new IPv4 flow
//! to the outside: a port from ebpfnet's range (never one published on the
//! uplink's address), claimed with `BPF_NOEXIST`, counted against the
//! container's per-destination share. The range's cursor is shared with
//! NAT66 (`masquerade6`).

use aya_ebpf::{btf_maps::Array, helpers::bpf_get_prandom_u32, macros::btf_map};
use ebpfnet_common::{
    DropReason,
    maps::{Config, FlowKey, Forward, NatKind, proto},
};

use crate::{
    conntrack::{self, Reuse},
    counters::drop_packet,
    maps, masquerade_quota,
    nat::{Started, answer_entry},
    nexthop,
    parse::Packet,
    scratch,
};

/// How many masquerade ports to try before giving up on a flow.
pub const MASQ_TRIES: u32 = 32;

/// The masquerade port handed out last, as an offset into the range.
#[btf_map]
static MASQ_CURSOR: Array<u32, 1> = Array::new();

/// The offset after the one `cursor` (`MASQ_CURSOR`, `MASQ_CURSOR6`)
/// handed out last. Not atomic: two CPUs that read the same value probe the
/// same port first, their claims settle it and the loser goes on probing
/// at random.
#[inline(always)]
pub fn next_offset(cursor: &Array<u32, 1>, range: u32) -> u32 {
    let Some(cursor) = cursor.get_ptr_mut(0) else {
        // SAFETY: plain helper call.
        return unsafe { bpf_get_prandom_u32() } % range;
    };
    // SAFETY: the array's one slot, valid for this run.
    unsafe {
        let next = (*cursor).wrapping_add(1) % range;
        *cursor = next;
        next
    }
}

/// Where a masqueraded flow leaves and whose it is.
pub struct MasqueradePath {
    /// The uplink it leaves by, and the address it takes there.
    pub uplink: u32,
    pub uplink_ip: [u8; 4],
    /// The container's host-side veth and MAC, for the replies.
    pub container_ifindex: u32,
    pub container_mac: [u8; 6],
}

/// A new flow from a container to the outside, masqueraded behind the
/// uplink's address.
#[inline(never)]
pub fn start_masquerade(packet: &Packet, path: &MasqueradePath) -> Started {
    let config = maps::config();
    if config.masq_port_max < config.masq_port_min {
        return Started::Verdict(drop_packet(DropReason::MasqueradePortsExhausted));
    }
    let usage = masquerade_quota::key(packet);
    if !masquerade_quota::take(&usage, config.masq_ports_per_destination) {
        return Started::Verdict(drop_packet(DropReason::MasqueradeQuota));
    }
    let started = claim_masquerade_port(packet, path, &config);
    if !matches!(started, Started::New) {
        masquerade_quota::release(&usage);
    }
    started
}

/// Finds a free port for the flow and claims both of its NAT entries.
#[inline(always)]
fn claim_masquerade_port(packet: &Packet, path: &MasqueradePath, config: &Config) -> Started {
    let (uplink, uplink_ip) = (path.uplink, path.uplink_ip);
    let (container_ifindex, container_mac) = (path.container_ifindex, path.container_mac);
    let range = u32::from(config.masq_port_max - config.masq_port_min) + 1;
    let Some(flow) = scratch::new_flow() else {
        return Started::Verdict(drop_packet(DropReason::NatInsertFailed));
    };
    flow.reply = answer_entry(
        packet,
        NatKind::MasqueradeReply,
        Forward::Peer,
        container_ifindex,
        container_mac,
    );
    let (take_port, reopen) = if packet.opens_tcp() {
        (Reuse::Finished, Reuse::Closed)
    } else {
        (Reuse::Never, Reuse::Never)
    };
    let mut port = 0u16;
    let mut back = FlowKey::default();
    // The first probe takes the port after the one handed out last, so a
    // port comes round again only after the whole range: the tuple of a
    // flow that just ended (its last ACK perhaps still on its way through
    // another CPU) is not given to a new flow at once. The rest are
    // independent random probes: a run of published ports or busy tuples
    // inside the range cannot swallow every try.
    let first = next_offset(&MASQ_CURSOR, range);
    for try_number in 0..MASQ_TRIES {
        let offset = if try_number == 0 {
            first
        } else {
            // SAFETY: plain helper call.
            (unsafe { bpf_get_prandom_u32() }) % range
        };
        let candidate = config.masq_port_min + offset as u16;
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
        if conntrack::claim(&back, &flow.reply, take_port, None) {
            port = candidate;
            break;
        }
    }
    if port == 0 {
        return Started::Verdict(drop_packet(DropReason::MasqueradePortsExhausted));
    }
    flow.request = conntrack::new_entry(
        NatKind::MasqueradeRequest as u8,
        Forward::Neigh as u8,
        uplink,
        [0; 6],
    );
    let request = &mut flow.request;
    request.new_src_ip = uplink_ip;
    request.new_src_port = port;
    request.new_dst_ip = packet.dst_ip;
    request.new_dst_port = if packet.protocol == proto::ICMP {
        port
    } else {
        packet.dst_port
    };
    if packet.protocol == proto::TCP {
        conntrack::record_sequence(packet, request);
    }
    // The next hop the route lookup just found (`nexthop::egress`).
    nexthop::seed(request);
    let request_key = conntrack::key_of(packet);
    if !conntrack::claim(&request_key, &flow.request, reopen, Some(&back)) {
        // Another CPU masqueraded this very flow first: its port wins.
        conntrack::release(&back);
        return Started::Existing;
    }
    Started::New
}
