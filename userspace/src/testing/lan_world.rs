//! The fake host's macvlan and ipvlan links: the parents ebpfnet makes
//! and the containers' interfaces on them, with the kernel's rules the
//! controller relies on (a VLAN needs its link, a device needs its parent
//! and its namespace, names are unique).

use std::{net::Ipv4Addr, path::Path};

use super::host_world::{HostWorld, LinkKind, NsLink, new_link};
use crate::{host::LanDeviceSpec, lan::MadeParent};

impl HostWorld {
    /// The parent `name`, made as `made` says if missing, and up; its
    /// index. `next_index` numbers a new link.
    pub(super) fn ensure_lan_parent(
        &mut self,
        name: &str,
        made: &MadeParent,
        next_index: impl FnOnce() -> u32,
    ) -> Result<u32, String> {
        if let Some(link) = self.links.get_mut(name) {
            link.up = true;
            return Ok(link.index);
        }
        let kind = match made {
            MadeParent::Dummy => LinkKind::Dummy,
            MadeParent::Vlan { link, id } => {
                let link = self
                    .links
                    .get(link)
                    .ok_or_else(|| format!("interface {link} not found"))?;
                LinkKind::Vlan {
                    link: link.index,
                    id: *id,
                }
            }
        };
        let mut link = new_link(next_index(), kind, None);
        link.up = true;
        let index = link.index;
        self.links.insert(name.to_string(), link);
        Ok(index)
    }

    pub(super) fn create_lan_device(&mut self, spec: &LanDeviceSpec<'_>) -> Result<(), String> {
        if self.link_by_index(spec.parent_index).is_none() {
            return Err(format!("no parent #{}", spec.parent_index));
        }
        let ns = self
            .namespaces
            .get_mut(spec.netns)
            .ok_or("no such namespace")?;
        if ns.links.contains_key(spec.ifname) {
            return Err(format!("{} exists", spec.ifname));
        }
        let link = NsLink {
            mac: spec.mac,
            lan: Some((spec.lan.kind, spec.parent_index)),
            ..NsLink::default()
        };
        ns.links.insert(spec.ifname.to_string(), link);
        Ok(())
    }

    /// Deletes `ifname` in `netns` if it is a macvlan or ipvlan interface.
    pub(super) fn delete_lan_device(&mut self, netns: &Path, ifname: &str) {
        if let Some(ns) = self.namespaces.get_mut(netns)
            && ns.links.get(ifname).is_some_and(|l| l.lan.is_some())
        {
            ns.remove_link(ifname);
        }
    }

    pub(super) fn add_device_default_route(
        &mut self,
        netns: &Path,
        ifname: &str,
    ) -> Result<(), String> {
        let ns = self.namespaces.get_mut(netns).ok_or("no such namespace")?;
        if !ns.links.get(ifname).is_some_and(|l| l.up) {
            return Err(format!("{ifname} is missing or down"));
        }
        ns.default_route = Some((Ipv4Addr::UNSPECIFIED, ifname.to_string()));
        Ok(())
    }
}
