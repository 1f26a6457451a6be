//! The fake datapath's `LAN_HOSTS` and `LAN_IPS` (and their IPv6 twins):
//! the macvlan containers on their network's parent.

use std::net::Ipv6Addr;

use super::{fake_datapath::FakeDatapath, lock};
use crate::datapath::{DatapathError, LanHost, LanHost6, LanHosts};

impl LanHosts for FakeDatapath {
    fn set_lan_host(
        &mut self,
        parent: u32,
        mac: [u8; 6],
        ip: [u8; 4],
    ) -> Result<(), DatapathError> {
        self.with("set_lan_host", |w| {
            w.lan_hosts.insert((parent, mac, ip));
        })
    }

    fn remove_lan_host(&mut self, mac: [u8; 6], ip: [u8; 4]) -> Result<(), DatapathError> {
        self.with("remove_lan_host", |w| {
            w.lan_hosts.retain(|(_, m, i)| *m != mac && *i != ip);
        })
    }

    fn lan_hosts(&self) -> Result<Vec<LanHost>, DatapathError> {
        self.check("lan_hosts")?;
        Ok(lock(&self.world).lan_hosts.iter().copied().collect())
    }

    fn set_lan_host6(
        &mut self,
        parent: u32,
        mac: [u8; 6],
        ip: Ipv6Addr,
    ) -> Result<(), DatapathError> {
        self.with("set_lan_host6", |w| {
            w.lan_hosts6.insert((parent, mac, ip));
        })
    }

    fn remove_lan_host6(&mut self, mac: [u8; 6]) -> Result<(), DatapathError> {
        self.with("remove_lan_host6", |w| {
            w.lan_hosts6.retain(|(_, m, _)| *m != mac)
        })
    }

    fn lan_hosts6(&self) -> Result<Vec<LanHost6>, DatapathError> {
        self.check("lan_hosts6")?;
        Ok(lock(&self.world).lan_hosts6.iter().copied().collect())
    }
}
