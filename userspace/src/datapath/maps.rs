//! Writing the topology and publishing maps through aya's typed wrappers.

use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv4Addr},
};

use aya::{
    Ebpf,
    maps::{Array, HashMap, LpmTrie, Map, MapData, MapError},
    sys::SyscallError,
};
use ebpfnet_common::{
    maps::{Config, EndpointAddr, EndpointInfo, HostAddr, NetworkInfo, SubnetKey, UplinkInfo},
    names,
};
use ipnetwork::Ipv4Network;
use nix::errno::Errno;

use super::{
    AyaDatapath, DatapathError, Topology,
    encoding::{subnet_key, subnet_of},
};

pub(super) fn map<'a>(ebpf: &'a Ebpf, name: &'static str) -> Result<&'a Map, DatapathError> {
    ebpf.map(name).ok_or(DatapathError::MissingMap(name))
}

pub(super) fn map_mut<'a>(
    ebpf: &'a mut Ebpf,
    name: &'static str,
) -> Result<&'a mut Map, DatapathError> {
    ebpf.map_mut(name).ok_or(DatapathError::MissingMap(name))
}

/// Wraps a map error with the map's name.
pub(super) fn map_err(name: &'static str) -> impl Fn(MapError) -> DatapathError {
    move |source| DatapathError::Map { name, source }
}

/// Wraps a failed write with the map's name and what was written.
pub(super) fn write_err(
    name: &'static str,
    action: impl std::fmt::Display,
) -> impl FnOnce(MapError) -> DatapathError {
    let action = action.to_string();
    move |source| DatapathError::MapWrite {
        name,
        action,
        source: Box::new(source),
    }
}

pub(super) fn is_not_found(e: &MapError) -> bool {
    match e {
        MapError::KeyNotFound | MapError::ElementNotFound => true,
        MapError::SyscallError(SyscallError { io_error, .. }) => {
            io_error.raw_os_error() == Some(Errno::ENOENT as i32)
        }
        _ => false,
    }
}

/// A removal where a missing key is fine: it is the state asked for.
pub(super) fn removed(result: Result<(), MapError>) -> Result<(), MapError> {
    match result {
        Err(e) if !is_not_found(&e) => Err(e),
        _ => Ok(()),
    }
}

pub(super) fn hash_mut<'a, K: aya::Pod, V: aya::Pod>(
    ebpf: &'a mut Ebpf,
    name: &'static str,
) -> Result<HashMap<&'a mut MapData, K, V>, DatapathError> {
    HashMap::try_from(map_mut(ebpf, name)?).map_err(map_err(name))
}

pub(super) fn hash<'a, K: aya::Pod, V: aya::Pod>(
    ebpf: &'a Ebpf,
    name: &'static str,
) -> Result<HashMap<&'a MapData, K, V>, DatapathError> {
    HashMap::try_from(map(ebpf, name)?).map_err(map_err(name))
}

/// Every key of a hash map (of any kind aya's `HashMap` opens).
pub(super) fn hash_keys<K: aya::Pod, V: aya::Pod>(
    ebpf: &Ebpf,
    name: &'static str,
) -> Result<Vec<K>, DatapathError> {
    hash::<K, V>(ebpf, name)?
        .keys()
        .collect::<Result<_, _>>()
        .map_err(map_err(name))
}

impl AyaDatapath {
    fn networks_mut(
        &mut self,
    ) -> Result<LpmTrie<&mut MapData, SubnetKey, NetworkInfo>, DatapathError> {
        let name = names::NETWORKS_MAP;
        LpmTrie::try_from(map_mut(&mut self.ebpf, name)?).map_err(map_err(name))
    }
}

impl Topology for AyaDatapath {
    fn set_config(&mut self, config: Config) -> Result<(), DatapathError> {
        let name = names::CONFIG_MAP;
        let mut array: Array<_, Config> =
            Array::try_from(map_mut(&mut self.ebpf, name)?).map_err(map_err(name))?;
        array
            .set(0, config, 0)
            .map_err(write_err(name, "write the configuration"))
    }

    fn set_network(&mut self, subnet: Ipv4Network, info: NetworkInfo) -> Result<(), DatapathError> {
        self.networks_mut()?
            .insert(&subnet_key(subnet), info, 0)
            .map_err(write_err(
                names::NETWORKS_MAP,
                format!("add network {subnet}"),
            ))
    }

    fn remove_network(&mut self, subnet: Ipv4Network) -> Result<(), DatapathError> {
        removed(self.networks_mut()?.remove(&subnet_key(subnet))).map_err(write_err(
            names::NETWORKS_MAP,
            format!("remove network {subnet}"),
        ))
    }

    fn networks(&self) -> Result<Vec<Ipv4Network>, DatapathError> {
        let name = names::NETWORKS_MAP;
        let trie: LpmTrie<_, SubnetKey, NetworkInfo> =
            LpmTrie::try_from(map(&self.ebpf, name)?).map_err(map_err(name))?;
        let mut out = Vec::new();
        for key in trie.keys() {
            let key = key.map_err(map_err(name))?;
            // A key this daemon did not write cannot be named; skip it.
            out.extend(subnet_of(&key));
        }
        Ok(out)
    }

