//! Network modes (`none`, `host`, `container:OTHER`), adopted namespaces,
//! and the options that go with each, checked before anything is made.

use std::path::{Path, PathBuf};

use super::{Controller, ControllerError, Result, next_ifname};
use crate::{
    api::ContainerOptions,
    host::{Host, HostError, netns},
    ids::DEFAULT_NETWORK,
    netconf,
    state::{Container, NetMode, Network, State},
};

/// What `container create` will make.
pub(super) enum Plan {
    /// An endpoint on `network` in a namespace ebpfnet makes, or in the
    /// adopted one.
    Attach {
        // Boxed: a network is large beside the other plans.
        network: Box<Network>,
        adopt: Option<NetMode>,
    },
    None,
    Host,
    Shared(String),
}

fn refused(message: String) -> ControllerError {
    ControllerError::Refused(message)
}

/// The path of the network namespace `container` uses; `None` for the
/// host's (`--network host`, or sharing with such a container).
pub fn sandbox_path(state: &State, container: &Container) -> Option<PathBuf> {
    let mut current = container;
    // Sharing chains are acyclic (the target exists first); the bound only
    // guards against a hand-edited state file.
    for _ in 0..=state.containers.len() {
        match &current.mode {
            NetMode::Owned | NetMode::None => return Some(netns::netns_path(&current.name)),
            NetMode::Host => return None,
            NetMode::Adopted { path, .. } => return Some(path.clone()),
            NetMode::Container { container } => current = state.containers.get(container)?,
        }
    }
    None
}

/// The container whose /etc/netns files `container` sees: its own, or
/// those of the one whose namespace it shares; none in host mode.
pub fn files_owner<'a>(state: &'a State, container: &'a Container) -> Option<&'a str> {
    let mut current = container;
    for _ in 0..=state.containers.len() {
        match &current.mode {
            NetMode::Host => return None,
            NetMode::Container { container } => current = state.containers.get(container)?,
            _ => return Some(&current.name),
        }
    }
    None
}

/// Docker's `HostConfig.NetworkMode`.
pub fn mode_name(container: &Container) -> String {
    match &container.mode {
        NetMode::None => "none".into(),
        NetMode::Host => "host".into(),
        NetMode::Container { container } => format!("container:{container}"),
        NetMode::Owned | NetMode::Adopted { .. } => container
            .endpoints
            .first()
            .map_or_else(|| DEFAULT_NETWORK.to_string(), |e| e.network.clone()),
    }
}

impl Controller {
    pub(super) fn plan(&self, name: &str, opts: &ContainerOptions) -> Result<Plan> {
        if let Some(hostname) = &opts.hostname {
            netconf::validate_hostname("--hostname", hostname)?;
        }
        for alias in &opts.aliases {
            netconf::validate_hostname("--alias", alias)?;
        }
        if let Some(ifname) = &opts.ifname {
            super::interface::validate_ifname(ifname)?;
        }
        if let Some(mac) = opts.mac {
            super::interface::validate_mac(mac)?;
        }
        let requested = opts.network.as_deref().unwrap_or(DEFAULT_NETWORK);
        let adopting = opts.netns.is_some() || opts.pid.is_some();
        if opts.netns.is_some() && opts.pid.is_some() {
            return Err(refused(
                "--netns and --pid both name a namespace to adopt; give one".into(),
            ));
        }
        let network = match requested {
            "none" | "host" => None,
            mode if mode.starts_with("container:") => None,
            network => Some(self.network(network)?.clone()),
        };
        let Some(network) = network else {
            return self.plan_mode(requested, opts, adopting, name);
        };
        if !opts.links.is_empty() && network.name != DEFAULT_NETWORK {
            return Err(refused(format!(
                "--link works on the default bridge network only; on network {} containers \
                 resolve each other by name",
                network.name
            )));
        }
        if !opts.aliases.is_empty() && network.name == DEFAULT_NETWORK {
            return Err(refused(
                "--alias works on user-defined networks only: the default bridge network \
                 does not resolve names"
                    .into(),
            ));
        }
        self.check_links(opts)?;
        let adopt = if adopting {
            Some(self.adoptable(opts)?)
        } else {
            if self.host.netns_exists(name) {
                return Err(refused(format!(
                    "network namespace {name} already exists and was not made by ebpfnet; \
                     pick another name, or adopt it with --netns /run/netns/{name}"
                )));
            }
            None
        };
        Ok(Plan::Attach {
            network: Box::new(network),
            adopt,
        })
    }

