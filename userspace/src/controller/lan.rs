//! macvlan and ipvlan networks (`network create -d macvlan|ipvlan`): their
//! parent link and the anti-spoofing program on it (macvlan). No bridge,
//! no NAT, no published ports, no entry in `NETWORKS`: the containers are
//! hosts of the parent's LAN (docs/drivers.md says what the datapath can
//! and cannot see of their traffic). Their interfaces: `lan_endpoints`.

use std::{collections::BTreeMap, net::Ipv4Addr};

use ebpfnet_common::ProgramId;
use ipnetwork::Ipv4Network;

use super::{
    Controller, ControllerError, Result,
    ipv6::Ipv6Request,
    networks::{by_network_address, gateway_in},
    overlaps,
};
use crate::{
    api::request::NetworkCreate,
    host::{HostError, LanDeviceSpec, lan as host_lan},
    ids,
    lan::{self, DRIVER_BRIDGE, LanKind, LanNetwork, MadeParent},
    state::{Ipv4Config, Ipv6Config, Network},
};

fn refused(message: String) -> ControllerError {
    ControllerError::Refused(message)
}

impl Controller {
    /// `network create` with a driver (`-d`) and its options (`-o`): a
    /// bridge network without options, else a macvlan or ipvlan one.
    /// IPv4 only; [`Controller::create_network_from`] takes IPv6 too.
    pub async fn create_network_with_driver(
        &mut self,
        name: &str,
        subnet: Option<Ipv4Network>,
        gateway: Option<Ipv4Addr>,
        internal: bool,
        driver: Option<&str>,
        options: &BTreeMap<String, String>,
    ) -> Result<String> {
        self.create_network_from(&NetworkCreate {
            name: name.to_string(),
            subnet,
            gateway,
            internal,
            driver: driver.map(str::to_string),
            options: options.clone(),
            ipv6: Default::default(),
        })
        .await
    }

    /// `network create` as the API asks it.
    pub async fn create_network_from(&mut self, r: &NetworkCreate) -> Result<String> {
        let (name, internal) = (r.name.as_str(), r.internal);
        let id = ids::new_id().map_err(HostError::io("read /dev/urandom"))?;
        let driver = r.driver.as_deref().unwrap_or(DRIVER_BRIDGE);
        let mut options = r.options.clone();
        let routed = super::routed6::take_gateway_mode6(driver, &mut options)?;
        let lan =
            lan::parse(driver, &options, internal, &id).map_err(|e| refused(e.to_string()))?;
        match lan {
            None => {
                let ipv6 = Ipv6Request { routed, ..r.ipv6 };
                self.create_network_ipv6(name, r.subnet, r.gateway, internal, &ipv6)
                    .await
            }
            Some(_) if r.ipv6.only => Err(refused(format!(
                "cannot create {driver} network {name} without IPv4 (--ipv4=false): \
                 IPv6-only networks are bridge networks"
            ))),
            Some(lan) if r.ipv6.enable && !lan.routes_via_gateway() => Err(refused(format!(
                "cannot give {driver} network {name} IPv6 in mode {}: IPv6 works on macvlan \
                 and ipvlan l2 networks only",
                lan.mode
            ))),
            Some(lan) => {
                let ipv6 = self.plan_lan_ipv6(driver, name, &r.ipv6)?;
                self.create_lan_network(id, name, (r.subnet, r.gateway), internal, lan, ipv6)
                    .await
            }
        }
    }

