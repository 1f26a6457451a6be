//! What a container may send: its own MAC on every frame, its own
//! addresses in ARP and IPv4, nothing to loopback. (IPv6: `ipv6`.)

use aya_ebpf::programs::TcContext;
use ebpfnet_common::{DropReason, maps::EndpointInfo};

use crate::parse;

/// ARP header fields after the Ethernet header (IPv4 over Ethernet).
const ARP_SENDER_MAC_OFF: usize = parse::ETH_LEN + 8;
const ARP_SENDER_IP_OFF: usize = parse::ETH_LEN + 14;

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
    // 0.0.0.0: an endpoint without IPv4 (IPv6-only network) sends none.
    if src_ip != endpoint.ip || endpoint.ip == [0; 4] {
        return Err(DropReason::SpoofedIp);
    }
    if dst_ip[0] == 127 {
        return Err(DropReason::LoopbackFromContainer);
    }
    Ok(())
}
