//! The Docker driver's answers on its socket, as libnetwork's remote
//! driver protocol specifies them (no dockerd needed).

use ebpfnet_tests::docker::{plugin_call, plugin_for_this_run};
use ebpfnet_tests::*;
use serde_json::Value;

fn env_with_plugin(tag: &str) -> TestEnv {
    let (_, socket) = plugin_for_this_run();
    TestEnv::with_daemon_args(tag, &[&format!("--docker-plugin={}", socket.display())])
}

#[test]
fn the_driver_answers_the_protocol_as_libnetwork_specifies() {
    let env = env_with_plugin("docker-api");
    let (_, socket) = plugin_for_this_run();
    let call = |path: &str, body: &str| plugin_call(&socket, path, body);
    let json = |text: &str| -> Value {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    let (status, body) = call("/Plugin.Activate", "");
    assert!(status.contains(" 200 "), "{status}");
    assert_eq!(
        json(&body),
        serde_json::json!({"Implements": ["NetworkDriver"]})
    );
    let (_, body) = call("/NetworkDriver.GetCapabilities", "");
    assert_eq!(
        json(&body),
        serde_json::json!({"Scope": "local", "ConnectivityScope": "local"})
    );
    for quiet in [
        "/NetworkDriver.DiscoverNew",
        "/NetworkDriver.DiscoverDelete",
    ] {
        let (status, body) = call(quiet, r#"{"DiscoveryType":1,"DiscoveryData":{}}"#);
        assert!(status.contains(" 200 "), "{quiet}: {status}");
        assert_eq!(json(&body), serde_json::json!({}), "{quiet}");
    }
    let (_, body) = call("/NetworkDriver.AllocateNetwork", r#"{"NetworkID":"x"}"#);
    assert!(
        json(&body)["Err"]
            .as_str()
            .is_some_and(|e| e.contains("local-scope")),
        "{body}"
    );
    // Unknown calls are 404 (libnetwork then skips them), bodies that do
    // not decode 400, and calls about unknown objects an "Err".
    let (status, _) = call("/NetworkDriver.Nope", "{}");
    assert!(status.contains(" 404 "), "{status}");
    let (status, body) = call("/NetworkDriver.CreateNetwork", "{");
    assert!(status.contains(" 400 "), "{status}");
    assert!(json(&body)["Err"].is_string(), "{body}");
    let (status, body) = call(
        "/NetworkDriver.Join",
        r#"{"NetworkID":"n","EndpointID":"e","SandboxKey":"/nowhere/x"}"#,
    );
    assert!(status.contains(" 200 "), "{status}");
    assert_eq!(
        json(&body)["Err"],
        "ebpfnet knows no Docker endpoint e",
        "{body}"
    );
    let (_, body) = call(
        "/NetworkDriver.CreateNetwork",
        r#"{"NetworkID":"n1","IPv4Data":[{"Pool":"10.237.0.0/24","Gateway":"10.237.0.1/24"}],
            "IPv6Data":[{"Pool":"fd00::/64"},{"Pool":"fd01::/64"}],"Options":{}}"#,
    );
    assert!(
        json(&body)["Err"]
            .as_str()
            .is_some_and(|e| e.contains("at most one IPv6 subnet")),
        "{body}"
    );
    // Nothing was made by the refused calls.
    let networks = env.json(&["network", "ls"]).to_string();
    assert!(!networks.contains("docker-n1"), "{networks}");
}
