//! IPv4 mappings into IPv6-only containers (`nat46` in the programs): a
//! `PUBLISHED6` entry keyed by the IPv4-mapped host address, and the
//! port's bit in `NAT46_PORTS`, which `uplink_ingress` reads before it
//! tail-calls the translation. The bits follow `PUBLISHED6`: set when a
//! mapping is written, cleared when the last mapping of its port and
//! protocol goes (known from [`Nat46Users`], not from reading the map on
//! every unpublish).

use std::collections::{BTreeSet, HashMap, HashSet};

use aya::maps::{Array, MapData};
use ebpfnet_common::{
    flows6::FlowKey6,
    maps::NatKind,
    names,
    nat46::{self, NAT46_PORTS_MAP},
    published6::{PublishedKey6, PublishedValue6},
};

use super::{
    AyaDatapath, DatapathError, NatRecord6,
    maps::{hash, map_err, map_mut, write_err},
};
use crate::{datapath::encoding::protocol_number, portspec::PortMapping};

/// The `PUBLISHED6` key of an IPv4 mapping translated into an IPv6-only
/// container (`None` for an IPv6 one): its host address IPv4-mapped,
/// `0.0.0.0` as `::ffff:0.0.0.0`.
pub fn translated_key(m: &PortMapping) -> Option<PublishedKey6> {
    match m.host_ip {
        std::net::IpAddr::V4(ip) => Some(PublishedKey6::new(
            nat46::mapped(ip.octets()),
            m.host_port,
            protocol_number(m.protocol),
        )),
        std::net::IpAddr::V6(_) => None,
    }
}

/// Both directions of the translated flows that came in through a
/// mapping on every IPv4 address (`::ffff:0.0.0.0`) among `mappings`:
/// their requests went to any host address, IPv4-mapped
/// (`nat::flows_through` takes the exact addresses and `::`).
pub fn flows_of_every_address(records: &[NatRecord6], mappings: &[PublishedKey6]) -> Vec<FlowKey6> {
    let every = nat46::mapped([0; 4]);
    let wanted: HashSet<(u8, u16)> = mappings
        .iter()
        .filter(|m| m.host_ip == every)
        .map(|m| (m.protocol, m.host_port))
        .collect();
    if wanted.is_empty() {
        return Vec::new();
    }
    records
        .iter()
        .filter(|r| {
            r.entry.kind == NatKind::Nat46Request as u8
                && nat46::is_mapped(&r.key.dst_ip)
                && wanted.contains(&(r.key.protocol, r.key.dst_port))
        })
        .flat_map(|r| [r.key, r.entry.twin_key(r.key.protocol)])
        .collect()
}

impl AyaDatapath {
    /// Sets or clears `protocol`'s bit of `port` in `NAT46_PORTS`.
    fn set_nat46_bit(&mut self, port: u16, protocol: u8, on: bool) -> Result<(), DatapathError> {
        let name = NAT46_PORTS_MAP;
        let bit = nat46::port_bit(protocol);
        let mut ports: Array<&mut MapData, u8> =
            Array::try_from(map_mut(&mut self.ebpf, name)?).map_err(map_err(name))?;
        let index = u32::from(port);
        let old = ports.get(&index, 0).map_err(map_err(name))?;
        let new = if on { old | bit } else { old & !bit };
        if new == old {
            return Ok(());
        }
        ports.set(index, new, 0).map_err(write_err(
            name,
            format!("mark port {port} for IPv4 to IPv6"),
        ))
    }

    /// After `publish6` wrote `key`: an IPv4-mapped one marks its port.
    pub(super) fn mark_nat46(&mut self, key: &PublishedKey6) -> Result<(), DatapathError> {
        if !nat46::is_mapped(&key.host_ip) {
            return Ok(());
        }
        // Read from the map (which holds `key` already) the first time.
        if self.nat46_users.is_none() {
            self.nat46_users = Some(self.read_nat46_users()?);
        }
        if let Some(users) = &mut self.nat46_users {
            users.add(key);
        }
        self.set_nat46_bit(key.host_port, key.protocol, true)
    }

    /// After `unpublish6` removed `keys` (`all_removed`: each of them):
    /// the ports of IPv4-mapped ones that no remaining mapping uses are
    /// unmarked. After a failed removal the map is read again.
    pub(super) fn unmark_nat46(
        &mut self,
        keys: &[PublishedKey6],
        all_removed: bool,
    ) -> Result<(), DatapathError> {
        if !keys.iter().any(|k| nat46::is_mapped(&k.host_ip)) {
            return Ok(());
        }
        let unused = match self.nat46_users.as_mut().filter(|_| all_removed) {
            Some(users) => users.remove(keys),
            None => {
                let users = self.read_nat46_users()?;
                let unused = users.unused(keys);
                self.nat46_users = Some(users);
                unused
            }
        };
        for (port, protocol) in unused {
            self.set_nat46_bit(port, protocol, false)?;
        }
        Ok(())
    }

