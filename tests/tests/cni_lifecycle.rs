//! The CNI plugin's other verbs, driven as a runtime drives them: GC of
//! attachments the runtime no longer lists, VERSION, STATUS, and the error
//! objects of bad calls, after which nothing is left behind.

mod resolve;

use ebpfnet_tests::cni::*;
use ebpfnet_tests::*;
use resolve::*;
use serde_json::{Value, json};

/// Only `lo` in the namespace: no interface was left behind.
#[track_caller]
fn assert_untouched(ns: &str) {
    let links = netns_exec_ok(ns, &["ip", "-o", "link", "show"]);
    assert_eq!(
        links.lines().count(),
        1,
        "only lo expected in {ns}: {links}"
    );
}

#[test]
fn gc_removes_attachments_the_runtime_no_longer_lists() {
    let env = TestEnv::new("cni-gc");
    env.create_network("cninet", &[]);
    env.create_container("cli-made", &["--network", "cninet"]);
    let pid = std::process::id();
    let kept_ns = OwnNetns::new(&format!("ebnt-cnigc1-{pid}"));
    let stale_ns = OwnNetns::new(&format!("ebnt-cnigc2-{pid}"));
    let (kept, stale) = (format!("cni-kept-{pid}"), format!("cni-stale-{pid}"));
    let conf = netconf(&env, "cninet-conf", "cninet", json!({}));
    cni(
        "ADD",
        &CniVars::attachment(&kept, &kept_ns.0, "eth0"),
        &conf,
    )
    .result();
    cni(
        "ADD",
        &CniVars::attachment(&stale, &stale_ns.0, "eth0"),
        &conf,
    )
    .result();
    // Another configuration's attachment is not this GC's business.
    let other_ns = OwnNetns::new(&format!("ebnt-cnigc3-{pid}"));
    let other = format!("cni-other-{pid}");
    let other_conf = netconf(&env, "other-conf", "cninet", json!({}));
    let other_vars = CniVars::attachment(&other, &other_ns.0, "eth0");
    cni("ADD", &other_vars, &other_conf).result();

    let mut gc_conf = conf.clone();
    gc_conf["cni.dev/valid-attachments"] = json!([{"containerID": kept, "ifname": "eth0"}]);
    cni("GC", &CniVars::default(), &gc_conf).assert_silent_success();
    let names = container_names(&env);
    assert!(!names.contains(&stale), "GC kept {stale}: {names:?}");
    assert_untouched(&stale_ns.0);
    for survivor in [&kept, &other, &"cli-made".to_string()] {
        assert!(names.contains(survivor), "GC removed {survivor}: {names:?}");
    }
    assert!(netns_link_exists(&kept_ns.0, "eth0"));

    // GC without the list is refused, and removes nothing.
    cni("GC", &CniVars::default(), &conf).assert_error(4);
    assert_eq!(container_names(&env).len(), names.len());
    cni(
        "DEL",
        &CniVars::attachment(&kept, &kept_ns.0, "eth0"),
        &conf,
    )
    .assert_silent_success();
    cni("DEL", &other_vars, &other_conf).assert_silent_success();
}

