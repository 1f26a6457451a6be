//! `--log-format json`: every line the daemon writes is a JSON object, and
//! each state change is one event carrying the names and ids.

use serde_json::Value;

use ebpfnet_tests::*;

/// The daemon's log lines, each parsed (panics on a line that is not JSON).
fn json_lines(env: &TestEnv) -> Vec<Value> {
    env.daemon_log()
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("a log line is not JSON ({e}): {line:?}"))
        })
        .collect()
}

/// The one event with this message whose `key` field is `value`.
#[track_caller]
fn event<'a>(lines: &'a [Value], message: &str, key: &str, value: &str) -> &'a Value {
    let found: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == message && l["fields"][key] == value)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one {message:?} event with {key}={value:?}, got {found:?}\nin {lines:#?}"
    );
    found[0]
}

#[test]
fn json_logs_carry_one_event_per_state_change() {
    let env = TestEnv::with_daemon_args("logjson", &["--log-format", "json"]);
    let network_id = env.create_network("lognet", &["--subnet", "10.241.0.0/24"]);
    let container_id = env.create_container("logc", &["--network", "lognet"]);
    let host_port = free_local_port();
    let spec = format!("127.0.0.1:{host_port}:80");
    env.ok(&["publish", &spec, "--container", "logc"]);
    env.ok(&["container", "rm", "logc"]);
    env.ok(&["network", "rm", "lognet"]);

    let lines = json_lines(&env);
    for line in &lines {
        assert!(
            line["timestamp"].is_string() && line["level"].is_string(),
            "no timestamp or level: {line}"
        );
    }
    for message in ["network created", "network removed"] {
        let e = event(&lines, message, "network", "lognet");
        assert_eq!(e["fields"]["id"], network_id.as_str(), "{e}");
        assert_eq!(e["fields"]["subnet"], "10.241.0.0/24", "{e}");
        assert_eq!(e["level"], "INFO", "{e}");
    }
    for message in ["container created", "container removed"] {
        let e = event(&lines, message, "container", "logc");
        assert_eq!(e["fields"]["id"], container_id.as_str(), "{e}");
    }
    let connected = event(&lines, "container connected", "container", "logc");
    assert_eq!(connected["fields"]["network"], "lognet");
    let ip = connected["fields"]["ip"].as_str().unwrap_or_default();
    assert!(ip_in_cidr(ip, "10.241.0.0/24"), "{connected}");
    for message in ["port published", "port unpublished"] {
        let e = event(&lines, message, "container", "logc");
        assert_eq!(e["fields"]["host_port"], host_port, "{e}");
        let mapping = format!("80/tcp -> 127.0.0.1:{host_port}");
        assert_eq!(e["fields"]["port"], mapping.as_str(), "{e}");
    }
    // Records of the older `log` call sites come through as JSON too.
    assert!(
        lines.iter().any(|l| l["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("ebpfnet daemon listening on"))),
        "the `log` record of the listening socket is missing"
    );
}
