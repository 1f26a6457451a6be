//! A local mirror of one key prefix: list it, then watch it from the
//! listed revision. After a broken stream the watch resumes from the last
//! revision seen, so no change is missed; if etcd compacted that revision
//! away, the prefix is listed again.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use etcd_client::{EventType, GetOptions, WatchOptions};

use super::{
    liveness::SharedHealth,
    store::{Store, StoreError},
};

const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Keys (without the prefix) → values, as of `revision`.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    pub entries: BTreeMap<String, Vec<u8>>,
    /// The store revision this mirror is at; 0 until the first list.
    pub revision: i64,
}

pub type Mirror = Arc<Mutex<Snapshot>>;

pub fn read(mirror: &Mirror) -> Snapshot {
    mirror
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
}

fn update(mirror: &Mirror, change: impl FnOnce(&mut Snapshot)) {
    change(
        &mut mirror
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()),
    );
}

/// Follows `prefix` into `mirror` for as long as the daemon runs.
pub async fn follow(store: Store, prefix: &'static str, mirror: Mirror, health: SharedHealth) {
    let mut listed = false;
    loop {
        if let Err(e) = follow_once(&store, prefix, &mirror, &mut listed, &health).await {
            log::warn!("watch of {prefix}: {e}; resuming");
            super::liveness::record(&health, Err(&e));
        }
        tokio::time::sleep(RETRY_AFTER).await;
    }
}

/// Lists `prefix` unless `listed`, then watches from the mirror's revision
/// until the stream breaks.
async fn follow_once(
    store: &Store,
    prefix: &str,
    mirror: &Mirror,
    listed: &mut bool,
    health: &SharedHealth,
) -> Result<(), StoreError> {
    let mut client = store.client.clone();
    if !*listed {
        let answer = store
            .request(client.get(prefix, Some(GetOptions::new().with_prefix())))
            .await?;
        let revision = answer.header().map_or(0, |h| h.revision());
        let entries = answer
            .kvs()
            .iter()
            .filter_map(|kv| Some((strip(kv.key(), prefix)?, kv.value().to_vec())))
            .collect();
        update(mirror, |snapshot| {
            *snapshot = Snapshot { entries, revision };
        });
        *listed = true;
        log::debug!("listed {prefix} at revision {revision}");
    }
    let from = read(mirror).revision + 1;
    let options = WatchOptions::new().with_prefix().with_start_revision(from);
    let mut stream = store.request(client.watch(prefix, Some(options))).await?;
    super::liveness::record(health, Ok(()));
    loop {
        let Some(answer) = stream.message().await.map_err(|e| store.broken(&e))? else {
            return Err(store.unreachable("the watch stream ended"));
        };
        if answer.compact_revision() > 0 || answer.canceled() {
            // What we missed is gone from etcd's history: list again.
            log::info!(
                "watch of {prefix} from revision {from} cancelled (compacted up to {}, reason {:?}); \
                 listing again",
                answer.compact_revision(),
                answer.cancel_reason()
            );
            *listed = false;
            return Ok(());
        }
        update(mirror, |snapshot| {
            for event in answer.events() {
                let Some(kv) = event.kv() else { continue };
                // Only what was delivered counts: the header's revision may
                // be ahead of events still to come.
                snapshot.revision = snapshot.revision.max(kv.mod_revision());
                let Some(key) = strip(kv.key(), prefix) else {
                    continue;
                };
                match event.event_type() {
                    EventType::Put => {
                        snapshot.entries.insert(key, kv.value().to_vec());
                    }
                    EventType::Delete => {
                        snapshot.entries.remove(&key);
                    }
                }
            }
        });
    }
}

fn strip(key: &[u8], prefix: &str) -> Option<String> {
    let key = std::str::from_utf8(key).ok()?;
    key.strip_prefix(prefix).map(str::to_string)
}
