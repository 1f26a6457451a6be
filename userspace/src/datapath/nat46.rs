//! IPv4 mappings into IPv6-only containers (`nat46` in the programs): a
//! `PUBLISHED6` entry keyed by the IPv4-mapped host address, and the
//! port's bit in `NAT46_PORTS`, which `uplink_ingress` reads before it
//! tail-calls the translation. The bits follow `PUBLISHED6`: set when a
//! mapping is written, cleared when the last mapping of its port and
//! protocol goes.

use std::collections::{BTreeSet, HashSet};

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
        self.set_nat46_bit(key.host_port, key.protocol, true)
    }

    /// After `unpublish6` removed `keys`: the ports of IPv4-mapped ones
    /// that no remaining mapping uses are unmarked.
    pub(super) fn unmark_nat46(&mut self, keys: &[PublishedKey6]) -> Result<(), DatapathError> {
        let gone: BTreeSet<(u16, u8)> = keys
            .iter()
            .filter(|k| nat46::is_mapped(&k.host_ip))
            .map(|k| (k.host_port, k.protocol))
            .collect();
        if gone.is_empty() {
            return Ok(());
        }
        let name = names::PUBLISHED6_MAP;
        let still: BTreeSet<(u16, u8)> = hash::<PublishedKey6, PublishedValue6>(&self.ebpf, name)?
            .keys()
            .collect::<Result<Vec<_>, _>>()
            .map_err(map_err(name))?
            .into_iter()
            .filter(|k| nat46::is_mapped(&k.host_ip))
            .map(|k| (k.host_port, k.protocol))
            .collect();
        for (port, protocol) in gone.difference(&still) {
            self.set_nat46_bit(*port, *protocol, false)?;
        }
        Ok(())
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
}
