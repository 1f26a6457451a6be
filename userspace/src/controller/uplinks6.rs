//! The uplinks' IPv6 addresses in `UPLINKS6`: what NAT66 masquerades
//! behind. Followed like the IPv4 ones (at start and on every host change);
//! an uplink that loses its last usable IPv6 address loses its entry, and
//! its containers' IPv6 flows to the outside are then refused rather than
//! sent with their own addresses.

use std::{collections::BTreeMap, net::Ipv6Addr};

use super::{Controller, Result, uplinks};

impl Controller {
    /// At start: drops what an earlier daemon wrote for interfaces that are
    /// no uplink now, then writes the current addresses.
    pub(super) async fn sync_uplinks6(&mut self) -> Result<()> {
        self.uplink_ips6 = self.datapath.uplinks6()?.into_iter().collect();
        self.refresh_uplinks6().await
    }

    /// Makes `UPLINKS6` hold each present uplink's first usable IPv6
    /// address, and nothing else; `HOST_ADDRS6` every usable one.
    pub(super) async fn refresh_uplinks6(&mut self) -> Result<()> {
        let addresses = self.host.ipv6_addresses().await?;
        let mut wanted: BTreeMap<u32, Ipv6Addr> = BTreeMap::new();
        for uplink in self.uplinks.iter().filter(|u| u.ifindex != uplinks::ABSENT) {
            if let Some((ip, _)) = addresses.iter().find(|(_, index)| *index == uplink.ifindex) {
                wanted.insert(uplink.ifindex, *ip);
            }
        }
        for (ifindex, ip) in &wanted {
            if self.uplink_ips6.get(ifindex) != Some(ip) {
                log::info!("uplink #{ifindex} masquerades IPv6 as {ip}");
                self.datapath.set_uplink6(*ifindex, *ip)?;
                self.uplink_ips6.insert(*ifindex, *ip);
            }
        }
        let gone: Vec<u32> = self
            .uplink_ips6
            .keys()
            .filter(|ifindex| !wanted.contains_key(ifindex))
            .copied()
            .collect();
        for ifindex in gone {
            log::info!("uplink #{ifindex} has no IPv6 address now: no NAT66 through it");
            self.datapath.remove_uplink6(ifindex)?;
            self.uplink_ips6.remove(&ifindex);
        }
        // The same addresses are what mappings on `::` answer on.
        self.write_host_addrs6(&addresses)
    }
}
