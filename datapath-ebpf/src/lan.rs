//! TC egress on the parent of a macvlan network: what its containers send
//! to the LAN. The kernel's macvlan hands a container's frame for the LAN
//! to the parent's transmit path (`dev_queue_xmit` on the lower device),
//! so it passes here — a raw socket with `PACKET_QDISC_BYPASS` in the
//! container skips the container's own device's egress hook, not this
//! one — and the container cannot detach a program in the host's
//! namespace. Frames between two containers of the network never reach
//! the parent (docs/drivers.md).
//!
//! A frame from a container's MAC must carry its address (IPv4 source,
//! ARP sender; IPv6 source and neighbour discovery in `lan6`); a frame
//! carrying a container's address must come from its MAC. Other frames are the host's own (its addresses on the parent, its
//! other links on it), which this program cannot tell from a container
//! that forges both a MAC and an address no container has: they pass.

use aya_ebpf::programs::TcContext;
use ebpfnet_common::{
    DropReason,
    maps::{LanIpKey, LanMacKey},
};

use crate::{TCX_NEXT, counters::drop_packet, lan6, maps, parse};

const ARP_SENDER_MAC_OFF: usize = parse::ETH_LEN + 8;
const ARP_SENDER_IP_OFF: usize = parse::ETH_LEN + 14;

#[inline(always)]
pub fn handle(ctx: &TcContext) -> i32 {
    match check(ctx) {
        Ok(()) => TCX_NEXT,
        Err(reason) => drop_packet(reason),
    }
}

#[inline(always)]
fn check(ctx: &TcContext) -> Result<(), DropReason> {
    // SAFETY: `skb` points at the live `__sk_buff` of this invocation.
    let ifindex = unsafe { (*ctx.skb.skb).ifindex };
    let Some(src_mac) = parse::src_mac(ctx) else {
        return Ok(());
    };
    let key = LanMacKey::new(ifindex, src_mac);
    // SAFETY: copied out at once.
    let owner = unsafe { maps::LAN_HOSTS.get(key) }.copied();
    match parse::ethertype(ctx) {
        Some(parse::ETH_P_IP) => {
            let Ok(src_ip) = ctx.load::<[u8; 4]>(parse::IP_SRC_OFF) else {
                return owner.map_or(Ok(()), |_| Err(DropReason::Malformed));
            };
            if owner.is_some_and(|own| own != src_ip) {
                return Err(DropReason::SpoofedIp);
            }
            check_holder(ifindex, src_ip, src_mac, DropReason::SpoofedIp)
        }
        Some(parse::ETH_P_ARP) => {
            let (Ok(sender_mac), Ok(sender_ip)) = (
                ctx.load::<[u8; 6]>(ARP_SENDER_MAC_OFF),
                ctx.load::<[u8; 4]>(ARP_SENDER_IP_OFF),
            ) else {
                return owner.map_or(Ok(()), |_| Err(DropReason::Malformed));
            };
            // Duplicate-address probes carry sender IP 0.0.0.0.
            if owner.is_some_and(|own| {
                sender_mac != src_mac || (sender_ip != own && sender_ip != [0; 4])
            }) {
                return Err(DropReason::SpoofedArp);
            }
            check_holder(ifindex, sender_ip, sender_mac, DropReason::SpoofedArp)
        }
        Some(parse::ETH_P_IPV6) => lan6::check(ctx, ifindex, &src_mac, owner.is_some()),
        _ => Ok(()),
    }
}

/// A container's address may only be sent from its own MAC.
#[inline(always)]
fn check_holder(
    ifindex: u32,
    ip: [u8; 4],
    mac: [u8; 6],
    reason: DropReason,
) -> Result<(), DropReason> {
    // SAFETY: copied out at once.
    let holder = unsafe { maps::LAN_IPS.get(LanIpKey::new(ifindex, ip)) }.copied();
    match holder {
        Some(holder) if holder.mac != mac => Err(reason),
        _ => Ok(()),
    }
}
