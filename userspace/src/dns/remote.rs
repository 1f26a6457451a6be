//! Names of containers on other hosts: those of overlay networks, from
//! the cluster store. They answer on the network's name server as local
//! containers' do; a local container's name wins over a remote one's.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::View;

/// A container of an overlay network on another host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteName {
    pub network: String,
    /// Its IPv4 address (none on an IPv6-only network).
    pub ip: Option<Ipv4Addr>,
    /// Its IPv6 address on a network with IPv6 (AAAA).
    pub ip6: Option<Ipv6Addr>,
    /// Its container name first, then its aliases.
    pub names: Vec<String>,
}

impl View {
    /// Adds `remote` to the networks of this view they belong to.
    pub fn add_remote(&mut self, remote: &[RemoteName]) {
        for entry in remote {
            let Some(network) = self.networks.iter_mut().find(|n| n.name == entry.network) else {
                continue;
            };
            // Each address within its network's subnet of that family.
            let ip = entry
                .ip
                .filter(|ip| network.subnet.is_some_and(|s| s.contains(*ip)));
            let ip6 = entry
                .ip6
                .filter(|ip6| network.subnet6.is_some_and(|s| s.contains(*ip6)));
            if ip.is_none() && ip6.is_none() {
                continue;
            }
            // A local container's name wins, for both families: a name
            // is the remote one's only where no local container has it.
            for name in &entry.names {
                let name = name.to_ascii_lowercase();
                if network.has(&name) {
                    continue;
                }
                if let Some(ip) = ip {
                    network.names.insert(name.clone(), ip);
                }
                if let Some(ip6) = ip6 {
                    network.names6.insert(name, ip6);
                }
            }
            if let Some(first) = entry.names.first() {
                if let Some(ip) = ip {
                    network.reverse.entry(ip.into()).or_insert(first.clone());
                }
                if let Some(ip6) = ip6 {
                    network.reverse.entry(ip6.into()).or_insert(first.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::dns::view::NetworkNames;

    #[test]
    fn remote_names_answer_on_their_network_and_never_shadow_local_ones() {
        let local: Ipv4Addr = "10.129.0.2".parse().unwrap();
        let mut view = View {
            networks: vec![NetworkNames {
                name: "ov".into(),
                subnet: Some("10.129.0.0/24".parse().unwrap()),
                subnet6: None,
                internal: false,
                names: HashMap::from([("web".to_string(), local)]),
                names6: HashMap::new(),
                reverse: HashMap::from([(local.into(), "web".to_string())]),
            }],
            ..View::default()
        };
        let remote = |ip: &str, names: &[&str], network: &str| RemoteName {
            network: network.into(),
            ip: Some(ip.parse().unwrap()),
            ip6: None,
            names: names.iter().map(|n| n.to_string()).collect(),
        };
        view.add_remote(&[
            remote("10.129.0.3", &["DB", "store"], "ov"),
            remote("10.129.0.4", &["web"], "ov"),
            remote("10.130.0.5", &["cache"], "ov"),
            remote("10.129.0.6", &["other"], "elsewhere"),
        ]);
        let names = &view.networks[0].names;
        let db: Ipv4Addr = "10.129.0.3".parse().unwrap();
        assert_eq!(names.get("db"), Some(&db));
        assert_eq!(names.get("store"), Some(&db));
        assert_eq!(names.get("web"), Some(&local), "a local name wins");
        assert!(!names.contains_key("cache"), "outside the subnet");
        assert!(!names.contains_key("other"), "another network");
        assert_eq!(
            view.networks[0].reverse.get(&db.into()).map(String::as_str),
            Some("DB")
        );
    }

    #[test]
    fn remote_ipv6_addresses_answer_aaaa_and_ptr_within_the_ipv6_subnet() {
        let local6: Ipv6Addr = "fd00:eb:1::2".parse().unwrap();
        let mut view = View {
            networks: vec![NetworkNames {
                name: "ov".into(),
                subnet: Some("10.129.0.0/24".parse().unwrap()),
                subnet6: Some("fd00:eb:1::/64".parse().unwrap()),
                internal: false,
                names: HashMap::from([("web".to_string(), "10.129.0.2".parse().unwrap())]),
                names6: HashMap::from([("web".to_string(), local6)]),
                reverse: HashMap::new(),
            }],
            ..View::default()
        };
        let remote = |ip: &str, ip6: &str, name: &str| RemoteName {
            network: "ov".into(),
            ip: Some(ip.parse().unwrap()),
            ip6: Some(ip6.parse().unwrap()),
            names: vec![name.to_string()],
        };
        view.add_remote(&[
            remote("10.129.0.3", "fd00:eb:1::3", "db"),
            remote("10.129.0.4", "fd00:eb:1::4", "web"),
            remote("10.129.0.5", "fd00:99::5", "odd"),
        ]);
        let network = &view.networks[0];
        let db6: Ipv6Addr = "fd00:eb:1::3".parse().unwrap();
        assert_eq!(network.names6.get("db"), Some(&db6));
        assert_eq!(
            network.names6.get("web"),
            Some(&local6),
            "a local name wins"
        );
        assert!(
            !network.names6.contains_key("odd"),
            "outside the IPv6 subnet"
        );
        assert!(network.names.contains_key("odd"), "its IPv4 address stays");
        assert_eq!(
            network.reverse.get(&db6.into()).map(String::as_str),
            Some("db")
        );
    }

    #[test]
    fn remote_containers_of_an_ipv6_only_network_answer_aaaa_only() {
        let mut view = View {
            networks: vec![NetworkNames {
                name: "v6".into(),
                subnet: None,
                subnet6: Some("fd00:eb:1:5::/64".parse().unwrap()),
                internal: false,
                names: HashMap::new(),
                names6: HashMap::new(),
                reverse: HashMap::new(),
            }],
            ..View::default()
        };
        let far: Ipv6Addr = "fd00:eb:1:5::3".parse().unwrap();
        view.add_remote(&[
            RemoteName {
                network: "v6".into(),
                ip: None,
                ip6: Some(far),
                names: vec!["far".into()],
            },
            RemoteName {
                network: "v6".into(),
                ip: None,
                ip6: Some("fd00:99::3".parse().unwrap()),
                names: vec!["stray".into()],
            },
        ]);
        let network = &view.networks[0];
        assert_eq!(network.names6.get("far"), Some(&far));
        assert!(network.names.is_empty(), "no A record: {:?}", network.names);
        assert!(!network.names6.contains_key("stray"), "outside the subnet");
        assert_eq!(
            network.reverse.get(&far.into()).map(String::as_str),
            Some("far")
        );
    }
}
