//! IPv6 through the datapath. From a container: from its own addresses only (its global one on
//! networks with IPv6, its link-local one from its MAC everywhere), with
//! neighbour discovery that claims nothing but its own address and MAC,
//! never a router message, and nowhere beyond its own networks' IPv6
//! subnets but through NAT66 masquerade (`masquerade6`). On a network
//! without IPv6 that leaves what Docker allows: link-local traffic on the
//! link. From an uplink: replies of masqueraded flows; nothing else to
//! container addresses or loopback, nothing from a container subnet.

use aya_ebpf::programs::TcContext;
use ebpfnet_common::{
    DropReason,
    maps::{EndpointAddr, EndpointInfo},
    maps6::{EndpointInfo6, link_local_of},
    routed6::NETWORK_ROUTED6,
};

use crate::{
    TCX_NEXT, counters::drop_packet, errors6, hook::Hook, icmp6, maps, nat, nat6, overlay6, parse,
    parse6, publish6, routed6,
};

/// IPv6 next-header values walked to find the upper layer.
const IPV6_HOP_BY_HOP: u8 = 0;
const IPV6_ROUTING: u8 = 43;
const IPV6_FRAGMENT: u8 = 44;
const IPV6_DEST_OPTS: u8 = 60;
const IPV6_ICMP: u8 = 58;
const IPV6_TCP: u8 = 6;
const IPV6_UDP: u8 = 17;
const IPV6_HEADER_LEN: usize = 40;
const IPV6_FRAGMENT_LEN: usize = 8;
const IPV6_SRC_OFF: usize = parse::IP_OFF + 8;
const IPV6_DST_OFF: usize = parse::IP_OFF + 24;
/// ICMPv6 right after the fixed header (no extension header).
const ICMP_OFF: usize = parse::IP_OFF + IPV6_HEADER_LEN;
const ICMPV6_ROUTER_ADVERTISEMENT: u8 = 134;
const ICMPV6_NEIGHBOR_SOLICITATION: u8 = 135;
const ICMPV6_NEIGHBOR_ADVERTISEMENT: u8 = 136;
const ICMPV6_REDIRECT: u8 = 137;
/// Neighbour discovery: the target address after type, code, checksum
/// and 4 bytes of flags; options after it (RFC 4861 §4.3, §4.4).
const ND_TARGET_OFF: usize = 8;
const ND_OPTIONS_OFF: usize = 24;
const ND_OPT_SOURCE_LINK_ADDR: u8 = 1;
const ND_OPT_TARGET_LINK_ADDR: u8 = 2;
/// Options looked at: a solicitation or advertisement carries one or two.
const MAX_ND_OPTIONS: usize = 3;
/// Extension headers looked through before giving up (and dropping): a
/// longer chain is how RA guards get evaded (RFC 7113).
const MAX_EXTENSION_HEADERS: usize = 4;

/// The check on an IPv6 packet from an uplink before any translation:
/// nothing outside reaches the host's loopback (the IPv6 form of
/// CVE-2020-8558). `None`: the packet goes on to `uplink_ingress6` (by
/// tail call). A subprogram of its own.
#[inline(never)]
pub fn from_uplink(ctx: &TcContext) -> Option<i32> {
    let Ok(dst) = ctx.load::<[u8; 16]>(IPV6_DST_OFF) else {
        // Malformed packets are the stack's to drop.
        return Some(TCX_NEXT);
    };
    if dst == LOOPBACK {
        return Some(drop_packet(DropReason::LoopbackFromUplink));
    }
    // IPv4-mapped addresses never travel on a wire (RFC 4291 §2.5.5.2);
    // they key IPv4 mappings into IPv6-only containers (nat46.rs).
    if ebpfnet_common::nat46::is_mapped(&dst) {
        return Some(drop_packet(DropReason::Unsolicited));
    }
    None
}

/// Nothing outside speaks for a container (nor starts a flow for one):
/// `Some(verdict)` for a source in a container subnet. Asked after the
/// NAT lookup, as for IPv4 (uplink.rs): the entries an uplink applies are
/// all keyed by outside sources (hook.rs, `nat6::applies`), so established
/// flows skip the LPM walk. A subprogram of its own.
#[inline(never)]
pub fn spoofed(ctx: &TcContext) -> Option<i32> {
    let Ok(src) = ctx.load::<[u8; 16]>(IPV6_SRC_OFF) else {
        // Malformed packets are the stack's to drop.
        return Some(TCX_NEXT);
    };
    if maps::network6_of(src).is_some() {
        return Some(drop_packet(DropReason::SpoofedIp));
    }
    None
}