    async fn create_lan_network(
        &mut self,
        id: String,
        name: &str,
        (subnet, gateway): (Option<Ipv4Network>, Option<Ipv4Addr>),
        internal: bool,
        mut lan: LanNetwork,
        ipv6: Option<Ipv6Config>,
    ) -> Result<String> {
        self.check_new_network_name(name)?;
        self.check_parent_free(&lan.parent)?;
        let subnet = match subnet {
            Some(subnet) => {
                let subnet = by_network_address(subnet);
                // The LAN's subnet is the host's too (a route on the
                // parent): only other networks' subnets are in the way.
                if let Some((other, theirs)) = self
                    .state
                    .networks
                    .values()
                    .filter_map(|n| Some((n, n.subnet?)))
                    .find(|(_, theirs)| overlaps(*theirs, subnet))
                {
                    return Err(refused(format!(
                        "subnet {subnet} overlaps subnet {theirs} of network {}",
                        other.name
                    )));
                }
                subnet
            }
            None => self.pick_subnet().await?,
        };
        let gateway = gateway_in(subnet, gateway)?;
        if lan.made_parent.is_none() {
            lan.made_parent = self.missing_parent(&lan.parent).await?;
        }
        if let Some(made) = &lan.made_parent
            && let Err(e) = self.host.ensure_lan_parent(&lan.parent, made).await
        {
            // Half of a veth pair, say: the parent is ours, it goes.
            if let Err(undo) = self.host.delete_link(&lan.parent).await {
                log::error!("cannot remove {} after a failed create: {undo}", lan.parent);
            }
            return Err(match made {
                MadeParent::Vlan { .. } if host_lan::unsupported(&e) => refused(format!(
                    "cannot make VLAN interface {}: this kernel has no VLAN support \
                         (CONFIG_VLAN_8021Q)",
                    lan.parent
                )),
                _ => e.into(),
            });
        }
        let network = Network {
            lan: Some(Box::new(lan)),
            ipv6,
            ..self.network_record(&id, name, Some(Ipv4Config { subnet, gateway }), internal)
        };
        let mut next = self.state.clone();
        next.networks.insert(name.to_string(), network.clone());
        let probe = probe_netns_name(&id);
        let made = match &network.lan {
            Some(lan) => match self.probe_parent(&probe, lan).await {
                Ok(()) => self.attach_lan_parent(lan).await,
                Err(e) => Err(e),
            },
            None => Ok(()),
        };
        if let Err(e) = made.and_then(|()| self.commit(next)) {
            // The probe's namespace, if it could not be removed before.
            if self.host.netns_exists(&probe)
                && let Err(undo) = self.host.delete_netns(&probe)
            {
                log::error!("cannot remove the probe namespace {probe}: {undo}");
            }
            if let Err(undo) = self.remove_lan_parent(&network).await {
                log::error!("network {name}: {undo}");
            }
            return Err(e);
        }
        Ok(id)
    }

    /// The IPv6 side of a macvlan or ipvlan network (`--ipv6`): the LAN's
    /// own subnet, so it must be given (no ULA is picked), and only other
    /// networks' subnets are in its way (the host routes it on the parent).
    fn plan_lan_ipv6(
        &self,
        driver: &str,
        name: &str,
        request: &super::ipv6::Ipv6Request,
    ) -> Result<Option<Ipv6Config>> {
        if !request.enable {
            return super::ipv6::refuse_ipv6_options(request).map(|()| None);
        }
        if request.subnet.is_none() {
            return Err(refused(format!(
                "{driver} network {name} with --ipv6 needs the LAN's IPv6 --subnet"
            )));
        }
        self.plan_ipv6_within(request, &[]).map(Some)
    }

    /// Makes one interface of the network's kind on its parent, in a
    /// throwaway namespace, and deletes it: the kernel says now, not at the
    /// first container, whether it has the driver and takes the parent (not
    /// a bridge's port, not a parent of the other kind).
    async fn probe_parent(&self, name: &str, lan: &LanNetwork) -> Result<()> {
        let parent_index = self
            .host
            .link_index(&lan.parent)
            .await?
            .ok_or_else(|| HostError::NoSuchLink(lan.parent.clone()))?;
        let path = self.host.create_netns(name)?;
        let made = async {
            let spec = LanDeviceSpec {
                lan,
                parent_index,
                ifname: "probe0",
                mac: None,
                netns: &path,
            };
            self.host.create_lan_device(&spec).await?;
            // Gone now, not when the namespace is cleaned up later: the
            // parent may take one passthru device only.
            self.host.delete_lan_device(&path, "probe0").await
        }
        .await;
        // A namespace left behind fails the create (its undo tries again).
        let removed = self.host.delete_netns(name);
        made.and(removed).map_err(|e| {
            let kind = lan.kind.driver();
            if host_lan::unsupported(&e) {
                refused(format!(
                    "this kernel cannot make {kind} interfaces (CONFIG_{} is off)",
                    kind.to_uppercase()
                ))
            } else {
                refused(format!(
                    "cannot make a {kind} interface on {}: {e}",
                    lan.parent
                ))
            }
        })
    }

