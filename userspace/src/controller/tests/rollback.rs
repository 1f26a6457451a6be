//! Every step of every plan, failed in turn (by
//! [`fail_each_step`](super::step_failures::fail_each_step)). An operation
//! is run once to learn its steps (the calls it makes on the host and the datapath), then
//! once per step with that step failing, so a step added later is covered
//! without a new test. What must hold:
//! - a failed create, connect or publish leaves the host, the datapath,
//!   the state and the saved state exactly as they were;
//! - a failed removal leaves the state and the saved state as they were,
//!   and the same removal run again finishes the job;
//! - an operation that succeeds past a failure (one it only logs) leaves
//!   the host and datapath consistent with the state.

use std::collections::BTreeMap;

use super::{
    consistency::assert_consistent,
    harness::{Harness, UPLINK, assert_same, net, on, populated, tcp},
    step_failures::{Plan, fail_each_step},
};
use crate::controller::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    CreateNetwork,
    CreateNetworkAuto,
    RemoveNetwork,
    CreateContainer,
    CreateContainerNone,
    AdoptContainer,
    RemoveContainer,
    Connect,
    ConnectFirst,
    Disconnect,
    DisconnectFirst,
    Publish,
    Unpublish,
    CreateMacvlanOnVlan,
    CreateIpvlanOnDummy,
    RemoveLanNetwork,
    CreateMacvlanContainer,
    CreateIpvlanContainer,
    RemoveLanContainer,
    ConnectLan,
    DisconnectLan,
}

const OPS: [Op; 21] = [
    Op::CreateNetwork,
    Op::CreateNetworkAuto,
    Op::RemoveNetwork,
    Op::CreateContainer,
    Op::CreateContainerNone,
    Op::AdoptContainer,
    Op::RemoveContainer,
    Op::Connect,
    Op::ConnectFirst,
    Op::Disconnect,
    Op::DisconnectFirst,
    Op::Publish,
    Op::Unpublish,
    Op::CreateMacvlanOnVlan,
    Op::CreateIpvlanOnDummy,
    Op::RemoveLanNetwork,
    Op::CreateMacvlanContainer,
    Op::CreateIpvlanContainer,
    Op::RemoveLanContainer,
    Op::ConnectLan,
    Op::DisconnectLan,
];

const ADOPTED: &str = "/proc/4242/ns/net";

impl Op {
    /// Run over [`lan_scene`] rather than [`scene`].
    fn on_lan(self) -> bool {
        matches!(
            self,
            Op::RemoveLanNetwork
                | Op::CreateMacvlanContainer
                | Op::CreateIpvlanContainer
                | Op::RemoveLanContainer
                | Op::ConnectLan
                | Op::DisconnectLan
        )
    }
}

impl Plan for Op {
    fn removes(self) -> bool {
        matches!(
            self,
            Op::RemoveNetwork
                | Op::RemoveContainer
                | Op::Disconnect
                | Op::DisconnectFirst
                | Op::Unpublish
                | Op::RemoveLanNetwork
                | Op::RemoveLanContainer
                | Op::DisconnectLan
        )
    }

    /// [`lan_scene`] for what runs on LAN networks, else [`scene`].
    async fn scene(self) -> Harness {
        if self.on_lan() {
            lan_scene().await
        } else {
            scene().await
        }
    }

    async fn run(self, h: &mut Harness) -> Result<()> {
        let c = &mut h.controller;
        match self {
            Op::CreateNetwork => c
                .create_network("back", Some(net("10.2.0.0/24")), None, false)
                .await
                .map(drop),
            Op::CreateNetworkAuto => c.create_network("auto", None, None, true).await.map(drop),
            Op::RemoveNetwork => c.remove_network("spare").await,
            Op::CreateContainer => {
                let mut opts = on("front");
                opts.ports = vec![tcp(9090, 90)];
                opts.aliases = vec!["fresh".into()];
                c.create_container("new", &opts).await.map(drop)
            }
            Op::CreateContainerNone => c.create_container("nonet", &on("none")).await.map(drop),
            Op::AdoptContainer => {
                let mut opts = on("bridge");
                opts.netns = Some(ADOPTED.into());
                opts.ports = vec![tcp(9191, 91)];
                c.create_container("pod", &opts).await.map(drop)
            }
            Op::RemoveContainer => c.remove_container("web").await,
            Op::Connect => c.connect("spare", "db", None, &[]).await,
            Op::ConnectFirst => c.connect("front", "lonely", None, &[]).await,
            Op::Disconnect => c.disconnect("front", "web").await,
            Op::DisconnectFirst => c.disconnect("bridge", "web").await,
            Op::Publish => c.publish("web", &[tcp(8081, 81)]).await.map(drop),
            Op::Unpublish => c.unpublish("web", &[tcp(8080, 80)]).await.map(drop),
            Op::CreateMacvlanOnVlan => {
                let options = opts(&[("parent", "eth0.10")]);
                let subnet = Some(net("10.7.0.0/24"));
                c.create_network_with_driver("vlan", subnet, None, false, Some("macvlan"), &options)
                    .await
                    .map(drop)
            }
            Op::CreateIpvlanOnDummy => {
                let options = opts(&[("ipvlan_mode", "l3")]);
                c.create_network_with_driver("l3b", None, None, false, Some("ipvlan"), &options)
                    .await
                    .map(drop)
            }
            Op::RemoveLanNetwork => c.remove_network("lan-spare").await,
            Op::CreateMacvlanContainer => c.create_container("mac2", &on("lan")).await.map(drop),
            Op::CreateIpvlanContainer => c.create_container("ip2", &on("l3")).await.map(drop),
            Op::RemoveLanContainer => c.remove_container("mac").await,
            Op::ConnectLan => c.connect("lan", "db", None, &[]).await,
            Op::DisconnectLan => c.disconnect("lan", "web").await,
        }
    }
}

