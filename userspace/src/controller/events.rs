//! One log event per state change (network, container, endpoint, published
//! port made or removed), found by comparing the state before and after a
//! commit, so every path that changes the state is covered.

use std::collections::HashSet;

use crate::{
    portspec::PortMapping,
    state::{Container, Endpoint, Network, State},
};

/// One change between two states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change<'a> {
    NetworkCreated(&'a Network),
    NetworkRemoved(&'a Network),
    ContainerCreated(&'a Container),
    ContainerRemoved(&'a Container),
    /// An endpoint of the container on a network.
    Connected(&'a Container, &'a Endpoint),
    Disconnected(&'a Container, &'a Endpoint),
    PortPublished(&'a Container, &'a PortMapping),
    PortUnpublished(&'a Container, &'a PortMapping),
}

/// What changed from `before` to `after`: creations parent first,
/// removals children first.
pub fn changes<'a>(before: &'a State, after: &'a State) -> Vec<Change<'a>> {
    let mut out = Vec::new();
    for network in after.networks.values() {
        if before.networks.get(&network.name).map(|n| &n.id) != Some(&network.id) {
            out.push(Change::NetworkCreated(network));
        }
    }
    for container in after.containers.values() {
        let old = before
            .containers
            .get(&container.name)
            .filter(|old| old.id == container.id);
        if old.is_none() {
            out.push(Change::ContainerCreated(container));
        }
        for endpoint in &container.endpoints {
            if !old.is_some_and(|old| has_endpoint(old, endpoint)) {
                out.push(Change::Connected(container, endpoint));
            }
        }
        let old_ports = old.map_or(&[][..], |old| &old.ports[..]);
        out.extend(
            added(old_ports, &container.ports)
                .into_iter()
                .map(|port| Change::PortPublished(container, port)),
        );
    }
    for container in before.containers.values() {
        let new = after
            .containers
            .get(&container.name)
            .filter(|new| new.id == container.id);
        let new_ports = new.map_or(&[][..], |new| &new.ports[..]);
        out.extend(
            added(new_ports, &container.ports)
                .into_iter()
                .map(|port| Change::PortUnpublished(container, port)),
        );
        for endpoint in &container.endpoints {
            if !new.is_some_and(|new| has_endpoint(new, endpoint)) {
                out.push(Change::Disconnected(container, endpoint));
            }
        }
        if new.is_none() {
            out.push(Change::ContainerRemoved(container));
        }
    }
    for network in before.networks.values() {
        if after.networks.get(&network.name).map(|n| &n.id) != Some(&network.id) {
            out.push(Change::NetworkRemoved(network));
        }
    }
    out
}

/// An endpoint is the same while its id is (its aliases may change).
fn has_endpoint(container: &Container, endpoint: &Endpoint) -> bool {
    container.endpoints.iter().any(|e| e.id == endpoint.id)
}

/// Logs every change from `before` to `after`, one event each.
pub fn log_changes(before: &State, after: &State) {
    for change in changes(before, after) {
        log_change(&change);
    }
}

/// Logs mappings published and taken out of one container (a commit of
/// its ports alone).
pub fn log_ports(container: &Container, added: &[PortMapping], gone: &[PortMapping]) {
    for port in added {
        log_change(&Change::PortPublished(container, port));
    }
    for port in gone {
        log_change(&Change::PortUnpublished(container, port));
    }
}

fn log_change(change: &Change<'_>) {
    match *change {
        Change::NetworkCreated(n) => tracing::info!(
            network = %n.name, id = %n.id, subnet = n.subnet.map(tracing::field::display), bridge = %n.bridge,
            subnet6 = n.ipv6.map(|six| tracing::field::display(six.subnet)), "network created"
        ),
        Change::NetworkRemoved(n) => tracing::info!(
            network = %n.name, id = %n.id, subnet = n.subnet.map(tracing::field::display), bridge = %n.bridge,
            subnet6 = n.ipv6.map(|six| tracing::field::display(six.subnet)), "network removed"
        ),
        Change::ContainerCreated(c) => {
            tracing::info!(container = %c.name, id = %c.id, "container created")
        }
        Change::ContainerRemoved(c) => {
            tracing::info!(container = %c.name, id = %c.id, "container removed")
        }
        Change::Connected(c, e) => tracing::info!(
            container = %c.name, id = %c.id, network = %e.network, endpoint = %e.id,
            ip = e.ip.map(tracing::field::display), ip6 = e.ip6.map(tracing::field::display), "container connected"
        ),
        Change::Disconnected(c, e) => tracing::info!(
            container = %c.name, id = %c.id, network = %e.network, endpoint = %e.id,
            ip = e.ip.map(tracing::field::display), ip6 = e.ip6.map(tracing::field::display), "container disconnected"
        ),
        Change::PortPublished(c, p) => tracing::info!(
            container = %c.name, id = %c.id, port = %p, host_ip = %p.host_ip,
            host_port = p.host_port, container_port = p.container_port,
            protocol = %p.protocol, "port published"
        ),
        Change::PortUnpublished(c, p) => tracing::info!(
            container = %c.name, id = %c.id, port = %p, host_ip = %p.host_ip,
            host_port = p.host_port, container_port = p.container_port,
            protocol = %p.protocol, "port unpublished"
        ),
    }
}

/// The mappings in `after` that are not in `before`. A container may hold
/// every port of an address, so the usual changes are found in one walk
/// without hashing: when `before` is `after` with some entries taken out,
/// order kept (ports appended by a publish, or seen from the other side,
/// taken out by an unpublish). Anything else goes through a set.
fn added<'a>(before: &[PortMapping], after: &'a [PortMapping]) -> Vec<&'a PortMapping> {
    let mut rest = before.iter().peekable();
    let mut extra = Vec::new();
    for m in after {
        if rest.peek() == Some(&m) {
            rest.next();
        } else {
            extra.push(m);
        }
    }
    if rest.peek().is_none() {
        return extra;
    }
    let before: HashSet<&PortMapping> = before.iter().collect();
    after.iter().filter(|m| !before.contains(m)).collect()
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