    fn set_endpoint(&mut self, ifindex: u32, info: EndpointInfo) -> Result<(), DatapathError> {
        let name = names::ENDPOINTS_MAP;
        hash_mut::<u32, EndpointInfo>(&mut self.ebpf, name)?
            .insert(ifindex, info, 0)
            .map_err(write_err(
                name,
                format!("add endpoint of interface #{ifindex}"),
            ))?;
        // An endpoint without IPv4 (IPv6-only network) has none to find.
        if info.ip == [0; 4] {
            return Ok(());
        }
        let name = names::ENDPOINT_IPS_MAP;
        let addr = EndpointAddr::new(ifindex, info.mac);
        hash_mut::<[u8; 4], EndpointAddr>(&mut self.ebpf, name)?
            .insert(info.ip, addr, 0)
            .map_err(write_err(
                name,
                format!(
                    "add address {} of interface #{ifindex}",
                    Ipv4Addr::from(info.ip)
                ),
            ))
    }

    fn endpoints(&self) -> Result<Vec<u32>, DatapathError> {
        hash_keys::<u32, EndpointInfo>(&self.ebpf, names::ENDPOINTS_MAP)
    }

    fn remove_endpoint(&mut self, ifindex: u32) -> Result<(), DatapathError> {
        let name = names::ENDPOINTS_MAP;
        let found = hash_mut::<u32, EndpointInfo>(&mut self.ebpf, name)?.get(&ifindex, 0);
        if let Ok(info) = found {
            // Only the address's own entry: another endpoint may have it now.
            let ips = names::ENDPOINT_IPS_MAP;
            let mut by_ip = hash_mut::<[u8; 4], EndpointAddr>(&mut self.ebpf, ips)?;
            if by_ip.get(&info.ip, 0).is_ok_and(|a| a.ifindex == ifindex) {
                removed(by_ip.remove(&info.ip)).map_err(write_err(
                    ips,
                    format!("remove address {}", Ipv4Addr::from(info.ip)),
                ))?;
            }
        }
        removed(hash_mut::<u32, EndpointInfo>(&mut self.ebpf, name)?.remove(&ifindex)).map_err(
            write_err(name, format!("remove endpoint of interface #{ifindex}")),
        )
    }

    fn set_uplink(&mut self, ifindex: u32, info: UplinkInfo) -> Result<(), DatapathError> {
        let name = names::UPLINKS_MAP;
        hash_mut::<u32, UplinkInfo>(&mut self.ebpf, name)?
            .insert(ifindex, info, 0)
            .map_err(write_err(name, format!("add uplink #{ifindex}")))
    }

    fn remove_uplink(&mut self, ifindex: u32) -> Result<(), DatapathError> {
        let name = names::UPLINKS_MAP;
        removed(hash_mut::<u32, UplinkInfo>(&mut self.ebpf, name)?.remove(&ifindex))
            .map_err(write_err(name, format!("remove uplink #{ifindex}")))
    }

    fn uplinks(&self) -> Result<Vec<(u32, UplinkInfo)>, DatapathError> {
        let name = names::UPLINKS_MAP;
        hash::<u32, UplinkInfo>(&self.ebpf, name)?
            .iter()
            .collect::<Result<_, _>>()
            .map_err(map_err(name))
    }

    /// Inserts the new and changed addresses first, then deletes the stale
    /// ones, so an address that stays is never missing for a moment.
    fn set_host_addrs(&mut self, addrs: &[(Ipv4Addr, u32)]) -> Result<(), DatapathError> {
        let wanted = addrs.iter().map(|(ip, index)| (ip.octets(), *index));
        sync_host_addrs(&mut self.ebpf, names::HOST_ADDRS_MAP, wanted.collect())
    }
}

/// Makes the host-address map `name` (`HOST_ADDRS`, `HOST_ADDRS6`: address
/// bytes in network order → ifindex) exactly `wanted`: new and changed
/// addresses first, then the stale ones, so an address that stays is never
/// missing for a moment.
pub(super) fn sync_host_addrs<const N: usize>(
    ebpf: &mut Ebpf,
    name: &'static str,
    wanted: BTreeMap<[u8; N], u32>,
) -> Result<(), DatapathError>
where
    [u8; N]: aya::Pod + Into<IpAddr>,
{
    let mut map = hash_mut::<[u8; N], HostAddr>(ebpf, name)?;
    let current: BTreeMap<[u8; N], u32> = map
        .iter()
        .map(|entry| entry.map(|(ip, addr)| (ip, addr.ifindex)))
        .collect::<Result<_, _>>()
        .map_err(map_err(name))?;
    for (ip, ifindex) in &wanted {
        if current.get(ip) != Some(ifindex) {
            let action = format!("add host address {}", (*ip).into());
            map.insert(ip, HostAddr { ifindex: *ifindex }, 0)
                .map_err(write_err(name, action))?;
        }
    }
    for ip in current.keys().filter(|ip| !wanted.contains_key(*ip)) {
        let action = format!("remove host address {}", (*ip).into());
        removed(map.remove(ip)).map_err(write_err(name, action))?;
    }
    Ok(())
}
