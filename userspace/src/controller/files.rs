//! Names in the containers' view: /etc/netns/NAME/{hosts,resolv.conf} and
//! the embedded name servers, both following every state change.

use super::Controller;
use crate::{
    ids::DEFAULT_NETWORK,
    netconf::{self, Hosts, ResolvConf},
    state::{Container, NetMode, State},
};

/// The hosts and resolv.conf of `container`; `None` when it has no files
/// of its own (host mode, or sharing another container's namespace).
pub fn render_files(
    state: &State,
    container: &Container,
    host: &ResolvConf,
) -> Option<(String, String)> {
    if matches!(container.mode, NetMode::Host | NetMode::Container { .. }) {
        return None;
    }
    let own = container.endpoints.first().map(|e| {
        (
            e.ip,
            vec![container.hostname().to_string(), container.name.clone()],
        )
    });
    let links = container
        .links
        .iter()
        .filter_map(|link| {
            let target = state.containers.get(&link.container)?;
            let endpoint = target.endpoint(DEFAULT_NETWORK)?;
            let mut names: Vec<String> = link.alias.iter().cloned().collect();
            names.push(target.name.clone());
            Some((endpoint.ip?, names))
        })
        .collect();
    let hosts = netconf::render_hosts(&Hosts {
        own,
        own6: container.endpoints.first().and_then(|e| e.ip6),
        links,
        extra: container.extra_hosts.clone(),
    });
    let embedded = container
        .endpoints
        .iter()
        .filter(|e| e.network != DEFAULT_NETWORK)
        .filter_map(|e| state.networks.get(&e.network))
        .find(|n| n.lan.is_none());
    let resolv = match embedded {
        Some(network) => netconf::render_resolv_embedded(
            network.gateway,
            network.ipv6.map(|six| six.gateway),
            host,
        ),
        None => netconf::render_resolv_plain(&container.dns, host),
    };
    Some((hosts, resolv))
}

impl Controller {
    /// Writes every container's files that changed and gives the name
    /// servers the current state. Failures are logged: the state change
    /// they follow has been made and saved already.
    pub(super) fn sync_names(&mut self) {
        for container in self.state.containers.values() {
            let Some((hosts, resolv)) =
                render_files(&self.state, container, self.names.host_conf())
            else {
                continue;
            };
            for (file, content) in [("hosts", &hosts), ("resolv.conf", &resolv)] {
                if let Err(e) = self.host.write_etc_file(&container.name, file, content) {
                    log::error!("container {}: {e}", container.name);
                }
            }
        }
        self.names.update(&self.state);
    }

    /// Periodic: follows changes of the host's resolv.conf, and retries
    /// name servers that could not bind.
    pub fn refresh_names(&mut self) {
        if self.names.reload_host_conf() {
            log::info!("the host's resolv.conf changed; updating the containers' copies");
            self.sync_names();
        } else {
            self.names.update(&self.state);
        }
    }

    /// Removes a removed container's files (`/etc/netns/NAME`).
    pub(super) fn remove_files(&self, container: &Container) {
        let has_files = matches!(
            container.mode,
            NetMode::Owned | NetMode::None | NetMode::Adopted { .. }
        );
        if has_files && let Err(e) = self.host.remove_etc_files(&container.name) {
            log::error!("container {}: {e}", container.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::{
        netconf::LinkSpec,
        state::{Container, Network},
        testing::fixtures,
    };

    fn network(name: &str, third: u8) -> Network {
        fixtures::network(name, &format!("10.{third}.0.0/16"))
    }

    fn container(name: &str, endpoints: &[(&str, Ipv4Addr)]) -> Container {
        Container {
            endpoints: endpoints
                .iter()
                .map(|(net, ip)| fixtures::endpoint(net, *ip))
                .collect(),
            ..fixtures::container(name, &"0123456789abcdef".repeat(4))
        }
    }

    #[test]
    fn files_follow_links_networks_and_modes() {
        let mut state = State::default();
        for n in [network("bridge", 214), network("back", 215)] {
            state.networks.insert(n.name.clone(), n);
        }
        let db = container("db", &[("bridge", Ipv4Addr::new(10, 214, 0, 2))]);
        let mut app = container("app", &[("bridge", Ipv4Addr::new(10, 214, 0, 3))]);
        app.links = vec![LinkSpec {
            container: "db".into(),
            alias: Some("sql".into()),
        }];
        let both = container(
            "both",
            &[
                ("bridge", Ipv4Addr::new(10, 214, 0, 4)),
                ("back", Ipv4Addr::new(10, 215, 0, 2)),
            ],
        );
        let mut host = container("h", &[]);
        host.mode = NetMode::Host;
        for c in [db, app, both, host] {
            state.containers.insert(c.name.clone(), c);
        }
        let conf = ResolvConf::parse("nameserver 192.0.2.53\n");
        let files = |name: &str| render_files(&state, &state.containers[name], &conf);
        let (hosts, resolv) = files("app").expect("app has files");
        assert!(hosts.contains("10.214.0.3\t0123456789ab app\n"), "{hosts}");
        assert!(hosts.contains("10.214.0.2\tsql db\n"), "{hosts}");
        assert_eq!(resolv, "nameserver 192.0.2.53\n");
        let (hosts, _) = files("db").expect("db has files");
        assert!(!hosts.contains("app"), "links are one way: {hosts}");
        // On a user network too: the embedded server, even as a second network.
        let (_, resolv) = files("both").expect("both has files");
        assert_eq!(resolv, "nameserver 10.215.0.1\noptions ndots:0\n");
        assert_eq!(files("h"), None);
    }
}
