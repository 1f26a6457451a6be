//! The controller's side of IPv6 publishing beside `ports`: the host's
//! IPv6 addresses in `HOST_ADDRS6` (what a mapping on `::` answers on,
//! followed with the uplinks' at start and on every host change), and
//! `PUBLISHED6` entries no saved mapping wants after a restart.

use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv6Addr},
};

use super::{Controller, Result};
use crate::datapath::encoding::published_key6;

impl Controller {
    /// Whether `ip` is among the host addresses the datapath knows.
    pub(super) fn knows_host_addr(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(ip) => self.host_addrs.iter().any(|a| a.ip == ip),
            IpAddr::V6(ip) => self
                .host_addrs6
                .as_ref()
                .is_some_and(|known| known.contains_key(&ip)),
        }
    }

    /// Makes `HOST_ADDRS6` exactly `addresses` (the host's usable IPv6
    /// addresses with their interfaces), written only when they changed.
    pub(super) fn write_host_addrs6(&mut self, addresses: &[(Ipv6Addr, u32)]) -> Result<()> {
        let wanted: BTreeMap<Ipv6Addr, u32> = addresses.iter().copied().collect();
        if self.host_addrs6.as_ref() == Some(&wanted) {
            return Ok(());
        }
        let pairs: Vec<(Ipv6Addr, u32)> = wanted.iter().map(|(ip, i)| (*ip, *i)).collect();
        self.datapath.set_host_addrs6(&pairs)?;
        self.host_addrs6 = Some(wanted);
        Ok(())
    }

    /// After the containers came back: removes the `PUBLISHED6` entries
    /// (and their flows) of mappings the state no longer has.
    pub(super) fn prune_stale_published6(&mut self) -> Result<()> {
        // Besides the IPv6 mappings, the IPv4 ones translated into
        // IPv6-only containers (nat46.rs) live in `PUBLISHED6`.
        let stale = self.stale_mappings(
            |c| {
                let translated = super::nat46::keys_of(c);
                c.ports
                    .iter()
                    .filter_map(published_key6)
                    .chain(translated)
                    .collect()
            },
            self.datapath.published6()?,
        );
        if !stale.is_empty() {
            self.datapath.unpublish6(&stale)?;
        }
        Ok(())
    }

    /// Whether `container`'s published ports lead to an endpoint with an
    /// IPv6 address (the Docker driver skips IPv6 bindings otherwise).
    pub fn leads_to_ipv6(&self, container: &str) -> Result<bool> {
        let container = self.container(container)?;
        Ok(container.endpoints.first().is_some_and(|e| e.ip6.is_some()))
    }
}