/// [`populated`], the failure log emptied, and a namespace someone made,
/// to adopt.
async fn scene() -> Harness {
    let h = populated().await;
    h.host.add_namespace(std::path::Path::new(ADOPTED));
    h.faults.take_log();
    h
}

fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// [`scene`] with macvlan network lan on the uplink (mac on it, web on it
/// second), ipvlan l3 network l3 on a dummy parent (ip on it), and an
/// empty macvlan network lan-spare on a dummy parent.
async fn lan_scene() -> Harness {
    let mut h = scene().await;
    let c = &mut h.controller;
    let networks = [
        ("lan", "10.5.0.0/24", "macvlan", opts(&[("parent", UPLINK)])),
        (
            "l3",
            "10.6.0.0/24",
            "ipvlan",
            opts(&[("ipvlan_mode", "l3")]),
        ),
        ("lan-spare", "10.8.0.0/24", "macvlan", opts(&[])),
    ];
    for (name, subnet, driver, options) in networks {
        c.create_network_with_driver(name, Some(net(subnet)), None, false, Some(driver), &options)
            .await
            .expect(name);
    }
    c.create_container("mac", &on("lan")).await.expect("mac");
    c.create_container("ip", &on("l3")).await.expect("ip");
    c.connect("lan", "web", None, &[])
        .await
        .expect("web on lan");
    assert_consistent(&h.snapshot());
    h.faults.take_log();
    h
}

#[tokio::test]
async fn every_step_of_create_network() {
    fail_each_step(Op::CreateNetwork).await;
}

#[tokio::test]
async fn every_step_of_create_network_with_a_chosen_subnet() {
    fail_each_step(Op::CreateNetworkAuto).await;
}

#[tokio::test]
async fn every_step_of_remove_network() {
    fail_each_step(Op::RemoveNetwork).await;
}

#[tokio::test]
async fn every_step_of_create_container() {
    fail_each_step(Op::CreateContainer).await;
}

#[tokio::test]
async fn every_step_of_create_container_in_mode_none() {
    fail_each_step(Op::CreateContainerNone).await;
}

#[tokio::test]
async fn every_step_of_create_container_adopting_a_namespace() {
    fail_each_step(Op::AdoptContainer).await;
}

#[tokio::test]
async fn every_step_of_remove_container() {
    fail_each_step(Op::RemoveContainer).await;
}

#[tokio::test]
async fn every_step_of_connect() {
    fail_each_step(Op::Connect).await;
}

#[tokio::test]
async fn every_step_of_connect_a_first_network() {
    fail_each_step(Op::ConnectFirst).await;
}

#[tokio::test]
async fn every_step_of_disconnect() {
    fail_each_step(Op::Disconnect).await;
}

#[tokio::test]
async fn every_step_of_disconnect_the_first_network() {
    fail_each_step(Op::DisconnectFirst).await;
}

#[tokio::test]
async fn every_step_of_publish() {
    fail_each_step(Op::Publish).await;
}

#[tokio::test]
async fn every_step_of_unpublish() {
    fail_each_step(Op::Unpublish).await;
}

#[tokio::test]
async fn every_step_of_create_a_macvlan_network_on_a_vlan_it_makes() {
    fail_each_step(Op::CreateMacvlanOnVlan).await;
}

#[tokio::test]
async fn every_step_of_create_an_ipvlan_network_on_a_dummy() {
    fail_each_step(Op::CreateIpvlanOnDummy).await;
}

#[tokio::test]
async fn every_step_of_remove_a_macvlan_network() {
    fail_each_step(Op::RemoveLanNetwork).await;
}

#[tokio::test]
async fn every_step_of_create_a_macvlan_container() {
    fail_each_step(Op::CreateMacvlanContainer).await;
}

#[tokio::test]
async fn every_step_of_create_an_ipvlan_l3_container() {
    fail_each_step(Op::CreateIpvlanContainer).await;
}

#[tokio::test]
async fn every_step_of_remove_a_macvlan_container() {
    fail_each_step(Op::RemoveLanContainer).await;
}

#[tokio::test]
async fn every_step_of_connect_to_a_macvlan_network() {
    fail_each_step(Op::ConnectLan).await;
}

#[tokio::test]
async fn every_step_of_disconnect_from_a_macvlan_network() {
    fail_each_step(Op::DisconnectLan).await;
}

#[tokio::test]
async fn a_failed_save_leaves_nothing_half_made() {
    for op in OPS {
        let mut h = op.scene().await;
        let before = h.snapshot();
        h.break_store();
        let err = op.run(&mut h).await.expect_err("nothing can be saved");
        assert!(
            err.to_string().contains("cannot save state"),
            "{op:?}: {err}"
        );
        h.fix_store();
        let after = h.snapshot();
        assert_eq!(after.state, before.state, "{op:?}");
        assert_eq!(after.saved, before.saved, "{op:?}");
        if op.removes() {
            op.run(&mut h)
                .await
                .unwrap_or_else(|e| panic!("{op:?} again: {e}"));
            assert_consistent(&h.snapshot());
        } else {
            assert_same(&after, &before, &format!("{op:?}"));
        }
    }
}

#[tokio::test]
async fn a_named_operation_failing_everywhere_is_reported() {
    let mut h = scene().await;
    let before = h.snapshot();
    h.faults.fail_op("create_veth");
    let err = Op::CreateContainer
        .run(&mut h)
        .await
        .expect_err("no veth can be made");
    assert!(
        err.to_string().contains("injected failure of create_veth"),
        "{err}"
    );
    assert_same(&h.snapshot(), &before, "create_veth failing");
}
