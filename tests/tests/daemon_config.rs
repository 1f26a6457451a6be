//! The daemon's configuration file (`--config-file`, dockerd's
//! `daemon.json`): its values reach the datapath and the containers, flags
//! win over it, and a
//! file with an unknown key or a bad value stops the daemon before it makes
//! anything.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ebpfnet_tests::traffic::status_map_field;
use ebpfnet_tests::*;

/// Writes `text` as the env's config file and passes it with `--config-file`.
fn use_config_file(env: &mut TestEnv, text: &str) -> PathBuf {
    let path = env.dir.join("daemon.json");
    fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    env.daemon_args = vec!["--config-file".into(), path.display().to_string()];
    path
}

#[test]
fn config_file_values_reach_the_datapath_and_flags_win() {
    let mut env = TestEnv::without_daemon("cfgfile");
    use_config_file(
        &mut env,
        r#"{ "nat-table-size": 4096, "bridge": "ebpfnet0", "dns": ["192.0.2.53"], "log-format": "text" }"#,
    );
    env.start_daemon();
    assert_eq!(status_map_field(&env, "NAT_TCP", "MaxEntries"), 4096);
    assert_eq!(status_map_field(&env, "NAT_OTHER", "MaxEntries"), 4096);
    // `dns` is the name server of containers created without `--dns`.
    env.create_container("cfgdns", &[]);
    env.create_container("cfgown", &["--dns", "192.0.2.54"]);
    let resolv = |name: &str| {
        let path = format!("/etc/netns/{name}/resolv.conf");
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
    };
    let (default, own) = (resolv("cfgdns"), resolv("cfgown"));
    assert!(default.contains("nameserver 192.0.2.53"), "{default}");
    assert!(
        own.contains("nameserver 192.0.2.54") && !own.contains("192.0.2.53"),
        "{own}"
    );
    env.stop_daemon();

    // A flag wins over the file. The pinned maps keep their size, so start
    // from a fresh pin dir.
    env.reset().expect("system reset");
    env.daemon_args
        .extend(["--nat-table-size".to_string(), "2048".to_string()]);
    env.start_daemon();
    assert_eq!(status_map_field(&env, "NAT_TCP", "MaxEntries"), 2048);
}

/// Nothing of a daemon's is left: no pins, no socket, no state or lock.
fn assert_nothing_made(env: &TestEnv) {
    assert!(!env.pin_dir.exists(), "{} was made", env.pin_dir.display());
    assert!(!env.sock.exists(), "{} was made", env.sock.display());
    let made: Vec<PathBuf> = fs::read_dir(&env.state_dir)
        .map(|dir| dir.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(made.is_empty(), "the state dir has {made:?}");
    assert!(!link_exists(daemon::DEFAULT_BRIDGE), "the bridge was made");
}

/// Starts the daemon and expects it to exit non-zero at once; returns its log.
fn refused_start(env: &mut TestEnv) -> String {
    env.spawn_daemon(&[]);
    let status = env
        .wait_daemon_exit(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("the daemon kept running:\n{}", env.daemon_log()));
    assert!(!status.success(), "the daemon exited with {status}");
    env.daemon_log()
}

#[test]
fn an_unknown_key_or_a_bad_value_stops_the_daemon_before_it_makes_anything() {
    let mut env = TestEnv::without_daemon("cfgbad");
    for (text, key) in [
        (
            r#"{ "nat-table-size": 4096, "iptables": false }"#,
            "iptables",
        ),
        (r#"{ "nat-table-size": 12 }"#, "nat-table-size"),
        (r#"{ "bip": "10.214.0.9/16" }"#, "bip"),
        (r#"{ "docker-plugin": "ebpfnet.sock" }"#, "docker-plugin"),
    ] {
        let path = use_config_file(&mut env, text);
        let log = refused_start(&mut env);
        let shown = path.display().to_string();
        assert!(
            log.contains(&shown) && log.contains(key),
            "{text}: the error should name {key:?} and {shown}:\n{log}"
        );
        assert_nothing_made(&env);
        fs::write(&env.log, "").expect("truncate the daemon log");
    }
    // An explicit file that does not exist is an error too.
    let missing = Path::new("/nonexistent/ebpfnet/daemon.json");
    env.daemon_args = vec!["--config-file".into(), missing.display().to_string()];
    let log = refused_start(&mut env);
    assert!(log.contains(&missing.display().to_string()), "{log}");
    assert_nothing_made(&env);
}
