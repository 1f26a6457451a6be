//! Docker-shaped JSON views of the state, for `inspect` and `ls`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::modes;
use crate::{
    host::etc,
    names::{format_mac, short_id},
    portspec::PortMapping,
    state::{Container, NetMode, Network, State},
};

pub fn network_inspect(state: &State, network: &Network) -> Value {
    let containers: serde_json::Map<String, Value> = state
        .containers_on(&network.name)
        .filter_map(|c| c.endpoint(&network.name).map(|e| (c, e)))
        .map(|(c, e)| {
            (
                c.id.clone(),
                json!({
                    "Name": c.name,
                    "EndpointID": e.id,
                    "MacAddress": format_mac(&e.mac),
                    "IPv4Address": format!("{}/{}", e.ip, network.subnet.prefix()),
                    "IPv6Address": "",
                }),
            )
        })
        .collect();
    json!({
        "Name": network.name,
        "Id": network.id,
        "Created": network.created,
        "Scope": "local",
        "Driver": "bridge",
        "EnableIPv6": false,
        "Internal": network.internal,
        "IPAM": {
            "Driver": "default",
            "Options": {},
            "Config": [{"Subnet": network.subnet.to_string(), "Gateway": network.gateway.to_string()}],
        },
        "Containers": containers,
        "Options": {"com.docker.network.bridge.name": network.bridge},
        "Labels": {},
    })
}

pub fn network_summary(network: &Network) -> Value {
    json!({
        "Id": network.id,
        "Name": network.name,
        "Driver": "bridge",
        "Scope": "local",
        "Internal": network.internal,
        "Subnet": network.subnet.to_string(),
        "Gateway": network.gateway.to_string(),
        "Bridge": network.bridge,
    })
}

/// `NetworkSettings.Ports`: `{"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}`.
fn ports_view(ports: &[PortMapping]) -> Value {
    let mut by_port: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for p in ports {
        by_port
            .entry(format!("{}/{}", p.container_port, p.protocol))
            .or_default()
            .push(json!({"HostIp": p.host_ip.to_string(), "HostPort": p.host_port.to_string()}));
    }
    json!(by_port)
}

pub fn container_inspect(state: &State, container: &Container) -> Value {
    let mut networks: serde_json::Map<String, Value> = container
        .endpoints
        .iter()
        .map(|e| {
            let network = state.networks.get(&e.network);
            (
                e.network.clone(),
                json!({
                    "NetworkID": network.map(|n| n.id.as_str()).unwrap_or_default(),
                    "EndpointID": e.id,
                    "Gateway": network.map(|n| n.gateway.to_string()).unwrap_or_default(),
                    "IPAddress": e.ip.to_string(),
                    "IPPrefixLen": network.map(|n| n.subnet.prefix()).unwrap_or_default(),
                    "MacAddress": format_mac(&e.mac),
                    "InterfaceName": e.ifname,
                    "HostInterface": e.host_veth,
                    "Aliases": e.aliases,
                }),
            )
        })
        .collect();
    let mode = modes::mode_name(container);
    if matches!(container.mode, NetMode::None | NetMode::Host) {
        // As Docker: the mode shows as the container's one network.
        networks.insert(
            mode.clone(),
            json!({"NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "",
                   "IPPrefixLen": 0, "MacAddress": "", "Aliases": []}),
        );
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
        NetMode::Adopted { path, pid, .. } => json!({"Path": path, "Pid": pid}),
        _ => Value::Null,
    };
    json!({
        "Id": container.id,
        "Name": container.name,
        "Created": container.created,
        "Config": {"Hostname": container.hostname()},
        "HostConfig": {
            "NetworkMode": mode,
            "Dns": container.dns,
            "ExtraHosts": container
                .extra_hosts
                .iter()
                .map(|h| format!("{}:{}", h.name, h.ip))
                .collect::<Vec<_>>(),
            "Links": container
                .links
                .iter()
                .map(|l| match &l.alias {
                    Some(alias) => format!("{}:{alias}", l.container),
                    None => l.container.clone(),
                })
                .collect::<Vec<_>>(),
        },
        "HostsPath": file("hosts"),
        "ResolvConfPath": file("resolv.conf"),
        "NetworkSettings": {
            "SandboxKey": sandbox,
            "Adopted": adopted,
            "Ports": ports_view(&container.ports),
            "Networks": networks,
        },
    })
}

pub fn container_summary(container: &Container) -> Value {
    let mut networks: serde_json::Map<String, Value> = container
        .endpoints
        .iter()
        .map(|e| (e.network.clone(), json!(e.ip.to_string())))
        .collect();
    if !matches!(container.mode, NetMode::Owned | NetMode::Adopted { .. }) {
        networks.insert(modes::mode_name(container), json!(""));
    }
    let ports: Vec<String> = container
        .ports
        .iter()
        .map(|p| {
            format!(
                "{}:{}->{}/{}",
                p.host_ip, p.host_port, p.container_port, p.protocol
            )
        })
        .collect();
    json!({
        "Id": container.id,
        "ShortId": short_id(&container.id),
        "Name": container.name,
        "Networks": networks,
        "Ports": ports,
    })
}
