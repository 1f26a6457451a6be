//! Docker's predefined networks `host` and `none` (the network modes of the
//! same names) as networks: listed, inspected, never removed; and
//! `network prune`.

use std::collections::BTreeMap;

use super::{Controller, ControllerError, Result, now_rfc3339};
use crate::{
    api::{
        BatchResult,
        views::{Ipam, NetworkMember, NetworkSummary, NetworkView, SCOPE_LOCAL},
    },
    host::HostError,
    ids::{self, DEFAULT_NETWORK},
    state::{NetMode, PREDEFINED_NETWORKS, PredefinedNetwork, State},
};

impl Controller {
    /// Gives `host` and `none` their ids, once (Docker makes them at its
    /// first start).
    pub(super) fn ensure_predefined(&mut self) -> Result<()> {
        let mut next = self.state.clone();
        for (name, _) in PREDEFINED_NETWORKS {
            if !next.predefined.contains_key(name) {
                let id = ids::new_id().map_err(HostError::io("read /dev/urandom"))?;
                let created = now_rfc3339();
                next.predefined
                    .insert(name.to_string(), PredefinedNetwork { id, created });
            }
        }
        if next != self.state {
            self.commit(next)?;
        }
        Ok(())
    }

    /// Docker's `network prune`: removes every network but the predefined
    /// ones that no container is connected to, and none that another
    /// program (Docker) owns. Goes on past failures.
    pub async fn prune_networks(&mut self) -> BatchResult {
        let unused: Vec<String> = self
            .state
            .networks
            .values()
            .filter(|n| n.name != DEFAULT_NETWORK && n.owner.is_none())
            .filter(|n| self.state.containers_on(&n.name).next().is_none())
            .map(|n| n.name.clone())
            .collect();
        let mut result = BatchResult::default();
        for name in unused {
            let outcome = self.remove_network(&name).await;
            result.record(name, outcome);
        }
        result
    }
}

/// Refuses to remove `host` or `none`, as Docker does.
pub(super) fn refuse_removal(name: &str) -> Result<()> {
    if PREDEFINED_NETWORKS.iter().any(|(n, _)| *n == name) {
        return Err(ControllerError::Refused(format!(
            "{name} is a pre-defined network and cannot be removed"
        )));
    }
    Ok(())
}

fn driver(name: &str) -> &'static str {
    PREDEFINED_NETWORKS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("null", |(_, driver)| driver)
}

/// The `network ls` rows of `host` and `none`.
pub fn summaries(state: &State) -> Vec<NetworkSummary> {
    state
        .predefined
        .iter()
        .map(|(name, p)| NetworkSummary {
            enable_ipv6: false,
            id: p.id.clone(),
            name: name.clone(),
            driver: driver(name).into(),
            scope: SCOPE_LOCAL.into(),
            internal: false,
            created: p.created.clone(),
            subnet: None,
            gateway: None,
            bridge: None,
            labels: BTreeMap::new(),
        })
        .collect()
}

/// `network inspect host` / `none`: no IPAM configuration, no options; the
/// containers in that mode, without addresses, as Docker shows them.
pub fn inspect(state: &State, name: &str) -> Option<NetworkView> {
    let p = state.predefined.get(name)?;
    let in_mode = |c: &&crate::state::Container| match name {
        "host" => c.mode == NetMode::Host,
        _ => c.mode == NetMode::None,
    };
    let containers = state
        .containers
        .values()
        .filter(in_mode)
        .map(|c| {
            let member = NetworkMember {
                name: c.name.clone(),
                endpoint_id: String::new(),
                mac_address: String::new(),
                ipv4_address: String::new(),
                ipv6_address: String::new(),
            };
            (c.id.clone(), member)
        })
        .collect();
    Some(NetworkView {
        name: name.to_string(),
        id: p.id.clone(),
        created: p.created.clone(),
        scope: SCOPE_LOCAL.into(),
        driver: driver(name).into(),
        enable_ipv6: false,
        enable_ipv4: true,
        internal: false,
        ipam: Ipam {
            driver: "default".into(),
            options: BTreeMap::new(),
            config: Vec::new(),
        },
        containers,
        options: BTreeMap::new(),
        labels: BTreeMap::new(),
    })
}
