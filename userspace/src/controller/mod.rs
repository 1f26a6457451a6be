//! The controller: desired state in, host devices and datapath out.
//!
//! Every change is made on the host first and persisted after; when a step
//! fails, what was made is taken down again so nothing half-made remains.

mod containers;
mod docker;
mod endpoints;
mod error;
mod events;
mod files;
mod interface;
pub mod ipv6;
mod lan;
mod lan_endpoints;
pub mod masquerade;
pub mod modes;
mod nat46;
mod networks;
mod observe;
pub mod overlay;
mod portalloc;
mod portprobe;
mod ports;
pub mod predefined;
mod published6;
mod reset;
mod routed6;
mod sync;
#[cfg(test)]
mod tests;
mod uplinks;
mod uplinks6;
pub mod views;

use std::{collections::BTreeMap, net::Ipv4Addr, path::PathBuf};

use crate::{
    api::observe::StatusView,
    datapath::Datapath,
    dns::NameService,
    host::{
        Host, HostError,
        netlink::{self, HostAddress},
    },
    ids::DEFAULT_NETWORK,
    relay46::Relay46,
    state::{Network, State, Store},
};
pub use docker::{HostEndpoint, MadeEndpoint};
use ebpfnet_common::ProgramId;
pub use error::{ControllerError, Result};
use ipnetwork::Ipv4Network;
pub use reset::teardown;

pub struct Config {
    pub uplinks: Vec<String>,
    pub default_subnet: Ipv4Network,
    /// The default network's IPv6 (daemon `--ipv6`, `--fixed-cidr-v6`).
    pub default_ipv6: ipv6::Ipv6Request,
    /// Bridge device of the default network (Docker's `--bridge`).
    pub default_bridge: String,
    /// Name servers of containers created without `--dns` (daemon `dns`).
    pub default_dns: Vec<Ipv4Addr>,
    pub pin_dir: PathBuf,
    pub masquerade: masquerade::MasqueradeOptions,
    pub guard_interfaces: GuardInterfaces,
}

/// Which host interfaces may not reach container addresses directly
/// (moby#49325). The uplinks are always guarded by their own program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GuardInterfaces {
    /// Every interface that is not a container's: what the host forwards
    /// to a container from anywhere else is dropped at the container's veth.
    All,
    /// Only the uplinks named with `--uplink`: the host may route to
    /// containers from other interfaces (for users who do so on purpose).
    Uplinks,
}

#[derive(Debug, Clone)]
pub struct Uplink {
    pub name: String,
    /// 0 while no interface has the name (deleted, not yet made again).
    pub ifindex: u32,
}

impl Controller {
    /// The configured uplink names, for the netlink watcher.
    pub fn uplink_names(&self) -> Vec<String> {
        self.uplinks.iter().map(|u| u.name.clone()).collect()
    }
}

pub struct Controller {
    state: State,
    store: Store,
    host: Box<dyn Host>,
    datapath: Box<dyn Datapath>,
    uplinks: Vec<Uplink>,
    config: Config,
    /// What `HOST_ADDRS` holds, sorted.
    host_addrs: Vec<HostAddress>,
    /// What `UPLINKS` holds: uplink ifindex -> masquerade address.
    uplink_ips: BTreeMap<u32, Ipv4Addr>,
    /// What `UPLINKS6` holds: uplink ifindex -> NAT66 address.
    uplink_ips6: BTreeMap<u32, std::net::Ipv6Addr>,
    /// What `HOST_ADDRS6` holds: address -> ifindex (`None`: not written yet).
    host_addrs6: Option<BTreeMap<std::net::Ipv6Addr, u32>>,
    /// The embedded name servers (and the host's resolv.conf they use).
    names: NameService,
    /// What `CONFIG` holds.
    datapath_config: Option<ebpfnet_common::maps::Config>,
    /// What `ROUTED6` holds (`routed6`); `None` until read at start.
    routed_ports6: Option<BTreeMap<ebpfnet_common::routed6::RoutedPortKey6, u32>>,
    /// The relay for this host's own IPv4 clients of IPv6-only
    /// containers (relay46, nat46.rs).
    relay: Box<dyn Relay46>,
    /// Bringing the saved state back at start: a relay that cannot listen
    /// is logged, not fatal (the datapath serves the other clients).
    restoring: bool,
}

