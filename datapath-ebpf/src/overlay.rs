//! Overlay networks across hosts (VXLAN through the host's one
//! collect-metadata device, as Cilium does):
//! - `to_remote`: a container's packet for a container of its overlay
//!   network on another host gets the tunnel key (that host's underlay
//!   address, the network's VNI) and goes to the VXLAN device;
//! - `answer_arp`: a container's ARP request for such a container is
//!   answered here, with that container's MAC;
//! - `handle`: on the VXLAN device's ingress, a decapsulated packet is
//!   delivered only to a local container of the network its VNI names,
//!   and only if it comes from a known container of that network on the
//!   host that sent it.

use aya_ebpf::{
    bindings::{BPF_F_ZERO_CSUM_TX, bpf_tunnel_key},
    btf_maps::HashMap,
    helpers::{bpf_redirect, bpf_skb_get_tunnel_key, bpf_skb_set_tunnel_key},
    macros::btf_map,
    programs::TcContext,
};
use ebpfnet_common::{
    DropReason,
    maps::{EndpointAddr, EndpointInfo},
    names::{NETWORKS_CAPACITY, OVERLAY_PEERS_CAPACITY},
    overlay::{OverlayNetwork, OverlayPeer, OverlayPeerKey},
};

use crate::{counters::drop_packet, maps, nat, overlay6, parse};

#[btf_map]
pub static OVERLAY_PEERS: HashMap<
    OverlayPeerKey,
    OverlayPeer,
    { OVERLAY_PEERS_CAPACITY as usize },
> = HashMap::new();

#[btf_map]
pub static OVERLAY_NETWORKS: HashMap<u32, OverlayNetwork, { NETWORKS_CAPACITY as usize }> =
    HashMap::new();

#[btf_map]
pub static OVERLAY_VNIS: HashMap<u32, u32, { NETWORKS_CAPACITY as usize }> = HashMap::new();

/// TTL of the outer IPv4 header.
const TUNNEL_TTL: u8 = 64;
/// ARP over Ethernet for IPv4: opcode and the four address fields.
const ARP_OP_OFF: usize = parse::ETH_LEN + 6;
const ARP_SHA_OFF: usize = parse::ETH_LEN + 8;
const ARP_TPA_OFF: usize = parse::ETH_LEN + 24;
const ARP_REQUEST: u16 = 1;
const ARP_REPLY: u16 = 2;

#[inline(always)]
fn peer(network_id: u32, ip: [u8; 4]) -> Option<OverlayPeer> {
    let key = OverlayPeerKey { network_id, ip };
    // SAFETY: copied out at once; the controller replaces whole entries.
    unsafe { OVERLAY_PEERS.get(key) }.copied()
}

/// `dst_ip` on overlay network `network_id` lives on another host: the
/// packet leaves encapsulated towards it. `None` when it is no known
/// remote container (the packet then takes the local bridge).
#[inline(always)]
pub fn to_remote(ctx: &TcContext, network_id: u32, dst_ip: [u8; 4]) -> Option<i32> {
    let remote = peer(network_id, dst_ip)?;
    // SAFETY: copied out at once.
    let network = unsafe { OVERLAY_NETWORKS.get(network_id) }.copied()?;
    // The remote container's eth0 accepts only frames for its own MAC.
    if ctx.store(0, &remote.mac, 0).is_err() {
        return Some(drop_packet(DropReason::Malformed));
    }
    Some(encapsulate(ctx, &network, remote.host_ip))
}

/// A subprogram: the 44-byte tunnel key stays out of the caller's frame.
#[inline(never)]
pub(crate) fn encapsulate(ctx: &TcContext, network: &OverlayNetwork, host_ip: [u8; 4]) -> i32 {
    // SAFETY: a zeroed key is a valid one to fill in.
    let mut key: bpf_tunnel_key = unsafe { core::mem::zeroed() };
    key.tunnel_id = network.vni;
    // The helper takes the outer address in host byte order.
    key.__bindgen_anon_1.remote_ipv4 = u32::from_be_bytes(host_ip);
    key.tunnel_ttl = TUNNEL_TTL;
    // SAFETY: `key` is a valid `bpf_tunnel_key` of the size given.
    let set = unsafe {
        bpf_skb_set_tunnel_key(
            ctx.skb.skb,
            &mut key,
            size_of::<bpf_tunnel_key>() as u32,
            u64::from(BPF_F_ZERO_CSUM_TX),
        )
    };
    if set != 0 {
        return drop_packet(DropReason::Malformed);
    }
    // SAFETY: plain helper call.
    unsafe { bpf_redirect(network.vxlan_ifindex, 0) as i32 }
}

/// A container's ARP request for a remote container of its overlay
/// network, turned into the reply in place and sent back to it through
/// its own veth. `None`: not such a request (it takes the bridge).
#[inline(always)]
pub fn answer_arp(ctx: &TcContext, endpoint: &EndpointInfo, ifindex: u32) -> Option<i32> {
    let op: [u8; 2] = ctx.load(ARP_OP_OFF).ok()?;
    if u16::from_be_bytes(op) != ARP_REQUEST {
        return None;
    }
    let target_ip: [u8; 4] = ctx.load(ARP_TPA_OFF).ok()?;
    let remote = peer(endpoint.network_id, target_ip)?;
    Some(write_arp_reply(ctx, &remote, target_ip, ifindex))
}

