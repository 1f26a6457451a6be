//! The fake host's namespaces and what lives in them: veths born inside,
//! addresses, default routes, with the kernel's rules the controller
//! relies on (names are unique, a veth needs its bridge and its
//! namespace, a namespace takes its veths along when it goes).

use std::{collections::BTreeMap, io, net::Ipv6Addr, path::Path};

use super::host_world::{HostWorld, LinkKind, Namespace, NsLink, new_link};
use crate::host::{HostError, InterfaceAddress, VethSpec, netns::NsId};

/// A failure of `op` as the real host reports one it has no kind for.
pub(super) fn refused(op: &str, why: impl Into<String>) -> HostError {
    HostError::Io {
        action: op.to_string(),
        source: io::Error::other(why.into()),
    }
}

impl HostWorld {
    /// The namespace at `path`, for `op`.
    pub(super) fn namespace_mut(
        &mut self,
        path: &Path,
        op: &str,
    ) -> Result<&mut Namespace, HostError> {
        self.namespaces
            .get_mut(path)
            .ok_or_else(|| refused(op, "no such namespace"))
    }

    /// A veth as `spec` says; `next_index` numbers its host end.
    pub(super) fn create_veth(
        &mut self,
        spec: &VethSpec<'_>,
        next_index: impl FnOnce() -> u32,
    ) -> Result<u32, HostError> {
        if self.links.contains_key(spec.host_name) {
            return Err(refused("create_veth", format!("{} exists", spec.host_name)));
        }
        if !matches!(self.link_by_index(spec.bridge_index), Some((_, l)) if l.kind == LinkKind::Bridge)
        {
            return Err(HostError::NoSuchLink(format!("#{}", spec.bridge_index)));
        }
        let ns = self.namespace_mut(spec.peer_netns, "create_veth")?;
        if ns.links.contains_key(spec.peer_name) {
            return Err(refused("create_veth", format!("{} exists", spec.peer_name)));
        }
        ns.links.insert(
            spec.peer_name.to_string(),
            NsLink {
                mac: Some(spec.peer_mac),
                ..NsLink::default()
            },
        );
        let index = next_index();
        let kind = LinkKind::Veth {
            bridge: spec.bridge_index,
            peer: spec.peer_name.to_string(),
            peer_netns: spec.peer_netns.to_path_buf(),
        };
        let mut link = new_link(index, kind, None);
        link.up = true;
        self.links.insert(spec.host_name.to_string(), link);
        Ok(index)
    }

    /// A namespace `id` at `path` with only `lo` in it (up or not),
    /// replacing any there.
    pub(super) fn insert_namespace(&mut self, path: &Path, id: NsId, lo_up: bool) {
        let lo = NsLink {
            up: lo_up,
            ..NsLink::default()
        };
        let namespace = Namespace {
            id,
            links: BTreeMap::from([(String::from("lo"), lo)]),
            default_route: None,
            default_route6: None,
        };
        self.namespaces.insert(path.to_path_buf(), namespace);
    }

    pub(super) fn delete_netns(&mut self, path: &Path) {
        if self.namespaces.remove(path).is_some() {
            // The veths whose peers were inside go with it.
            self.links.retain(
                |_, l| !matches!(&l.kind, LinkKind::Veth { peer_netns, .. } if peer_netns == path),
            );
        }
    }

    pub(super) fn configure_interface(
        &mut self,
        netns: &Path,
        ifname: &str,
        address: InterfaceAddress,
    ) -> Result<(), HostError> {
        let ns = self.namespace_mut(netns, "configure_interface")?;
        ns.links.entry("lo".into()).or_default().up = true;
        let link = ns
            .links
            .get_mut(ifname)
            .ok_or_else(|| HostError::NoSuchLink(ifname.to_string()))?;
        if let Some(ip) = address.ip
            && !link.addresses.contains(&(ip, address.prefix))
        {
            link.addresses.push((ip, address.prefix));
        }
        if let Some(six) = address.ipv6
            && !link.addresses6.contains(&(six.ip, six.prefix))
        {
            link.addresses6.push((six.ip, six.prefix));
        }
        link.up = true;
        if let Some(gateway) = address.default_route {
            ns.default_route = Some((gateway, ifname.to_string()));
        }
        if let Some(gateway) = address.ipv6.and_then(|six| six.default_route) {
            ns.default_route6 = Some((gateway, ifname.to_string()));
        }
        Ok(())
    }

    pub(super) fn set_default_route6(
        &mut self,
        netns: &Path,
        ifname: &str,
        gateway: Ipv6Addr,
    ) -> Result<(), HostError> {
        let ns = self.namespace_mut(netns, "set_default_route6")?;
        if !ns.links.contains_key(ifname) {
            return Err(HostError::NoSuchLink(ifname.to_string()));
        }
        ns.default_route6 = Some((gateway, ifname.to_string()));
        Ok(())
    }
}
