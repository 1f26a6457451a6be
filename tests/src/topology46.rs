//! The packet tests' IPv6-only container for IPv4 clients (`nat46`): C2
//! on an IPv6-only network, reached from IPv4 through two mappings, with
//! the IPv6 programs and `uplink_ingress46` in their `TAIL_CALLS` slots
//! as the daemon puts them.

use ebpfnet_common::nat46::{self, NAT46_TCP, NAT46_UDP};
use ebpfnet_common::published6::PublishedValue6;

use crate::packet::{Ipv4Builder, TCP_ACK, TCP_SYN};
use crate::packet6_l4::{TCP, UDP, tcp6};
use crate::testrun::Datapath;
use crate::topology::{C2_MAC, CLIENT, GW_MAC, HOST};

/// C2's IPv6 address on its (IPv6-only) network fd00:e146::/64.
pub const C2_V6: [u8; 16] = [0xfd, 0, 0xe1, 0x46, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const GATEWAY6: [u8; 16] = [0xfd, 0, 0xe1, 0x46, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const SUBNET6: [u8; 16] = [0xfd, 0, 0xe1, 0x46, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

/// (`with_uplink` publishes `HOST:8080/tcp` on IPv4.) `HOST:8090/tcp`
/// leads to `[C2_V6]:80`, `0.0.0.0:5353/udp` to `[C2_V6]:53`; the ports
/// marked; the programs in their slots.
pub fn setup(dp: &mut Datapath, d0: u32) {
    dp.add_plain_network6(1, SUBNET6, GATEWAY6);
    dp.add_container6(d0, C2_V6, C2_MAC);
    let to_c2 = |port| PublishedValue6::new(C2_V6, port, d0, C2_MAC);
    dp.publish6(nat46::mapped(HOST), 8090, TCP, to_c2(80));
    dp.publish6(nat46::mapped([0; 4]), 5353, UDP, to_c2(53));
    dp.mark_nat46_port(8090, NAT46_TCP);
    dp.mark_nat46_port(5353, NAT46_UDP);
    dp.fill_tail_calls();
    dp.fill_tail_call46();
}

/// Frames from the IPv4 client to the host, as they arrive on the uplink.
pub fn client() -> Ipv4Builder {
    Ipv4Builder::new(CLIENT, HOST).macs([0x02, 0, 0, 0, 0, 9], GW_MAC)
}

/// C2's SYN-ACK to the client's SYN from port 40000 to `HOST:8090` (seq
/// 1000), sent to `me6`, the client's address as C2 sees it.
pub fn c2_syn_ack(me6: [u8; 16]) -> Vec<u8> {
    tcp6(
        (C2_MAC, GW_MAC),
        (C2_V6, me6),
        (80, 40000),
        TCP_SYN | TCP_ACK,
        (5000, 1001),
        64,
    )
}
