//! TC ingress on an uplink: what arrives from other hosts.

use aya_ebpf::programs::TcContext;
use ebpfnet_common::{
    DropReason,
    maps::{Forward, proto},
};

use crate::{
    TCX_NEXT, conntrack,
    counters::drop_packet,
    frag,
    hook::Hook,
    icmp, ipv6, maps,
    nat::{self, ReplyPath},
    nat46, parse, tail,
};

#[inline(always)]
pub fn handle(ctx: &TcContext) -> i32 {
    match parse::ethertype(ctx) {
        Some(parse::ETH_P_IP) => {}
        Some(parse::ETH_P_IPV6) => {
            return ipv6::from_uplink(ctx).unwrap_or_else(|| tail::uplink6(ctx));
        }
        _ => return TCX_NEXT,
    }
    // Malformed packets are not ours to judge here: the stack drops them.
    let Ok(packet) = parse::ipv4(ctx) else {
        return TCX_NEXT;
    };
    // Never let an outside host reach loopback-bound services, whatever
    // route it crafted (CVE-2020-8558).
    if packet.dst_ip[0] == 127 {
        return drop_packet(DropReason::LoopbackFromUplink);
    }
    if packet.fragment {
        // Later fragments of a translated datagram follow its first.
        if let Some(verdict) = frag::follow(ctx, &packet, Hook::Uplink) {
            return verdict;
        }
        return if maps::network_of(packet.dst_ip).is_some() {
            drop_packet(DropReason::Fragment)
        } else {
            TCX_NEXT
        };
    }
    // Only the directions that enter through an uplink: requests to
    // published ports and replies of masqueraded flows. Looked up before
    // the anti-spoof check below: the entries an uplink applies are all
    // keyed by outside sources (hook.rs), so a packet that matches one
    // cannot be speaking for a container, and established flows skip the
    // LPM walk.
    if packet.translatable() {
        match conntrack::track(&packet, ctx.len(), Hook::Uplink) {
            Ok(Some(entry)) => return nat::apply(ctx, &packet, entry, Hook::Uplink),
            Err(reason) => return drop_packet(reason),
            Ok(None) => {}
        }
    }
    // Nobody outside may speak for a container (nor start a flow for one).
    if maps::network_of(packet.src_ip).is_some() {
        return drop_packet(DropReason::SpoofedIp);
    }
    // ICMP errors about translated flows (PMTU from routers on the path).
    if let Some(verdict) = icmp::translate_error(ctx, &packet, Hook::Uplink) {
        return verdict;
    }
    // Only a flow's first packet creates state: a stray segment to a
    // published port is the host's to answer (with a reset), and a flood of
    // them fills no table.
    if (packet.protocol == proto::TCP || packet.protocol == proto::UDP)
        && packet.opens_flow()
        && let Some((target, any_ip)) =
            maps::published(packet.dst_ip, packet.dst_port, packet.protocol)
    {
        let path = ReplyPath {
            forward: Forward::Neigh,
            // SAFETY: `skb` points at the live `__sk_buff` of this invocation.
            ifindex: unsafe { (*ctx.skb.skb).ifindex },
            mac: [0; 6],
            source: [0; 4],
        };
        if packet.ttl <= 1 {
            return nat::answer_ttl_expired(ctx, &packet, Hook::Uplink);
        }
        let started = nat::start_published(&packet, &target, any_ip, &path);
        return nat::finish(ctx, &packet, started, Hook::Uplink);
    }
    // A port published from IPv4 into an IPv6-only container: translated
    // in `uplink_ingress46` (nat46.rs), which also ends as below. Returns
    // only when that program cannot run.
    // ICMP errors about such flows too (nat46_icmp.rs).
    if nat46::wanted(&packet) || packet.protocol == proto::ICMP && nat46::error_wanted(ctx, &packet)
    {
        tail::uplink46(ctx);
    }
    // From outside, a container address takes only replies and published
    // ports (moby#14041).
    // (Looked up only here: established flows never pay for it.)
    if maps::network_of(packet.dst_ip).is_some() {
        return drop_packet(DropReason::Unsolicited);
    }
    TCX_NEXT
}
