//! Writing the IPv6 topology maps of a test [`Datapath`].

use aya::maps::LpmTrie;
use aya::maps::lpm_trie::Key;
use ebpfnet_common::maps::{EndpointAddr, LanMac, LanMacKey};
use ebpfnet_common::maps6::{EndpointInfo6, LanIpKey6, NetworkInfo6, SubnetKey6};

use crate::testrun::Datapath;

impl Datapath {
    /// `NETWORKS6[addr/prefix_len] = info`.
    pub fn add_network6(&mut self, addr: [u8; 16], prefix_len: u32, info: NetworkInfo6) {
        let map = self.ebpf.map_mut("NETWORKS6").expect("no map NETWORKS6");
        let mut trie: LpmTrie<_, SubnetKey6, NetworkInfo6> =
            LpmTrie::try_from(map).expect("NETWORKS6");
        trie.insert(&Key::new(prefix_len, SubnetKey6 { addr }), info, 0)
            .expect("NETWORKS6 insert");
    }

    /// `ENDPOINTS6[ifindex] = ip`: the container's IPv6 address there.
    pub fn add_endpoint6(&mut self, ifindex: u32, ip: [u8; 16]) {
        self.hash::<u32, EndpointInfo6>("ENDPOINTS6")
            .insert(ifindex, EndpointInfo6 { ip }, 0)
            .expect("ENDPOINTS6 insert");
    }

    /// `ENDPOINT_IPS6[ip] = where`: a container address delivered to
    /// directly.
    pub fn add_endpoint_ip6(&mut self, ip: [u8; 16], ifindex: u32, mac: [u8; 6]) {
        let addr = EndpointAddr {
            ifindex,
            mac,
            ..Default::default()
        };
        self.hash::<[u8; 16], EndpointAddr>("ENDPOINT_IPS6")
            .insert(ip, addr, 0)
            .expect("ENDPOINT_IPS6 insert");
    }

    /// A macvlan container's global IPv6 address `ip` on the parent
    /// `ifindex` (`LAN_HOSTS6`, `LAN_IPS6`; its IPv4 entry comes from
    /// `add_lan_host`).
    pub fn add_lan_host6(&mut self, ifindex: u32, mac: [u8; 6], ip: [u8; 16]) {
        self.hash::<LanMacKey, EndpointInfo6>("LAN_HOSTS6")
            .insert(LanMacKey::new(ifindex, mac), EndpointInfo6 { ip }, 0)
            .expect("LAN_HOSTS6 insert");
        self.hash::<LanIpKey6, LanMac>("LAN_IPS6")
            .insert(LanIpKey6 { ifindex, ip }, LanMac::new(mac), 0)
            .expect("LAN_IPS6 insert");
    }
}
