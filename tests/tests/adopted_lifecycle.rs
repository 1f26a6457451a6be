//! Namespaces ebpfnet adopted (`--pid`, `--netns`) that go away while the
//! daemon runs: within seconds their containers, published ports, map
//! entries and files are gone, and a log line says so.

mod resolve;

use std::{path::Path, time::Duration};

use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;
use resolve::*;

fn container_names(env: &TestEnv) -> Vec<String> {
    env.ok(&["container", "ls", "--format", "json"])
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|c| c["Names"].as_str().map(str::to_string))
        .collect()
}

/// Waits (at most 10 s) until none of `names` is listed.
#[track_caller]
fn assert_gone_soon(env: &TestEnv, names: &[&str]) {
    let gone = wait_for(Duration::from_secs(10), || {
        let listed = container_names(env);
        names.iter().all(|n| !listed.iter().any(|l| l == n))
    });
    assert!(gone, "{names:?} still listed: {:?}", container_names(env));
    for name in names {
        assert!(
            !Path::new(&format!("/etc/netns/{name}")).exists(),
            "/etc/netns/{name} left behind"
        );
        assert!(
            env.daemon_log().contains("is gone; removing"),
            "no log line about {name}"
        );
    }
}

#[test]
fn a_process_that_exits_takes_its_container_along() {
    let env = TestEnv::new("adopt-pid");
    let (published, endpoints) = (
        map_entries(&env, "PUBLISHED"),
        map_entries(&env, "ENDPOINTS"),
    );
    let mut process = OwnProcess::unshared();
    let pid = process.pid().to_string();
    env.create_container("al1", &["--pid", &pid, "-p", "8093:80"]);
    // Sharing its namespace: goes with it.
    env.create_container("al2", &["--network", "container:al1"]);
    let veth = env.host_veth_of("al1", "bridge");
    assert_eq!(map_entries(&env, "PUBLISHED"), published + 1);
    assert_eq!(map_entries(&env, "ENDPOINTS"), endpoints + 1);

    process.kill();
    assert_gone_soon(&env, &["al1", "al2"]);
    assert_eq!(map_entries(&env, "PUBLISHED"), published, "mapping left");
    assert_eq!(map_entries(&env, "ENDPOINTS"), endpoints, "endpoint left");
    assert!(!link_exists(&veth), "host veth {veth} left");
    // The host port is free to publish again.
    env.create_container("al3", &["-p", "8093:80"]);
}

#[test]
fn a_deleted_netns_takes_its_container_along() {
    let env = TestEnv::new("adopt-netns");
    let own = OwnNetns::new(&format!("ebnt-al-{}", std::process::id()));
    let path = format!("/run/netns/{}", own.0);
    env.create_network("alnet", &[]);
    env.create_container("al4", &["--network", "alnet", "--netns", &path]);
    env.create_container("al5", &["--network", "alnet"]);
    let ip = env.ip_of("al4", "alnet");
    assert!(ping("al5", &ip), "al5 cannot reach the adopted al4");

    delete_netns(&own.0);
    assert_gone_soon(&env, &["al4"]);
    // Its address is free again; the other container is untouched.
    env.create_container("al6", &["--network", "alnet", "--ip", &ip]);
    assert!(
        ping("al5", &ip),
        "al5 cannot reach al6 at al4's old address"
    );
}
