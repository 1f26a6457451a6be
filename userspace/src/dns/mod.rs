//! The embedded name server: one per user-defined network, on its gateway
//! address, port 53 (UDP and TCP), built on hickory-proto's messages.
//!
//! It listens on the IPv6 gateway too on networks with IPv6, and
//! answers A, AAAA (and PTR, under in-addr.arpa and ip6.arpa) for the container names and aliases of the
//! networks the asking container is on, found by the query's source
//! address; other names are relayed to the container's `--dns` servers or
//! the host's. A query whose source is not a container address of a user
//! network gets no answer at all, so nothing on an uplink can use it. The
//! servers read a snapshot of the state through a watch channel, so every
//! change answers at once.

pub mod remote;
mod server;
pub mod view;

use std::{collections::BTreeMap, net::IpAddr, sync::Arc};

use tokio::sync::watch;
pub use view::View;

use crate::{netconf::ResolvConf, state::State};

pub const HOST_RESOLV_CONF: &str = "/etc/resolv.conf";

pub struct NameService {
    view: watch::Sender<Arc<View>>,
    listeners: BTreeMap<IpAddr, server::Listener>,
    host_conf: ResolvConf,
    /// Whether to bind the gateways' port 53 (not in unit tests, which
    /// must not serve on the machine's addresses).
    listen: bool,
    /// Containers of overlay networks on other hosts.
    remote: Vec<remote::RemoteName>,
}

impl Default for NameService {
    fn default() -> Self {
        Self::new()
    }
}

impl NameService {
    pub fn new() -> Self {
        let (view, _) = watch::channel(Arc::new(View::default()));
        Self {
            view,
            listeners: BTreeMap::new(),
            host_conf: read_host_conf(),
            listen: true,
            remote: Vec::new(),
        }
    }

    /// A name service that keeps its view up to date but binds nothing.
    #[cfg(test)]
    pub fn silent() -> Self {
        Self {
            listen: false,
            ..Self::new()
        }
    }

    /// The host's resolv.conf as last read.
    pub fn host_conf(&self) -> &ResolvConf {
        &self.host_conf
    }

    /// Re-reads the host's resolv.conf; true when it changed.
    pub fn reload_host_conf(&mut self) -> bool {
        let conf = read_host_conf();
        let changed = conf != self.host_conf;
        self.host_conf = conf;
        changed
    }

    /// Serves `remote` beside `state`'s containers, if they changed.
    pub fn set_remote(&mut self, state: &State, remote: Vec<remote::RemoteName>) {
        if remote != self.remote {
            self.remote = remote;
            self.update(state);
        }
    }

    /// Serves `state` from now on: new names answer at once, servers start
    /// on new networks' gateways and stop on removed ones. Must run inside
    /// the daemon's runtime. A gateway that cannot be bound is logged and
    /// tried again at the next update.
    pub fn update(&mut self, state: &State) {
        // The daemon asks from the host's namespace, where the host's
        // loopback resolvers (systemd-resolved's 127.0.0.53) work too.
        let upstreams: Vec<IpAddr> = self.host_conf.nameservers.clone();
        let mut view = View::build(state, &upstreams);
        view.add_remote(&self.remote);
        let view = Arc::new(view);
        let gateways = view.gateways.clone();
        self.view.send_replace(view);
        self.listeners
            .retain(|gateway, _| gateways.contains(gateway));
        if !self.listen {
            return;
        }
        for gateway in gateways {
            if self.listeners.contains_key(&gateway) {
                continue;
            }
            match server::listen(gateway, self.view.subscribe()) {
                Ok(listener) => {
                    let at = std::net::SocketAddr::new(gateway, view::DNS_PORT);
                    log::info!("name server listening on {at} (udp, tcp)");
                    self.listeners.insert(gateway, listener);
                }
                Err(e) => log::warn!("cannot serve names on {gateway} port 53 (will retry): {e}"),
            }
        }
    }
}

fn read_host_conf() -> ResolvConf {
    std::fs::read_to_string(HOST_RESOLV_CONF)
        .map(|text| ResolvConf::parse(&text))
        .unwrap_or_default()
}
