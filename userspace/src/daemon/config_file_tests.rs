use std::{
    fs,
    path::{Path, PathBuf},
};

use super::super::docker_plugin::PluginSetting;

use super::*;

const FILE: &str = "/etc/ebpfnet/daemon.json";

fn parsed(text: &str) -> DaemonSettings {
    parse(text, Path::new(FILE)).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn resolved(flags: DaemonSettings, file_text: &str) -> Result<Resolved, ConfigError> {
    flags.over(parsed(file_text)).resolve(None, Path::new(FILE))
}

fn error_of(text: &str) -> String {
    match parse(text, Path::new(FILE)).and_then(|s| s.resolve(None, Path::new(FILE))) {
        Ok(r) => panic!("{text} was accepted: {r:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn an_empty_file_gives_the_builtin_defaults() {
    let r = resolved(DaemonSettings::default(), "{}").expect("defaults");
    assert_eq!(r.state_dir, Path::new(DEFAULT_STATE_DIR));
    assert_eq!(r.pin_dir, Path::new(DEFAULT_PIN_DIR));
    assert_eq!(r.default_subnet.to_string(), "10.214.0.0/16");
    assert_eq!(r.bridge, crate::ids::DEFAULT_BRIDGE);
    assert_eq!(r.nat_table_size, ebpfnet_common::names::NAT_CAPACITY);
    assert_eq!(r.log_format, LogFormat::Text);
    assert!(r.uplinks.is_empty() && r.dns.is_empty());
    assert_eq!(r.metrics_addr, None);
    assert_eq!(r.masquerade_port_range, None);
    assert_eq!(r.tc_attach, TcAttachMode::Auto);
}

#[test]
fn every_key_of_the_file_is_taken() {
    let r = resolved(
        DaemonSettings::default(),
        r#"{
            "uplinks": ["eth1", "eth2"],
            "state-dir": "/srv/ebpfnet",
            "pin-dir": "/sys/fs/bpf/other",
            "bip": "172.18.0.1/16",
            "bridge": "docker1",
            "dns": ["192.0.2.53"],
            "nat-table-size": 4096,
            "masquerade-port-range": "62000-63000",
            "masquerade-ports-per-destination": 100,
            "log-format": "json",
            "metrics-addr": "127.0.0.1:9323",
            "tc-attach": "netlink"
        }"#,
    )
    .expect("valid file");
    assert_eq!(r.uplinks, ["eth1", "eth2"]);
    assert_eq!(r.state_dir, Path::new("/srv/ebpfnet"));
    assert_eq!(r.pin_dir, Path::new("/sys/fs/bpf/other"));
    assert_eq!(r.default_subnet.to_string(), "172.18.0.0/16");
    assert_eq!(r.bridge, "docker1");
    assert_eq!(r.dns, [Ipv4Addr::new(192, 0, 2, 53)]);
    assert_eq!(r.nat_table_size, 4096);
    assert_eq!(r.masquerade_port_range, Some((62000, 63000)));
    assert_eq!(r.masquerade_ports_per_destination, Some(100));
    assert_eq!(r.log_format, LogFormat::Json);
    assert_eq!(r.metrics_addr, "127.0.0.1:9323".parse().ok());
    assert_eq!(r.tc_attach, TcAttachMode::Netlink);
}

#[test]
fn flags_win_over_the_file() {
    let flags = DaemonSettings {
        nat_table_size: Some(2048),
        uplinks: Some(vec!["up0".into()]),
        log_format: Some(LogFormat::Text),
        tc_attach: Some(TcAttachMode::Tcx),
        ..DaemonSettings::default()
    };
    let file = r#"{"nat-table-size": 8192, "uplinks": ["eth9"], "log-format": "json",
                   "bridge": "br-file", "tc-attach": "netlink"}"#;
    let r = resolved(flags, file).expect("valid");
    assert_eq!(r.nat_table_size, 2048);
    assert_eq!(r.uplinks, ["up0"]);
    assert_eq!(r.log_format, LogFormat::Text);
    assert_eq!(r.tc_attach, TcAttachMode::Tcx);
    assert_eq!(
        r.bridge, "br-file",
        "a key without a flag comes from the file"
    );
}

#[test]
fn the_default_subnet_flag_wins_over_bip() {
    let settings = parsed(r#"{"bip": "172.18.0.1/16"}"#);
    let flag = "10.99.0.0/16".parse().ok();
    let r = settings.resolve(flag, Path::new(FILE)).expect("valid");
    assert_eq!(r.default_subnet.to_string(), "10.99.0.0/16");
}

#[test]
fn fixed_cidr_alone_or_equal_to_bip_sets_the_subnet() {
    let alone = resolved(
        DaemonSettings::default(),
        r#"{"fixed-cidr": "10.50.0.0/24"}"#,
    );
    assert_eq!(
        alone.expect("valid").default_subnet.to_string(),
        "10.50.0.0/24"
    );
    let both = r#"{"bip": "10.50.0.1/24", "fixed-cidr": "10.50.0.0/24"}"#;
    let both = resolved(DaemonSettings::default(), both);
    assert_eq!(
        both.expect("valid").default_subnet.to_string(),
        "10.50.0.0/24"
    );
}

#[test]
fn unsupported_subnet_forms_name_their_key() {
    let bip = error_of(r#"{"bip": "10.50.0.7/24"}"#);
    assert!(
        bip.contains("key \"bip\"") && bip.contains("10.50.0.1/24"),
        "{bip}"
    );
    let narrower = error_of(r#"{"bip": "10.50.0.1/16", "fixed-cidr": "10.50.1.0/24"}"#);
    assert!(narrower.contains("key \"fixed-cidr\""), "{narrower}");
    let host_bits = error_of(r#"{"fixed-cidr": "10.50.0.9/24"}"#);
    assert!(host_bits.contains("key \"fixed-cidr\""), "{host_bits}");
    let too_small = error_of(r#"{"fixed-cidr": "10.50.0.0/31"}"#);
    assert!(too_small.contains("key \"fixed-cidr\""), "{too_small}");
}

#[test]
fn an_unknown_key_is_refused_with_its_name_and_the_file() {
    let e = error_of(r#"{"nat-table-size": 4096, "iptables": false}"#);
    assert!(e.contains(FILE), "{e}");
    assert!(e.contains("unknown field `iptables`"), "{e}");
}

#[test]
fn bad_values_name_their_key_and_the_file() {
    for (text, key) in [
        (r#"{"nat-table-size": 5}"#, "nat-table-size"),
        (r#"{"nat-table-size": "big"}"#, "nat-table-size"),
        (
            r#"{"masquerade-port-range": "65000-61000"}"#,
            "masquerade-port-range",
        ),
        (
            r#"{"masquerade-ports-per-destination": 0}"#,
            "masquerade-ports-per-destination",
        ),
        (r#"{"log-format": "xml"}"#, "log-format"),
        (r#"{"tc-attach": "legacy"}"#, "tc-attach"),
        (r#"{"metrics-addr": "localhost"}"#, "metrics-addr"),
        (r#"{"bridge": "a-name-far-too-long"}"#, "bridge"),
        (r#"{"uplinks": ["eth0", "bad name"]}"#, "uplinks"),
        (r#"{"dns": ["not-an-ip"]}"#, "dns[0]"),
        (r#"{"bip": "300.1.1.1/8"}"#, "bip"),
    ] {
        let e = error_of(text);
        assert!(e.contains(&format!("key \"{key}\"")), "{text}: {e}");
        assert!(e.contains(FILE), "{text}: {e}");
    }
}

#[test]
fn a_file_that_is_not_a_json_object_is_refused() {
    for text in ["", "[1]", "{\"bridge\": \"b\""] {
        let e = error_of(text);
        assert!(
            e.starts_with(&format!("daemon config file {FILE}: ")),
            "{text:?}: {e}"
        );
    }
}

#[test]
fn only_the_default_file_may_be_missing() {
    let dir = std::env::temp_dir().join(format!("ebpfnet-config-{}", std::process::id()));
    let missing = dir.join("daemon.json");
    assert_eq!(load(&missing, false).ok(), Some(DaemonSettings::default()));
    let e = load(&missing, true).expect_err("an explicit missing file is an error");
    assert!(
        e.to_string().contains(&missing.display().to_string()),
        "{e}"
    );

    fs::create_dir_all(&dir).expect("mkdir");
    fs::write(&missing, r#"{"nat-table-size": 2048}"#).expect("write");
    let read = load(&missing, true);
    let _ = fs::remove_dir_all(&dir);
    assert_eq!(read.expect("valid").nat_table_size, Some(2048));
}

#[test]
fn cluster_store_and_advertise_address_go_together() {
    let r = resolved(
        DaemonSettings::default(),
        r#"{"cluster-store": "etcd://10.0.0.5:2379,10.0.0.6:2379", "cluster-advertise": "10.0.0.7"}"#,
    )
    .expect("valid");
    let cluster = r.cluster.expect("a cluster");
    assert_eq!(
        cluster.store.to_string(),
        "etcd://10.0.0.5:2379,10.0.0.6:2379"
    );
    assert_eq!(cluster.advertise_addr.to_string(), "10.0.0.7");

    let alone = error_of(r#"{"cluster-store": "etcd://10.0.0.5:2379"}"#);
    assert!(
        alone.starts_with("cluster store etcd://10.0.0.5:2379 (--cluster-store")
            && alone.contains("--advertise-addr IP (key \"cluster-advertise\")"),
        "{alone}"
    );
    let alone = error_of(r#"{"cluster-advertise": "10.0.0.7"}"#);
    assert!(
        alone.contains("needs a cluster store: --cluster-store"),
        "{alone}"
    );
    let bad = error_of(r#"{"cluster-store": "consul://x:8500", "cluster-advertise": "10.0.0.7"}"#);
    assert!(
        bad.contains("key \"cluster-store\"") && bad.contains("only etcd"),
        "{bad}"
    );
    let any = error_of(r#"{"cluster-store": "etcd://x:2379", "cluster-advertise": "0.0.0.0"}"#);
    assert!(
        any.contains("advertise address 0.0.0.0") && any.contains("is not an"),
        "{any}"
    );
}

#[test]
fn the_docker_plugin_key_and_its_flag() {
    let none = resolved(DaemonSettings::default(), "{}").expect("valid");
    assert_eq!(none.docker_plugin, None, "off by default");
    let off = resolved(DaemonSettings::default(), r#"{"docker-plugin": false}"#);
    assert_eq!(off.expect("valid").docker_plugin, None);
    let on = resolved(DaemonSettings::default(), r#"{"docker-plugin": true}"#);
    assert_eq!(
        on.expect("valid").docker_plugin,
        Some(PathBuf::from(super::super::docker_plugin::DEFAULT_SOCKET))
    );
    let file = r#"{"docker-plugin": "/run/docker/plugins/ebpf2.sock"}"#;
    let path = resolved(DaemonSettings::default(), file).expect("valid");
    assert_eq!(
        path.docker_plugin,
        Some(PathBuf::from("/run/docker/plugins/ebpf2.sock"))
    );
    // The flag's socket wins over the key's, also over `false`.
    for file in [file, r#"{"docker-plugin": false}"#] {
        let flags = DaemonSettings {
            docker_plugin: Some(PluginSetting::Socket(
                "/run/docker/plugins/flag.sock".into(),
            )),
            ..DaemonSettings::default()
        };
        assert_eq!(
            resolved(flags, file).expect("valid").docker_plugin,
            Some(PathBuf::from("/run/docker/plugins/flag.sock"))
        );
    }
    for (text, says) in [
        (
            r#"{"docker-plugin": "ebpfnet.sock"}"#,
            "is not an absolute path",
        ),
        (
            r#"{"docker-plugin": 1}"#,
            "is not true, false or the absolute path",
        ),
        (
            r#"{"docker-plugin": "/run/docker/plugins/"}"#,
            "names no socket file",
        ),
    ] {
        let e = error_of(text);
        assert!(
            e.starts_with(&format!(
                "daemon config file {FILE}: key \"docker-plugin\": "
            )),
            "{text}: {e}"
        );
        assert!(e.contains(says), "{text}: {e}");
    }
}

#[test]
fn ipv6_keys_give_the_default_network_ipv6() {
    let r = resolved(DaemonSettings::default(), "{}").expect("defaults");
    assert!(!r.default_ipv6.enable, "IPv6 is off unless asked for");
    let r = resolved(
        DaemonSettings::default(),
        r#"{"ipv6": true, "fixed-cidr-v6": "fd00:d::/64"}"#,
    )
    .expect("valid");
    assert!(r.default_ipv6.enable);
    assert_eq!(
        r.default_ipv6.subnet.map(|s| s.to_string()),
        Some("fd00:d::/64".into())
    );
    // The flag turns it on over a file without the key.
    let flags = DaemonSettings {
        ipv6: Some(true),
        ..DaemonSettings::default()
    };
    assert!(resolved(flags, "{}").expect("valid").default_ipv6.enable);
    let err = error_of(r#"{"fixed-cidr-v6": "fd00:d::/64"}"#);
    assert!(
        err.contains("\"fixed-cidr-v6\"") && err.contains("needs ipv6"),
        "{err}"
    );
    let err = error_of(r#"{"ipv6": true, "fixed-cidr-v6": "fd00:d::5/64"}"#);
    assert!(
        err.contains("use the subnet's own address, fd00:d::"),
        "{err}"
    );
    let err = error_of(r#"{"ipv6": "yes"}"#);
    assert!(err.contains("ipv6"), "{err}");
}
