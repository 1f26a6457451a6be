//! What a container may send: anti-spoofing of its own addresses, no
//! router messages, and no direct traffic into networks it is not
//! connected to.

use aya_ebpf::programs::TcContext;
use ebpfnet_common::{DropReason, maps::EndpointInfo};

use crate::parse;

/// ARP header fields after the Ethernet header (IPv4 over Ethernet).
const ARP_SENDER_MAC_OFF: usize = parse::ETH_LEN + 8;
const ARP_SENDER_IP_OFF: usize = parse::ETH_LEN + 14;

/// IPv6 next-header values walked to find the ICMPv6 type.
const IPV6_HOP_BY_HOP: u8 = 0;
const IPV6_ROUTING: u8 = 43;
const IPV6_FRAGMENT: u8 = 44;
const IPV6_DEST_OPTS: u8 = 60;
const IPV6_ICMP: u8 = 58;
const ICMPV6_ROUTER_ADVERTISEMENT: u8 = 134;
const ICMPV6_REDIRECT: u8 = 137;
/// Extension headers looked through before giving up (and dropping): a
/// longer chain is how RA guards get evaded (RFC 7113).
const MAX_EXTENSION_HEADERS: usize = 4;

/// Every frame, whatever its ethertype, must come from the container's own
/// MAC: otherwise it would move a neighbour's MAC to the attacker's bridge
/// port.
#[inline(always)]
pub fn check_mac(ctx: &TcContext, endpoint: &EndpointInfo) -> Result<(), DropReason> {
    if parse::src_mac(ctx) != Some(endpoint.mac) {
        return Err(DropReason::SpoofedMac);
    }
    Ok(())
}

/// ARP may only announce the container's own IP and MAC (CVE-2021-32575).
#[inline(always)]
pub fn check_arp(ctx: &TcContext, endpoint: &EndpointInfo) -> Result<(), DropReason> {
    let sender_mac: [u8; 6] = ctx
        .load(ARP_SENDER_MAC_OFF)
        .map_err(|_| DropReason::Malformed)?;
    let sender_ip: [u8; 4] = ctx
        .load(ARP_SENDER_IP_OFF)
        .map_err(|_| DropReason::Malformed)?;
    // Duplicate-address probes carry sender IP 0.0.0.0.
    if sender_mac != endpoint.mac {
        return Err(DropReason::SpoofedArp);
    }
    if sender_ip != endpoint.ip && sender_ip != [0; 4] {
        return Err(DropReason::SpoofedArp);
    }
    Ok(())
}

/// An IPv4 packet must come from the container's address, and never go to
/// a loopback one: only host processes reach ports published on 127.0.0.1
/// (moby#45610).
#[inline(always)]
pub fn check_ipv4(
    endpoint: &EndpointInfo,
    src_ip: [u8; 4],
    dst_ip: [u8; 4],
) -> Result<(), DropReason> {
    if src_ip != endpoint.ip {
        return Err(DropReason::SpoofedIp);
    }
    if dst_ip[0] == 127 {
        return Err(DropReason::LoopbackFromContainer);
    }
    Ok(())
}

/// IPv6 from a container, as Docker allows on networks without IPv6: on
/// its own link only (link-local source, link-local or link-scope multicast
/// destination), and never a router advertisement or a redirect (RA
/// guard, CVE-2020-13401), however many extension headers hide it.
// A subprogram of its own, so its 40-byte header copy does not add to the
// IPv4 path's stack.
#[inline(never)]
pub fn check_ipv6(ctx: &TcContext) -> Result<(), DropReason> {
    let header: [u8; 40] = ctx.load(parse::IP_OFF).map_err(|_| DropReason::Malformed)?;
    if header[0] >> 4 != 6 {
        return Err(DropReason::Malformed);
    }
    let (src, dst) = (&header[8..24], &header[24..40]);
    let src_unspecified = src.iter().all(|b| *b == 0);
    let src_link_local = src[0] == 0xfe && src[1] & 0xc0 == 0x80;
    let dst_link_local = dst[0] == 0xfe && dst[1] & 0xc0 == 0x80;
    // ff0X with scope 1 (interface) or 2 (link).
    let dst_link_multicast = dst[0] == 0xff && dst[1] & 0x0f <= 2;
    if !(src_link_local || src_unspecified) || !(dst_link_local || dst_link_multicast) {
        return Err(DropReason::Ipv6Disabled);
    }
    let mut next = header[6];
    let mut offset = parse::IP_OFF + 40;
    for _ in 0..MAX_EXTENSION_HEADERS {
        match next {
            IPV6_HOP_BY_HOP | IPV6_ROUTING | IPV6_DEST_OPTS => {
                let ext: [u8; 2] = ctx.load(offset).map_err(|_| DropReason::Malformed)?;
                next = ext[0];
                offset += (usize::from(ext[1]) + 1) * 8;
            }
            // A fragment may hide the ICMPv6 type in a later piece.
            IPV6_FRAGMENT => return Err(DropReason::Fragment),
            IPV6_ICMP => {
                let kind: u8 = ctx.load(offset).map_err(|_| DropReason::Malformed)?;
                if kind == ICMPV6_ROUTER_ADVERTISEMENT || kind == ICMPV6_REDIRECT {
                    return Err(DropReason::RouterAdvertisement);
                }
                return Ok(());
            }
            _ => return Ok(()),
        }
    }
    Err(DropReason::Malformed)
}
