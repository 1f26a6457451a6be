//! `LAN_HOSTS` and `LAN_IPS`: the macvlan containers the program on their
//! network's parent checks (`lan_parent_egress`).

use ebpfnet_common::{
    maps::{LanIpKey, LanMac, LanMacKey},
    names,
};

use super::{
    AyaDatapath, DatapathError,
    maps::{hash_keys, hash_mut, removed, write_err},
};
use crate::ids::format_mac;

impl AyaDatapath {
    pub(super) fn write_lan_host(
        &mut self,
        parent: u32,
        mac: [u8; 6],
        ip: [u8; 4],
    ) -> Result<(), DatapathError> {
        let what = format!(
            "add {} {} on interface #{parent}",
            format_mac(&mac),
            std::net::Ipv4Addr::from(ip)
        );
        let key = LanMacKey::new(parent, mac);
        let name = names::LAN_HOSTS_MAP;
        hash_mut::<LanMacKey, [u8; 4]>(&mut self.ebpf, name)?
            .insert(key, ip, 0)
            .map_err(write_err(name, &what))?;
        let name = names::LAN_IPS_MAP;
        hash_mut::<LanIpKey, LanMac>(&mut self.ebpf, name)?
            .insert(LanIpKey::new(parent, ip), LanMac::new(mac), 0)
            .map_err(write_err(name, &what))
    }

    /// Removes `mac` and `ip` on whatever parent they are (its index may
    /// have changed, or it may be gone).
    pub(super) fn delete_lan_host(
        &mut self,
        mac: [u8; 6],
        ip: [u8; 4],
    ) -> Result<(), DatapathError> {
        let name = names::LAN_HOSTS_MAP;
        let keys = hash_keys::<LanMacKey, [u8; 4]>(&self.ebpf, name)?;
        let mut hosts = hash_mut::<LanMacKey, [u8; 4]>(&mut self.ebpf, name)?;
        for key in keys.into_iter().filter(|k| k.mac == mac) {
            removed(hosts.remove(&key))
                .map_err(write_err(name, format!("remove {}", format_mac(&mac))))?;
        }
        let name = names::LAN_IPS_MAP;
        let keys = hash_keys::<LanIpKey, LanMac>(&self.ebpf, name)?;
        let mut ips = hash_mut::<LanIpKey, LanMac>(&mut self.ebpf, name)?;
        for key in keys.into_iter().filter(|k| k.ip == ip) {
            removed(ips.remove(&key)).map_err(write_err(
                name,
                format!("remove {}", std::net::Ipv4Addr::from(ip)),
            ))?;
        }
        Ok(())
    }

    /// Every (parent, MAC, address) in `LAN_HOSTS`.
    pub(super) fn read_lan_hosts(&self) -> Result<Vec<super::LanHost>, DatapathError> {
        let name = names::LAN_HOSTS_MAP;
        let hosts = super::maps::hash::<LanMacKey, [u8; 4]>(&self.ebpf, name)?;
        Ok(hosts
            .iter()
            .filter_map(Result::ok)
            .map(|(k, ip)| (k.ifindex, k.mac, ip))
            .collect())
    }
}
