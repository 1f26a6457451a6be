//! [`ClaimStore`] in etcd: `/ebpfnet/v1/ipam/<network>/<address>` (an
//! IPv4 or an IPv6 address, as `fd00:eb:1::2`) →
//! [`Claim`], written by a transaction that succeeds only if the key has
//! never been created (`create_revision == 0`).

use std::{collections::BTreeSet, net::IpAddr};

use etcd_client::{Compare, CompareOp, GetOptions, Txn, TxnOp};

use super::{
    ipam::{Claim, ClaimStore},
    store::{IPAM, NODES, Store, StoreError},
};

pub struct EtcdClaims {
    pub store: Store,
}

fn key(network: &str, ip: IpAddr) -> String {
    format!("{IPAM}{network}/{ip}")
}

impl ClaimStore for EtcdClaims {
    async fn claim(&self, network: &str, ip: IpAddr, claim: &Claim) -> Result<bool, StoreError> {
        let key = key(network, ip);
        let value = serde_json::to_vec(claim).map_err(|e| StoreError::Refused(e.to_string()))?;
        let txn = Txn::new()
            .when([Compare::create_revision(key.as_str(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key.as_str(), value, None)]);
        let mut client = self.store.client.clone();
        Ok(self.store.request(client.txn(txn)).await?.succeeded())
    }

    async fn claimed(&self, network: &str) -> Result<BTreeSet<IpAddr>, StoreError> {
        let prefix = format!("{IPAM}{network}/");
        let options = GetOptions::new().with_prefix().with_keys_only();
        let mut client = self.store.client.clone();
        let answer = self
            .store
            .request(client.get(prefix.as_str(), Some(options)))
            .await?;
        answer
            .kvs()
            .iter()
            .map(|kv| {
                let text = std::str::from_utf8(kv.key()).ok();
                text.and_then(|k| k.strip_prefix(&prefix)?.parse().ok())
                    .ok_or_else(|| self.store.bad_value(kv.key(), "not an address key"))
            })
            .collect()
    }

    async fn release(&self, network: &str, ip: IpAddr, claim: &Claim) -> Result<bool, StoreError> {
        let key = key(network, ip);
        let value = serde_json::to_vec(claim).map_err(|e| StoreError::Refused(e.to_string()))?;
        let txn = Txn::new()
            .when([Compare::value(key.as_str(), CompareOp::Equal, value)])
            .and_then([TxnOp::delete(key.as_str(), None)]);
        let mut client = self.store.client.clone();
        Ok(self.store.request(client.txn(txn)).await?.succeeded())
    }
}

impl EtcdClaims {
    /// Gives `ip` back if `claim` still holds it and its node has no node
    /// key (its lease expired and it did not come back): one transaction,
    /// so a node that returns meanwhile keeps its claim.
    pub async fn release_of_gone_node(
        &self,
        network: &str,
        ip: IpAddr,
        claim: &Claim,
    ) -> Result<bool, StoreError> {
        let key = key(network, ip);
        let node_key = format!("{NODES}{}", claim.node);
        let value = serde_json::to_vec(claim).map_err(|e| StoreError::Refused(e.to_string()))?;
        let txn = Txn::new()
            .when([
                Compare::value(key.as_str(), CompareOp::Equal, value),
                Compare::create_revision(node_key.as_str(), CompareOp::Equal, 0),
            ])
            .and_then([TxnOp::delete(key.as_str(), None)]);
        let mut client = self.store.client.clone();
        Ok(self.store.request(client.txn(txn)).await?.succeeded())
    }
}
