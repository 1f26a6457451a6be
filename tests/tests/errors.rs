//! Bad input: non-zero exit, an error naming the wrong thing, nothing lost
//! and nothing stray left behind. Also: the CLI without a daemon.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use ebpfnet_tests::*;

/// What ebpfnet owns on the host right now.
fn snapshot() -> (BTreeSet<String>, BTreeSet<String>) {
    (host_links(), netns_list())
}

#[test]
fn bad_input_is_refused_and_nothing_is_lost() {
    let env = TestEnv::new("err");
    env.create_network(
        "e1net",
        &["--subnet", "10.231.0.0/24", "--gateway", "10.231.0.1"],
    );
    env.create_container("e1a", &["--network", "e1net"]);
    env.create_container("e1b", &["--network", "e1net"]);
    let ip_b = env.ip_of("e1b", "e1net");
    let net_before = env.inspect_network("e1net");
    let before = snapshot();
    // Contract violations are collected so one run reports all of them.
    let problems = std::cell::RefCell::new(Vec::<String>::new());
    let refused_with = |status: i32, args: &[&str], needles: &[&str]| {
        let out = env.cli(args);
        let what = cli::describe(&format!("ebpfnet {}", args.join(" ")), &out);
        let err = out.stderr_str();
        if out.status.success() {
            panic!("accepted bad input: {what}");
        }
        let mut bad = Vec::new();
        if out.code() != Some(status) {
            bad.push("wrong exit status");
        }
        if !err.starts_with("Error: ") {
            bad.push("stderr does not start with `Error: `");
        }
        if needles.iter().any(|n| !err.contains(n)) {
            bad.push("the error does not name the wrong input");
        }
        if !bad.is_empty() {
            problems
                .borrow_mut()
                .push(format!("{}: {what}", bad.join(", ")));
        }
        err
    };
    // Usage errors (what the command line parser refuses) exit 2, exec's
    // own errors 125, the rest 1.
    let refused = |args: &[&str], needles: &[&str]| {
        refused_with(if args[0] == "exec" { 125 } else { 1 }, args, needles)
    };
    let usage = |args: &[&str], needles: &[&str]| refused_with(2, args, needles);

    let still_fine = |what: &str| {
        assert_eq!(snapshot(), before, "after {what}: links/netns changed");
        assert!(ping("e1a", &ip_b), "after {what}: e1a cannot ping e1b");
        let n = env.inspect_network("e1net");
        assert_eq!(n["Id"], net_before["Id"], "after {what}");
        assert_eq!(n["IPAM"], net_before["IPAM"], "after {what}");
        assert_eq!(
            n["Containers"].as_object().map(|m| m.len()),
            Some(2),
            "after {what}: {n:#}"
        );
    };

    // Networks.
    refused(&["network", "create", "e1net"], &["e1net"]);
    still_fine("duplicate network name");
    let err = refused(
        &["network", "create", "e1over", "--subnet", "10.231.0.0/16"],
        &[],
    );
    if !(err.contains("e1net") || err.contains("10.231.0.0/24")) {
        problems.borrow_mut().push(format!(
            "overlap error names neither e1net nor 10.231.0.0/24: {err}"
        ));
    }
    still_fine("overlapping subnet");
    refused(
        &["network", "create", "e1over2", "--subnet", "10.214.5.0/24"],
        &[],
    );
    still_fine("subnet overlapping the default network");
    refused(
        &[
            "network",
            "create",
            "e1gw",
            "--subnet",
            "10.236.0.0/24",
            "--gateway",
            "10.237.0.1",
        ],
        &["10.237.0.1"],
    );
    still_fine("gateway outside subnet");
    usage(
        &["network", "create", "e1cidr", "--subnet", "10.236.0.0/33"],
        &["10.236.0.0/33"],
    );
    usage(
        &["network", "create", "e1cidr", "--subnet", "notacidr"],
        &["notacidr"],
    );
    usage(&["network", "ls", "--bogus"], &["--bogus"]);
    still_fine("invalid CIDR");
    for gone in ["e1over", "e1over2", "e1gw", "e1cidr"] {
        env.fails(&["network", "inspect", gone]);
    }
    refused(&["network", "rm", "e1nonet"], &["e1nonet"]);
    refused(&["network", "inspect", "e1nonet"], &["e1nonet"]);
    still_fine("unknown network rm/inspect");

    // Containers.
    refused(
        &["container", "create", "e1c", "--network", "e1nonet"],
        &["e1nonet"],
    );
    assert!(!netns_exists("e1c"));
    still_fine("container on unknown network");
    refused(
        &["container", "create", "e1a", "--network", "e1net"],
        &["e1a"],
    );
    refused(&["container", "create", "e1a"], &["e1a"]);
    still_fine("duplicate container name");
    refused(&["container", "create", "bad/name"], &["bad/name"]);
    refused(&["container", "create", "../e1x"], &["../e1x"]);
    still_fine("invalid container name");
    refused(&["container", "rm", "e1none"], &["e1none"]);
    refused(&["container", "inspect", "e1none"], &["e1none"]);
    refused(&["exec", "e1none", "--", "true"], &["e1none"]);
    refused(&["network", "connect", "e1net", "e1none"], &["e1none"]);
    refused(&["network", "connect", "e1nonet", "e1a"], &["e1nonet"]);
    still_fine("unknown container");

    // The first container kept its address through all of the above.
    let c = env.inspect_container("e1a");
    assert_eq!(
        c["NetworkSettings"]["Networks"]["e1net"]["IPAddress"],
        "10.231.0.2"
    );

    let problems = problems.into_inner();
    assert!(
        problems.is_empty(),
        "{} error(s) break the CLI contract (`Error: ...`, exit 1 (2 usage, 125 exec), naming the input):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn no_daemon() {
    let _serial = serial();
    let sock = format!("/tmp/ebn-test-nonexistent-{}.sock", std::process::id());
    let out = run(
        Command::new(bin())
            .args(["--socket", &sock, "network", "ls"])
            .env_remove("EBPFNET_SOCKET"),
        None,
        Duration::from_secs(20),
    );
    let what = cli::describe("ebpfnet network ls without a daemon", &out);
    assert_eq!(out.code(), Some(1), "{what}");
    let err = out.stderr_str();
    assert!(
        err.starts_with("Error: cannot reach the ebpfnet daemon"),
        "{what}"
    );
    assert!(err.contains(&sock), "error should name the socket: {what}");
    assert!(
        err.contains("ebpfnet daemon"),
        "error should say how to start one: {what}"
    );
    assert!(out.stdout.is_empty(), "{what}");

    // Also through the environment variable.
    let out = run(
        Command::new(bin())
            .args(["container", "ls"])
            .env("EBPFNET_SOCKET", &sock),
        None,
        Duration::from_secs(20),
    );
    assert_eq!(out.code(), Some(1));
    assert!(out.stderr_str().contains(&sock), "{}", out.stderr_str());
}

/// Sends one raw request line to the daemon, as a CLI of another build
/// would, and returns its answer line as JSON.
fn raw_exchange(socket: &std::path::Path, line: &str) -> serde_json::Value {
    use std::io::{BufRead as _, BufReader, Write as _};
    let mut stream = std::os::unix::net::UnixStream::connect(socket).expect("daemon socket");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    writeln!(stream, "{line}").expect("send");
    let mut answer = String::new();
    BufReader::new(stream)
        .read_line(&mut answer)
        .expect("answer");
    serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer:?}"))
}

#[test]
fn clients_of_another_protocol_version_are_told_so() {
    let env = TestEnv::new("ver");
    // A CLI from before versioning reads only `{"error": …}`.
    let answer = raw_exchange(&env.sock, r#"{"op":"network_list"}"#);
    let message = answer["error"].as_str().unwrap_or_default();
    assert!(message.contains("older than the daemon"), "{answer}");
    assert_eq!(answer.as_object().map(|o| o.len()), Some(1), "{answer}");
    // A newer one learns both versions, in the versioned envelope.
    let answer = raw_exchange(
        &env.sock,
        r#"{"api_version":999,"request":{"op":"network_list"}}"#,
    );
    assert_eq!(answer["api_version"], 2, "{answer}");
    let message = answer["error"].as_str().unwrap_or_default();
    assert!(
        message.contains("API version mismatch") && message.contains("version 999"),
        "{answer}"
    );
    // The daemon serves its own version's CLI as before.
    let networks = env.json(&["network", "ls"]);
    assert!(
        networks
            .as_array()
            .is_some_and(|n| n.iter().any(|n| n["Name"] == "bridge")),
        "{networks}"
    );
}
