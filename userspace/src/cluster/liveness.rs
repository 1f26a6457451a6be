//! Node liveness: the daemon holds a lease of [`LEASE_TTL`] and keeps
//! `/ebpfnet/v1/nodes/<node-id>` under it. A node that stops renewing
//! (killed, cut off) loses its key within the TTL, so every other daemon's
//! node list forgets it. After an outage the lease is renewed if etcd still
//! has it, granted anew (and the key written again) if not.

use std::{
    net::IpAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use etcd_client::PutOptions;
use serde::{Deserialize, Serialize};

use super::store::{NODES, Store, StoreError};

/// Lease TTL: a dead node disappears from the others' lists within this.
pub const LEASE_TTL: Duration = Duration::from_secs(10);
/// Renewals per TTL: one every 3.3 s, so two may be lost in a row.
const RENEWALS_PER_TTL: u32 = 3;
/// Pause before retrying after etcd failed to answer.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The value of a node key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    pub node_id: String,
    pub advertise_addr: IpAddr,
    pub hostname: String,
    pub version: String,
}

/// What the daemon knows of its link to the store, for `status`.
#[derive(Debug, Clone, Default)]
pub struct Health {
    /// The last request to etcd succeeded.
    pub connected: bool,
    /// Why the last request failed, while it is the latest news.
    pub error: Option<String>,
    /// The lease this node's key lives under.
    pub lease: Option<i64>,
}

pub type SharedHealth = Arc<Mutex<Health>>;

pub(super) fn record(health: &SharedHealth, outcome: Result<(), &StoreError>) {
    let mut health = health
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    match outcome {
        Ok(()) => {
            health.connected = true;
            health.error = None;
        }
        Err(e) => {
            health.connected = false;
            health.error = Some(e.to_string());
        }
    }
}

/// Keeps this node's key alive for as long as the daemon runs.
pub async fn keep_alive(store: Store, node: NodeRecord, health: SharedHealth) {
    let key = format!("{NODES}{}", node.node_id);
    let value = match serde_json::to_vec(&node) {
        Ok(value) => value,
        Err(e) => {
            log::error!("cannot encode this node's record: {e}");
            return;
        }
    };
    let mut lease = None;
    loop {
        let outcome = hold(&store, &key, &value, &mut lease, &health).await;
        if let Err(e) = &outcome {
            log::warn!("{e}; retrying");
            record(&health, Err(e));
        }
        tokio::time::sleep(RETRY_AFTER).await;
    }
}

/// Grants a lease (unless `lease` still holds one), writes the node key
/// under it, and renews it until a renewal fails.
async fn hold(
    store: &Store,
    key: &str,
    value: &[u8],
    lease: &mut Option<i64>,
    health: &SharedHealth,
) -> Result<(), StoreError> {
    let mut client = store.client.clone();
    if let Some(id) = *lease {
        // After an outage: etcd may have let the lease expire (its keys are
        // gone with it); renewing it would fail with "lease not found".
        let left = store.request(client.lease_time_to_live(id, None)).await?;
        if left.ttl() <= 0 {
            log::warn!("lease {id:x} expired while the store was unreachable; joining again");
            *lease = None;
        }
    }
    let id = match *lease {
        Some(id) => id,
        None => {
            let ttl = LEASE_TTL.as_secs() as i64;
            let granted = store.request(client.lease_grant(ttl, None)).await?;
            let options = PutOptions::new().with_lease(granted.id());
            store.request(client.put(key, value, Some(options))).await?;
            log::info!(
                "joined the cluster store {} as {key} (lease {:x}, TTL {} s)",
                store.name,
                granted.id(),
                ttl
            );
            *lease = Some(granted.id());
            granted.id()
        }
    };
    lock_health(health).lease = Some(id);
    let (mut keeper, mut answers) = store.request(client.lease_keep_alive(id)).await?;
    let every = LEASE_TTL / RENEWALS_PER_TTL;
    loop {
        store.request(keeper.keep_alive()).await?;
        let answer = store.request(answers.message()).await?;
        match answer {
            Some(answer) if answer.ttl() > 0 => record(health, Ok(())),
            // TTL 0: etcd forgot the lease (it expired while we were cut
            // off); start over with a new one.
            Some(_) => {
                log::warn!("lease {id:x} expired; joining the cluster store again");
                *lease = None;
                return Ok(());
            }
            None => return Err(store.unreachable("the lease renewal stream ended")),
        }
        tokio::time::sleep(every).await;
    }
}

fn lock_health(health: &SharedHealth) -> std::sync::MutexGuard<'_, Health> {
    health
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Revokes the lease on a clean stop, so the node leaves at once instead
/// of after the TTL.
pub async fn leave(store: &Store, health: &SharedHealth) {
    let lease = lock_health(health).lease;
    if let Some(id) = lease {
        let mut client = store.client.clone();
        match store.request(client.lease_revoke(id)).await {
            Ok(_) => log::info!("left the cluster store {}", store.name),
            Err(e) => log::warn!("cannot leave the cluster: {e} (the node expires with its lease)"),
        }
    }
}

/// A snapshot of `health`.
pub fn snapshot(health: &SharedHealth) -> Health {
    lock_health(health).clone()
}
