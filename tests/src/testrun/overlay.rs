//! The overlay maps of the packet tests' datapath.

use ebpfnet_common::overlay::{OverlayNetwork, OverlayPeer, OverlayPeerKey, OverlayPeerKey6};

use super::Datapath;

impl Datapath {
    /// Overlay network `network_id` is VNI `vni` through `vxlan_ifindex`.
    pub fn add_overlay_network(&mut self, network_id: u32, vni: u32, vxlan_ifindex: u32) {
        let info = OverlayNetwork { vni, vxlan_ifindex };
        self.hash::<u32, OverlayNetwork>("OVERLAY_NETWORKS")
            .insert(network_id, info, 0)
            .expect("OVERLAY_NETWORKS insert");
        self.hash::<u32, u32>("OVERLAY_VNIS")
            .insert(vni, network_id, 0)
            .expect("OVERLAY_VNIS insert");
    }

    /// A container (`ip`, `mac`) of overlay network `network_id` on the
    /// host at `host_ip`.
    pub fn add_overlay_peer(
        &mut self,
        network_id: u32,
        ip: [u8; 4],
        mac: [u8; 6],
        host_ip: [u8; 4],
    ) {
        let key = OverlayPeerKey { network_id, ip };
        self.insert_peer("OVERLAY_PEERS", key, mac, host_ip);
    }

    /// The IPv6 address `ip` of that container (a dual-stack network).
    pub fn add_overlay_peer6(
        &mut self,
        network_id: u32,
        ip: [u8; 16],
        mac: [u8; 6],
        host_ip: [u8; 4],
    ) {
        let key = OverlayPeerKey6 { network_id, ip };
        self.insert_peer("OVERLAY_PEERS6", key, mac, host_ip);
    }

    /// `map[key]` = the container with `mac` on the host at `host_ip`.
    fn insert_peer<K: aya::Pod>(&mut self, map: &str, key: K, mac: [u8; 6], host_ip: [u8; 4]) {
        let peer = OverlayPeer {
            host_ip,
            mac,
            _pad: [0; 2],
        };
        self.hash::<K, OverlayPeer>(map)
            .insert(key, peer, 0)
            .unwrap_or_else(|e| panic!("{map} insert: {e:?}"));
    }
}
