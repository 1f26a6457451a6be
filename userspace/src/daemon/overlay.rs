//! Containers on overlay networks: joining one (the local side of the
//! network made, the address claimed in the cluster store), and the
//! background sync between this host and the store — its containers
//! advertised, the other hosts' containers in `OVERLAY_PEERS`, local
//! sides of removed networks taken down, address claims swept
//! (`cluster/claims.rs`).

use std::{
    collections::BTreeSet,
    net::{Ipv4Addr, Ipv6Addr},
    sync::Arc,
    time::Duration,
};

use tokio::sync::Mutex;

use crate::{
    cluster::{
        Cluster,
        claims::{Held, Sweep},
        ipam::AddressSpace,
        ipam6::AddressSpace6,
        overlay::Advertised,
    },
    controller::{Controller, ControllerError, overlay::OverlaySpec},
    state::{Ipv4Config, Ipv6Config},
};

/// How often the store and the maps are brought in line.
const SYNC_EVERY: Duration = Duration::from_secs(1);
/// Address claims are swept every this many syncs.
const CLAIMS_EVERY_SYNCS: u32 = 5;

/// A container's addresses on a global network: IPv4 (none on an
/// IPv6-only network), IPv6 (on a network with IPv6).
pub type Joined = (Option<Ipv4Addr>, Option<Ipv6Addr>);

/// For a container joining `network`: when it is a global network, makes
/// its local side and claims the container's addresses in the store (of
/// each family the network has); answers them. `None`: a local network
/// (the controller's own).
pub async fn join(
    cluster: &Cluster,
    c: &mut Controller,
    network: &str,
    container: &str,
    (wanted, wanted6): (Option<Ipv4Addr>, Option<Ipv6Addr>),
) -> Result<Option<Joined>, ControllerError> {
    if c.state()
        .networks
        .get(network)
        .is_some_and(|n| n.overlay.is_none())
    {
        return Ok(None);
    }
    let Some(global) = cluster.network(network) else {
        return Ok(None);
    };
    let refuse = |why: String| ControllerError::Refused(format!("network {network}: {why}"));
    if global.vni == 0 {
        return Err(refuse(
            "it has no VXLAN id (made by an older ebpfnet); remove it and create it again".into(),
        ));
    }
    if cluster.underlay_ipv4().is_none() {
        return Err(refuse(
            "overlay networks run over IPv4: start the daemon with an IPv4 --advertise-addr".into(),
        ));
    }
    let cannot = |e: &dyn std::fmt::Display| {
        ControllerError::Refused(format!("cannot attach {container}: {e}"))
    };
    let space = global.ipv4().map(|(subnet, gateway)| AddressSpace {
        network: global.name.clone(),
        subnet,
        gateway,
    });
    match (&space, wanted) {
        (Some(space), Some(ip)) => space.check(ip).map_err(|e| cannot(&e))?,
        (None, Some(ip)) => {
            return Err(refuse(format!(
                "--ip {ip}: the network has no IPv4 (it is IPv6-only)"
            )));
        }
        _ => {}
    }
    let space6 = global.ipv6().map(|(subnet, gateway)| AddressSpace6 {
        network: global.name.clone(),
        subnet,
        gateway,
    });
    match (&space6, wanted6) {
        (Some(space6), Some(ip)) => space6.check(ip).map_err(|e| cannot(&e))?,
        (None, Some(ip)) => {
            return Err(refuse(format!(
                "--ip6 {ip}: the network has no IPv6 (create it with --ipv6)"
            )));
        }
        _ => {}
    }
    let spec = OverlaySpec {
        name: global.name.clone(),
        id: global.id.clone(),
        ipv4: global
            .ipv4()
            .map(|(subnet, gateway)| Ipv4Config { subnet, gateway }),
        ipv6: global
            .ipv6()
            .map(|(subnet, gateway)| Ipv6Config { subnet, gateway }),
        internal: global.internal,
        vni: global.vni,
    };
    c.ensure_overlay_network(&spec).await?;
    let ip = match &space {
        Some(space) => Some(
            cluster
                .claim_address(space, container, wanted)
                .await
                .map_err(|e| cannot(&e))?,
        ),
        None => None,
    };
    let ip6 = match &space6 {
        Some(space6) => match cluster.claim_address(space6, container, wanted6).await {
            Ok(ip6) => Some(ip6),
            Err(e) => {
                // The IPv4 claim goes back at once (else the next sweep
                // gives it back, as any claim no container holds).
                if let Some(ip) = ip
                    && let Err(undo) = cluster.release_address(network, ip.into(), container).await
                {
                    log::warn!("cannot give back address {ip} of {network}: {undo}");
                }
                return Err(cannot(&e));
            }
        },
        None => None,
    };
    Ok(Some((ip, ip6)))
}

/// Runs for as long as the daemon does.
pub async fn sync(controller: Arc<Mutex<Controller>>, cluster: Arc<Cluster>) {
    let mut ticker = tokio::time::interval(SYNC_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut advertised = Advertised::default();
    let mut sweep = Sweep::default();
    let mut ticks = 0u32;
    loop {
        ticker.tick().await;
        let local = controller.lock().await.overlay_endpoints();
        if let Err(e) = cluster.advertise(&local, &mut advertised).await {
            log::warn!("cannot advertise this host's overlay containers: {e}");
        }
        let (remote, revision) = cluster.remote_endpoints();
        let mut c = controller.lock().await;
        // Before the first list (etcd down at start) the pinned map keeps
        // what the last daemon wrote.
        if revision > 0 {
            match c.set_overlay_peers(&remote) {
                Ok(0) => {}
                Ok(n) => log::debug!("{n} remote overlay endpoints changed"),
                Err(e) => log::warn!("cannot write the remote overlay endpoints: {e}"),
            }
        }
        if cluster.networks_listed() {
            drop_removed_networks(&mut c, &cluster).await;
        }
        ticks = ticks.wrapping_add(1);
        // Under the lock: no claim is made meanwhile, so none is taken
        // for unused just before its container exists.
        if ticks.is_multiple_of(CLAIMS_EVERY_SYNCS) && cluster.view().connected {
            let held: Held = c
                .overlay_endpoints()
                .into_iter()
                .flat_map(|e| {
                    let v4 =
                        e.ip.map(|ip| ((e.network.clone(), ip.into()), e.container.clone()));
                    let v6 = e.ip6.map(|ip6| ((e.network, ip6.into()), e.container));
                    v4.into_iter().chain(v6)
                })
                .collect();
            if let Err(e) = cluster.sweep_claims(&held, &mut sweep).await {
                log::warn!("cannot sweep the address claims: {e}");
            }
        }
    }
}

/// Local sides of overlay networks the store no longer has, once empty.
async fn drop_removed_networks(c: &mut Controller, cluster: &Cluster) {
    let global: BTreeSet<String> = cluster.networks().into_iter().map(|n| n.name).collect();
    let gone: Vec<String> = c
        .state()
        .networks
        .values()
        .filter(|n| n.overlay.is_some() && !global.contains(&n.name))
        .map(|n| n.name.clone())
        .collect();
    for name in gone {
        match c.drop_overlay_network(&name).await {
            Ok(true) => log::info!("overlay network {name} was removed: its local side is gone"),
            Ok(false) => {}
            Err(e) => log::warn!("cannot remove the local side of overlay network {name}: {e}"),
        }
    }
}
