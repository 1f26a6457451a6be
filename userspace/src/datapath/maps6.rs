//! Writing the IPv6 topology maps: `NETWORKS6`, `ENDPOINTS6`,
//! `ENDPOINT_IPS6` and `UPLINKS6`.

use std::net::Ipv6Addr;

use aya::maps::{LpmTrie, MapData};
use ebpfnet_common::{
    flows6::UplinkInfo6,
    maps::EndpointAddr,
    maps6::{EndpointInfo6, NetworkInfo6, SubnetKey6},
    names,
};
use ipnetwork::Ipv6Network;

use super::{
    AyaDatapath, DatapathError, Topology6,
    encoding::{subnet6_key, subnet6_of},
    maps::{hash, hash_keys, hash_mut, map, map_err, map_mut, removed, write_err},
};

impl AyaDatapath {
    fn networks6_mut(
        &mut self,
    ) -> Result<LpmTrie<&mut MapData, SubnetKey6, NetworkInfo6>, DatapathError> {
        let name = names::NETWORKS6_MAP;
        LpmTrie::try_from(map_mut(&mut self.ebpf, name)?).map_err(map_err(name))
    }
}

impl Topology6 for AyaDatapath {
    fn set_network6(
        &mut self,
        subnet: Ipv6Network,
        info: NetworkInfo6,
    ) -> Result<(), DatapathError> {
        self.networks6_mut()?
            .insert(&subnet6_key(subnet), info, 0)
            .map_err(write_err(
                names::NETWORKS6_MAP,
                format!("add network {subnet}"),
            ))
    }

    fn remove_network6(&mut self, subnet: Ipv6Network) -> Result<(), DatapathError> {
        removed(self.networks6_mut()?.remove(&subnet6_key(subnet))).map_err(write_err(
            names::NETWORKS6_MAP,
            format!("remove network {subnet}"),
        ))
    }

    fn networks6(&self) -> Result<Vec<Ipv6Network>, DatapathError> {
        let name = names::NETWORKS6_MAP;
        let trie: LpmTrie<_, SubnetKey6, NetworkInfo6> =
            LpmTrie::try_from(map(&self.ebpf, name)?).map_err(map_err(name))?;
        let mut out = Vec::new();
        for key in trie.keys() {
            let key = key.map_err(map_err(name))?;
            out.extend(subnet6_of(&key));
        }
        Ok(out)
    }

    /// The address's entry first, then the endpoint's: the program looks
    /// the endpoint up first, so it never finds one whose peer is missing.
    fn set_endpoint6(
        &mut self,
        ifindex: u32,
        ip: Ipv6Addr,
        mac: [u8; 6],
    ) -> Result<(), DatapathError> {
        let name = names::ENDPOINT_IPS6_MAP;
        hash_mut::<[u8; 16], EndpointAddr>(&mut self.ebpf, name)?
            .insert(ip.octets(), EndpointAddr::new(ifindex, mac), 0)
            .map_err(write_err(
                name,
                format!("add address {ip} of interface #{ifindex}"),
            ))?;
        let name = names::ENDPOINTS6_MAP;
        hash_mut::<u32, EndpointInfo6>(&mut self.ebpf, name)?
            .insert(ifindex, EndpointInfo6 { ip: ip.octets() }, 0)
            .map_err(write_err(
                name,
                format!("add IPv6 endpoint of interface #{ifindex}"),
            ))
    }

    fn remove_endpoint6(&mut self, ifindex: u32) -> Result<(), DatapathError> {
        let name = names::ENDPOINTS6_MAP;
        let found = hash_mut::<u32, EndpointInfo6>(&mut self.ebpf, name)?.get(&ifindex, 0);
        if let Ok(info) = found {
            // Only the address's own entry: another endpoint may have it now.
            let ips = names::ENDPOINT_IPS6_MAP;
            let mut by_ip = hash_mut::<[u8; 16], EndpointAddr>(&mut self.ebpf, ips)?;
            if by_ip.get(&info.ip, 0).is_ok_and(|a| a.ifindex == ifindex) {
                removed(by_ip.remove(&info.ip)).map_err(write_err(
                    ips,
                    format!("remove address {}", Ipv6Addr::from(info.ip)),
                ))?;
            }
        }
        removed(hash_mut::<u32, EndpointInfo6>(&mut self.ebpf, name)?.remove(&ifindex)).map_err(
            write_err(
                name,
                format!("remove IPv6 endpoint of interface #{ifindex}"),
            ),
        )
    }

    fn endpoints6(&self) -> Result<Vec<u32>, DatapathError> {
        hash_keys::<u32, EndpointInfo6>(&self.ebpf, names::ENDPOINTS6_MAP)
    }

    fn set_uplink6(&mut self, ifindex: u32, ip: Ipv6Addr) -> Result<(), DatapathError> {
        let name = names::UPLINKS6_MAP;
        hash_mut::<u32, UplinkInfo6>(&mut self.ebpf, name)?
            .insert(ifindex, UplinkInfo6 { ip: ip.octets() }, 0)
            .map_err(write_err(name, format!("add uplink #{ifindex} as {ip}")))
    }

    fn remove_uplink6(&mut self, ifindex: u32) -> Result<(), DatapathError> {
        let name = names::UPLINKS6_MAP;
        removed(hash_mut::<u32, UplinkInfo6>(&mut self.ebpf, name)?.remove(&ifindex))
            .map_err(write_err(name, format!("remove uplink #{ifindex}")))
    }

    fn uplinks6(&self) -> Result<Vec<(u32, Ipv6Addr)>, DatapathError> {
        let name = names::UPLINKS6_MAP;
        hash::<u32, UplinkInfo6>(&self.ebpf, name)?
            .iter()
            .map(|entry| entry.map(|(ifindex, info)| (ifindex, Ipv6Addr::from(info.ip))))
            .collect::<Result<_, _>>()
            .map_err(map_err(name))
    }
}