/// Sender and target as the request had them: `sha spa tha tpa` becomes
/// `remote.mac tpa sha spa`, and the frame goes from the remote MAC to
/// the asking container.
#[inline(never)]
fn write_arp_reply(ctx: &TcContext, remote: &OverlayPeer, target_ip: [u8; 4], ifindex: u32) -> i32 {
    // Sender MAC and IP of the request: 10 bytes at one offset.
    let Ok(sender) = ctx.load::<[u8; 10]>(ARP_SHA_OFF) else {
        return drop_packet(DropReason::Malformed);
    };
    let mut tail = [0u8; 20];
    tail[..6].copy_from_slice(&remote.mac);
    tail[6..10].copy_from_slice(&target_ip);
    tail[10..].copy_from_slice(&sender);
    let mut macs = [0u8; 12];
    macs[..6].copy_from_slice(&sender[..6]);
    macs[6..].copy_from_slice(&remote.mac);
    let reply = ARP_REPLY.to_be_bytes();
    if ctx.store(0, &macs, 0).is_err()
        || ctx.store(ARP_OP_OFF, &reply, 0).is_err()
        || ctx.store(ARP_SHA_OFF, &tail, 0).is_err()
    {
        return drop_packet(DropReason::Malformed);
    }
    // Out of the container's own veth (its egress): into the container.
    // SAFETY: plain helper call.
    unsafe { bpf_redirect(ifindex, 0) as i32 }
}

/// TC ingress on the VXLAN device.
#[inline(always)]
pub fn handle(ctx: &TcContext) -> i32 {
    match decapsulated(ctx) {
        Ok((ifindex, mac)) => nat::deliver_to_container(ctx, ifindex, mac),
        Err(reason) => drop_packet(reason),
    }
}

/// Where a decapsulated packet goes: the local container's veth and MAC.
#[inline(always)]
fn decapsulated(ctx: &TcContext) -> Result<(u32, [u8; 6]), DropReason> {
    let (vni, outer_src) = tunnel(ctx).ok_or(DropReason::OverlayUnknownVni)?;
    // SAFETY: copied out at once.
    let network_id = unsafe { OVERLAY_VNIS.get(vni) }
        .copied()
        .ok_or(DropReason::OverlayUnknownVni)?;
    // ARP and neighbour solicitations never cross (each host answers
    // them for remote containers); IPv6 has checks of its own.
    match parse::ethertype(ctx) {
        Some(parse::ETH_P_IP) => {}
        Some(parse::ETH_P_IPV6) => return overlay6::decapsulated(ctx, network_id, outer_src),
        _ => return Err(DropReason::OverlayIsolation),
    }
    let src_ip: [u8; 4] = ctx
        .load(parse::IP_SRC_OFF)
        .map_err(|_| DropReason::Malformed)?;
    let dst_ip: [u8; 4] = ctx
        .load(parse::IP_DST_OFF)
        .map_err(|_| DropReason::Malformed)?;
    // From a container of this network on the host that sent it.
    match peer(network_id, src_ip) {
        Some(sender) if sender.host_ip == outer_src => {}
        _ => return Err(DropReason::OverlayIsolation),
    }
    // SAFETY: copied out at once.
    member(
        unsafe { maps::ENDPOINT_IPS.get(dst_ip) }.copied(),
        network_id,
    )
}

/// `local` (a local container's address entry, if any) as the target of
/// a decapsulated packet: its veth and MAC, when it is on overlay network
/// `network_id` (either family's).
#[inline(always)]
pub fn member(local: Option<EndpointAddr>, network_id: u32) -> Result<(u32, [u8; 6]), DropReason> {
    let local = local.ok_or(DropReason::OverlayIsolation)?;
    // SAFETY: copied out at once.
    let endpoint = unsafe { maps::ENDPOINTS.get(local.ifindex) }
        .copied()
        .ok_or(DropReason::OverlayIsolation)?;
    if endpoint.network_id != network_id {
        return Err(DropReason::OverlayIsolation);
    }
    Ok((local.ifindex, local.mac))
}

/// The packet's VNI and outer source address (network order). A
/// subprogram, for the 44-byte key.
#[inline(never)]
fn tunnel(ctx: &TcContext) -> Option<(u32, [u8; 4])> {
    // SAFETY: a zeroed key is a valid buffer for the helper to fill.
    let mut key: bpf_tunnel_key = unsafe { core::mem::zeroed() };
    // SAFETY: `key` is writable and of the size given.
    let got = unsafe {
        bpf_skb_get_tunnel_key(ctx.skb.skb, &mut key, size_of::<bpf_tunnel_key>() as u32, 0)
    };
    if got != 0 {
        return None;
    }
    // SAFETY: IPv4 tunnel (no BPF_F_TUNINFO_IPV6): the v4 member is set,
    // in host byte order.
    let remote = unsafe { key.__bindgen_anon_1.remote_ipv4 };
    Some((key.tunnel_id, remote.to_be_bytes()))
}
