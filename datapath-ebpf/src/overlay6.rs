//! IPv6 on dual-stack overlay networks, beside `overlay` (IPv4):
//! - `to_remote`: a container's IPv6 packet for a container of its
//!   overlay network on another host goes through the VXLAN device, as
//!   IPv4 does (the underlay stays IPv4);
//! - `answer_solicitation`: a container's neighbour solicitation for
//!   such a container is answered here with its MAC (the IPv6 form of
//!   the local ARP answer), so no multicast ever crosses hosts;
//! - `decapsulated`: an IPv6 packet out of the tunnel is delivered only
//!   to a local container of the network its VNI names, and only from a
//!   known container of that network on the host that sent it.

use aya_ebpf::{btf_maps::HashMap, helpers::bpf_redirect, macros::btf_map, programs::TcContext};
use ebpfnet_common::{
    DropReason,
    names::OVERLAY_PEERS_CAPACITY,
    overlay::{OverlayPeer, OverlayPeerKey6},
};

use crate::{counters::drop_packet, maps, overlay, parse};

#[btf_map]
pub static OVERLAY_PEERS6: HashMap<
    OverlayPeerKey6,
    OverlayPeer,
    { OVERLAY_PEERS_CAPACITY as usize },
> = HashMap::new();

const IPV6_SRC_OFF: usize = parse::IP_OFF + 8;
const IPV6_DST_OFF: usize = parse::IP_OFF + 24;
const IPV6_HOP_LIMIT_OFF: usize = parse::IP_OFF + 7;
const IPV6_ICMP: u8 = 58;
/// A solicitation as Linux sends it: ICMPv6 right after the fixed
/// header, type, code, checksum, 4 reserved bytes, the target, and one
/// source link-layer address option (RFC 4861 §4.3): 32 bytes.
const ICMP_OFF: usize = parse::IP_OFF + 40;
const ICMP_CSUM_OFF: usize = ICMP_OFF + 2;
const ND_FLAGS_OFF: usize = ICMP_OFF + 4;
const ND_TARGET_OFF: usize = ICMP_OFF + 8;
const ND_OPTION_OFF: usize = ICMP_OFF + 24;
const SOLICITATION_LEN: u16 = 32;
const NEIGHBOR_SOLICITATION: u8 = 135;
const NEIGHBOR_ADVERTISEMENT: u8 = 136;
/// Option type and length (in 8 bytes) of a source (1) and a target (2)
/// link-layer address option.
const SOURCE_LINK_ADDR: [u8; 2] = [1, 1];
const TARGET_LINK_ADDR: [u8; 2] = [2, 1];
/// Solicited and Override (RFC 4861 §4.4); not a router.
const ADVERT_FLAGS: [u8; 4] = [0x60, 0, 0, 0];
/// Neighbour discovery is sent with hop limit 255 (and received only so).
const ND_HOP_LIMIT: u8 = 255;

/// The remote container of overlay network `network_id` at `ip`: a
/// reference into the map, read within this run (the controller replaces
/// whole entries), not a copy: the callers' stacks are tight.
#[inline(always)]
fn peer(network_id: u32, ip: [u8; 16]) -> Option<&'static OverlayPeer> {
    let key = OverlayPeerKey6 { network_id, ip };
    // SAFETY: see above.
    unsafe { OVERLAY_PEERS6.get(key) }
}

/// A packet for an address of overlay network `network_id` that no local
/// container has: to a container on another host, it leaves encapsulated
/// towards that host. `None` when it is no known remote container (the
/// packet then takes the local bridge).
#[inline(always)]
pub fn to_remote(ctx: &TcContext, network_id: u32) -> Option<i32> {
    let dst: [u8; 16] = ctx.load(IPV6_DST_OFF).ok()?;
    let remote = peer(network_id, dst)?;
    // SAFETY: copied out at once.
    let network = unsafe { overlay::OVERLAY_NETWORKS.get(network_id) }.copied()?;
    // The remote container's eth0 accepts only frames for its own MAC.
    if ctx.store(0, &remote.mac, 0).is_err() {
        return Some(drop_packet(DropReason::Malformed));
    }
    Some(overlay::encapsulate(ctx, &network, remote.host_ip))
}

/// A neighbour solicitation (already checked: from the container's own
/// address and MAC) for a remote container of its overlay network
/// `network_id`, turned into the advertisement in place and sent back
/// into the container. `None`: not such a solicitation.
#[inline(never)]
pub fn answer_solicitation(ctx: &TcContext, network_id: u32, ifindex: u32) -> Option<i32> {
    let fixed: [u8; 8] = ctx.load(parse::IP_OFF).ok()?;
    let plen = u16::from_be_bytes([fixed[4], fixed[5]]);
    if fixed[6] != IPV6_ICMP || plen != SOLICITATION_LEN {
        return None;
    }
    let head: [u8; 2] = ctx.load(ICMP_OFF).ok()?;
    let option: [u8; 2] = ctx.load(ND_OPTION_OFF).ok()?;
    if head != [NEIGHBOR_SOLICITATION, 0] || option != SOURCE_LINK_ADDR {
        return None;
    }
    let target: [u8; 16] = ctx.load(ND_TARGET_OFF).ok()?;
    let remote = peer(network_id, target)?;
    let remote_mac = &remote.mac;
    let answered = checksum(ctx, remote_mac).and_then(|csum| advertise(ctx, remote_mac, csum));
    Some(match answered {
        // Out of the container's own veth (its egress): into the container.
        // SAFETY: plain helper call.
        Some(()) => unsafe { bpf_redirect(ifindex, 0) as i32 },
        None => drop_packet(DropReason::Malformed),
    })
}

