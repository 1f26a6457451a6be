//! The requests that involve global networks: answered from the cluster
//! store, or refused before the controller sees them. The controller keeps
//! the host's own (local-scope) networks only.

use serde_json::Value;

use super::{
    overlay,
    server::{answer, inspect_each},
};
use crate::{
    api::{BatchResult, Outcome, Request, request::NetworkCreate},
    cluster::{
        Cluster,
        networks::{self, DRIVER_OVERLAY, NetworkRequest},
        networks6::Ipv6Wanted,
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
            // Local sides of overlay networks are listed as the global ones.
            let mut list: Vec<_> = c
                .state()
                .networks
                .values()
                .filter(|n| n.overlay.is_none())
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
                Some(network) => {
                    let mut view = views::network_inspect(state, network);
                    if network.overlay.is_some()
                        && let Some(global) = global.iter().find(|n| n.name == name)
                    {
                        let containers = std::mem::take(&mut view.containers);
                        view = networks::inspect(global);
                        view.containers = containers;
                    }
                    Some(view)
                }
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
                let local = c.state().networks.get(name);
                let global =
                    cluster.network(name).is_some() && local.is_none_or(|n| n.overlay.is_some());
                let outcome = if global {
                    remove_global(cluster, c, name).await
                } else {
                    c.remove_network(name).await
                };
                result.record(name.clone(), outcome);
            }
            Some(answer(r, Ok(result)))
        }
        Request::NetworkConnect(r) => {
            let wanted = (r.ip, r.ip6);
            let joined = overlay::join(cluster?, c, &r.network, &r.container, wanted).await;
            Some(match joined {
                Ok(None) => return None,
                Ok(Some(addrs)) => answer(
                    r,
                    c.connect6(&r.network, &r.container, addrs, &r.aliases)
                        .await,
                ),
                Err(e) => answer(r, Err::<(), _>(e)),
            })
        }
        Request::ContainerCreate(r) => {
            let network = r.options.network.as_deref()?;
            let wanted = (r.options.ip, r.options.ip6);
            let joined = overlay::join(cluster?, c, network, &r.name, wanted).await;
            Some(match joined {
                Ok(None) => return None,
                Ok(Some((ip, ip6))) => {
                    let mut options = r.options.clone();
                    options.ip = ip;
                    options.ip6 = ip6;
                    answer(r, c.create_container(&r.name, &options).await)
                }
                Err(e) => answer(r, Err::<String, _>(e)),
            })
        }
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
    r: &NetworkCreate,
) -> Result<String, ControllerError> {
    crate::ids::validate("network", &r.name)?;
    let (ipv4, ipv6) = overlay_families(r)?;
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
        local_subnets: c
            .state()
            .networks
            .values()
            .filter_map(|n| n.subnet)
            .collect(),
        ipv4,
        ipv6,
        local_subnets6: c
            .state()
            .networks
            .values()
            .filter_map(|n| n.ipv6.map(|six| six.subnet))
            .collect(),
        node_id: cluster.node_id(),
    };
    cluster.create_network(request).await.map_err(store_error)
}

/// The families of an overlay network: IPv4 unless `--ipv4=false`, and
/// what `--ipv6` asks of IPv6 (the IPv6 `--subnet` and `--gateway`, or
/// none: a /64 of the overlay pool). An IPv6-only network needs `--ipv6`
/// and takes no IPv4 `--subnet` or `--gateway`.
fn overlay_families(r: &NetworkCreate) -> Result<(bool, Option<Ipv6Wanted>), ControllerError> {
    let refuse = |why: String| {
        Err(ControllerError::Refused(format!(
            "cannot create network {}: {why}",
            r.name
        )))
    };
    let six = &r.ipv6;
    if six.only {
        if !six.enable {
            return refuse("it needs IPv4 or IPv6: with --ipv4=false, add --ipv6".into());
        }
        if let Some(subnet) = r.subnet {
            return refuse(format!(
                "--subnet {subnet} is an IPv4 subnet, but --ipv4=false leaves the network \
                 without IPv4"
            ));
        }
        if let Some(gateway) = r.gateway {
            return refuse(format!(
                "--gateway {gateway} is an IPv4 address, but --ipv4=false leaves the network \
                 without IPv4"
            ));
        }
    }
    if !six.enable {
        if let Some(subnet) = six.subnet {
            return refuse(format!(
                "--subnet {subnet} is an IPv6 subnet: add --ipv6 to give the network IPv6"
            ));
        }
        if let Some(gateway) = six.gateway {
            return refuse(format!(
                "--gateway {gateway} is an IPv6 address: add --ipv6 and an IPv6 --subnet"
            ));
        }
        return Ok((true, None));
    }
    let wanted = Ipv6Wanted {
        subnet: six.subnet,
        gateway: six.gateway,
    };
    Ok((!six.only, Some(wanted)))
}

/// Removes a global network: refused while a container of any host is
/// on it; the local side goes with it.
async fn remove_global(
    cluster: &Cluster,
    c: &mut Controller,
    name: &str,
) -> Result<(), ControllerError> {
    let attached: Vec<String> = c
        .state()
        .containers_on(name)
        .map(|k| k.name.clone())
        .collect();
    if !attached.is_empty() {
        return Err(ControllerError::Refused(format!(
            "network {name} has containers attached on this host: {}; remove or disconnect them first",
            attached.join(", ")
        )));
    }
    if cluster.network_in_use(name) {
        return Err(ControllerError::Refused(format!(
            "network {name} has containers attached on other hosts; remove or disconnect them first"
        )));
    }
    cluster
        .remove_network(name)
        .await
        .map_err(|e| ControllerError::Refused(format!("cannot remove network {name}: {e}")))?;
    c.drop_overlay_network(name).await?;
    Ok(())
}

fn store_error(e: StoreError) -> ControllerError {
    ControllerError::Refused(e.to_string())
}

fn refuse(message: String) -> Outcome<Value> {
    Outcome::Error(message)
}