    fn read_nat46_users(&self) -> Result<Nat46Users, DatapathError> {
        let name = names::PUBLISHED6_MAP;
        let keys = hash::<PublishedKey6, PublishedValue6>(&self.ebpf, name)?
            .keys()
            .collect::<Result<Vec<_>, _>>()
            .map_err(map_err(name))?;
        Ok(Nat46Users::from_keys(&keys))
    }
}

/// The IPv4-mapped `PUBLISHED6` keys by (port, protocol): a port's
/// `NAT46_PORTS` bit stays while one is left.
#[derive(Debug, Default)]
pub struct Nat46Users(HashMap<(u16, u8), HashSet<[u8; 16]>>);

impl Nat46Users {
    /// The IPv4-mapped ones among `keys`.
    pub fn from_keys(keys: &[PublishedKey6]) -> Self {
        let mut users = Self::default();
        for key in keys {
            users.add(key);
        }
        users
    }

    /// Adds `key` when IPv4-mapped (again: no change).
    pub fn add(&mut self, key: &PublishedKey6) {
        if nat46::is_mapped(&key.host_ip) {
            self.0
                .entry((key.host_port, key.protocol))
                .or_default()
                .insert(key.host_ip);
        }
    }

    /// Takes `keys` out; the (port, protocol) pairs they leave unused.
    pub fn remove(&mut self, keys: &[PublishedKey6]) -> BTreeSet<(u16, u8)> {
        for key in keys {
            if let Some(addresses) = self.0.get_mut(&(key.host_port, key.protocol)) {
                addresses.remove(&key.host_ip);
            }
        }
        let unused = self.unused(keys);
        for pair in &unused {
            self.0.remove(pair);
        }
        unused
    }

    /// The (port, protocol) pairs of IPv4-mapped `keys` that no key uses.
    pub fn unused(&self, keys: &[PublishedKey6]) -> BTreeSet<(u16, u8)> {
        keys.iter()
            .filter(|k| nat46::is_mapped(&k.host_ip))
            .map(|k| (k.host_port, k.protocol))
            .filter(|pair| self.0.get(pair).is_none_or(HashSet::is_empty))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;
    use crate::portspec::Protocol;

    #[test]
    fn ipv4_mappings_key_by_their_mapped_address() {
        let m = |ip: &str| PortMapping {
            host_ip: ip.parse::<IpAddr>().expect("address"),
            host_port: 8080,
            container_port: 80,
            protocol: Protocol::Udp,
        };
        let key = translated_key(&m("0.0.0.0")).expect("an IPv4 mapping");
        assert_eq!(
            std::net::Ipv6Addr::from(key.host_ip).to_string(),
            "::ffff:0.0.0.0"
        );
        assert_eq!((key.host_port, key.protocol), (8080, 17));
        let key = translated_key(&m("203.0.113.1")).expect("an IPv4 mapping");
        assert_eq!(
            std::net::Ipv6Addr::from(key.host_ip).to_string(),
            "::ffff:203.0.113.1"
        );
        assert!(translated_key(&m("::")).is_none());
    }

    #[test]
    fn a_port_stays_marked_while_a_mapped_key_uses_it() {
        let key = |ip: [u8; 4], port: u16, protocol: u8| {
            PublishedKey6::new(nat46::mapped(ip), port, protocol)
        };
        let any = key([0; 4], 8080, 6);
        let one = key([203, 0, 113, 1], 8080, 6);
        let udp = key([0; 4], 8080, 17);
        // An IPv6 key is none of these.
        let v6 = PublishedKey6::new([0; 16], 9090, 6);
        let mut users = Nat46Users::from_keys(&[any, one, udp, v6]);
        users.add(&one);
        assert_eq!(users.unused(&[v6]), BTreeSet::new());
        // TCP 8080 is still used by `one`; UDP 8080 is free.
        assert_eq!(users.remove(&[any, udp, v6]), BTreeSet::from([(8080, 17)]));
        assert_eq!(users.remove(&[one]), BTreeSet::from([(8080, 6)]));
        // Removing again: nothing uses it still.
        assert_eq!(users.remove(&[one]), BTreeSet::from([(8080, 6)]));
        assert!(users.0.is_empty());
        users.add(&udp);
        assert_eq!(users.unused(&[udp]), BTreeSet::new());
    }
}