    /// One network per parent, as Docker: two would share one set of MAC
    /// (or IP) addresses on the link without knowing of each other.
    fn check_parent_free(&self, parent: &str) -> Result<()> {
        for network in self.state.networks.values() {
            if network.lan.as_ref().is_some_and(|l| l.parent == parent) {
                return Err(refused(format!(
                    "network {} is already using parent interface {parent}",
                    network.name
                )));
            }
            if network.bridge == parent {
                return Err(refused(format!(
                    "{parent} is the bridge of network {}: it cannot be a parent",
                    network.name
                )));
            }
        }
        Ok(())
    }

    /// `None` when the parent exists; a VLAN sub-interface to make when it
    /// is `LINK.ID` and LINK exists (as Docker); else the error.
    async fn missing_parent(&self, parent: &str) -> Result<Option<MadeParent>> {
        if self.host.link_index(parent).await?.is_some() {
            return Ok(None);
        }
        if let Some((link, id)) = lan::parse_vlan(parent) {
            if self.host.link_index(link).await?.is_some() {
                return Ok(Some(MadeParent::Vlan {
                    link: link.to_string(),
                    id,
                }));
            }
            return Err(refused(format!(
                "parent interface {parent} not found, nor {link} to make it on as VLAN {id}"
            )));
        }
        Err(refused(format!("parent interface {parent} not found")))
    }

    /// The anti-spoofing program on a macvlan network's parent, where every
    /// frame its containers send to the LAN passes (ipvlan: see
    /// docs/drivers.md).
    async fn attach_lan_parent(&mut self, lan: &LanNetwork) -> Result<()> {
        if lan.kind != LanKind::Macvlan {
            return Ok(());
        }
        let index = self
            .host
            .link_index(&lan.parent)
            .await?
            .ok_or_else(|| HostError::NoSuchLink(lan.parent.clone()))?;
        self.datapath
            .attach(ProgramId::LanParentEgress, &lan.parent, index)?;
        Ok(())
    }

    /// Takes the program off `network`'s parent and removes the parent
    /// ebpfnet made for it, if any.
    pub(super) async fn remove_lan_parent(&mut self, network: &Network) -> Result<()> {
        let Some(lan) = &network.lan else {
            return Ok(());
        };
        self.datapath
            .detach_program(ProgramId::LanParentEgress, &lan.parent)?;
        if lan.made_parent.is_some() {
            let index = self.host.link_index(&lan.parent).await?;
            self.host.delete_link(&lan.parent).await?;
            self.forget_counters(index, &lan.parent);
        }
        Ok(())
    }

    /// At start: makes again a parent ebpfnet made that is gone (a reboot),
    /// and attaches the program to it again.
    pub(super) async fn restore_lan_parent(&mut self, network: &Network) -> Result<()> {
        let Some(lan) = &network.lan else {
            return Ok(());
        };
        if let Some(made) = &lan.made_parent
            && let Err(e) = self.host.ensure_lan_parent(&lan.parent, made).await
        {
            // (A VLAN's link gone, say.) The daemon starts all the same.
            log::warn!("network {}: {e}", network.name);
        }
        match self.host.link_index(&lan.parent).await? {
            Some(_) => self.attach_lan_parent(lan).await,
            None => {
                log::warn!(
                    "parent interface {} of network {} is missing; its containers stay unplugged \
                     until it is back and the daemon restarts",
                    lan.parent,
                    network.name
                );
                Ok(())
            }
        }
    }

    /// The macvlan parents the datapath is attached to, for the start's
    /// pruning of attachments.
    pub(super) fn lan_parents(&self) -> Vec<String> {
        self.state
            .networks
            .values()
            .filter_map(|n| n.lan.as_ref())
            .filter(|l| l.kind == LanKind::Macvlan)
            .map(|l| l.parent.clone())
            .collect()
    }
}

/// The throwaway namespace a new network's parent is tried in.
fn probe_netns_name(id: &str) -> String {
    format!("ebpfnet-probe-{}", &id[..12.min(id.len())])
}
