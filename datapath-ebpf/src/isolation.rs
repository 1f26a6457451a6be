//! What a container may send: anti-spoofing of its own addresses, and no
//! direct traffic into networks it is not connected to.

use aya_ebpf::programs::TcContext;
use ebpfnet_common::{DropReason, maps::EndpointInfo};

use crate::parse;

/// ARP header fields after the Ethernet header (IPv4 over Ethernet).
const ARP_SENDER_MAC_OFF: usize = parse::ETH_LEN + 8;
const ARP_SENDER_IP_OFF: usize = parse::ETH_LEN + 14;

/// ARP may only announce the container's own IP and MAC (CVE-2021-32575).
#[inline(always)]
pub fn check_arp(ctx: &TcContext, endpoint: &EndpointInfo) -> Result<(), DropReason> {
    let sender_mac: [u8; 6] = ctx
        .load(ARP_SENDER_MAC_OFF)
        .map_err(|_| DropReason::Malformed)?;
    let sender_ip: [u8; 4] = ctx
        .load(ARP_SENDER_IP_OFF)
        .map_err(|_| DropReason::Malformed)?;
    let frame_mac = parse::src_mac(ctx).ok_or(DropReason::Malformed)?;
    // Duplicate-address probes carry sender IP 0.0.0.0.
    if sender_mac != endpoint.mac || frame_mac != endpoint.mac {
        return Err(DropReason::SpoofedArp);
    }
    if sender_ip != endpoint.ip && sender_ip != [0; 4] {
        return Err(DropReason::SpoofedArp);
    }
    Ok(())
}

/// An IPv4 frame must come from the container's MAC and IP.
#[inline(always)]
pub fn check_source(
    ctx: &TcContext,
    endpoint: &EndpointInfo,
    src_ip: [u8; 4],
) -> Result<(), DropReason> {
    if parse::src_mac(ctx) != Some(endpoint.mac) {
        return Err(DropReason::SpoofedMac);
    }
    if src_ip != endpoint.ip {
        return Err(DropReason::SpoofedIp);
    }
    Ok(())
}
