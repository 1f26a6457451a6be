//! The daemon follows the host's links and addresses from netlink
//! notifications: an uplink deleted and made again under the same name is
//! protected and serves published ports again within seconds, with no
//! restart; a host address added or removed is in `HOST_ADDRS` at once.
//! (The daemon's safety poll runs only every 60 s, so what these tests see
//! within a second or three comes from the notifications.)

use std::time::{Duration, Instant};

use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;

/// The ifindexes `UPLINKS` holds, from the pinned map.
fn uplinks_map_keys(env: &TestEnv) -> Vec<u64> {
    bpftool_dump(&env.pin_dir.join("UPLINKS"))
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter_map(|e| e["formatted"]["key"].as_u64())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn uplink_recreated_under_the_same_name_is_protected_and_serves_again() {
    let mut env = TestEnv::new("hupl");
    let (up, out) = (env.uplink_ip.clone(), env.outside_ns.clone());
    env.create_container("ur", &["-p", "8080:80"]);
    let _srv = echo_server("ur", "ur", 80);
    let container_ip = env.ip_of("ur", "bridge");
    request(&out, &up, 8080, "tcp").unwrap_or_else(|e| panic!("control: {e}"));
    let old_index = link_ifindex(&env.uplink);
    assert_eq!(uplinks_map_keys(&env), vec![u64::from(old_index)]);

    env.recreate_uplink();
    let new_index = link_ifindex(&env.uplink);
    assert_ne!(old_index, new_index, "the re-made uplink kept its ifindex");
    let made = Instant::now();
    // Without the uplink program the host's own stack gets the SYN and
    // refuses it at once, so each failed try is quick.
    let served = wait_for(Duration::from_secs(3), || {
        request(&out, &up, 8080, "tcp").is_ok_and(|r| r.starts_with("ur peer="))
    });
    assert!(
        served,
        "{up}:8080 not served through the re-made uplink within 3 s"
    );
    eprintln!(
        "published port served again {:?} after the uplink came back",
        made.elapsed()
    );
    assert!(env.daemon_running(), "the daemon must not have restarted");
    assert!(
        wait_for(Duration::from_secs(1), || uplinks_map_keys(&env)
            == vec![u64::from(new_index)]),
        "UPLINKS must hold only the new ifindex {new_index}: {:?}",
        uplinks_map_keys(&env)
    );
    let log = env.daemon_log();
    assert!(
        log.contains(&format!("uplink {} (#{old_index}) is gone", env.uplink)),
        "the daemon must log the vanished uplink:\n{log}"
    );

    // Unsolicited traffic to the container through the new uplink is still
    // dropped by the uplink program.
    let before = drop_count(&env, "unsolicited");
    assert!(
        request(&out, &container_ip, 80, "tcp").is_err(),
        "the outside reached {container_ip} directly through the re-made uplink"
    );
    let after = drop_count(&env, "unsolicited");
    assert!(
        after > before,
        "unsolicited drops went {before} -> {after}: the new uplink is not protected"
    );
}

#[test]
fn host_address_changes_reach_the_datapath_at_once() {
    let env = TestEnv::new("haddr");
    let (up, out) = (env.uplink_ip.clone(), env.outside_ns.clone());
    let second = format!("{}.60", up.rsplit_once('.').map_or("", |p| p.0));
    env.create_container("hx1", &["-p", "8080:80"]);
    env.create_container("hx2", &[]);
    let _srv = echo_server("hx1", "hx1", 80);
    assert!(!host_addrs_has(&env, &second));

    let added = HostAddrGuard::add(&format!("{second}/24"), &env.uplink);
    assert!(
        wait_for(Duration::from_secs(1), || host_addrs_has(&env, &second)),
        "HOST_ADDRS lacks {second} 1 s after it was added"
    );
    // Containers reach the 0.0.0.0 mapping through the new address (the
    // hairpin path needs it in HOST_ADDRS), and it takes a mapping of its own.
    let r = request("hx2", &second, 8080, "tcp")
        .unwrap_or_else(|e| panic!("hx2 -> {second}:8080: {e}"));
    assert!(r.starts_with("hx1 peer="), "{r}");
    env.ok(&[
        "publish",
        &format!("{second}:8095:80"),
        "--container",
        "hx1",
    ]);
    let r = request(&out, &second, 8095, "tcp")
        .unwrap_or_else(|e| panic!("outside -> {second}:8095: {e}"));
    assert!(r.starts_with("hx1 peer="), "{r}");

    drop(added);
    assert!(
        wait_for(Duration::from_secs(1), || !host_addrs_has(&env, &second)),
        "HOST_ADDRS still holds {second} 1 s after it was removed"
    );
}