/// The advertisement's checksum, from the solicitation's, updated for
/// what changes (RFC 1624): the pseudo-header's addresses (the source
/// moves to the destination, so only the old destination goes and the
/// target comes), the type, the flags, the option's type and its MAC. A
/// subprogram of its own (as `advertise`): the caller's stack is tight.
#[inline(never)]
fn checksum(ctx: &TcContext, remote_mac: &[u8; 6]) -> Option<u16> {
    let mut sum = Sum::default();
    let mut i = 0;
    while i < 16 {
        let old: [u8; 4] = ctx.load(IPV6_DST_OFF + i).ok()?;
        let new: [u8; 4] = ctx.load(ND_TARGET_OFF + i).ok()?;
        sum.word([old[0], old[1]], [new[0], new[1]]);
        sum.word([old[2], old[3]], [new[2], new[3]]);
        i += 4;
    }
    let reserved: [u8; 4] = ctx.load(ND_FLAGS_OFF).ok()?;
    sum.word(
        [reserved[0], reserved[1]],
        [ADVERT_FLAGS[0], ADVERT_FLAGS[1]],
    );
    sum.word(
        [reserved[2], reserved[3]],
        [ADVERT_FLAGS[2], ADVERT_FLAGS[3]],
    );
    sum.word([NEIGHBOR_SOLICITATION, 0], [NEIGHBOR_ADVERTISEMENT, 0]);
    sum.word(SOURCE_LINK_ADDR, TARGET_LINK_ADDR);
    let asker: [u8; 6] = ctx.load(ND_OPTION_OFF + 2).ok()?;
    sum.word([asker[0], asker[1]], [remote_mac[0], remote_mac[1]]);
    sum.word([asker[2], asker[3]], [remote_mac[2], remote_mac[3]]);
    sum.word([asker[4], asker[5]], [remote_mac[4], remote_mac[5]]);
    let csum: [u8; 2] = ctx.load(ICMP_CSUM_OFF).ok()?;
    Some(sum.update(u16::from_be_bytes(csum)))
}

/// `src → dst: NS target, SLLA mac` becomes `target → src: NA target,
/// TLLA remote_mac` with checksum `csum`, from the remote MAC to the
/// asking container.
#[inline(never)]
fn advertise(ctx: &TcContext, remote_mac: &[u8; 6], csum: u16) -> Option<()> {
    let asker: [u8; 6] = ctx.load(ND_OPTION_OFF + 2).ok()?;
    ctx.store(0, &asker, 0).ok()?;
    ctx.store(6, remote_mac, 0).ok()?;
    ctx.store(ND_OPTION_OFF + 2, remote_mac, 0).ok()?;
    // The source becomes the destination, the target the source.
    let src: [u8; 16] = ctx.load(IPV6_SRC_OFF).ok()?;
    ctx.store(IPV6_DST_OFF, &src, 0).ok()?;
    let target: [u8; 16] = ctx.load(ND_TARGET_OFF).ok()?;
    ctx.store(IPV6_SRC_OFF, &target, 0).ok()?;
    ctx.store(IPV6_HOP_LIMIT_OFF, &ND_HOP_LIMIT, 0).ok()?;
    let csum = csum.to_be_bytes();
    let icmp = [NEIGHBOR_ADVERTISEMENT, 0, csum[0], csum[1]];
    ctx.store(ICMP_OFF, &icmp, 0).ok()?;
    ctx.store(ND_FLAGS_OFF, &ADVERT_FLAGS, 0).ok()?;
    ctx.store(ND_OPTION_OFF, &TARGET_LINK_ADDR, 0).ok()
}

/// Where a decapsulated IPv6 packet of overlay network `network_id`,
/// sent by underlay host `outer_src`, goes: the local container's veth
/// and MAC. A subprogram: its addresses stay out of the caller's frame.
#[inline(never)]
pub fn decapsulated(
    ctx: &TcContext,
    network_id: u32,
    outer_src: [u8; 4],
) -> Result<(u32, [u8; 6]), DropReason> {
    let src: [u8; 16] = ctx.load(IPV6_SRC_OFF).map_err(|_| DropReason::Malformed)?;
    // From a container of this network on the host that sent it.
    if peer(network_id, src).is_none_or(|sender| sender.host_ip != outer_src) {
        return Err(DropReason::OverlayIsolation);
    }
    let dst: [u8; 16] = ctx.load(IPV6_DST_OFF).map_err(|_| DropReason::Malformed)?;
    // SAFETY: copied out at once.
    overlay::member(unsafe { maps::ENDPOINT_IPS6.get(dst) }.copied(), network_id)
}

/// A running one's complement sum of the changes to checksummed data.
#[derive(Default)]
struct Sum(u32);

impl Sum {
    /// A 16-bit word (network order) went from `old` to `new`.
    #[inline(always)]
    fn word(&mut self, old: [u8; 2], new: [u8; 2]) {
        self.0 += u32::from(!u16::from_be_bytes(old)) + u32::from(u16::from_be_bytes(new));
        self.0 = (self.0 & 0xffff) + (self.0 >> 16);
    }

    /// `csum` updated by the changes recorded.
    #[inline(always)]
    fn update(&self, csum: u16) -> u16 {
        let mut sum = u32::from(!csum) + self.0;
        sum = (sum & 0xffff) + (sum >> 16);
        sum = (sum & 0xffff) + (sum >> 16);
        !(sum as u16)
    }
}
