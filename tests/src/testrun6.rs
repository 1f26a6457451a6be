//! Writing the IPv6 topology maps of a test [`Datapath`].

use aya::maps::LpmTrie;
use aya::maps::lpm_trie::Key;
use ebpfnet_common::maps::EndpointAddr;
use ebpfnet_common::maps6::{EndpointInfo6, NetworkInfo6, SubnetKey6};

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
}
