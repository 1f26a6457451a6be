use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use super::*;

/// Claims in memory, with the same first-wins rule as etcd's transaction.
#[derive(Default, Clone)]
pub(crate) struct MemoryClaims(Arc<Mutex<BTreeMap<(String, IpAddr), Claim>>>);

impl ClaimStore for MemoryClaims {
    async fn claim(&self, network: &str, ip: IpAddr, claim: &Claim) -> Result<bool, StoreError> {
        let mut claims = self.0.lock().unwrap();
        let key = (network.to_string(), ip);
        if claims.contains_key(&key) {
            return Ok(false);
        }
        claims.insert(key, claim.clone());
        Ok(true)
    }

    async fn claimed(&self, network: &str) -> Result<BTreeSet<IpAddr>, StoreError> {
        let claims = self.0.lock().unwrap();
        Ok(claims
            .keys()
            .filter(|(n, _)| n == network)
            .map(|(_, ip)| *ip)
            .collect())
    }

    async fn release(&self, network: &str, ip: IpAddr, claim: &Claim) -> Result<bool, StoreError> {
        let mut claims = self.0.lock().unwrap();
        let key = (network.to_string(), ip);
        if claims.get(&key) == Some(claim) {
            claims.remove(&key);
            return Ok(true);
        }
        Ok(false)
    }
}

/// Answers "taken" for the first `stale` listings it hides: a daemon whose
/// view of the claims is out of date, as when another one claims between
/// its listing and its transaction.
struct StaleView {
    inner: MemoryClaims,
}

impl ClaimStore for StaleView {
    async fn claim(&self, network: &str, ip: IpAddr, claim: &Claim) -> Result<bool, StoreError> {
        self.inner.claim(network, ip, claim).await
    }

    async fn claimed(&self, _network: &str) -> Result<BTreeSet<IpAddr>, StoreError> {
        Ok(BTreeSet::new())
    }

    async fn release(&self, network: &str, ip: IpAddr, claim: &Claim) -> Result<bool, StoreError> {
        self.inner.release(network, ip, claim).await
    }
}

fn space() -> AddressSpace {
    AddressSpace {
        network: "ov".into(),
        subnet: "10.128.0.0/29".parse().unwrap(),
        gateway: "10.128.0.1".parse().unwrap(),
    }
}

fn claim(node: &str, container: &str) -> Claim {
    Claim {
        node: node.into(),
        container: container.into(),
    }
}

fn ip(text: &str) -> Ipv4Addr {
    text.parse().unwrap()
}

/// The address `allocate` gives `claim` in [`space`], asking for `wanted`.
async fn allocated(store: &impl ClaimStore, claim: Claim, wanted: Option<Ipv4Addr>) -> Ipv4Addr {
    allocate(store, &space(), &claim, wanted).await.unwrap()
}

/// Why `allocate` refuses `claim` in [`space`], asking for `wanted`.
async fn refused(store: &impl ClaimStore, claim: Claim, wanted: Option<Ipv4Addr>) -> String {
    let e = allocate(store, &space(), &claim, wanted).await.unwrap_err();
    e.to_string()
}

#[tokio::test]
async fn lowest_free_first_then_exhausted() {
    let store = MemoryClaims::default();
    let mut got = Vec::new();
    for i in 0..5 {
        got.push(allocated(&store, claim("a", &format!("c{i}")), None).await);
    }
    // .0 network, .1 gateway, .7 broadcast.
    assert_eq!(
        got,
        [
            "10.128.0.2",
            "10.128.0.3",
            "10.128.0.4",
            "10.128.0.5",
            "10.128.0.6"
        ]
        .map(ip)
    );
    assert_eq!(
        refused(&store, claim("a", "c5"), None).await,
        "no free address left in subnet 10.128.0.0/29 of network ov"
    );
}

#[tokio::test]
async fn a_stale_view_loses_the_race_and_takes_the_next_address() {
    let shared = MemoryClaims::default();
    let first = allocated(&shared, claim("a", "x"), None).await;
    let stale = StaleView {
        inner: shared.clone(),
    };
    let second = allocated(&stale, claim("b", "y"), None).await;
    assert_eq!((first, second), (ip("10.128.0.2"), ip("10.128.0.3")));
}

#[tokio::test]
async fn wanted_address_checked_and_claimed_once() {
    let store = MemoryClaims::default();
    let wanted = Some(ip("10.128.0.5"));
    assert_eq!(
        allocated(&store, claim("a", "x"), wanted).await,
        ip("10.128.0.5")
    );
    assert_eq!(
        refused(&store, claim("b", "y"), wanted).await,
        "address 10.128.0.5 is already in use on network ov"
    );
    assert_eq!(
        refused(&store, claim("b", "y"), Some(ip("10.128.0.1"))).await,
        "address 10.128.0.1 is the gateway address of subnet 10.128.0.0/29"
    );
    assert_eq!(
        refused(&store, claim("b", "y"), Some(ip("10.9.0.1"))).await,
        "address 10.9.0.1 is not inside subnet 10.128.0.0/29"
    );
}

#[tokio::test]
async fn release_only_by_the_holder() {
    let store = MemoryClaims::default();
    let got = allocated(&store, claim("a", "x"), None).await;
    assert!(
        !store
            .release("ov", got.into(), &claim("b", "x"))
            .await
            .unwrap()
    );
    assert!(
        store
            .release("ov", got.into(), &claim("a", "x"))
            .await
            .unwrap()
    );
    assert_eq!(allocated(&store, claim("b", "y"), None).await, got);
}
