//! ebpfnet as Docker's network driver over a container's life: removal
//! leaves nothing behind, the datapath outlives a daemon restart, and the
//! driver's socket comes from daemon.json's `docker-plugin` key.

use std::time::Duration;

use ebpfnet_tests::docker::{Dockerd, PAGE};
use ebpfnet_tests::docker_use::{
    docker_network, endpoint_entries, env_with_plugin_key, http_get, httpd, serves_page_soon,
};
use ebpfnet_tests::traffic::{bpftool_dump, wait_for};
use ebpfnet_tests::*;
use serde_json::Value;

#[test]
fn docker_cleanup_is_complete_and_a_daemon_restart_keeps_traffic() {
    let mut env = env_with_plugin_key("docker-life");
    let mut docker = Dockerd::start(&env);
    docker_network(
        &docker,
        "dkeep",
        &["--subnet", "10.233.0.0/24", "-o", "ebpfnet.name=dkeep"],
    );
    httpd(&docker, "keep", "dkeep", &["8081:80"]);
    let url = format!("http://{}:8081/", env.uplink_ip);
    assert!(serves_page_soon(Some(&env.outside_ns), &url));

    // ebpfnet's own commands leave Docker's container to Docker.
    let keep = docker.ebpfnet_name("keep");
    for (args, instead) in [
        (vec!["container", "rm", &keep], "`docker rm`"),
        (
            vec!["network", "disconnect", "dkeep", &keep],
            "`docker network disconnect`",
        ),
        (
            vec!["unpublish", "8081:80", "--container", &keep],
            "`docker rm, then docker run -p`",
        ),
    ] {
        env.fails_with(
            &args,
            &[&format!("container {keep} belongs to Docker"), instead],
        );
    }
    assert!(http_get(Some(&env.outside_ns), &url).contains(PAGE));

    // `docker stop` takes the endpoint down, `docker start` makes a new one
    // (a new sandbox) with the port again.
    docker.ok(&["stop", "-t", "1", "keep"]);
    assert_eq!(env.json(&["container", "ls"]), serde_json::json!([]));
    assert_eq!(http_get(Some(&env.outside_ns), &url), "");
    docker.ok(&["start", "keep"]);
    let restarted = docker.ebpfnet_name("keep");
    assert_ne!(restarted, keep, "a new sandbox");
    assert!(
        serves_page_soon(Some(&env.outside_ns), &url),
        "started again: no traffic"
    );

    // The datapath is pinned: the container serves while the daemon is down
    // and after it is back, and the driver answers Docker again.
    env.stop_daemon();
    assert!(
        http_get(Some(&env.outside_ns), &url).contains(PAGE),
        "down: no traffic"
    );
    env.start_daemon();
    assert!(
        http_get(Some(&env.outside_ns), &url).contains(PAGE),
        "restarted: no traffic"
    );
    let keep = docker.ebpfnet_name("keep");
    assert_eq!(keep, restarted);
    assert!(env.ok(&["port", &keep]).contains("0.0.0.0:8081"));
    // A free host port on 127.0.0.1, chosen by ebpfnet.
    httpd(&docker, "late", "dkeep", &["127.0.0.1::80"]);
    let late = env
        .ok(&["port", &docker.ebpfnet_name("late")])
        .trim()
        .to_string();
    let port = late
        .strip_prefix("80/tcp -> 127.0.0.1:")
        .unwrap_or_else(|| panic!("ebpfnet port late: {late}"));
    let late_url = format!("http://127.0.0.1:{port}/");
    assert!(
        serves_page_soon(None, &late_url),
        "the host cannot fetch {late_url}: {:?}",
        http_get(None, &late_url)
    );

    // dockerd crashes: no Leave. Its containers serve on while it is down.
    // Back, it stops them (no restart policy) and removes their sandboxes:
    // ebpfnet notices, their endpoints and ports go, and `docker start`
    // publishes the same port again.
    docker.crash();
    assert!(
        http_get(Some(&env.outside_ns), &url).contains(PAGE),
        "dockerd down: no traffic"
    );
    docker.restart();
    assert!(
        wait_for(Duration::from_secs(10), || env.json(&["container", "ls"])
            == serde_json::json!([])),
        "the crashed dockerd's containers stay: {:#}",
        env.json(&["container", "ls"])
    );
    let published = bpftool_dump(&env.pin_dir.join("PUBLISHED"));
    assert_eq!(published, serde_json::json!([]), "{published:#}");
    docker.ok(&["start", "keep", "late"]);
    assert!(
        serves_page_soon(Some(&env.outside_ns), &url),
        "started after the crash: no traffic"
    );

    let veths: Vec<String> = ["keep", "late"]
        .iter()
        .map(|c| env.host_veth_of(&docker.ebpfnet_name(c), "dkeep"))
        .collect();
    let ifindexes: Vec<u32> = veths.iter().map(|v| link_ifindex(v)).collect();
    let bridge = env.bridge_of("dkeep");

    docker.ok(&["rm", "-f", "keep", "late"]);
    let containers = env.json(&["container", "ls"]);
    assert_eq!(containers, serde_json::json!([]), "{containers:#}");
    for (veth, index) in veths.iter().zip(&ifindexes) {
        assert!(!link_exists(veth), "{veth} left after docker rm");
        assert!(
            endpoint_entries(&env, *index).is_empty(),
            "ENDPOINTS keeps #{index}"
        );
    }
    let published = bpftool_dump(&env.pin_dir.join("PUBLISHED"));
    assert_eq!(published, serde_json::json!([]), "{published:#}");
    assert_eq!(http_get(Some(&env.outside_ns), &url), "");

    docker.ok(&["network", "rm", "dkeep"]);
    assert!(!env.ok(&["network", "ls"]).contains("dkeep"));
    assert!(
        !link_exists(&bridge),
        "bridge {bridge} left after docker network rm"
    );
    let records =
        std::fs::read_to_string(env.state_dir.join("docker-plugin.json")).expect("driver records");
    let records: Value = serde_json::from_str(&records).expect("records JSON");
    assert_eq!(records["networks"], serde_json::json!({}), "{records:#}");
    assert_eq!(records["endpoints"], serde_json::json!({}), "{records:#}");
}
