//! The controller's state as the API's views: Docker-shaped answers for
//! `inspect` and `ls`, and the daemon's `status` and `stats`.

use std::collections::BTreeMap;

use super::modes;
use crate::{
    api::{
        observe,
        views::{
            AdoptedNamespace, ContainerConfig, ContainerSummary, ContainerView, DRIVER_BRIDGE,
            EndpointSettings, HostConfig, Ipam, IpamConfig, NetworkMember, NetworkSettings,
            NetworkSummary, NetworkView, PortBinding, SCOPE_LOCAL,
        },
    },
    datapath,
    host::etc,
    ids::{format_mac, short_id},
    lan::LanKind,
    portspec::PortMapping,
    state::{Container, Endpoint, NetMode, Network, NetworkOwner, State},
};

/// Label of a network another program owns: who (`docker`).
pub const OWNER_LABEL: &str = "ebpfnet.owner";
/// Label of a network Docker owns: Docker's network id.
pub const DOCKER_NETWORK_LABEL: &str = "ebpfnet.docker.network-id";

pub fn network_inspect(state: &State, network: &Network) -> NetworkView {
    let containers = state
        .containers_on(&network.name)
        .filter_map(|c| c.endpoint(&network.name).map(|e| (c, e)))
        .map(|(c, e)| {
            let member = NetworkMember {
                name: c.name.clone(),
                endpoint_id: e.id.clone(),
                mac_address: endpoint_mac(network, e),
                ipv4_address: match (e.ip, network.subnet) {
                    (Some(ip), Some(subnet)) => format!("{ip}/{}", subnet.prefix()),
                    _ => String::new(),
                },
                ipv6_address: match (e.ip6, network.ipv6) {
                    (Some(ip), Some(six)) => format!("{ip}/{}", six.subnet.prefix()),
                    _ => String::new(),
                },
            };
            (c.id.clone(), member)
        })
        .collect();
    NetworkView {
        name: network.name.clone(),
        id: network.id.clone(),
        created: network.created.clone(),
        scope: SCOPE_LOCAL.into(),
        driver: network_driver(network).into(),
        enable_ipv6: network.ipv6.is_some(),
        enable_ipv4: network.ipv4().is_some(),
        internal: network.internal,
        ipam: Ipam {
            driver: "default".into(),
            options: BTreeMap::new(),
            config: network
                .ipv4()
                .map(|v4| IpamConfig {
                    subnet: v4.subnet.into(),
                    gateway: v4.gateway.into(),
                })
                .into_iter()
                .chain(network.ipv6.map(|six| IpamConfig {
                    subnet: six.subnet.into(),
                    gateway: six.gateway.into(),
                }))
                .collect(),
        },
        containers,
        options: match &network.lan {
            Some(lan) => lan.options(),
            None => super::routed6::options(network),
        },
        labels: owner_labels(network),
    }
}

/// Labels naming the program that owns `network`, if any.
fn owner_labels(network: &Network) -> BTreeMap<String, String> {
    match &network.owner {
        None => BTreeMap::new(),
        Some(NetworkOwner::Docker { network_id }) => BTreeMap::from([
            (OWNER_LABEL.to_string(), "docker".to_string()),
            (DOCKER_NETWORK_LABEL.to_string(), network_id.clone()),
        ]),
    }
}

/// An endpoint's MAC as inspect shows it: none on ipvlan networks, whose
/// interfaces have their parent's.
fn endpoint_mac(network: &Network, endpoint: &Endpoint) -> String {
    match &network.lan {
        Some(lan) if lan.kind == LanKind::Ipvlan => String::new(),
        _ => format_mac(&endpoint.mac),
    }
}

/// Docker's driver name of `network`.
pub fn network_driver(network: &Network) -> &'static str {
    network
        .lan
        .as_ref()
        .map_or(DRIVER_BRIDGE, |lan| lan.kind.driver())
}

pub fn network_summary(network: &Network) -> NetworkSummary {
    NetworkSummary {
        enable_ipv6: network.ipv6.is_some(),
        id: network.id.clone(),
        name: network.name.clone(),
        driver: network_driver(network).into(),
        scope: SCOPE_LOCAL.into(),
        internal: network.internal,
        created: network.created.clone(),
        subnet: network.subnet,
        gateway: network.gateway,
        bridge: Some(network.bridge.clone()),
        labels: owner_labels(network),
    }
}

/// `NetworkSettings.Ports`: `{"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}`.
fn ports_view(ports: &[PortMapping]) -> BTreeMap<String, Vec<PortBinding>> {
    let mut by_port: BTreeMap<String, Vec<PortBinding>> = BTreeMap::new();
    for p in ports {
        by_port
            .entry(format!("{}/{}", p.container_port, p.protocol))
            .or_default()
            .push(PortBinding {
                host_ip: p.host_ip,
                host_port: p.host_port.to_string(),
            });
    }
    by_port
}

/// The entry Docker shows for modes `none` and `host`: no address, no
/// interface.
fn mode_endpoint() -> EndpointSettings {
    EndpointSettings {
        network_id: String::new(),
        endpoint_id: String::new(),
        gateway: String::new(),
        ip_address: String::new(),
        ip_prefix_len: 0,
        ipv6_gateway: String::new(),
        global_ipv6_address: String::new(),
        global_ipv6_prefix_len: 0,
        mac_address: String::new(),
        interface_name: None,
        host_interface: None,
        aliases: Vec::new(),
    }
}

