//! Writing the IPv6 topology maps of a test [`Datapath`].

use aya::maps::lpm_trie::Key;
use aya::maps::{LpmTrie, ProgramArray};
use aya::programs::SchedClassifier;
use ebpfnet_common::flows6::{FlowKey6, NatEntry6};
use ebpfnet_common::maps::{EndpointAddr, HostAddr, LanMac, LanMacKey};
use ebpfnet_common::maps6::{EndpointInfo6, LanIpKey6, NetworkInfo6, SubnetKey6};
use ebpfnet_common::names::{TAIL_CONTAINER6, TAIL_UPLINK6};
use ebpfnet_common::published6::{PublishedKey6, PublishedValue6};

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

    /// IPv6 network `network_id`: `subnet/64`, `gateway`, no flags.
    pub fn add_plain_network6(&mut self, network_id: u32, subnet: [u8; 16], gateway: [u8; 16]) {
        let info = NetworkInfo6 {
            network_id,
            flags: 0,
            gateway,
        };
        self.add_network6(subnet, 64, info);
    }

    /// A container at `ip` (`mac`) behind `ifindex`: its `ENDPOINTS6`
    /// and `ENDPOINT_IPS6` entries.
    pub fn add_container6(&mut self, ifindex: u32, ip: [u8; 16], mac: [u8; 6]) {
        self.add_endpoint6(ifindex, ip);
        self.add_endpoint_ip6(ip, ifindex, mac);
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

    /// Loads `container_ingress6` and `uplink_ingress6` into their
    /// `TAIL_CALLS` slots, as the daemon does: the IPv6 translation paths
    /// then run as in production.
    pub fn fill_tail_calls(&mut self) {
        self.set_tail_call(TAIL_CONTAINER6, "container_ingress6");
        self.set_tail_call(TAIL_UPLINK6, "uplink_ingress6");
    }

    /// Loads the classifier `name` into `TAIL_CALLS[slot]`.
    pub(crate) fn set_tail_call(&mut self, slot: u32, name: &str) {
        let prog: &mut SchedClassifier = self
            .ebpf
            .program_mut(name)
            .unwrap_or_else(|| panic!("no program {name}"))
            .try_into()
            .unwrap_or_else(|e| panic!("{name} is not a classifier: {e:?}"));
        prog.load()
            .unwrap_or_else(|e| panic!("verifier rejected {name}: {e:?}"));
        let fd = prog
            .fd()
            .unwrap_or_else(|e| panic!("fd of {name}: {e:?}"))
            .try_clone()
            .unwrap_or_else(|e| panic!("fd of {name}: {e}"));
        let map = self.ebpf.map_mut("TAIL_CALLS").expect("no map TAIL_CALLS");
        let mut slots: ProgramArray<_> = ProgramArray::try_from(map).expect("TAIL_CALLS");
        slots.set(slot, &fd, 0).expect("TAIL_CALLS set");
    }

    /// `PUBLISHED6[host_ip:port/protocol] = target`.
    pub fn publish6(
        &mut self,
        host_ip: [u8; 16],
        port: u16,
        protocol: u8,
        target: PublishedValue6,
    ) {
        self.hash::<PublishedKey6, PublishedValue6>("PUBLISHED6")
            .insert(PublishedKey6::new(host_ip, port, protocol), target, 0)
            .expect("PUBLISHED6 insert");
    }

    /// `HOST_ADDRS6[ip] = ifindex`.
    pub fn add_host_addr6(&mut self, ip: [u8; 16], ifindex: u32) {
        self.hash::<[u8; 16], HostAddr>("HOST_ADDRS6")
            .insert(ip, HostAddr { ifindex }, 0)
            .expect("HOST_ADDRS6 insert");
    }

    /// Every entry of `NAT6_TCP` and `NAT6_OTHER`.
    pub fn nat6_entries(&mut self) -> Vec<(FlowKey6, NatEntry6)> {
        ["NAT6_TCP", "NAT6_OTHER"]
            .iter()
            .flat_map(|name| {
                self.hash::<FlowKey6, NatEntry6>(name)
                    .iter()
                    .filter_map(Result::ok)
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}
