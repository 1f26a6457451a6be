//! The requests that involve global networks: answered from the cluster
//! store, or refused before the controller sees them. The controller keeps
//! the host's own (local-scope) networks only.

use serde_json::Value;

use super::server::{answer, inspect_each};
use crate::{
    api::{BatchResult, Outcome, Request},
    cluster::{
        Cluster,
        networks::{self, DRIVER_OVERLAY, NetworkRequest},
        store::StoreError,
    },
    controller::{Controller, ControllerError, views},
};

/// The answer to `request` if it involves the cluster; `None` leaves it to
/// the controller.
pub async fn handle(
    cluster: Option<&Cluster>,
    c: &mut Controller,
    request: &Request,
) -> Option<Outcome<Value>> {
    match request {
        Request::NetworkCreate(r) => match r.driver.as_deref() {
            Some(DRIVER_OVERLAY) => Some(match cluster {
                None => refuse(format!(
                    "cannot create network {}: overlay networks need a cluster store; start the \
                     daemon with --cluster-store etcd://HOST:PORT --advertise-addr IP",
                    r.name
                )),
                Some(cluster) => answer(r, create_global(cluster, c, r).await),
            }),
            // Local drivers (bridge, macvlan, ipvlan; the controller names
            // an unknown one), under a name no global network has.
            _ => {
                let global = cluster.and_then(|cluster| cluster.network(&r.name));
                global.map(|_| refuse(format!("network {} already exists (global scope)", r.name)))
            }
        },
        Request::NetworkList(r) => {
            let cluster = cluster?;
            let mut list: Vec<_> = c
                .state()
                .networks
                .values()
                .map(views::network_summary)
                .collect();
            list.extend(cluster.networks().iter().map(networks::summary));
            Some(answer(r, Ok(list)))
        }
        Request::NetworkInspect(r) => {
            let cluster = cluster?;
            let global = cluster.networks();
            let state = c.state();
            let views = inspect_each(&r.names, "network", |name| match state.networks.get(name) {
                Some(network) => Some(views::network_inspect(state, network)),
                None => global
                    .iter()
                    .find(|n| n.name == name)
                    .map(networks::inspect),
            });
            Some(answer(r, views))
        }
        Request::NetworkRemove(r) => {
            let cluster = cluster?;
            let mut result = BatchResult::default();
            for name in &r.names {
                let outcome =
                    if !c.state().networks.contains_key(name) && cluster.network(name).is_some() {
                        let removed = cluster.remove_network(name).await;
                        removed.map_err(|e| {
                            ControllerError::Refused(format!("cannot remove network {name}: {e}"))
                        })
                    } else {
                        c.remove_network(name).await
                    };
                result.record(name.clone(), outcome);
            }
            Some(answer(r, Ok(result)))
        }
        Request::NetworkConnect(r) => refuse_overlay(cluster?, c, &r.network),
        Request::ContainerCreate(r) => refuse_overlay(cluster?, c, r.options.network.as_deref()?),
        Request::Status(r) => {
            let cluster = cluster?;
            let status = c.status().map(|mut status| {
                status.cluster = Some(cluster.view());
                status
            });
            Some(answer(r, status))
        }
        _ => None,
    }
}

async fn create_global(
    cluster: &Cluster,
    c: &Controller,
    r: &crate::api::request::NetworkCreate,
) -> Result<String, ControllerError> {
    crate::ids::validate("network", &r.name)?;
    if r.ipv6.enable {
        return Err(ControllerError::Refused(format!(
            "cannot create network {}: overlay networks have no IPv6 yet (drop --ipv6)",
            r.name
        )));
    }
    if c.state().networks.contains_key(&r.name) {
        return Err(ControllerError::Refused(format!(
            "network {} already exists on this host (local scope)",
            r.name
        )));
    }
    let request = NetworkRequest {
        name: &r.name,
        subnet: r.subnet,
        gateway: r.gateway,
        internal: r.internal,
        local_subnets: c.state().networks.values().map(|n| n.subnet).collect(),
        node_id: cluster.node_id(),
    };
    cluster.create_network(request).await.map_err(store_error)
}

/// Containers cannot join a global network until the overlay datapath
/// (VXLAN) exists.
fn refuse_overlay(cluster: &Cluster, c: &Controller, network: &str) -> Option<Outcome<Value>> {
    if c.state().networks.contains_key(network) {
        return None;
    }
    cluster.network(network)?;
    Some(refuse(format!(
        "network {network} is an overlay network: overlay datapath not yet available \
         (containers can join bridge networks only)"
    )))
}

fn store_error(e: StoreError) -> ControllerError {
    ControllerError::Refused(e.to_string())
}

fn refuse(message: String) -> Outcome<Value> {
    Outcome::Error(message)
}
