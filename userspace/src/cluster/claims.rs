//! The claim sweep, every few seconds in each daemon (under the
//! controller's lock, so no container is half made meanwhile):
//!
//! - this node's claims that no container of its holds are given back;
//! - claims of a node gone from the node list (its lease expired) for
//!   longer than [`DEAD_NODE_GRACE`], as this daemon saw it, are given
//!   back, so a host that never comes back does not keep its addresses;
//! - an address of this node's containers without a claim (its node was
//!   cut off long enough for another daemon to give its claims back) is
//!   claimed again; one another node took meanwhile is logged as a
//!   conflict.

use std::{
    collections::{BTreeMap, BTreeSet},
    net::IpAddr,
    time::{Duration, Instant},
};

use etcd_client::GetOptions;

use super::{
    Cluster,
    ipam::{Claim, ClaimStore as _},
    ipam_etcd::EtcdClaims,
    liveness::NodeRecord,
    store::{IPAM, StoreError},
    watch,
};

/// How long a node must have been gone from the node list before another
/// daemon gives its address claims back: an outage shorter than the lease
/// TTL plus this keeps them.
pub const DEAD_NODE_GRACE: Duration = Duration::from_secs(30);

/// What a daemon remembers between sweeps.
#[derive(Debug, Default)]
pub struct Sweep {
    /// Nodes holding claims that are not in the node list, since when.
    gone_since: BTreeMap<String, Instant>,
    /// Addresses of this node's containers claimed by another node
    /// (logged once each).
    conflicts: BTreeSet<(String, IpAddr)>,
}

/// What one sweep changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub released: usize,
    pub of_gone_nodes: usize,
    pub claimed_again: usize,
}

/// (network, address) → the local container holding it.
pub type Held = BTreeMap<(String, IpAddr), String>;

impl Cluster {
    /// One sweep; `held` is every address of this node's overlay
    /// containers.
    pub async fn sweep_claims(&self, held: &Held, sweep: &mut Sweep) -> Result<Swept, StoreError> {
        let nodes = watch::read(&self.nodes);
        // Before the first list nobody counts as gone.
        let live: Option<BTreeSet<String>> = (nodes.revision > 0).then(|| {
            nodes
                .entries
                .values()
                .filter_map(|v| serde_json::from_slice::<NodeRecord>(v).ok())
                .map(|n| n.node_id)
                .collect()
        });
        let mut client = self.store.client.clone();
        let answer = self
            .store
            .request(client.get(IPAM, Some(GetOptions::new().with_prefix())))
            .await?;
        let claimed: BTreeMap<(String, IpAddr), Claim> = answer
            .kvs()
            .iter()
            .filter_map(|kv| {
                let rest = std::str::from_utf8(kv.key()).ok()?.strip_prefix(IPAM)?;
                let (network, ip) = rest.rsplit_once('/')?;
                let claim = serde_json::from_slice(kv.value()).ok()?;
                Some(((network.to_string(), ip.parse().ok()?), claim))
            })
            .collect();
        let claims = EtcdClaims {
            store: self.store.clone(),
        };
        let me = &self.node.node_id;
        let now = Instant::now();
        let mut swept = Swept::default();
        let mut gone = BTreeSet::new();
        for ((network, ip), claim) in &claimed {
            if claim.node == *me {
                if !held.contains_key(&(network.clone(), *ip))
                    && claims.release(network, *ip, claim).await?
                {
                    log::info!("released address {ip} of {network} ({})", claim.container);
                    swept.released += 1;
                }
                continue;
            }
            let Some(live) = &live else { continue };
            if live.contains(&claim.node) {
                continue;
            }
            gone.insert(claim.node.clone());
            let since = *sweep.gone_since.entry(claim.node.clone()).or_insert(now);
            if now.duration_since(since) < DEAD_NODE_GRACE {
                continue;
            }
            if claims.release_of_gone_node(network, *ip, claim).await? {
                log::info!(
                    "released address {ip} of {network} ({} on node {}): the node left the \
                     cluster over {} s ago",
                    claim.container,
                    claim.node,
                    DEAD_NODE_GRACE.as_secs()
                );
                swept.of_gone_nodes += 1;
            }
        }
        sweep.gone_since.retain(|node, _| gone.contains(node));
        let networks: BTreeSet<String> = self.networks().into_iter().map(|n| n.name).collect();
        for ((network, ip), container) in held {
            let at = (network.clone(), *ip);
            let holder = match claimed.get(&at) {
                Some(claim) => claim.node.clone(),
                // A network gone from the store gets no claims again.
                None if !networks.contains(network) => continue,
                None => {
                    let claim = Claim {
                        node: me.clone(),
                        container: container.clone(),
                    };
                    if claims.claim(network, *ip, &claim).await? {
                        log::warn!(
                            "address {ip} of {network} ({container}) had lost its claim (this \
                             node was gone from the cluster store); claimed it again"
                        );
                        swept.claimed_again += 1;
                        me.clone()
                    } else {
                        "another node (just now)".to_string()
                    }
                }
            };
            if holder == *me {
                sweep.conflicts.remove(&at);
            } else if sweep.conflicts.insert(at) {
                log::error!(
                    "address {ip} of {network} of container {container} is claimed by {holder}: \
                     while this node was gone from the cluster store its claim was given back \
                     and the address handed out again; remove and create {container} again"
                );
            }
        }
        Ok(swept)
    }
}
