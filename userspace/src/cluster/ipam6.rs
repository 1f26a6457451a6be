//! Cluster-wide IPv6 IPAM of dual-stack global networks, by the same
//! rules as IPv4 (`ipam.rs`): a claim is a create-if-absent of
//! `/ebpfnet/v1/ipam/<network>/<IPv6 address>`, so two daemons never hand
//! out one address; the lowest address nobody holds first, so a freed
//! one comes back; `--ip6` checked before anything is claimed. The
//! claims are swept with the IPv4 ones (`claims.rs`).

use std::{
    collections::BTreeSet,
    net::{IpAddr, Ipv6Addr},
};

use ipnetwork::Ipv6Network;

use super::{ipam::ClaimSpace, store::StoreError};
use crate::ipam6::{Ipam6Error, Pool6};

/// The IPv6 address plan of one dual-stack global network.
#[derive(Debug, Clone)]
pub struct AddressSpace6 {
    pub network: String,
    pub subnet: Ipv6Network,
    pub gateway: Ipv6Addr,
}

impl AddressSpace6 {
    /// Whether `ip` may be asked for at all (inside the subnet, not
    /// reserved), before anything is claimed or made.
    pub fn check(&self, ip: Ipv6Addr) -> Result<(), Ipam6Error> {
        self.pool(BTreeSet::new()).check(ip)
    }

    fn pool(&self, used: BTreeSet<Ipv6Addr>) -> Pool6<'_> {
        Pool6 {
            network: &self.network,
            subnet: self.subnet,
            gateway: self.gateway,
            used,
        }
    }
}

impl ClaimSpace for AddressSpace6 {
    type Addr = Ipv6Addr;

    fn network(&self) -> &str {
        &self.network
    }

    fn of_family(ip: IpAddr) -> Option<Ipv6Addr> {
        match ip {
            IpAddr::V6(ip) => Some(ip),
            IpAddr::V4(_) => None,
        }
    }

    fn check_addr(&self, ip: Ipv6Addr) -> Result<(), StoreError> {
        Ok(self.check(ip)?)
    }

    fn lowest_free(&self, used: BTreeSet<Ipv6Addr>) -> Result<Ipv6Addr, StoreError> {
        Ok(self.pool(used).allocate()?)
    }

    fn in_use(&self, ip: Ipv6Addr) -> StoreError {
        Ipam6Error::InUse {
            ip,
            network: self.network.clone(),
        }
        .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::ipam::{Claim, ClaimStore, allocate, tests::MemoryClaims};

    fn space() -> AddressSpace6 {
        AddressSpace6 {
            network: "ov".into(),
            subnet: "fd00:eb:1::/125".parse().unwrap(),
            gateway: "fd00:eb:1::1".parse().unwrap(),
        }
    }

    fn claim(container: &str) -> Claim {
        Claim {
            node: "a".into(),
            container: container.into(),
        }
    }

    fn ip(text: &str) -> Ipv6Addr {
        text.parse().unwrap()
    }

    #[tokio::test]
    async fn lowest_free_first_beside_ipv4_claims_and_freed_ones_come_back() {
        let store = MemoryClaims::default();
        // An IPv4 claim of the same network is no IPv6 address in use.
        assert!(
            store
                .claim("ov", "10.128.0.2".parse().unwrap(), &claim("x"))
                .await
                .unwrap()
        );
        let mut got = Vec::new();
        for i in 0..6 {
            let c = claim(&format!("c{i}"));
            got.push(allocate(&store, &space(), &c, None).await.unwrap());
        }
        // ::0 is the subnet-router anycast address, ::1 the gateway.
        assert_eq!(
            got,
            [
                "fd00:eb:1::2",
                "fd00:eb:1::3",
                "fd00:eb:1::4",
                "fd00:eb:1::5",
                "fd00:eb:1::6",
                "fd00:eb:1::7"
            ]
            .map(ip)
        );
        let e = allocate(&store, &space(), &claim("c6"), None)
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "no free address left in subnet fd00:eb:1::/125 of network ov"
        );
        assert!(
            store
                .release("ov", got[1].into(), &claim("c1"))
                .await
                .unwrap()
        );
        let again = allocate(&store, &space(), &claim("c7"), None)
            .await
            .unwrap();
        assert_eq!(again, got[1]);
    }

    #[tokio::test]
    async fn wanted_address_checked_and_claimed_once() {
        let store = MemoryClaims::default();
        let wanted = Some(ip("fd00:eb:1::5"));
        assert_eq!(
            allocate(&store, &space(), &claim("x"), wanted)
                .await
                .unwrap(),
            ip("fd00:eb:1::5")
        );
        let refused = |wanted: &str| {
            let store = store.clone();
            let wanted = Some(ip(wanted));
            async move {
                allocate(&store, &space(), &claim("y"), wanted)
                    .await
                    .unwrap_err()
                    .to_string()
            }
        };
        assert_eq!(
            refused("fd00:eb:1::5").await,
            "address fd00:eb:1::5 is already in use on network ov"
        );
        assert_eq!(
            refused("fd00:eb:1::1").await,
            "address fd00:eb:1::1 is the gateway address of subnet fd00:eb:1::/125"
        );
        assert_eq!(
            refused("fd00:eb:2::1").await,
            "address fd00:eb:2::1 is not inside subnet fd00:eb:1::/125"
        );
    }
}
