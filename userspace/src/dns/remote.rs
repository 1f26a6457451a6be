//! Names of containers on other hosts: those of overlay networks, from
//! the cluster store. They answer on the network's name server as local
//! containers' do; a local container's name wins over a remote one's.

use std::net::Ipv4Addr;

use super::View;

/// A container of an overlay network on another host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteName {
    pub network: String,
    pub ip: Ipv4Addr,
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
            if !network.subnet.is_some_and(|s| s.contains(entry.ip)) {
                continue;
            }
            for name in &entry.names {
                network
                    .names
                    .entry(name.to_ascii_lowercase())
                    .or_insert(entry.ip);
            }
            if let Some(first) = entry.names.first() {
                network
                    .reverse
                    .entry(entry.ip.into())
                    .or_insert(first.clone());
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
            ip: ip.parse().unwrap(),
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
}
