//! Many hosts, first step: the cluster store. A daemon started with
//! `--cluster-store etcd://…` joins the cluster (a node key kept alive by a
//! lease), mirrors the node list and the global networks by watches, and
//! creates and removes global networks and address claims by
//! transactions. Key layout, TTLs and failure behaviour: docs/cluster.md.
//!
//! While etcd is unreachable the daemon goes on with the local datapath;
//! the mirrors keep the last known state, requests that must write to the
//! store fail with an error naming it, and the background tasks retry
//! until etcd answers again, then catch up.

pub mod claims;
pub mod endpoint_key;
pub mod endpoints;
pub mod ipam;
pub mod ipam6;
pub mod ipam_etcd;
pub mod liveness;
pub mod networks;
pub mod networks6;
pub mod overlay;
pub mod store;
pub mod watch;

use std::{
    fs,
    io::ErrorKind,
    net::IpAddr,
    path::Path,
    sync::{Arc, Mutex},
};

use tokio::task::JoinHandle;

pub use self::endpoints::ClusterStore;
use self::{
    liveness::{Health, NodeRecord, SharedHealth},
    networks::GlobalNetwork,
    store::{ENDPOINTS, NETWORKS, NODES, Store, StoreError},
    watch::Mirror,
};
use crate::api::observe::{ClusterNode, ClusterView};

/// `--cluster-store` and `--advertise-addr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterOptions {
    pub store: ClusterStore,
    /// The address other hosts reach this one at (the VXLAN underlay).
    pub advertise_addr: IpAddr,
}

/// This daemon's membership of the cluster.
pub struct Cluster {
    store: Store,
    node: NodeRecord,
    health: SharedHealth,
    nodes: Mirror,
    networks: Mirror,
    /// The containers of overlay networks, of every host.
    endpoints: Mirror,
    tasks: Vec<JoinHandle<()>>,
}

/// The file in the state dir that keeps this node's id across restarts.
const NODE_ID_FILE: &str = "cluster-node-id";

impl Cluster {
    /// Starts following the store; succeeds while etcd is down too (the
    /// tasks connect when it is back).
    pub async fn join(options: &ClusterOptions, state_dir: &Path) -> anyhow::Result<Cluster> {
        use anyhow::Context as _;
        let node_id = node_id(state_dir)?;
        let store = Store::connect(&options.store).await?;
        let hostname = fs::read_to_string("/proc/sys/kernel/hostname")
            .context("cannot read the host name")?
            .trim()
            .to_string();
        let node = NodeRecord {
            node_id,
            advertise_addr: options.advertise_addr,
            hostname,
            version: env!("CARGO_PKG_VERSION").into(),
        };
        let health = Arc::new(Mutex::new(Health::default()));
        let nodes = Mirror::default();
        let networks = Mirror::default();
        let endpoints = Mirror::default();
        let tasks = vec![
            tokio::spawn(liveness::keep_alive(
                store.clone(),
                node.clone(),
                Arc::clone(&health),
            )),
            tokio::spawn(watch::follow(
                store.clone(),
                NODES,
                Arc::clone(&nodes),
                Arc::clone(&health),
            )),
            tokio::spawn(watch::follow(
                store.clone(),
                NETWORKS,
                Arc::clone(&networks),
                Arc::clone(&health),
            )),
            tokio::spawn(watch::follow(
                store.clone(),
                ENDPOINTS,
                Arc::clone(&endpoints),
                Arc::clone(&health),
            )),
        ];
        log::info!(
            "cluster store {}: this node is {} ({})",
            options.store,
            node.node_id,
            node.advertise_addr
        );
        Ok(Cluster {
            store,
            node,
            health,
            nodes,
            networks,
            endpoints,
            tasks,
        })
    }

    pub fn node_id(&self) -> &str {
        &self.node.node_id
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Whether the network list was read from the store at least once.
    pub fn networks_listed(&self) -> bool {
        watch::read(&self.networks).revision > 0
    }

    /// The global networks as last seen, by name.
    pub fn networks(&self) -> Vec<GlobalNetwork> {
        watch::read(&self.networks)
            .entries
            .iter()
            .filter_map(|(name, value)| match serde_json::from_slice(value) {
                Ok(network) => Some(network),
                Err(e) => {
                    log::warn!("global network {name}: unreadable value in the store: {e}");
                    None
                }
            })
            .collect()
    }

    pub fn network(&self, name: &str) -> Option<GlobalNetwork> {
        self.networks().into_iter().find(|n| n.name == name)
    }

    /// Creates a global network; answers its id. The local mirror shows it
    /// at once (the watch brings the same value).
    pub async fn create_network(
        &self,
        request: networks::NetworkRequest<'_>,
    ) -> Result<String, StoreError> {
        let name = request.name.to_string();
        let id = networks::create(&self.store, request).await?;
        self.refresh_networks().await;
        log::info!("created global network {name} ({id})");
        Ok(id)
    }

    pub async fn remove_network(&self, name: &str) -> Result<(), StoreError> {
        networks::remove(&self.store, name).await?;
        self.refresh_networks().await;
        log::info!("removed global network {name}");
        Ok(())
    }

    /// Reads the networks now, so this daemon's next answer shows its own
    /// change even if the watch has not delivered it yet.
    async fn refresh_networks(&self) {
        let mut client = self.store.client.clone();
        let options = etcd_client::GetOptions::new().with_prefix();
        if let Ok(answer) = self
            .store
            .request(client.get(NETWORKS, Some(options)))
            .await
        {
            let revision = answer.header().map_or(0, |h| h.revision());
            let mut snapshot = self.networks.lock().unwrap_or_else(|p| p.into_inner());
            if revision > snapshot.revision {
                snapshot.entries = answer
                    .kvs()
                    .iter()
                    .filter_map(|kv| {
                        let key = std::str::from_utf8(kv.key()).ok()?.strip_prefix(NETWORKS)?;
                        Some((key.to_string(), kv.value().to_vec()))
                    })
                    .collect();
                snapshot.revision = revision;
            }
        }
    }

    /// For `status`: the store, this node, and the live nodes as last seen.
    pub fn view(&self) -> ClusterView {
        let health = liveness::snapshot(&self.health);
        let nodes = watch::read(&self.nodes)
            .entries
            .values()
            .filter_map(|value| serde_json::from_slice::<NodeRecord>(value).ok())
            .map(|n| ClusterNode {
                node_id: n.node_id,
                advertise_addr: n.advertise_addr.to_string(),
                hostname: n.hostname,
                version: n.version,
            })
            .collect();
        ClusterView {
            store: self.store.name.to_string(),
            node_id: self.node.node_id.clone(),
            advertise_addr: self.node.advertise_addr.to_string(),
            connected: health.connected,
            error: health.error,
            lease_ttl_seconds: liveness::LEASE_TTL.as_secs(),
            nodes,
        }
    }

    /// Stops following the store and revokes the lease, so the other
    /// daemons drop this node at once.
    pub async fn leave(&self) {
        for task in &self.tasks {
            task.abort();
        }
        liveness::leave(&self.store, &self.health).await;
    }
}

/// This node's id: made once (12 hex digits) and kept in the state dir.
fn node_id(state_dir: &Path) -> anyhow::Result<String> {
    use anyhow::Context as _;
    let path = state_dir.join(NODE_ID_FILE);
    match fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    let id = crate::ids::new_id().context("cannot make a node id")?;
    let id = crate::ids::short_id(&id).to_string();
    fs::write(&path, format!("{id}\n"))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(id)
}