/// `uplink_ingress6`: packets of translated flows (masqueraded, published)
/// and ICMPv6 errors about them are translated, new flows to published
/// ports start; nothing else reaches a container's IPv6 address, and
/// nothing but a translated flow's packet gets past the anti-spoof check.
#[inline(always)]
pub fn from_uplink_translated(ctx: &TcContext) -> i32 {
    // Parsed once (into this CPU's slot, which nothing below rewrites),
    // for every step.
    let packet = parse6::ipv6(ctx).ok();
    if let Some(packet) = packet
        && let Some(verdict) = nat6::from_uplink(ctx, packet)
    {
        return verdict;
    }
    if let Some(verdict) = spoofed(ctx) {
        return verdict;
    }
    let Some(packet) = packet else {
        return unsolicited(ctx);
    };
    // Errors from the path about translated flows (path MTU).
    if let Some(verdict) = icmp6::translate_error(ctx, packet) {
        return verdict;
    }
    // Errors about the other flows (routed, published).
    if let Some(verdict) = errors6::translate(ctx, packet, Hook::Uplink) {
        return verdict;
    }
    // New flows to published ports.
    if let Some(verdict) = publish6::from_uplink(ctx, packet) {
        return verdict;
    }
    routed6::from_uplink(ctx, packet).unwrap_or_else(|| unsolicited(ctx))
}

/// From an uplink, a container address takes only what was translated.
#[inline(never)]
pub fn unsolicited(ctx: &TcContext) -> i32 {
    match ctx.load::<[u8; 16]>(IPV6_DST_OFF) {
        Ok(dst) if maps::network6_of(dst).is_some() => drop_packet(DropReason::Unsolicited),
        _ => TCX_NEXT,
    }
}

/// ::1.
const LOOPBACK: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

/// Where an allowed packet goes.
enum Way {
    /// Onto the bridge: link-local, multicast on the link, the gateway.
    Link,
    /// Straight into the peer container on the same network.
    Peer(EndpointAddr),
    /// Beyond the container's IPv6 networks (`beyond`: in none of them;
    /// else another network or the gateway): masqueraded, or the host's.
    Outside { beyond: bool },
    /// An address of its own network that no local container has: a
    /// container of its overlay network (`network_id`) on another host
    /// goes through the VXLAN device, anything else onto the bridge.
    Remote(u32),
    /// A neighbour solicitation (checked) on the link or for an address
    /// of its own network: answered by `container_ingress` for a
    /// container on another host (`overlay6`), else onto the bridge.
    Solicitation,
}

/// What `container_ingress` does with a container's IPv6 frame.
pub enum Next {
    Verdict(i32),
    /// Beyond its IPv6 networks: to `masquerade6`, in a program of its own
    /// (`beyond`: the destination is in no container network).
    Outside {
        beyond: bool,
    },
    /// A neighbour solicitation for `overlay6::answer_solicitation` (at the
    /// caller's level: the stack is tight).
    Solicitation,
}

/// The verdict on an IPv6 frame from the container behind `ifindex`;
/// [`Next::Outside`] for a packet to beyond its IPv6 networks, which the
/// caller hands to `masquerade6::to_outside` (at its own level: the stack
/// is tight). A subprogram of its own, so its header copies do not add to
/// the IPv4 path's stack.
#[inline(never)]
pub fn from_container(ctx: &TcContext, endpoint: &EndpointInfo, ifindex: u32) -> Next {
    Next::Verdict(match check(ctx, endpoint, ifindex) {
        Ok(Way::Link) => TCX_NEXT,
        Ok(Way::Peer(peer)) => nat::deliver_to_container(ctx, peer.ifindex, peer.mac),
        Ok(Way::Outside { beyond }) => return Next::Outside { beyond },
        Ok(Way::Remote(network_id)) => overlay6::to_remote(ctx, network_id).unwrap_or(TCX_NEXT),
        Ok(Way::Solicitation) => return Next::Solicitation,
        Err(reason) => drop_packet(reason),
    })
}

/// The container's own IPv6 addresses on this network (or on a macvlan
/// network's LAN, `lan6`): its link-local
/// one follows from its MAC, its global one (on a network with IPv6) is in
/// `ENDPOINTS6`. Kept as references, not copies: the stack is tight.
pub struct Own<'a> {
    pub global: Option<&'a EndpointInfo6>,
    pub mac: &'a [u8; 6],
}

