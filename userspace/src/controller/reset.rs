//! `system reset`: remove everything ebpfnet made.

use std::path::Path;

use super::Controller;
use crate::{
    datapath,
    host::Host,
    state::{Container, NetMode, State, Store},
};

/// Removes the containers' namespaces and veths, the bridges, ebpfnet's pins
/// and the saved state. Goes on past failures and returns all of them, so one
/// stuck device does not keep the rest in place.
pub async fn teardown(
    state: &State,
    host: &dyn Host,
    store: &Store,
    pin_dir: &Path,
) -> Vec<String> {
    let mut errors = Vec::new();
    for container in state.containers.values() {
        for endpoint in &container.endpoints {
            if let Err(e) = host.delete_link(&endpoint.host_veth).await {
                errors.push(format!("container {}: {e}", container.name));
            }
        }
        // Only what ebpfnet made: never the host's namespace, another
        // container's, or one it adopted.
        let (owned, files) = match container.mode {
            NetMode::Owned | NetMode::None => (true, true),
            NetMode::Adopted { .. } => (false, true),
            NetMode::Host | NetMode::Container { .. } => (false, false),
        };
        if let NetMode::Adopted { path, .. } = &container.mode {
            errors.extend(remove_lan_devices(state, host, container, path).await);
        }
        if owned && let Err(e) = host.delete_netns(&container.name) {
            errors.push(format!("container {}: {e}", container.name));
        }
        if files && let Err(e) = host.remove_etc_files(&container.name) {
            errors.push(format!("container {}: {e}", container.name));
        }
    }
    for network in state.networks.values() {
        if let Err(e) = host.delete_link(&network.bridge).await {
            errors.push(format!("network {}: {e}", network.name));
        }
        // The parent of a macvlan or ipvlan network, if ebpfnet made it.
        if let Some(lan) = network.lan.as_ref().filter(|l| l.made_parent.is_some())
            && let Err(e) = host.delete_link(&lan.parent).await
        {
            errors.push(format!("network {}: {e}", network.name));
        }
    }
    if state.networks.values().any(|n| n.overlay.is_some())
        && let Err(e) = host.delete_link(super::overlay::VXLAN_DEVICE).await
    {
        errors.push(format!("{}: {e}", super::overlay::VXLAN_DEVICE));
    }
    // Removing the link pins detaches the programs once no fd holds them.
    if let Err(e) = datapath::remove_pins(pin_dir) {
        errors.push(e.to_string());
    }
    if let Err(e) = store.remove() {
        errors.push(e.to_string());
    }
    errors
}

/// The interfaces an adopted namespace has on macvlan and ipvlan networks
/// (an owned namespace takes them along when it goes).
async fn remove_lan_devices(
    state: &State,
    host: &dyn Host,
    container: &Container,
    path: &Path,
) -> Vec<String> {
    let mut errors = Vec::new();
    for endpoint in &container.endpoints {
        let on_lan = state
            .networks
            .get(&endpoint.network)
            .is_some_and(|n| n.lan.is_some());
        if !on_lan {
            continue;
        }
        if let Err(e) = host.delete_lan_device(path, &endpoint.ifname).await {
            errors.push(format!("container {}: {e}", container.name));
        }
    }
    errors
}

impl Controller {
    /// Tears everything down; the daemon exits afterwards.
    pub async fn reset(&mut self) -> Vec<String> {
        let mut errors = Vec::new();
        if let Err(e) = self.datapath.prune(&[]) {
            errors.push(e.to_string());
        }
        errors.extend(teardown(&self.state, &*self.host, &self.store, &self.config.pin_dir).await);
        super::events::log_changes(&self.state, &State::default());
        self.state = State::default();
        self.names.update(&self.state);
        errors
    }
}