pub fn container_inspect(state: &State, container: &Container) -> ContainerView {
    let mut networks: BTreeMap<String, EndpointSettings> = container
        .endpoints
        .iter()
        .map(|e| {
            let network = state.networks.get(&e.network);
            let six = network.and_then(|n| n.ipv6).filter(|_| e.ip6.is_some());
            let settings = EndpointSettings {
                network_id: network.map(|n| n.id.clone()).unwrap_or_default(),
                endpoint_id: e.id.clone(),
                gateway: network
                    .and_then(|n| n.gateway)
                    .map(|g| g.to_string())
                    .unwrap_or_default(),
                ip_address: e.ip.map(|ip| ip.to_string()).unwrap_or_default(),
                ip_prefix_len: network
                    .and_then(|n| n.subnet)
                    .filter(|_| e.ip.is_some())
                    .map_or(0, |s| s.prefix()),
                ipv6_gateway: six.map(|s| s.gateway.to_string()).unwrap_or_default(),
                global_ipv6_address: e.ip6.map(|ip| ip.to_string()).unwrap_or_default(),
                global_ipv6_prefix_len: six.map(|s| s.subnet.prefix()).unwrap_or_default(),
                mac_address: network.map(|n| endpoint_mac(n, e)).unwrap_or_default(),
                interface_name: Some(e.ifname.clone()),
                // None on macvlan and ipvlan networks: no host side.
                host_interface: Some(e.host_veth.clone()).filter(|v| !v.is_empty()),
                aliases: e.aliases.clone(),
            };
            (e.network.clone(), settings)
        })
        .collect();
    let mode = modes::mode_name(container);
    if matches!(container.mode, NetMode::None | NetMode::Host) {
        // As Docker: the mode shows as the container's one network.
        networks.insert(mode.clone(), mode_endpoint());
    }
    // Host mode: no namespace of its own ("").
    let sandbox = modes::sandbox_path(state, container).unwrap_or_default();
    let files = modes::files_owner(state, container).map(etc::etc_dir);
    let file = |name: &str| {
        files
            .as_ref()
            .map(|dir| dir.join(name).display().to_string())
            .unwrap_or_default()
    };
    let adopted = match &container.mode {
        NetMode::Adopted { path, pid, .. } => Some(AdoptedNamespace {
            path: path.display().to_string(),
            pid: *pid,
        }),
        _ => None,
    };
    ContainerView {
        id: container.id.clone(),
        name: container.name.clone(),
        created: container.created.clone(),
        config: ContainerConfig {
            hostname: container.hostname().to_string(),
            labels: container.labels.clone(),
        },
        host_config: HostConfig {
            network_mode: mode,
            dns: container.dns.clone(),
            extra_hosts: container
                .extra_hosts
                .iter()
                .map(|h| format!("{}:{}", h.name, h.ip))
                .collect(),
            links: container
                .links
                .iter()
                .map(|l| match &l.alias {
                    Some(alias) => format!("{}:{alias}", l.container),
                    None => l.container.clone(),
                })
                .collect(),
        },
        hosts_path: file("hosts"),
        resolv_conf_path: file("resolv.conf"),
        network_settings: NetworkSettings {
            sandbox_key: sandbox.display().to_string(),
            adopted,
            ports: ports_view(&container.ports),
            networks,
        },
    }
}

pub fn container_summary(container: &Container) -> ContainerSummary {
    let mut networks: BTreeMap<String, String> = container
        .endpoints
        .iter()
        .map(|e| {
            // An IPv6-only network's address is its IPv6 one.
            let ip = e.ip.map(|ip| ip.to_string());
            let ip = ip.or_else(|| e.ip6.map(|ip| ip.to_string()));
            (e.network.clone(), ip.unwrap_or_default())
        })
        .collect();
    if !matches!(container.mode, NetMode::Owned | NetMode::Adopted { .. }) {
        networks.insert(modes::mode_name(container), String::new());
    }
    ContainerSummary {
        id: container.id.clone(),
        short_id: short_id(&container.id).to_string(),
        name: container.name.clone(),
        networks,
        ports: container.ports.clone(),
        created: container.created.clone(),
        labels: container.labels.clone(),
    }
}

// The datapath's reports as the API shows them: the datapath's own types
// stay internal, so they can change without changing the protocol.

pub fn uplink(uplink: &super::Uplink) -> observe::Uplink {
    observe::Uplink {
        name: uplink.name.clone(),
        ifindex: uplink.ifindex,
    }
}

pub fn attachment(attachment: &datapath::Attachment) -> observe::Attachment {
    observe::Attachment {
        program: attachment.program.to_string(),
        interface: attachment.interface.clone(),
        ifindex: attachment.ifindex,
    }
}

pub fn map_fill(fill: &datapath::MapFill) -> observe::MapFill {
    observe::MapFill {
        name: fill.name.to_string(),
        entries: fill.entries,
        max_entries: fill.max_entries,
    }
}

pub fn interface_counters(counters: &datapath::InterfaceCounters) -> observe::InterfaceCounters {
    observe::InterfaceCounters {
        ifindex: counters.ifindex,
        packets: counters.packets,
        bytes: counters.bytes,
    }
}

pub fn program_counters(counters: &datapath::ProgramCounters) -> observe::ProgramCounters {
    observe::ProgramCounters {
        program: counters.program.to_string(),
        packets: counters.packets,
        bytes: counters.bytes,
    }
}

pub fn drop_count(drop: &datapath::DropCount) -> observe::DropCount {
    observe::DropCount {
        reason: drop.reason.to_string(),
        count: drop.count,
    }
}

#[cfg(test)]
#[path = "views_tests.rs"]
mod tests;