impl Own<'_> {
    #[inline(always)]
    pub fn has(&self, ip: &[u8; 16]) -> bool {
        *ip == link_local_of(*self.mac) || self.global.is_some_and(|own| own.ip == *ip)
    }
}

#[inline(always)]
fn check(ctx: &TcContext, endpoint: &EndpointInfo, ifindex: u32) -> Result<Way, DropReason> {
    // Version, traffic class, flow label, length, next header, hop limit.
    let fixed: [u8; 8] = ctx.load(parse::IP_OFF).map_err(|_| DropReason::Malformed)?;
    if fixed[0] >> 4 != 6 {
        return Err(DropReason::Malformed);
    }
    let src: [u8; 16] = ctx.load(IPV6_SRC_OFF).map_err(|_| DropReason::Malformed)?;
    let own = Own {
        // SAFETY: a reference into the map, read within this run; the
        // controller replaces whole entries.
        global: unsafe { maps::ENDPOINTS6.get(ifindex) },
        mac: &endpoint.mac,
    };
    // Duplicate address detection sends from the unspecified address.
    let unspecified = src == [0; 16];
    if !unspecified && !own.has(&src) {
        return Err(if own.global.is_none() && !is_link_local(&src) {
            DropReason::Ipv6Disabled
        } else {
            DropReason::SpoofedIp
        });
    }
    let upper = check_upper_layer(ctx, fixed[6], unspecified, &own)?;
    // A solicitation may be for a container of its overlay network on
    // another host, which is answered as ARP is (overlay6.rs).
    let solicitation = upper == IPV6_ICMP
        && !unspecified
        && fixed[6] == IPV6_ICMP
        && ctx.load::<u8>(ICMP_OFF).ok() == Some(ICMPV6_NEIGHBOR_SOLICITATION);
    let dst: [u8; 16] = ctx.load(IPV6_DST_OFF).map_err(|_| DropReason::Malformed)?;
    if is_link_local(&dst) || is_link_multicast(&dst) {
        return Ok(if solicitation {
            Way::Solicitation
        } else {
            Way::Link
        });
    }
    // Unicast beyond link-local: within the container's own network's
    // subnet (on-link, so from its link-local address too, as neighbour
    // discovery answers).
    if unspecified {
        return Err(DropReason::Ipv6Disabled);
    }
    let Some(network) = maps::network6_of(dst) else {
        // Only from an address of a network with IPv6.
        return match own.global {
            Some(global) if global.ip == src => Ok(Way::Outside { beyond: true }),
            _ => Err(DropReason::Ipv6Disabled),
        };
    };
    // Another network's container, or the gateway (a host address): TCP
    // and UDP from the global address may belong to a published flow
    // (its replies, hairpin), which `container_ingress6` translates or
    // refuses (publish6.rs); so may ICMPv6 between another network and a
    // routed one (an echo to a routed network's container, its reply, an
    // error about such a flow: routed6.rs, errors6.rs); the rest is
    // isolated, or the host's.
    let other = network.network_id != endpoint.network_id;
    if other || network.gateway == dst {
        let routed = (network.flags | endpoint.flags) & NETWORK_ROUTED6 != 0;
        // A later fragment follows its first one's way (frag6.rs).
        let translatable = upper == IPV6_TCP
            || upper == IPV6_UDP
            || upper == IPV6_FRAGMENT
            || (other && routed && upper == IPV6_ICMP);
        return match own.global {
            Some(global) if global.ip == src && translatable => Ok(Way::Outside { beyond: false }),
            _ if other => Err(DropReason::Isolation),
            _ => Ok(Way::Link),
        };
    }
    if solicitation {
        return Ok(Way::Solicitation);
    }
    // SAFETY: copied out at once.
    Ok(match unsafe { maps::ENDPOINT_IPS6.get(dst) } {
        Some(peer) => Way::Peer(*peer),
        None => Way::Remote(network.network_id),
    })
}

