//! The containers of overlay networks in the store: each host advertises
//! its own under `/ebpfnet/v1/endpoints/<network>/<address>` (the key's
//! layout: `endpoint_key`), under its node lease (a host that dies takes
//! them along within the TTL), and fills its `OVERLAY_PEERS` and
//! `OVERLAY_PEERS6` maps from the others' (a watched mirror).

use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use etcd_client::PutOptions;
use serde::{Deserialize, Serialize};

use super::{
    Cluster,
    endpoint_key::{self, EndpointAddrs},
    ipam::{Claim, ClaimSpace, ClaimStore as _},
    ipam_etcd::EtcdClaims,
    store::{ENDPOINTS, StoreError},
    watch,
};
use crate::{
    controller::overlay::{LocalOverlayEndpoint, RemoteOverlayEndpoint},
    ids::format_mac,
};

/// The value of an endpoint key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointRecord {
    pub node: String,
    /// The host's underlay address (its `--advertise-addr`).
    pub host: Ipv4Addr,
    /// `02:42:…`, as `ip link` prints it.
    pub mac: String,
    pub container: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Its IPv6 address, on a network with IPv6 (the key names its IPv4
    /// one on a dual-stack network, this one on an IPv6-only network).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip6: Option<Ipv6Addr>,
}

/// What this daemon has put in the store, and under which lease.
#[derive(Debug, Default)]
pub struct Advertised {
    lease: Option<i64>,
    keys: BTreeMap<String, Vec<u8>>,
}

impl Cluster {
    /// This host's underlay IPv4 address (VXLAN runs over IPv4 only).
    pub fn underlay_ipv4(&self) -> Option<Ipv4Addr> {
        match self.node.advertise_addr {
            IpAddr::V4(ip) => Some(ip),
            IpAddr::V6(_) => None,
        }
    }

    /// Puts and deletes endpoint keys until the store holds exactly
    /// `local` for this node (all again after the lease changed).
    pub async fn advertise(
        &self,
        local: &[LocalOverlayEndpoint],
        done: &mut Advertised,
    ) -> Result<(), StoreError> {
        let Some(host) = self.underlay_ipv4() else {
            return Ok(());
        };
        let Some(lease) = super::liveness::snapshot(&self.health).lease else {
            return Ok(());
        };
        if done.lease != Some(lease) {
            done.keys.clear();
            done.lease = Some(lease);
        }
        let mut wanted = BTreeMap::new();
        for endpoint in local {
            let record = EndpointRecord {
                node: self.node.node_id.clone(),
                host,
                mac: format_mac(&endpoint.mac),
                container: endpoint.container.clone(),
                aliases: endpoint.aliases.clone(),
                ip6: endpoint.ip6,
            };
            let value = serde_json::to_vec(&record)
                .map_err(|e| StoreError::Refused(format!("cannot encode an endpoint: {e}")))?;
            let addrs = EndpointAddrs {
                ip: endpoint.ip,
                ip6: endpoint.ip6,
            };
            let Some(key) = endpoint_key::encode(&endpoint.network, addrs) else {
                continue;
            };
            wanted.insert(format!("{ENDPOINTS}{key}"), value);
        }
        let mut client = self.store.client.clone();
        let stale: Vec<String> = done
            .keys
            .keys()
            .filter(|k| !wanted.contains_key(*k))
            .cloned()
            .collect();
        for key in stale {
            self.store
                .request(client.delete(key.as_str(), None))
                .await?;
            done.keys.remove(&key);
        }
        for (key, value) in wanted {
            if done.keys.get(&key) == Some(&value) {
                continue;
            }
            let options = PutOptions::new().with_lease(lease);
            self.store
                .request(client.put(key.as_str(), value.clone(), Some(options)))
                .await?;
            done.keys.insert(key, value);
        }
        Ok(())
    }

    /// The other hosts' containers on overlay networks, as last seen,
    /// and the revision of that view (0 before the first list).
    pub fn remote_endpoints(&self) -> (Vec<RemoteOverlayEndpoint>, i64) {
        let snapshot = watch::read(&self.endpoints);
        let list = snapshot
            .entries
            .iter()
            .filter_map(|(key, value)| {
                let record: EndpointRecord = serde_json::from_slice(value).ok()?;
                if record.node == self.node.node_id {
                    return None;
                }
                let (network, addrs) = match endpoint_key::decode(key, record.ip6) {
                    Ok(found) => found,
                    Err(e) => {
                        log::debug!("skipping an endpoint of the store: {e}");
                        return None;
                    }
                };
                let mut names = vec![record.container];
                names.extend(record.aliases);
                Some(RemoteOverlayEndpoint {
                    network,
                    ip: addrs.ip,
                    ip6: addrs.ip6,
                    mac: crate::ids::parse_mac(&record.mac)?,
                    host: record.host,
                    names,
                })
            })
            .collect();
        (list, snapshot.revision)
    }

    /// Whether any host has a container on `network`, by the last view.
    pub fn network_in_use(&self, network: &str) -> bool {
        let prefix = format!("{network}/");
        watch::read(&self.endpoints)
            .entries
            .keys()
            .any(|k| k.starts_with(&prefix))
    }

    /// Claims an address of `space`'s family (IPv4, or IPv6 on a
    /// dual-stack network) on a global network for `container`.
    pub async fn claim_address<P: ClaimSpace>(
        &self,
        space: &P,
        container: &str,
        wanted: Option<P::Addr>,
    ) -> Result<P::Addr, StoreError> {
        let claims = EtcdClaims {
            store: self.store.clone(),
        };
        let claim = Claim {
            node: self.node.node_id.clone(),
            container: container.to_string(),
        };
        super::ipam::allocate(&claims, space, &claim, wanted).await
    }

    /// Gives back a claim this node made for `container` (a join that
    /// failed after it); `Ok(false)` if the claim was not its own.
    pub async fn release_address(
        &self,
        network: &str,
        ip: IpAddr,
        container: &str,
    ) -> Result<bool, StoreError> {
        let claims = EtcdClaims {
            store: self.store.clone(),
        };
        let claim = Claim {
            node: self.node.node_id.clone(),
            container: container.to_string(),
        };
        claims.release(network, ip, &claim).await
    }
}
