//! Cluster-wide IPAM of global networks: an address belongs to whoever
//! claimed it first, and a claim is a create-if-absent in the store (in
//! etcd a transaction on `create_revision == 0`), so two daemons never
//! hand out one address, even when they race for it.
//!
//! Claims are not under the node's lease: a daemon cut off from etcd for
//! longer than the lease TTL still runs its containers, and their
//! addresses must not be handed to another host meanwhile. A claim is
//! released when its container goes; claims of a node gone for longer
//! than a grace period are released by the others (`claims.rs`).

use std::{
    collections::BTreeSet,
    future::Future,
    net::{IpAddr, Ipv4Addr},
};

use ipnetwork::Ipv4Network;
use serde::{Deserialize, Serialize};

use super::store::StoreError;
use crate::ipam::{IpamError, Pool};

/// Who holds an address: the value of a claim key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub node: String,
    pub container: String,
}

/// Where claims are kept; [`super::ipam_etcd::EtcdClaims`] in the daemon.
pub trait ClaimStore {
    /// Claims `ip` (of either family: a dual-stack network's containers
    /// hold one of each) on `network`: `Ok(true)` if it was free and is
    /// now `claim`'s, `Ok(false)` if someone else holds it.
    fn claim(
        &self,
        network: &str,
        ip: IpAddr,
        claim: &Claim,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// The addresses (of both families) claimed on `network`.
    fn claimed(
        &self,
        network: &str,
    ) -> impl Future<Output = Result<BTreeSet<IpAddr>, StoreError>> + Send;
    /// Gives `ip` back, if `claim` still holds it: `Ok(false)` if not.
    fn release(
        &self,
        network: &str,
        ip: IpAddr,
        claim: &Claim,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// The address plan of one global network.
#[derive(Debug, Clone)]
pub struct AddressSpace {
    pub network: String,
    pub subnet: Ipv4Network,
    pub gateway: Ipv4Addr,
}

impl AddressSpace {
    /// Whether `ip` may be asked for at all (inside the subnet, not
    /// reserved), before anything is claimed or made.
    pub fn check(&self, ip: Ipv4Addr) -> Result<(), IpamError> {
        self.pool(BTreeSet::new()).check(ip)
    }

    fn pool(&self, used: BTreeSet<Ipv4Addr>) -> Pool<'_> {
        Pool {
            network: &self.network,
            subnet: self.subnet,
            gateway: self.gateway,
            used,
        }
    }
}

/// One family's address plan of a global network, as the claims need it
/// ([`AddressSpace`], [`super::ipam6::AddressSpace6`]).
pub trait ClaimSpace {
    type Addr: Copy + Ord + Into<IpAddr>;

    fn network(&self) -> &str;
    /// `ip` if it is of this family.
    fn of_family(ip: IpAddr) -> Option<Self::Addr>;
    /// Whether `ip` may be asked for at all (inside the subnet, not
    /// reserved).
    fn check_addr(&self, ip: Self::Addr) -> Result<(), StoreError>;
    /// The lowest address that is not reserved nor in `used`.
    fn lowest_free(&self, used: BTreeSet<Self::Addr>) -> Result<Self::Addr, StoreError>;
    /// The error for `ip` held by someone else.
    fn in_use(&self, ip: Self::Addr) -> StoreError;
}

impl ClaimSpace for AddressSpace {
    type Addr = Ipv4Addr;

    fn network(&self) -> &str {
        &self.network
    }

    fn of_family(ip: IpAddr) -> Option<Ipv4Addr> {
        match ip {
            IpAddr::V4(ip) => Some(ip),
            IpAddr::V6(_) => None,
        }
    }

    fn check_addr(&self, ip: Ipv4Addr) -> Result<(), StoreError> {
        Ok(self.check(ip)?)
    }

    fn lowest_free(&self, used: BTreeSet<Ipv4Addr>) -> Result<Ipv4Addr, StoreError> {
        Ok(self.pool(used).allocate()?)
    }

    fn in_use(&self, ip: Ipv4Addr) -> StoreError {
        IpamError::InUse {
            ip,
            network: self.network.clone(),
        }
        .into()
    }
}

/// Claims `wanted`, or the lowest address of `space`'s family nobody
/// holds, for `claim`.
pub async fn allocate<S: ClaimStore, P: ClaimSpace>(
    store: &S,
    space: &P,
    claim: &Claim,
    wanted: Option<P::Addr>,
) -> Result<P::Addr, StoreError> {
    if let Some(ip) = wanted {
        space.check_addr(ip)?;
        return if store.claim(space.network(), ip.into(), claim).await? {
            Ok(ip)
        } else {
            Err(space.in_use(ip))
        };
    }
    // The other family's claims of a dual-stack network are no addresses
    // of this one in use.
    let mut used: BTreeSet<P::Addr> = (store.claimed(space.network()).await?)
        .into_iter()
        .filter_map(P::of_family)
        .collect();
    loop {
        // Lowest free first; an address lost to a racing daemon is marked
        // used and the next one tried, so this ends when the pool is full.
        let ip = space.lowest_free(used.clone())?;
        if store.claim(space.network(), ip.into(), claim).await? {
            return Ok(ip);
        }
        used.insert(ip);
    }
}

#[cfg(test)]
#[path = "ipam_tests.rs"]
pub(super) mod tests;