/// Walks the extension headers to the upper layer: router messages never
/// leave a container (RA guard, CVE-2020-13401), and neighbour discovery
/// speaks only for the container itself. A first fragment is looked
/// through: the ICMPv6 type must be in it (a chain that hides it in a
/// later piece is refused, RFC 7113). Returns the upper-layer protocol.
#[inline(always)]
pub fn check_upper_layer(
    ctx: &TcContext,
    first: u8,
    unspecified: bool,
    own: &Own,
) -> Result<u8, DropReason> {
    let mut next = first;
    let mut offset = parse::IP_OFF + IPV6_HEADER_LEN;
    for _ in 0..MAX_EXTENSION_HEADERS {
        match next {
            IPV6_HOP_BY_HOP | IPV6_ROUTING | IPV6_DEST_OPTS => {
                let ext: [u8; 2] = ctx.load(offset).map_err(|_| DropReason::Malformed)?;
                next = ext[0];
                offset += (usize::from(ext[1]) + 1) * 8;
            }
            IPV6_FRAGMENT => {
                // Next header, reserved, offset and flags (RFC 8200 §4.5).
                let ext: [u8; 4] = ctx.load(offset).map_err(|_| DropReason::Malformed)?;
                if u16::from_be_bytes([ext[2], ext[3]]) >> 3 != 0 {
                    // A later fragment: its datagram's type is in the first
                    // one, checked here like a whole packet (receivers drop
                    // overlapping fragments, RFC 5722, and fragmented
                    // neighbour discovery, RFC 6980). Its protocol is
                    // the first one's, unknown here.
                    return Ok(IPV6_FRAGMENT);
                }
                // The first holds the whole header chain (RFC 7112): a
                // chain that goes on in a later fragment fails to load.
                next = ext[0];
                offset += IPV6_FRAGMENT_LEN;
            }
            IPV6_ICMP => {
                let kind: u8 = ctx.load(offset).map_err(|_| DropReason::Malformed)?;
                return match kind {
                    ICMPV6_ROUTER_ADVERTISEMENT | ICMPV6_REDIRECT => {
                        Err(DropReason::RouterAdvertisement)
                    }
                    ICMPV6_NEIGHBOR_SOLICITATION | ICMPV6_NEIGHBOR_ADVERTISEMENT => {
                        check_neighbor(ctx, offset, kind, unspecified, own).map(|()| IPV6_ICMP)
                    }
                    _ => Ok(IPV6_ICMP),
                };
            }
            other => return Ok(other),
        }
    }
    Err(DropReason::Malformed)
}

/// An advertisement may only announce the container's own address; a
/// duplicate address probe only probe for it (a probe for a neighbour's
/// address would make the neighbour give it up); and a link-layer address
/// option only carry the container's own MAC — else the host and the
/// other containers would send a neighbour's traffic to the attacker. A
/// subprogram of its own (its copies would add to the caller's stack).
#[inline(never)]
fn check_neighbor(
    ctx: &TcContext,
    icmp: usize,
    kind: u8,
    unspecified: bool,
    own: &Own,
) -> Result<(), DropReason> {
    let target: [u8; 16] = ctx
        .load(icmp + ND_TARGET_OFF)
        .map_err(|_| DropReason::Malformed)?;
    let claims = kind == ICMPV6_NEIGHBOR_ADVERTISEMENT || unspecified;
    if claims && !own.has(&target) {
        return Err(DropReason::SpoofedNeighbor);
    }
    let mut option = icmp + ND_OPTIONS_OFF;
    for _ in 0..MAX_ND_OPTIONS {
        // No more options: the frame ends here.
        let Ok(head) = ctx.load::<[u8; 2]>(option) else {
            return Ok(());
        };
        if head[1] == 0 {
            // A zero-length option is invalid (RFC 4861 §4.6): hosts drop
            // the whole message.
            return Err(DropReason::Malformed);
        }
        if head[0] == ND_OPT_SOURCE_LINK_ADDR || head[0] == ND_OPT_TARGET_LINK_ADDR {
            let mac: [u8; 6] = ctx.load(option + 2).map_err(|_| DropReason::Malformed)?;
            if mac != *own.mac {
                return Err(DropReason::SpoofedNeighbor);
            }
        }
        option += usize::from(head[1]) * 8;
    }
    Ok(())
}

/// fe80::/10.
#[inline(always)]
pub fn is_link_local(ip: &[u8; 16]) -> bool {
    ip[0] == 0xfe && ip[1] & 0xc0 == 0x80
}

/// ff0X::/16 with scope 1 (interface) or 2 (link).
#[inline(always)]
fn is_link_multicast(ip: &[u8; 16]) -> bool {
    ip[0] == 0xff && ip[1] & 0x0f <= 2
}
