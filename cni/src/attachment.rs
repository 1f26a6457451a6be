//! One CNI attachment as an ebpfnet container: its name, the labels that
//! mark it as the plugin's, and the create options from `runtimeConfig`.

use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    path::Path,
};

use ebpfnet::{
    api::{ContainerOptions, views::ContainerView},
    ids, netconf,
    portspec::{PortRequest, Protocol},
};

use crate::{
    config::{Attachment, NetConf, PortMappingEntry},
    error::CniError,
    result::Dns,
};

/// The configuration (`name`) that made the container.
pub const LABEL_CONFIG: &str = "dev.ebpfnet.cni.config";
/// The runtime's container id, unshortened.
pub const LABEL_CONTAINER_ID: &str = "dev.ebpfnet.cni.container-id";
pub const LABEL_IFNAME: &str = "dev.ebpfnet.cni.ifname";

/// ebpfnet container names are `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, at most 64
/// characters: other characters become `-`, a leading one that may not
/// start a name gets a `c` before it, and the rest is cut at 64.
pub fn container_name(container_id: &str) -> String {
    let mut name: String = container_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        name.insert(0, 'c');
    }
    name.truncate(64);
    name
}

pub fn labels(conf: &NetConf, attachment: &Attachment) -> BTreeMap<String, String> {
    [
        (LABEL_CONFIG, conf.name.as_str()),
        (LABEL_CONTAINER_ID, attachment.container_id.as_str()),
        (LABEL_IFNAME, attachment.ifname.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The attachment a container of configuration `config` stands for;
/// `None` for a container the plugin did not make for it.
pub fn attachment_of(view: &ContainerView, config: &str) -> Option<Attachment> {
    let labels = &view.config.labels;
    if labels.get(LABEL_CONFIG).map(String::as_str) != Some(config) {
        return None;
    }
    Some(Attachment {
        container_id: labels.get(LABEL_CONTAINER_ID)?.clone(),
        ifname: labels.get(LABEL_IFNAME)?.clone(),
    })
}

/// The create options of an attachment: the namespace to adopt, the
/// interface name, the names it answers to, and what the declared
/// capabilities let the runtime ask.
pub fn create_options(
    conf: &NetConf,
    attachment: &Attachment,
    netns: &Path,
    pod_name: Option<&str>,
) -> Result<ContainerOptions, CniError> {
    let runtime = &conf.runtime_config;
    if conf.has_capability("bandwidth") && runtime.bandwidth.is_some() {
        return Err(CniError::invalid_config(
            "runtimeConfig.bandwidth: ebpfnet-cni cannot limit bandwidth (the datapath has no \
             EDT pacing); remove the bandwidth capability from the configuration",
        ));
    }
    let ports = if conf.has_capability("portMappings") {
        runtime
            .port_mappings
            .iter()
            .map(port_request)
            .collect::<Result<_, _>>()?
    } else {
        Vec::new()
    };
    let (ip, ip6) = if conf.has_capability("ips") {
        requested_ips(&runtime.ips)?
    } else {
        (None, None)
    };
    let mac = match (&runtime.mac, conf.has_capability("mac")) {
        (Some(mac), true) => Some(ids::parse_mac(mac).ok_or_else(|| {
            CniError::invalid_config(format!("runtimeConfig.mac {mac:?} is not a MAC address"))
        })?),
        _ => None,
    };
    Ok(ContainerOptions {
        network: Some(conf.network().to_string()),
        ip,
        ip6,
        ports,
        // `--dns` servers are IPv4 ones.
        dns: runtime_dns(conf)
            .nameservers
            .into_iter()
            .filter_map(|ip| match ip {
                IpAddr::V4(ip) => Some(ip),
                IpAddr::V6(_) => None,
            })
            .collect(),
        netns: Some(netns.to_path_buf()),
        ifname: Some(attachment.ifname.clone()),
        mac,
        aliases: aliases(conf, pod_name)?,
        labels: labels(conf, attachment),
        ..ContainerOptions::default()
    })
}

/// The names the container answers to on its network, besides its
/// container id: the runtime's name for it (`K8S_POD_NAME` in `CNI_ARGS`:
/// Podman's container name, a kubelet's pod name) when it is a valid host
/// name, and the `aliases` capability's names for this network. The
/// default network resolves no names, so there are none on it.
fn aliases(conf: &NetConf, pod_name: Option<&str>) -> Result<Vec<String>, CniError> {
    if conf.network() == ids::DEFAULT_NETWORK {
        return Ok(Vec::new());
    }
    let mut found: Vec<String> = pod_name
        .filter(|name| netconf::validate_hostname("K8S_POD_NAME", name).is_ok())
        .map(str::to_string)
        .into_iter()
        .collect();
    if conf.has_capability("aliases") {
        let given = conf.runtime_config.aliases.get(&conf.name);
        for alias in given.into_iter().flatten() {
            netconf::validate_hostname("runtimeConfig.aliases", alias)
                .map_err(|e| CniError::invalid_config(e.to_string()))?;
            if !found.contains(alias) {
                found.push(alias.clone());
            }
        }
    }
    Ok(found)
}

/// The name servers and search domains of the `dns` capability.
pub fn runtime_dns(conf: &NetConf) -> Dns {
    match (&conf.runtime_config.dns, conf.has_capability("dns")) {
        (Some(dns), true) => Dns {
            nameservers: dns.servers.iter().filter_map(|s| s.parse().ok()).collect(),
            search: dns.searches.clone(),
        },
        _ => Dns::default(),
    }
}

fn port_request(entry: &PortMappingEntry) -> Result<PortRequest, CniError> {
    let protocol = match entry.protocol.as_deref().map(str::to_ascii_lowercase) {
        None => Protocol::Tcp,
        Some(p) if p.is_empty() || p == "tcp" => Protocol::Tcp,
        Some(p) if p == "udp" => Protocol::Udp,
        Some(p) => {
            return Err(CniError::invalid_config(format!(
                "portMappings: protocol {p:?} is not supported (tcp or udp)"
            )));
        }
    };
    // No hostIP: every address of each family the container has, as the
    // portmap plugin does; an IPv6 one as written (`::`, `::1`).
    let host_ip = match entry.host_ip.as_deref() {
        None | Some("") => None,
        Some(ip) => Some(ip.parse::<std::net::IpAddr>().map_err(|_| {
            CniError::invalid_config(format!("portMappings: hostIP {ip:?} is not an IP address"))
        })?),
    };
    if entry.host_port == 0 || entry.container_port == 0 {
        return Err(CniError::invalid_config(
            "portMappings: hostPort and containerPort must be 1-65535",
        ));
    }
    Ok(PortRequest {
        host_ip,
        host_port: Some(entry.host_port),
        host_port_end: None,
        container_port: entry.container_port,
        protocol,
    })
}

/// The addresses of the `ips` capability (`10.89.0.5/24` or bare): at
/// most one IPv4 and one IPv6 (for a network with IPv6).
fn requested_ips(ips: &[String]) -> Result<(Option<Ipv4Addr>, Option<Ipv6Addr>), CniError> {
    let (mut v4, mut v6) = (None, None);
    for text in ips {
        let address = text.split_once('/').map_or(text.as_str(), |(ip, _)| ip);
        let twice = match address.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(ip)) => v4.replace(ip).is_some(),
            Ok(std::net::IpAddr::V6(ip)) => v6.replace(ip).is_some(),
            Err(_) => {
                return Err(CniError::invalid_config(format!(
                    "runtimeConfig.ips: {text:?} is not an IP address"
                )));
            }
        };
        if twice {
            return Err(CniError::invalid_config(
                "runtimeConfig.ips: one IPv4 and one IPv6 address per attachment",
            ));
        }
    }
    Ok((v4, v6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_ids_become_valid_container_names() {
        let id = "a".repeat(70);
        assert_eq!(container_name(&id).len(), 64);
        assert_eq!(container_name("0f3c-pod_1.x"), "0f3c-pod_1.x");
        assert_eq!(container_name("_x:y"), "c_x-y");
        for id in ["0f3c", "_x:y", "k8s/pod", &id] {
            assert!(
                ids::validate("container", &container_name(id)).is_ok(),
                "{id}"
            );
        }
    }

    #[test]
    fn port_mappings_become_published_ports() {
        let entry = |protocol: Option<&str>, host_ip: Option<&str>| PortMappingEntry {
            host_port: 8080,
            container_port: 80,
            protocol: protocol.map(str::to_string),
            host_ip: host_ip.map(str::to_string),
        };
        let tcp = port_request(&entry(None, Some(""))).expect("tcp");
        assert_eq!(
            (tcp.host_ip, tcp.host_port, tcp.container_port, tcp.protocol),
            (None, Some(8080), 80, Protocol::Tcp)
        );
        let udp = port_request(&entry(Some("UDP"), Some("127.0.0.1"))).expect("udp");
        assert_eq!(
            (udp.host_ip, udp.protocol),
            (Some(Ipv4Addr::LOCALHOST.into()), Protocol::Udp)
        );
        let v6 = port_request(&entry(None, Some("::1"))).expect("IPv6");
        assert_eq!(v6.host_ip, Some(std::net::Ipv6Addr::LOCALHOST.into()));
        for (protocol, host_ip) in [(Some("sctp"), None), (None, Some("nowhere"))] {
            let err = port_request(&entry(protocol, host_ip)).expect_err("refused");
            assert_eq!(err.code, crate::error::code::INVALID_CONFIG);
        }
    }

    #[test]
    fn requested_ips_take_one_ipv4_address() {
        assert_eq!(
            requested_ips(&["10.89.0.5/24".into()]).expect("ip").0,
            Some(Ipv4Addr::new(10, 89, 0, 5))
        );
        assert_eq!(requested_ips(&[]).expect("none"), (None, None));
        assert_eq!(
            requested_ips(&["fd00::5/64".into(), "10.0.0.1".into()]).expect("one each"),
            (Some(Ipv4Addr::new(10, 0, 0, 1)), "fd00::5".parse().ok())
        );
        assert!(requested_ips(&["fd00::5".into(), "fd00::6".into()]).is_err());
        assert!(requested_ips(&["10.0.0.1".into(), "10.0.0.2".into()]).is_err());
    }

    #[test]
    fn the_runtimes_names_become_aliases_on_user_networks() {
        let conf = |network: &str| {
            NetConf::parse(&format!(
                r#"{{"cniVersion": "1.1.0", "name": "podnet", "type": "ebpfnet",
                    "network": "{network}", "capabilities": {{"aliases": true}},
                    "runtimeConfig": {{"aliases": {{"podnet": ["db", "web"], "other": ["x"]}}}}}}"#
            ))
            .expect("parses")
        };
        assert_eq!(
            aliases(&conf("podnet"), Some("web")).expect("aliases"),
            ["web", "db"]
        );
        assert_eq!(
            aliases(&conf("podnet"), Some("not a name")).expect("aliases"),
            ["db", "web"],
            "an invalid pod name is no alias"
        );
        assert!(
            aliases(&conf("bridge"), Some("web"))
                .expect("none")
                .is_empty()
        );
        let mut bad = conf("podnet");
        bad.runtime_config
            .aliases
            .insert("podnet".into(), vec!["-bad".into()]);
        assert_eq!(
            aliases(&bad, None).expect_err("refused").code,
            crate::error::code::INVALID_CONFIG
        );
    }

    #[test]
    fn a_bandwidth_limit_asked_for_is_refused() {
        let conf = |capability: bool| {
            NetConf::parse(&format!(
                r#"{{"cniVersion": "1.1.0", "name": "podnet", "type": "ebpfnet",
                    "capabilities": {{"bandwidth": {capability}}},
                    "runtimeConfig": {{"bandwidth": {{"ingressRate": 1000000, "ingressBurst": 1000}}}}}}"#
            ))
            .expect("parses")
        };
        let attachment = Attachment {
            container_id: "c1".into(),
            ifname: "eth0".into(),
        };
        let netns = Path::new("/run/netns/x");
        let err = create_options(&conf(true), &attachment, netns, None).expect_err("refused");
        assert_eq!(err.code, crate::error::code::INVALID_CONFIG);
        assert!(err.details.contains("bandwidth"), "{err}");
        // Not declared: the runtime would not send it; ignored as the spec says.
        assert!(create_options(&conf(false), &attachment, netns, None).is_ok());
    }
}