impl Controller {
    /// Brings the host in line with the saved state: bridges, namespaces,
    /// veths, and the datapath on every uplink and container veth.
    pub async fn start(
        store: Store,
        host: Box<dyn Host>,
        datapath: Box<dyn Datapath>,
        relay: Box<dyn Relay46>,
        config: Config,
    ) -> Result<Self> {
        Self::start_with_names(store, host, datapath, relay, config, NameService::new()).await
    }

    /// [`Controller::start`] with the name service given (unit tests give
    /// one that binds no socket).
    pub(crate) async fn start_with_names(
        store: Store,
        host: Box<dyn Host>,
        datapath: Box<dyn Datapath>,
        relay: Box<dyn Relay46>,
        config: Config,
        names: NameService,
    ) -> Result<Self> {
        let state = store.load()?;
        let mut uplinks = Vec::new();
        for name in &config.uplinks {
            let ifindex = host
                .link_index(name)
                .await?
                .ok_or_else(|| ControllerError::Refused(format!("uplink {name} not found")))?;
            uplinks.push(Uplink {
                name: name.clone(),
                ifindex,
            });
        }
        let mut controller = Self {
            state,
            store,
            host,
            datapath,
            uplinks,
            config,
            host_addrs: Vec::new(),
            uplink_ips: BTreeMap::new(),
            uplink_ips6: BTreeMap::new(),
            host_addrs6: None,
            names,
            datapath_config: None,
            routed_ports6: None,
            relay,
            restoring: true,
        };
        controller.reconcile().await?;
        controller.restoring = false;
        controller.sync_names();
        controller.sync_routed6();
        Ok(controller)
    }

    async fn reconcile(&mut self) -> Result<()> {
        if !self.state.networks.contains_key(DEFAULT_NETWORK) {
            let subnet = self.config.default_subnet;
            let ipv6 = self.config.default_ipv6;
            self.create_network_ipv6(DEFAULT_NETWORK, Some(subnet), None, false, &ipv6)
                .await
                .map_err(|e| {
                    ControllerError::Refused(format!(
                        "cannot create the default network on {subnet} ({e}); choose another with --default-subnet"
                    ))
                })?;
        }
        self.ensure_predefined()?;
        self.default_network_ipv6().await?;
        let networks: Vec<_> = self.state.networks.values().cloned().collect();
        for network in &networks {
            if network.lan.is_some() {
                self.restore_lan_parent(network).await?;
                continue;
            }
            self.ensure_network_bridge(network).await?;
            if let Some(six) = network.ipv6 {
                self.host
                    .ensure_bridge6(&network.bridge, six.gateway, six.subnet.prefix())
                    .await?;
            }
        }
        self.sync_topology().await?;
        let containers: Vec<_> = self.state.containers.values().cloned().collect();
        for container in &containers {
            self.restore_container(container).await?;
        }
        let mut attached = Vec::new();
        for uplink in &self.uplinks {
            self.datapath
                .attach(ProgramId::UplinkIngress, &uplink.name, uplink.ifindex)?;
            attached.push(uplink.name.clone());
        }
        attached.extend(
            containers
                .iter()
                .flat_map(|c| c.endpoints.iter().map(|e| e.host_veth.clone())),
        );
        attached.extend(self.lan_parents());
        attached.extend(self.restore_overlay().await?);
        self.datapath.prune(&attached)?;
        self.prune_lan_hosts()?;
        self.prune_stale().await
    }

