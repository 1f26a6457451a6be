//! Networks another program (Docker) owns: `network rm` and `network prune`
//! leave them to it; inspect names the owner; old state files load.

use std::collections::BTreeMap;

use super::{
    consistency::assert_consistent,
    harness::{Harness, net},
    views::{self, DOCKER_NETWORK_LABEL, OWNER_LABEL},
};
use crate::state::{NetworkOwner, State};

const DOCKER_ID: &str = "3f1e9c0a7b2d4e5f60718293a4b5c6d7e8f9012345678901234567890abcdef0";

fn docker() -> Option<NetworkOwner> {
    Some(NetworkOwner::Docker {
        network_id: DOCKER_ID.into(),
    })
}

#[tokio::test]
async fn rm_and_prune_leave_a_docker_network_to_docker() {
    let mut h = Harness::start().await;
    let c = &mut h.controller;
    c.create_owned_network("dweb", Some(net("10.1.0.0/24")), None, false, docker())
        .await
        .expect("create dweb");
    c.create_network("spare", Some(net("10.2.0.0/24")), None, false)
        .await
        .expect("create spare");

    let err = c
        .remove_network("dweb")
        .await
        .expect_err("Docker's network");
    assert_eq!(
        err.to_string(),
        "network dweb belongs to Docker (Docker network 3f1e9c0a7b2d): remove it with \
         `docker network rm 3f1e9c0a7b2d`"
    );
    let pruned = c.prune_networks().await;
    let removed = serde_json::to_value(&pruned).expect("batch JSON");
    assert!(removed.to_string().contains("spare"), "{removed}");
    assert!(!removed.to_string().contains("dweb"), "{removed}");
    assert!(c.state().networks.contains_key("dweb"));
    assert!(!c.state().networks.contains_key("spare"));

    let view = views::network_inspect(c.state(), &c.state().networks["dweb"]);
    assert_eq!(
        view.labels,
        BTreeMap::from([
            (OWNER_LABEL.to_string(), "docker".to_string()),
            (DOCKER_NETWORK_LABEL.to_string(), DOCKER_ID.to_string()),
        ])
    );
    assert_eq!(h.saved().networks["dweb"].owner, docker(), "saved");

    // Docker's own DeleteNetwork removes it.
    h.controller
        .remove_any_network("dweb")
        .await
        .expect("Docker removes its network");
    let s = h.snapshot();
    assert_consistent(&s);
    assert!(!s.saved.networks.contains_key("dweb"));
}

#[tokio::test]
async fn networks_docker_made_before_owners_were_kept_are_claimed_once() {
    let mut h = Harness::start().await;
    let c = &mut h.controller;
    c.create_network("old", Some(net("10.3.0.0/24")), None, false)
        .await
        .expect("create old");
    c.create_network("mine", Some(net("10.4.0.0/24")), None, false)
        .await
        .expect("create mine");
    let records = BTreeMap::from([
        (DOCKER_ID.to_string(), "old".to_string()),
        ("f".repeat(64), "gone".to_string()),
    ]);
    assert_eq!(c.claim_docker_networks(&records).expect("claim"), ["old"]);
    assert_eq!(c.state().networks["old"].owner, docker());
    assert_eq!(c.state().networks["mine"].owner, None);
    assert!(c.claim_docker_networks(&records).expect("again").is_empty());
    assert_eq!(h.saved().networks["old"].owner, docker());
}

#[test]
fn a_state_file_without_owners_loads() {
    let text = r#"{"containers":{},"networks":{"web":{"id":"ab","name":"web",
        "subnet":"10.5.0.0/24","gateway":"10.5.0.1","internal":false,
        "bridge":"ebr-ab","created":"2026-01-01T00:00:00Z","number":2}}}"#;
    let state: State = serde_json::from_str(text).expect("old state file");
    assert_eq!(state.networks["web"].owner, None);
    let mut owned = state.clone();
    if let Some(web) = owned.networks.get_mut("web") {
        web.owner = docker();
    }
    let text = serde_json::to_string(&owned).expect("JSON");
    assert!(
        text.contains(r#""owner":{"kind":"docker","network_id":"3f1e9c0a"#),
        "{text}"
    );
    let back: State = serde_json::from_str(&text).expect("round trip");
    assert_eq!(back, owned);
}