    fn plan_mode(
        &self,
        mode: &str,
        opts: &ContainerOptions,
        adopting: bool,
        name: &str,
    ) -> Result<Plan> {
        let conflict = |what: &str| {
            Err(refused(format!(
                "conflicting options: {what} and the network mode {mode}"
            )))
        };
        if adopting {
            return conflict("--netns/--pid (adopting a namespace)");
        }
        if !opts.ports.is_empty() {
            return conflict("port publishing (-p)");
        }
        if opts.ip.is_some() {
            return conflict("--ip");
        }
        if opts.ifname.is_some() {
            return conflict("an interface name");
        }
        if opts.mac.is_some() {
            return conflict("a MAC address");
        }
        if !opts.aliases.is_empty() {
            return conflict("--alias");
        }
        if !opts.links.is_empty() {
            return conflict("--link");
        }
        let shares = mode != "none";
        if shares && opts.hostname.is_some() {
            return conflict("--hostname");
        }
        if shares && !opts.extra_hosts.is_empty() {
            return conflict("--add-host");
        }
        if shares && !opts.dns.is_empty() {
            return conflict("--dns");
        }
        match mode {
            "none" => {
                if self.host.netns_exists(name) {
                    return Err(refused(format!(
                        "network namespace {name} already exists and was not made by ebpfnet; pick another name"
                    )));
                }
                Ok(Plan::None)
            }
            "host" => Ok(Plan::Host),
            _ => {
                let other = mode.trim_start_matches("container:");
                let target = self.container(other)?;
                if sandbox_path(&self.state, target).is_none() {
                    return Err(refused(format!(
                        "container {other} uses the host's network; use --network host"
                    )));
                }
                Ok(Plan::Shared(other.to_string()))
            }
        }
    }

    /// Every `--link` names a container on the default bridge network.
    fn check_links(&self, opts: &ContainerOptions) -> Result<()> {
        for link in &opts.links {
            let target = self.container(&link.container)?;
            if target.endpoint(DEFAULT_NETWORK).is_none() {
                return Err(refused(format!(
                    "cannot link to container {}: it is not on the default bridge network",
                    link.container
                )));
            }
        }
        Ok(())
    }

    /// The namespace `--netns`/`--pid` names, if ebpfnet may adopt it.
    fn adoptable(&self, opts: &ContainerOptions) -> Result<NetMode> {
        let (path, pid) = match (&opts.netns, opts.pid) {
            (Some(path), _) => (path.clone(), None),
            (None, Some(pid)) => (PathBuf::from(format!("/proc/{pid}/ns/net")), Some(pid)),
            (None, None) => return Err(refused("no namespace to adopt".into())),
        };
        if !path.is_absolute() {
            return Err(refused(format!(
                "--netns {}: give an absolute path",
                path.display()
            )));
        }
        let id = match self.host.ns_id(&path) {
            Ok(id) => id,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(refused(match pid {
                    Some(pid) => format!("--pid {pid}: no such process"),
                    None => format!("--netns {}: no such file", path.display()),
                }));
            }
            Err(e) => return Err(HostError::io(format!("read {}", path.display()))(e).into()),
        };
        self.host.is_netns(&path)?;
        if self.host.ns_id(Path::new("/proc/self/ns/net")).ok() == Some(id) {
            return Err(refused(format!(
                "{} is the host's network namespace; use --network host",
                path.display()
            )));
        }
        if let Some(user) = self.state.containers.values().find(|c| {
            sandbox_path(&self.state, c).and_then(|p| self.host.ns_id(&p).ok()) == Some(id)
        }) {
            return Err(refused(format!(
                "the namespace at {} is already container {}'s",
                path.display(),
                user.name
            )));
        }
        Ok(NetMode::Adopted {
            path,
            pid,
            dev: id.dev,
            ino: id.ino,
        })
    }

    /// `network connect` refuses the modes Docker refuses.
    pub(super) fn check_connectable(&self, network: &str, container: &Container) -> Result<()> {
        if matches!(network, "none" | "host") {
            return Err(refused(format!(
                "container cannot be connected to network mode {network}: it is chosen at \
                 create (--network {network})"
            )));
        }
        let name = &container.name;
        match &container.mode {
            NetMode::None => Err(refused(format!(
                "container {name} is in network mode none and cannot be connected to a network"
            ))),
            NetMode::Host => Err(refused(format!(
                "container {name} uses the host's network (network mode host) and cannot be \
                 connected to a network"
            ))),
            NetMode::Container { container } => Err(refused(format!(
                "container {name} shares the network namespace of {container} (network mode \
                 container:{container}) and cannot be connected to a network"
            ))),
            NetMode::Owned | NetMode::Adopted { .. } => Ok(()),
        }
    }

    /// The first `ethN` neither ebpfnet nor anyone else uses in the
    /// namespace at `path` (an adopted one may have its own interfaces).
    pub(super) async fn free_ifname(&self, path: &Path, used: &[String]) -> Result<String> {
        let mut used = used.to_vec();
        used.extend(self.host.interface_names(path).await?);
        Ok(next_ifname(&used))
    }
}

/// Whether the namespace an adopted container names is still the one it
/// adopted (the process is alive, the mount still there).
pub(super) fn adopted_alive(host: &dyn Host, mode: &NetMode) -> bool {
    match mode {
        // Made by a runtime after its endpoint (Docker): alive once there.
        NetMode::Adopted { path, .. } if super::docker::is_pending(mode) => {
            host.is_netns(path).is_ok()
        }
        NetMode::Adopted { path, dev, ino, .. } => {
            host.ns_id(path).ok()
                == Some(netns::NsId {
                    dev: *dev,
                    ino: *ino,
                })
        }
        _ => true,
    }
}