#[test]
fn version_and_status_answer_as_the_spec_says() {
    let env = TestEnv::new("cni-status");
    env.create_network("cninet", &[]);
    let version = cni_exec("VERSION", &CniVars::default(), br#"{"cniVersion":"1.0.0"}"#).result();
    assert_eq!(version["cniVersion"], "1.0.0", "{version:#}");
    assert_eq!(version["supportedVersions"], json!(["1.0.0", "1.1.0"]));

    let conf = netconf(&env, "cninet-conf", "cninet", json!({}));
    cni("STATUS", &CniVars::default(), &conf).assert_silent_success();
    let unknown = netconf(&env, "nosuch-conf", "nosuch", json!({}));
    cni("STATUS", &CniVars::default(), &unknown).assert_error(50);
    let mut no_daemon = conf.clone();
    no_daemon["socket"] = json!(env.dir.join("no-daemon.sock"));
    cni("STATUS", &CniVars::default(), &no_daemon).assert_error(50);
    // ADD with no daemon to ask: try again later.
    let own = OwnNetns::new(&format!("ebnt-cnist-{}", std::process::id()));
    let vars = CniVars::attachment("cni-status", &own.0, "eth0");
    cni("ADD", &vars, &no_daemon).assert_error(11);
    assert_untouched(&own.0);
}

#[test]
fn bad_calls_get_error_objects_and_leave_nothing_behind() {
    let env = TestEnv::new("cni-errors");
    env.create_network("cninet", &[]);
    env.create_container("taken", &["--network", "cninet", "-p", "8090:80"]);
    let own = OwnNetns::new(&format!("ebnt-cnierr-{}", std::process::id()));
    let id = "cni-errors";
    let vars = CniVars::attachment(id, &own.0, "eth0");
    let conf = netconf(&env, "cninet-conf", "cninet", json!({}));
    let before = container_names(&env);
    let check_nothing_left = |what: &str| {
        assert_eq!(container_names(&env), before, "after {what}");
        assert_untouched(&own.0);
    };

    let no_netns = CniVars {
        netns: None,
        ..vars.clone()
    };
    cni("ADD", &no_netns, &conf).assert_error(7);
    check_nothing_left("ADD without CNI_NETNS");

    let unknown = netconf(&env, "nosuch-conf", "nosuch", json!({}));
    let error = cni("ADD", &vars, &unknown).assert_error(4);
    assert!(
        error["details"]
            .as_str()
            .unwrap_or_default()
            .contains("nosuch"),
        "{error:#}"
    );
    check_nothing_left("ADD on an unknown network");

    cni_exec("ADD", &vars, b"{\"cniVersion\": \"1.1.0\", \"name\"").assert_error(5);
    check_nothing_left("ADD with broken JSON");
    let mut missing_type: Value = conf.clone();
    missing_type.as_object_mut().map(|o| o.remove("type"));
    cni("ADD", &vars, &missing_type).assert_error(4);
    let mut old = conf.clone();
    old["cniVersion"] = json!("0.3.1");
    cni("ADD", &vars, &old).assert_error(1);
    check_nothing_left("ADD with a bad configuration");

    // The daemon refuses a port another container has: nothing is made.
    let taken = netconf(
        &env,
        "cninet-conf",
        "cninet",
        json!({"portMappings": [{"hostPort": 8090, "containerPort": 80}]}),
    );
    let error = cni("ADD", &vars, &taken).assert_error(101);
    assert!(
        error["details"]
            .as_str()
            .unwrap_or_default()
            .contains("8090"),
        "{error:#}"
    );
    check_nothing_left("ADD with a taken port");

    // After all that, the same attachment still works.
    cni("ADD", &vars, &conf).result();
    // A second attachment of the container (another interface) is refused
    // and leaves the first as it was.
    let second = CniVars::attachment(id, &own.0, "eth1");
    let error = cni("ADD", &second, &conf).assert_error(101);
    assert!(
        error["details"]
            .as_str()
            .unwrap_or_default()
            .contains("already attached as eth0"),
        "{error:#}"
    );
    assert!(netns_link_exists(&own.0, "eth0") && !netns_link_exists(&own.0, "eth1"));
    assert!(container_names(&env).contains(&id.to_string()));
    cni("DEL", &vars, &conf).assert_silent_success();
    check_nothing_left("ADD and DEL");

    // An interface name the namespace already uses is refused, and the
    // runtime's interface is left as it was.
    netns_exec_ok(
        &own.0,
        &[
            "ip", "link", "add", "net9", "type", "veth", "peer", "name", "net9p",
        ],
    );
    let clash = CniVars::attachment(id, &own.0, "net9");
    let error = cni("ADD", &clash, &conf).assert_error(101);
    assert!(
        error["details"]
            .as_str()
            .unwrap_or_default()
            .contains("already has an interface net9"),
        "{error:#}"
    );
    assert!(
        netns_link_exists(&own.0, "net9"),
        "ADD removed the runtime's net9"
    );
    assert_eq!(container_names(&env), before, "after ADD with a taken name");
}
