//! `LAN_HOSTS` and `LAN_IPS` (and their IPv6 twins `LAN_HOSTS6`,
//! `LAN_IPS6`): the macvlan containers the program on their network's
//! parent checks (`lan_parent_egress`).

use std::net::Ipv6Addr;

use ebpfnet_common::{
    maps::{LanIpKey, LanMac, LanMacKey},
    maps6::{EndpointInfo6, LanIpKey6},
    names,
};

use super::{
    AyaDatapath, DatapathError, LanHost, LanHost6, LanHosts,
    maps::{hash_keys, hash_mut, removed, write_err},
};
use crate::ids::format_mac;

impl LanHosts for AyaDatapath {
    fn set_lan_host(
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
    fn remove_lan_host(&mut self, mac: [u8; 6], ip: [u8; 4]) -> Result<(), DatapathError> {
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
    fn lan_hosts(&self) -> Result<Vec<LanHost>, DatapathError> {
        let name = names::LAN_HOSTS_MAP;
        let hosts = super::maps::hash::<LanMacKey, [u8; 4]>(&self.ebpf, name)?;
        Ok(hosts
            .iter()
            .filter_map(Result::ok)
            .map(|(k, ip)| (k.ifindex, k.mac, ip))
            .collect())
    }

    /// The container's MAC key first, then its address's holder entry.
    fn set_lan_host6(
        &mut self,
        parent: u32,
        mac: [u8; 6],
        ip: Ipv6Addr,
    ) -> Result<(), DatapathError> {
        let what = format!("add {} {ip} on interface #{parent}", format_mac(&mac));
        let name = names::LAN_HOSTS6_MAP;
        hash_mut::<LanMacKey, EndpointInfo6>(&mut self.ebpf, name)?
            .insert(
                LanMacKey::new(parent, mac),
                EndpointInfo6 { ip: ip.octets() },
                0,
            )
            .map_err(write_err(name, &what))?;
        let name = names::LAN_IPS6_MAP;
        let key = LanIpKey6 {
            ifindex: parent,
            ip: ip.octets(),
        };
        hash_mut::<LanIpKey6, LanMac>(&mut self.ebpf, name)?
            .insert(key, LanMac::new(mac), 0)
            .map_err(write_err(name, &what))
    }

    /// Removes the IPv6 entries of `mac` on whatever parent they are.
    fn remove_lan_host6(&mut self, mac: [u8; 6]) -> Result<(), DatapathError> {
        let what = || format!("remove {}", format_mac(&mac));
        let name = names::LAN_HOSTS6_MAP;
        let keys = hash_keys::<LanMacKey, EndpointInfo6>(&self.ebpf, name)?;
        let mut hosts = hash_mut::<LanMacKey, EndpointInfo6>(&mut self.ebpf, name)?;
        for key in keys.into_iter().filter(|k| k.mac == mac) {
            removed(hosts.remove(&key)).map_err(write_err(name, what()))?;
        }
        let name = names::LAN_IPS6_MAP;
        let held: Vec<LanIpKey6> = super::maps::hash::<LanIpKey6, LanMac>(&self.ebpf, name)?
            .iter()
            .filter_map(Result::ok)
            .filter(|(_, holder)| holder.mac == mac)
            .map(|(key, _)| key)
            .collect();
        let mut ips = hash_mut::<LanIpKey6, LanMac>(&mut self.ebpf, name)?;
        for key in held {
            removed(ips.remove(&key)).map_err(write_err(name, what()))?;
        }
        Ok(())
    }

    /// Every (parent, MAC, address) in `LAN_HOSTS6`.
    fn lan_hosts6(&self) -> Result<Vec<LanHost6>, DatapathError> {
        let name = names::LAN_HOSTS6_MAP;
        let hosts = super::maps::hash::<LanMacKey, EndpointInfo6>(&self.ebpf, name)?;
        Ok(hosts
            .iter()
            .filter_map(Result::ok)
            .map(|(k, v)| (k.ifindex, k.mac, Ipv6Addr::from(v.ip)))
            .collect())
    }
}
