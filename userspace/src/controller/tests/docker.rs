//! What Docker makes through the driver: networks it owns (`network rm`
//! and `network prune` leave them to it; inspect names the owner; old
//! state files load), and ports that lead where Docker moves a container's
//! external connectivity.

use std::{collections::BTreeMap, net::Ipv4Addr, path::Path};

use super::{
    consistency::assert_consistent,
    harness::{Harness, net, populated},
};
use crate::{
    controller::{
        HostEndpoint,
        views::{self, DOCKER_NETWORK_LABEL, OWNER_LABEL},
    },
    host::netns::NsId,
    state::{NetworkOwner, State},
    testing::Namespace,
};

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
    let ipv4_only = crate::controller::ipv6::Ipv6Request::default();
    c.create_network_with(
        "dweb",
        Some(net("10.1.0.0/24")),
        None,
        false,
        docker(),
        &ipv4_only,
    )
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

#[tokio::test]
async fn published_ports_lead_to_the_endpoint_docker_programs() {
    let mut h = populated().await;
    let published = |h: &Harness| {
        let s = h.snapshot();
        assert_consistent(&s);
        let value = s
            .datapath
            .published
            .values()
            .next()
            .copied()
            .expect("web's 8080 is published");
        (s, value)
    };
    let (before, _) = published(&h);

    h.controller
        .lead_ports_to("web", "front")
        .await
        .expect("to front");
    let (s, value) = published(&h);
    let web = &s.state.containers["web"];
    assert_eq!(web.endpoints[0].network, "front");
    assert_eq!(
        (
            web.endpoints[0].ifname.as_str(),
            web.endpoints[1].ifname.as_str()
        ),
        ("eth1", "eth0"),
        "the interfaces keep their names"
    );
    assert_eq!(
        Some(value.container_ip),
        web.endpoints[0].ip.map(|ip| ip.octets())
    );
    assert_eq!(
        value.ifindex,
        s.host.links[&web.endpoints[0].host_veth].index
    );
    assert_eq!(s.saved.containers["web"], *web, "saved");

    // Already first: nothing changes. Not on the network: refused.
    h.controller
        .lead_ports_to("web", "front")
        .await
        .expect("again");
    let err = h
        .controller
        .lead_ports_to("web", "spare")
        .await
        .expect_err("not on spare");
    assert!(
        err.to_string()
            .contains("container web is not connected to network spare"),
        "{err}"
    );

    // A failed save leaves the ports where the saved state says.
    h.break_store();
    h.controller
        .lead_ports_to("web", "bridge")
        .await
        .expect_err("the store is broken");
    h.fix_store();
    let (s, value) = published(&h);
    assert_eq!(s.state.containers["web"].endpoints[0].network, "front");
    assert_eq!(value.container_ip, [10, 1, 0, 2]);

    h.controller
        .lead_ports_to("web", "bridge")
        .await
        .expect("back to bridge");
    let (after, _) = published(&h);
    assert_eq!(after.datapath, before.datapath, "as before");
    assert_eq!(after.saved, before.saved, "as before");
}

#[tokio::test]
async fn ebpfnets_own_commands_leave_dockers_containers_to_docker() {
    let mut h = populated().await;
    // Where the peer waits for Docker to move it.
    h.host.edit(|w| {
        let host = Namespace {
            id: NsId { dev: 4, ino: 1 },
            links: BTreeMap::new(),
            default_route: None,
            default_route6: None,
        };
        w.namespaces.insert("/proc/self/ns/net".into(), host);
    });
    let endpoint_id = "e".repeat(64);
    h.controller
        .attach_host_endpoint(&HostEndpoint {
            container: "docker-1ad5a66d13e7",
            sandbox: Path::new("/var/run/docker/netns/1ad5a66d13e7"),
            network: "front",
            endpoint_id: &endpoint_id,
            ip: Ipv4Addr::new(10, 1, 0, 9),
            ip6: None,
            mac: [2, 0x42, 10, 1, 0, 9],
        })
        .await
        .expect("Docker's Join");
    let err = h
        .controller
        .refuse_docker_container("docker-1ad5a66d13e7", "docker rm")
        .expect_err("Docker's");
    assert_eq!(
        err.to_string(),
        "container docker-1ad5a66d13e7 belongs to Docker (the Docker container whose \
         SandboxKey ends in 1ad5a66d13e7): use `docker rm`"
    );
    for own in ["web", "no-such-container"] {
        h.controller
            .refuse_docker_container(own, "docker rm")
            .expect("not Docker's");
    }
    // The driver's own Leave still takes it down.
    h.controller
        .detach_host_endpoint("docker-1ad5a66d13e7", "front")
        .await
        .expect("Docker's Leave");
    let s = h.snapshot();
    assert_consistent(&s);
    assert!(!s.saved.containers.contains_key("docker-1ad5a66d13e7"));
}
