//! The cluster store (etcd): two daemons on this machine join one real
//! etcd, share global (overlay) networks, forget a node that dies within
//! the lease TTL, and ride out the store going away: what needs the store
//! fails naming it, the rest goes on, and both catch up when it is back.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ebpfnet_tests::cluster_node::ClusterNode;
use ebpfnet_tests::cluster_status::*;
use ebpfnet_tests::etcd::Etcd;
use ebpfnet_tests::tcp_proxy::TcpProxy;
use ebpfnet_tests::traffic::wait_within;
use ebpfnet_tests::*;
use serde_json::Value;

/// The lease TTL the daemon documents (docs/cluster.md).
const LEASE_TTL: Duration = Duration::from_secs(10);

fn a_status(env: &TestEnv) -> Value {
    env.json(&["status"])
}

#[test]
fn two_daemons_share_global_networks_and_forget_a_dead_node() {
    let etcd = Etcd::start("share");
    let store_a = format!("etcd://{}", etcd.endpoint());
    let args_a = cluster_args(&store_a, "127.0.0.1");
    let env = TestEnv::with_daemon_args(
        "cluster-share",
        &args_a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    // B reaches etcd through a relay the test can cut.
    let target: SocketAddr = etcd.endpoint().parse().expect("endpoint");
    let mut relay = TcpProxy::start(target);
    let store_b = format!("etcd://127.0.0.1:{}", relay.port);
    let mut b = ClusterNode::start("b", "10.236.0.0/16", &cluster_args(&store_b, "127.0.0.2"));

    // Both join: each lists both nodes, with their advertised addresses.
    let id_a = a_status(&env)["Cluster"]["NodeID"]
        .as_str()
        .expect("A id")
        .to_string();
    let id_b = b_status(&b)["Cluster"]["NodeID"]
        .as_str()
        .expect("B id")
        .to_string();
    let mut both = vec![id_a.clone(), id_b.clone()];
    both.sort();
    wait_within(
        "both nodes listed on A and B",
        Duration::from_secs(10),
        || node_ids(&a_status(&env)) == both && node_ids(&b_status(&b)) == both,
    );
    let status = a_status(&env);
    assert_eq!(cluster_of(&status)["Store"], store_a.as_str());
    assert_eq!(cluster_of(&status)["Connected"], true);
    assert_eq!(cluster_of(&status)["LeaseTtlSeconds"], LEASE_TTL.as_secs());
    let text = env.ok(&["status"]);
    assert!(
        text.contains(&format!("cluster store: {store_a} (connected)")),
        "{text}"
    );
    assert!(
        text.contains(&format!("this node: {id_a} advertising 127.0.0.1")),
        "{text}"
    );
    assert!(text.contains("live nodes: 2"), "{text}");

    // A network created on A exists on B, with global scope.
    env.ok(&[
        "network",
        "create",
        "-d",
        "overlay",
        "--subnet",
        "10.129.0.0/24",
        "ovA",
    ]);
    wait_within("ovA on B", Duration::from_secs(5), || {
        has_global(&b_networks(&b), "ovA")
    });
    let inspect = json_of(&b.cli_ok(&["network", "inspect", "ovA"]));
    assert_eq!(inspect[0]["Scope"], "global");
    assert_eq!(inspect[0]["Driver"], "overlay");
    assert_eq!(inspect[0]["IPAM"]["Config"][0]["Subnet"], "10.129.0.0/24");
    assert_eq!(inspect[0]["Labels"]["ebpfnet.created-by"], id_a.as_str());
    // One name cluster-wide; overlapping subnets refused.
    let out = b.cli(&["network", "create", "-d", "overlay", "ovA"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("network ovA already exists"),
        "{out:?}"
    );
    env.fails_with(
        &[
            "network",
            "create",
            "-d",
            "overlay",
            "--subnet",
            "10.129.0.0/16",
            "ovX",
        ],
        &["overlaps network ovA (10.129.0.0/24)"],
    );
    // An address the network cannot give is refused before anything is
    // claimed or made (the overlay datapath itself: overlay.rs).
    env.fails_with(
        &[
            "container",
            "create",
            "--network",
            "ovA",
            "--ip",
            "10.129.1.5",
            "c1",
        ],
        &["address 10.129.1.5 is not inside subnet 10.129.0.0/24"],
    );
    let ls = env.json(&["container", "ls"]);
    assert_eq!(
        ls.as_array().map(Vec::len),
        Some(0),
        "no partial container: {ls}"
    );

    // B cut off from the store: what needs it fails naming the store; B's
    // own networks still work; A forgets B within the TTL.
    relay.cut();
    let cut_at = Instant::now();
    env.ok(&["network", "create", "-d", "overlay", "ovB"]);
    let out = b.cli(&["network", "create", "-d", "overlay", "ovZ"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "create without the store succeeded: {out:?}"
    );
    assert!(
        err.contains(&format!("cluster store {store_b} is unreachable")),
        "{err}"
    );
    b.cli_ok(&["network", "create", "--subnet", "10.237.0.0/24", "localB"]);
    wait_within("A forgets B", LEASE_TTL + Duration::from_secs(5), || {
        node_ids(&a_status(&env)) == [id_a.clone()]
    });
    let gone_after = cut_at.elapsed();
    assert!(
        gone_after >= LEASE_TTL - Duration::from_secs(4),
        "B dropped too early: {gone_after:?}"
    );
    let status = b_status(&b);
    assert_eq!(cluster_of(&status)["Connected"], false, "{status}");
    assert!(
        !has_global(&b_networks(&b), "ovB"),
        "B cannot have seen ovB yet"
    );
    assert!(
        has_global(&b_networks(&b), "ovA"),
        "B keeps what it had seen"
    );

    // Back: B's watch resumes (ovB appears), its lease is granted anew.
    relay.restore();
    wait_within("B catches up", Duration::from_secs(15), || {
        has_global(&b_networks(&b), "ovB") && node_ids(&a_status(&env)) == both
    });
    wait_within("B connected", Duration::from_secs(5), || {
        cluster_of(&b_status(&b))["Connected"] == true
    });

    // Cut again, and etcd compacts away the history B would resume from:
    // B's watch is cancelled, and B lists the networks again.
    relay.cut();
    env.ok(&["network", "create", "-d", "overlay", "ovC"]);
    compact_now(&etcd);
    relay.restore();
    wait_within(
        "B lists again after compaction",
        Duration::from_secs(10),
        || has_global(&b_networks(&b), "ovC"),
    );

    // Removal is seen everywhere.
    env.ok(&["network", "rm", "ovA"]);
    wait_within("ovA gone from B", Duration::from_secs(5), || {
        !has_global(&b_networks(&b), "ovA")
    });

    // B killed: A forgets it within the TTL.
    b.kill();
    let killed_at = Instant::now();
    wait_within(
        "A forgets the killed B",
        LEASE_TTL + Duration::from_secs(4),
        || node_ids(&a_status(&env)) == [id_a.clone()],
    );
    eprintln!("killed node gone after {:?}", killed_at.elapsed());
    env.ok(&["network", "rm", "ovB", "ovC"]);
    drop(b);
    drop(relay);
    drop(env);
    drop(etcd);
}

#[test]
fn store_down_then_back_daemons_keep_working_and_catch_up() {
    let mut etcd = Etcd::start("down");
    let store = format!("etcd://{}", etcd.endpoint());
    let args_a = cluster_args(&store, "127.0.0.1");
    let env = TestEnv::with_daemon_args(
        "cluster-down",
        &args_a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let b = ClusterNode::start("c", "10.238.0.0/16", &cluster_args(&store, "127.0.0.3"));
    wait_within("both joined", Duration::from_secs(10), || {
        node_ids(&a_status(&env)).len() == 2
    });
    env.ok(&["network", "create", "-d", "overlay", "before"]);
    env.create_network("lan1", &[]);
    env.create_container("web", &["--network", "lan1"]);
    let web_ip = env.ip_of("web", "lan1");

    etcd.stop();
    // What needs the store fails fast and names it; A's status says so.
    let started = Instant::now();
    env.fails_with(
        &["network", "create", "-d", "overlay", "during"],
        &[&format!("cluster store {store} is unreachable")],
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    env.fails_with(
        &["network", "rm", "before"],
        &[&format!("cluster store {store}")],
    );
    wait_within(
        "A reports the store unreachable",
        Duration::from_secs(10),
        || cluster_of(&a_status(&env))["Connected"] == false,
    );
    let text = env.ok(&["status"]);
    assert!(
        text.contains(&format!("cluster store: {store} (UNREACHABLE)")),
        "{text}"
    );
    // Local things still work: new networks and containers, traffic.
    env.create_network("lan2", &[]);
    env.create_container("clx", &["--network", "lan1"]);
    let ping = netns_exec("clx", &["ping", "-c", "1", "-W", "2", &web_ip]);
    assert!(
        ping.status.success(),
        "ping web while etcd is down: {ping:?}"
    );
    assert!(
        has_global(&b_networks(&b), "before"),
        "B still lists what it saw"
    );

    // Back (same data): both reconnect, re-watch and renew their leases.
    etcd.resume();
    wait_within("A and B reconnected", Duration::from_secs(20), || {
        cluster_of(&a_status(&env))["Connected"] == true
            && cluster_of(&b_status(&b))["Connected"] == true
    });
    env.ok(&["network", "create", "-d", "overlay", "after"]);
    wait_within(
        "B sees the network made after the outage",
        Duration::from_secs(10),
        || has_global(&b_networks(&b), "after"),
    );
    wait_within("both nodes live again", Duration::from_secs(15), || {
        node_ids(&a_status(&env)).len() == 2 && node_ids(&b_status(&b)).len() == 2
    });
    env.ok(&["network", "rm", "before", "after"]);
    drop(b);
    drop(env);
    drop(etcd);
}

#[test]
fn a_daemon_started_while_the_store_is_down_joins_when_it_is_back() {
    // No TestEnv here: hold the host lock the end-to-end tests share.
    let _serial = serial();
    let mut etcd = Etcd::start("late");
    etcd.stop();
    let store = format!("etcd://{}", etcd.endpoint());
    let b = ClusterNode::start("d", "10.239.0.0/16", &cluster_args(&store, "127.0.0.4"));
    let status = b_status(&b);
    assert_eq!(cluster_of(&status)["Connected"], false, "{status}");
    assert_eq!(node_ids(&status).len(), 0, "{status}");
    let out = b.cli(&["network", "create", "-d", "overlay", "early"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cluster store {store} is unreachable")),
        "{err}"
    );
    // Local work goes on meanwhile.
    b.cli_ok(&["network", "create", "--subnet", "10.240.0.0/24", "localD"]);

    etcd.resume();
    let id = cluster_of(&status)["NodeID"]
        .as_str()
        .expect("node id")
        .to_string();
    wait_within("B joins", Duration::from_secs(15), || {
        node_ids(&b_status(&b)) == [id.clone()]
    });
    b.cli_ok(&["network", "create", "-d", "overlay", "late"]);
    assert!(has_global(&b_networks(&b), "late"));
    drop(b);
    drop(etcd);
}

#[test]
fn overlay_networks_need_a_cluster_store() {
    let env = TestEnv::new("cluster-none");
    env.fails_with(
        &["network", "create", "-d", "overlay", "ov"],
        &[
            "cannot create network ov",
            "overlay networks need a cluster store",
            "--cluster-store",
        ],
    );
    env.fails_with(
        &["network", "create", "-d", "vxlan", "ov"],
        &["unknown network driver \"vxlan\""],
    );
    let ls = env.json(&["network", "ls"]);
    let names: Vec<&str> = ls
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["Name"].as_str())
        .collect();
    // Docker's predefined host and none, and the default network only.
    assert_eq!(names, ["bridge", "host", "none"], "{ls}");
    let status = env.json(&["status"]);
    assert!(
        status.get("Cluster").is_none(),
        "no cluster section: {status}"
    );
}
