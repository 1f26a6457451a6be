//! `system reset` with macvlan networks: the parent ebpfnet made goes,
//! the host's parent stays, and the interface ebpfnet made in a namespace
//! it adopted goes while the namespace stays.

use std::time::Duration;

use ebpfnet_tests::lan::{LanSegment, link_kind};
use ebpfnet_tests::*;

#[test]
fn system_reset_removes_macvlan_parents_and_interfaces_it_made() {
    let mut env = TestEnv::new("mvreset");
    let lan = LanSegment::new("192.0.2.1/24", None);
    let opt = format!("parent={}", lan.parent);
    env.create_network(
        "mvr",
        &["-d", "macvlan", "-o", &opt, "--subnet", "192.0.2.0/24"],
    );
    let id = env.create_network(
        "mvri",
        &["-d", "macvlan", "--internal", "--subnet", "192.0.4.0/24"],
    );
    let dummy = format!("dm-{}", &id[..12]);
    env.create_container("mvR1", &["--network", "mvr"]);
    // A namespace ebpfnet did not make, adopted onto the LAN.
    let adopted = format!("ebnt-adopt-{}", std::process::id());
    ip_ok(&["netns", "add", &adopted]);
    let _gone = Guard(adopted.clone());
    let path = format!("/run/netns/{adopted}");
    env.create_container("mvR2", &["--network", "mvr", "--netns", &path]);
    env.ok(&["network", "connect", "mvri", "mvR2"]);
    assert_eq!(link_kind(Some(&adopted), "eth0"), "macvlan");
    assert_eq!(link_kind(Some(&adopted), "eth1"), "macvlan");
    assert!(ping(&lan.ns, &env.ip_of("mvR2", "mvr")), "LAN -> adopted");

    let out = env.reset().expect("system reset");
    assert!(
        out.status.success(),
        "{}",
        cli::describe("system reset", &out)
    );
    assert!(
        env.wait_daemon_exit(Duration::from_secs(10)).is_some(),
        "daemon still running after system reset"
    );
    assert!(!link_exists(&dummy), "{dummy} left after reset");
    assert!(
        link_exists(&lan.parent),
        "the host's parent went with the reset"
    );
    assert!(!netns_exists("mvR1"), "mvR1's namespace left after reset");
    assert!(
        netns_exists(&adopted),
        "an adopted namespace is not ebpfnet's to remove"
    );
    for dev in ["eth0", "eth1"] {
        assert!(
            !netns_link_exists(&adopted, dev),
            "{dev} left in the adopted namespace"
        );
    }
}

/// Removes the test's own namespace, also on failure.
struct Guard(String);

impl Drop for Guard {
    fn drop(&mut self) {
        delete_netns(&self.0);
    }
}
