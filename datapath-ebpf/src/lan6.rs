//! IPv6 on the parent of a macvlan network (`lan_parent_egress`), the
//! checks `ipv6` makes on a bridge container's veth: a frame from a
//! container's MAC carries one of its own IPv6 addresses (its link-local
//! one, from its MAC; its global one on a network with IPv6, in
//! `LAN_HOSTS6`) or the unspecified address of a duplicate-address probe;
//! its neighbour discovery claims nothing but its own addresses and MAC;
//! it sends no router advertisement and no redirect. And whatever the
//! frame's MAC, a container's IPv6 address (global: `LAN_IPS6`; link-local:
//! the container MAC it derives from) comes only from that container's MAC.

use aya_ebpf::{btf_maps::HashMap, macros::btf_map, programs::TcContext};
use ebpfnet_common::{
    DropReason,
    maps::{LanMac, LanMacKey},
    maps6::{EndpointInfo6, LanIpKey6},
    names::LAN_HOSTS_CAPACITY,
};

use crate::{
    ipv6::{self, Own},
    maps, parse,
};

const IPV6_NEXT_HEADER_OFF: usize = parse::IP_OFF + 6;
const IPV6_SRC_OFF: usize = parse::IP_OFF + 8;

/// (parent ifindex, MAC) -> the container's global IPv6 address.
#[btf_map]
static LAN_HOSTS6: HashMap<LanMacKey, EndpointInfo6, { LAN_HOSTS_CAPACITY as usize }> =
    HashMap::new();

/// (parent ifindex, global IPv6 address) -> the container's MAC.
#[btf_map]
static LAN_IPS6: HashMap<LanIpKey6, LanMac, { LAN_HOSTS_CAPACITY as usize }> = HashMap::new();

/// The checks on an IPv6 frame leaving through the parent `ifindex` with
/// source MAC `src_mac`; `container`: that MAC is a container's. A
/// subprogram of its own.
#[inline(never)]
pub fn check(
    ctx: &TcContext,
    ifindex: u32,
    src_mac: &[u8; 6],
    container: bool,
) -> Result<(), DropReason> {
    let Ok(src) = ctx.load::<[u8; 16]>(IPV6_SRC_OFF) else {
        return if container {
            Err(DropReason::Malformed)
        } else {
            Ok(())
        };
    };
    if container {
        let own = Own {
            // SAFETY: a reference into the map, read within this run; the
            // controller replaces whole entries.
            global: unsafe { LAN_HOSTS6.get(LanMacKey::new(ifindex, *src_mac)) },
            mac: src_mac,
        };
        // Duplicate address detection sends from the unspecified address.
        let unspecified = src == [0; 16];
        if !unspecified && !own.has(&src) {
            return Err(DropReason::SpoofedIp);
        }
        let next: u8 = ctx
            .load(IPV6_NEXT_HEADER_OFF)
            .map_err(|_| DropReason::Malformed)?;
        ipv6::check_upper_layer(ctx, next, unspecified, &own)?;
    }
    check_holder(ifindex, &src, src_mac)
}

/// A container's IPv6 address may only be sent from its own MAC.
#[inline(always)]
fn check_holder(ifindex: u32, src: &[u8; 16], mac: &[u8; 6]) -> Result<(), DropReason> {
    if ipv6::is_link_local(src) {
        // The EUI-64 interface identifier names the MAC (RFC 4291 App. A).
        if src[11] != 0xff || src[12] != 0xfe {
            return Ok(());
        }
        let owner = [src[8] ^ 0x02, src[9], src[10], src[13], src[14], src[15]];
        // SAFETY: only tested for presence.
        let a_container = unsafe { maps::LAN_HOSTS.get(LanMacKey::new(ifindex, owner)) }.is_some();
        return if owner != *mac && a_container {
            Err(DropReason::SpoofedIp)
        } else {
            Ok(())
        };
    }
    let key = LanIpKey6 { ifindex, ip: *src };
    // SAFETY: copied out at once.
    match unsafe { LAN_IPS6.get(key) }.copied() {
        Some(holder) if holder.mac != *mac => Err(DropReason::SpoofedIp),
        _ => Ok(()),
    }
}
