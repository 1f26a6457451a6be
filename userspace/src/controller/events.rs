//! One log event per state change (network, container, endpoint, published
//! port made or removed), found by comparing the state before and after a
//! commit, so every path that changes the state is covered.

use std::{collections::HashSet, fmt, net::SocketAddr};

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
    PortPublished(&'a Container, PortRun<'a>),
    PortUnpublished(&'a Container, PortRun<'a>),
}

/// Consecutive mappings (same address and protocol, host and container
/// port both one up) as one change: publishing every port of an address
/// is one event, not 65,535.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRun<'a> {
    pub first: &'a PortMapping,
    pub count: u16,
}

impl fmt::Display for PortRun<'_> {
    /// As a mapping (`80/tcp -> 0.0.0.0:8080`), with both ports as ranges
    /// when the run holds more than one: `80-89/tcp -> 0.0.0.0:8080-8089`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.first;
        if self.count <= 1 {
            return m.fmt(f);
        }
        let last = self.count - 1;
        write!(
            f,
            "{}-{}/{} -> {}-{}",
            m.container_port,
            u32::from(m.container_port) + u32::from(last),
            m.protocol,
            SocketAddr::new(m.host_ip, m.host_port),
            u32::from(m.host_port) + u32::from(last)
        )
    }
}

/// `mappings` (in order) as runs of consecutive ones.
fn runs<'a>(mappings: impl IntoIterator<Item = &'a PortMapping>) -> Vec<PortRun<'a>> {
    let mut out: Vec<PortRun<'a>> = Vec::new();
    for m in mappings {
        match out.last_mut() {
            Some(run) if m.continues_run(run.first, run.count) => run.count += 1,
            _ => out.push(PortRun { first: m, count: 1 }),
        }
    }
    out
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
            runs(added(old_ports, &container.ports))
                .into_iter()
                .map(|run| Change::PortPublished(container, run)),
        );
    }
    for container in before.containers.values() {
        let new = after
            .containers
            .get(&container.name)
            .filter(|new| new.id == container.id);
        let new_ports = new.map_or(&[][..], |new| &new.ports[..]);
        out.extend(
            runs(added(new_ports, &container.ports))
                .into_iter()
                .map(|run| Change::PortUnpublished(container, run)),
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
/// its ports alone), one event per run of consecutive ports.
pub fn log_ports(container: &Container, added: &[PortMapping], gone: &[PortMapping]) {
    for run in runs(added) {
        log_change(&Change::PortPublished(container, run));
    }
    for run in runs(gone) {
        log_change(&Change::PortUnpublished(container, run));
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
        Change::PortPublished(c, run) => tracing::info!(
            container = %c.name, id = %c.id, port = %run, host_ip = %run.first.host_ip,
            host_port = run.first.host_port, container_port = run.first.container_port,
            count = run.count, protocol = %run.first.protocol, "port published"
        ),
        Change::PortUnpublished(c, run) => tracing::info!(
            container = %c.name, id = %c.id, port = %run, host_ip = %run.first.host_ip,
            host_port = run.first.host_port, container_port = run.first.container_port,
            count = run.count, protocol = %run.first.protocol, "port unpublished"
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