    pub fn status(&self) -> Result<StatusView> {
        let datapath = self.datapath.status()?;
        Ok(StatusView {
            version: env!("CARGO_PKG_VERSION").to_string(),
            uplinks: self.uplinks.iter().map(views::uplink).collect(),
            pin_dir: self.config.pin_dir.display().to_string(),
            state_dir: self.store.dir().display().to_string(),
            networks: self.state.networks.len(),
            containers: self.state.containers.len(),
            tc_attach: datapath.tc_attach.to_string(),
            programs: datapath.programs.iter().map(views::attachment).collect(),
            maps: datapath.maps.iter().map(views::map_fill).collect(),
            counters: datapath
                .counters
                .iter()
                .map(views::program_counters)
                .collect(),
            interfaces: datapath
                .interfaces
                .iter()
                .map(views::interface_counters)
                .collect(),
            // Filled in by the daemon, which owns the cluster membership.
            cluster: None,
        })
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    /// Saves `next` as the new state; on failure the old one stays in force.
    fn commit(&mut self, next: State) -> Result<()> {
        self.store.save(&next)?;
        events::log_changes(&self.state, &next);
        self.state = next;
        self.sync_names();
        self.sync_routed6();
        Ok(())
    }

    /// Host routes (ours excluded) that `subnet` would collide with.
    /// The host's routes a new subnet must not overlap: all but the default
    /// route and the routes of ebpfnet's own bridges. One netlink dump, so a
    /// search over many candidate subnets asks the kernel once.
    async fn foreign_routes(&self) -> Result<Vec<netlink::Route>> {
        let mut ours = Vec::new();
        for network in self.state.networks.values() {
            if let Some(index) = self.host.link_index(&network.bridge).await? {
                ours.push(index);
            }
        }
        let mut routes = self.host.routes().await?;
        routes.retain(|r| {
            r.destination.prefix() != 0 && !r.output.is_some_and(|o| ours.contains(&o))
        });
        Ok(routes)
    }

    /// `route` as `10.0.0.0/8 on eth1`, for messages.
    async fn describe_route(&self, route: &netlink::Route) -> Result<String> {
        let dev = match route.output {
            Some(index) => self
                .host
                .link_name(index)
                .await?
                .unwrap_or_else(|| format!("#{index}")),
            None => "?".into(),
        };
        Ok(format!("{} on {dev}", route.destination))
    }
}

impl Controller {
    /// `network`'s bridge, with its MAC and IPv4 gateway (if it has IPv4).
    pub(super) async fn ensure_network_bridge(&self, network: &Network) -> Result<u32> {
        let v4 = network.ipv4().map(|v4| (v4.gateway, v4.subnet.prefix()));
        Ok(self
            .host
            .ensure_bridge(&network.bridge, network.bridge_mac(), v4)
            .await?)
    }
}

pub fn overlaps(a: Ipv4Network, b: Ipv4Network) -> bool {
    a.contains(b.network()) || b.contains(a.network())
}

/// The interface of the default route: the uplink when none is given.
pub async fn default_uplink(host: &dyn Host) -> Result<String> {
    let routes = host.routes().await?;
    let index = routes
        .iter()
        .find(|r| r.destination.prefix() == 0 && r.output.is_some())
        .and_then(|r| r.output)
        .ok_or_else(|| {
            ControllerError::Refused(
                "the host has no default route; name the uplink with --uplink IFACE".into(),
            )
        })?;
    host.link_name(index)
        .await?
        .ok_or(ControllerError::Host(HostError::NoSuchLink(format!(
            "#{index}"
        ))))
}

/// Next free `ethN` in a container.
fn next_ifname(used: &[String]) -> String {
    (0..)
        .map(|n| format!("eth{n}"))
        .find(|name| !used.contains(name))
        .expect("an unbounded range has a free name")
}

fn now_rfc3339() -> String {
    jiff::Timestamp::now().to_string()
}
