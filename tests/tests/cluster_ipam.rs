//! Cluster-wide IPAM against a real etcd: allocators of two "daemons"
//! (two clients, two connections) racing over one address space never
//! hand out one address twice, and every address ends up claimed once.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use ebpfnet::cluster::{
    ClusterStore,
    endpoints::parse_cluster_store,
    ipam::{AddressSpace, Claim, ClaimStore as _, allocate},
    ipam_etcd::EtcdClaims,
    store::{IPAM, Store, StoreError},
};
use ebpfnet_tests::etcd::Etcd;
use etcd_client::GetOptions;

fn space() -> AddressSpace {
    AddressSpace {
        network: "race".into(),
        // 64 addresses: network, gateway and broadcast leave 61.
        subnet: "10.130.0.0/26".parse().expect("subnet"),
        gateway: "10.130.0.1".parse().expect("gateway"),
    }
}

/// Allocates until the space is full; the addresses it got.
async fn drain(store: Store, node: &str) -> Vec<Ipv4Addr> {
    let claims = EtcdClaims { store };
    let mut got = Vec::new();
    for i in 0.. {
        let claim = Claim {
            node: node.into(),
            container: format!("{node}-c{i}"),
        };
        match allocate(&claims, &space(), &claim, None).await {
            Ok(ip) => got.push(ip),
            Err(StoreError::Ipam(e)) => {
                assert!(e.to_string().contains("no free address left"), "{e}");
                break;
            }
            Err(e) => panic!("{node}: {e}"),
        }
    }
    got
}

async fn connect(name: &ClusterStore) -> Store {
    Store::connect(name).await.expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_allocators_racing_never_share_an_address() {
    let etcd = Etcd::start("ipam");
    let name = parse_cluster_store(&format!("etcd://{}", etcd.endpoint())).expect("store");
    let (a, b) = (connect(&name).await, connect(&name).await);
    let (got_a, got_b) = tokio::join!(
        tokio::spawn(drain(a, "node-a")),
        tokio::spawn(drain(b, "node-b"))
    );
    let (got_a, got_b) = (got_a.expect("task a"), got_b.expect("task b"));
    let all: BTreeSet<Ipv4Addr> = got_a.iter().chain(&got_b).copied().collect();
    assert_eq!(
        all.len(),
        got_a.len() + got_b.len(),
        "an address was handed out twice: a={got_a:?} b={got_b:?}"
    );
    assert_eq!(all.len(), 61, "every usable address is claimed once");
    assert!(
        !all.contains(&"10.130.0.1".parse::<Ipv4Addr>().expect("ip")),
        "gateway handed out"
    );
    eprintln!("node-a got {}, node-b got {}", got_a.len(), got_b.len());

    // The store agrees: one key per address, held by whoever got it.
    let store = connect(&name).await;
    let mut client = store.client.clone();
    let prefix = format!("{IPAM}race/");
    let listed = client
        .get(prefix.as_str(), Some(GetOptions::new().with_prefix()))
        .await
        .expect("list claims");
    assert_eq!(listed.kvs().len(), 61);
    for kv in listed.kvs() {
        let key = kv.key_str().expect("utf-8 key");
        let ip: Ipv4Addr = key
            .strip_prefix(&prefix)
            .expect("prefix")
            .parse()
            .expect("ip");
        let claim: Claim = serde_json::from_slice(kv.value()).expect("claim JSON");
        let mine = if claim.node == "node-a" {
            &got_a
        } else {
            &got_b
        };
        assert!(
            mine.contains(&ip),
            "{ip} claimed by {} who did not get it",
            claim.node
        );
    }
    drop(etcd);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_wanted_address_goes_to_exactly_one_claimant() {
    let etcd = Etcd::start("ipam-wanted");
    let name = parse_cluster_store(&format!("etcd://{}", etcd.endpoint())).expect("store");
    let a = EtcdClaims {
        store: connect(&name).await,
    };
    let b = EtcdClaims {
        store: connect(&name).await,
    };
    let space = space();
    for last in 2..22u8 {
        let ip = Ipv4Addr::new(10, 130, 0, last);
        let claim_a = Claim {
            node: "a".into(),
            container: format!("x{last}"),
        };
        let claim_b = Claim {
            node: "b".into(),
            container: format!("y{last}"),
        };
        let (ra, rb) = tokio::join!(
            allocate(&a, &space, &claim_a, Some(ip)),
            allocate(&b, &space, &claim_b, Some(ip))
        );
        assert!(ra.is_ok() != rb.is_ok(), "{ip}: a={ra:?} b={rb:?}");
        let loser = if ra.is_ok() { rb } else { ra };
        let e = loser.expect_err("loser").to_string();
        assert_eq!(e, format!("address {ip} is already in use on network race"));
    }
    // Released by its holder only, then free for the other.
    let ip = Ipv4Addr::new(10, 130, 0, 40);
    let claim_a = Claim {
        node: "a".into(),
        container: "z".into(),
    };
    let claim_b = Claim {
        node: "b".into(),
        container: "z".into(),
    };
    allocate(&a, &space, &claim_a, Some(ip))
        .await
        .expect("claim");
    assert!(
        !b.release("race", ip.into(), &claim_b)
            .await
            .expect("release by b")
    );
    assert!(
        a.release("race", ip.into(), &claim_a)
            .await
            .expect("release by a")
    );
    allocate(&b, &space, &claim_b, Some(ip))
        .await
        .expect("b claims it after");
    drop(etcd);
}
