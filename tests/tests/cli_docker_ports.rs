//! Docker's verbs and flags against a live daemon: `-p START-END:PORT`
//! (a free host port of the range), `-P` with `--expose`, `network prune`,
//! and the exit statuses scripts test (2 usage, 125 exec's own errors, the
//! command's own passed through).

use std::{net::TcpListener, process::Command, time::Duration};

use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;

/// The host port of the only mapping `port NAME PORT` prints
/// (`0.0.0.0:N`).
#[track_caller]
fn host_port(env: &TestEnv, container: &str, port: &str) -> u16 {
    let out = env.ok(&["port", container, port]);
    let line = out.trim_end();
    assert_eq!(line.lines().count(), 1, "port {container} {port}: {out:?}");
    line.strip_prefix("0.0.0.0:")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("port {container} {port} printed {line:?}"))
}

/// A base port whose next ten are free on the host now.
fn free_range() -> u16 {
    (0..50)
        .map(|_| free_local_port())
        .find(|&base| {
            base < 65000 && (base..=base + 10).all(|p| TcpListener::bind(("0.0.0.0", p)).is_ok())
        })
        .expect("a free run of eleven ports")
}

#[test]
fn a_host_range_gives_a_free_port_of_it() {
    let env = TestEnv::new("dkrange");
    let base = free_range();
    // A host process holds the first port of the range.
    let _held = TcpListener::bind(("0.0.0.0", base)).expect("bind the first port");
    let range = format!("{base}-{}:80", base + 10);
    env.create_container("dk3a", &["-p", &range]);
    env.create_container("dk3b", &[]);
    env.ok(&["publish", &range, "--container", "dk3b"]);
    let (pa, pb) = (
        host_port(&env, "dk3a", "80"),
        host_port(&env, "dk3b", "80/tcp"),
    );
    assert_eq!(pa, base + 1, "the first free port of {range}");
    assert_eq!(pb, base + 2, "the next one, {} being published", base + 1);
    let _srv = echo_server("dk3a", "dk3a", 80);
    let reply = request(&env.outside_ns, &env.uplink_ip, pa, "tcp")
        .unwrap_or_else(|e| panic!("outside -> {pa}: {e}"));
    assert!(reply.starts_with("dk3a peer="), "{reply}");
    // Unpublishing by the range takes whichever port the mapping got.
    assert_eq!(
        env.ok(&["unpublish", &range, "--container", "dk3b"]),
        format!("80/tcp -> 0.0.0.0:{pb}\n")
    );
    // Every port of a range taken: refused, naming the range.
    let small = format!("{base}-{}:81", base + 1);
    env.fails_with(
        &["publish", &small, "--container", "dk3b"],
        &[&format!("no free host port left in {base}-{}", base + 1)],
    );
}

#[test]
fn publish_all_publishes_the_exposed_ports() {
    let env = TestEnv::new("dkpall");
    let args = [
        "-P",
        "--expose",
        "80",
        "--expose",
        "9000-9001/udp",
        "--expose",
        "81",
    ];
    let mut with_p = args.to_vec();
    with_p.extend(["-p", "8085:81"]);
    env.create_container("dk4a", &with_p);
    let lines = port_lines(&env, "dk4a");
    assert_eq!(lines.len(), 4, "{lines:?}");
    // 81 keeps its -p binding; the others get one each.
    assert_eq!(env.ok(&["port", "dk4a", "81"]), "0.0.0.0:8085\n");
    let p80 = host_port(&env, "dk4a", "80");
    let (u0, u1) = (
        host_port(&env, "dk4a", "9000/udp"),
        host_port(&env, "dk4a", "9001/udp"),
    );
    assert_ne!(u0, u1, "two udp ports on one host port: {lines:?}");
    let _srv = echo_server("dk4a", "dk4a", 80);
    let reply = request(&env.outside_ns, &env.uplink_ip, p80, "tcp")
        .unwrap_or_else(|e| panic!("outside -> {p80}: {e}"));
    assert!(reply.starts_with("dk4a peer="), "{reply}");
    // --expose alone publishes nothing, as Docker.
    env.create_container("dk4b", &["--expose", "80"]);
    assert_eq!(env.ok(&["port", "dk4b"]), "");
    env.fails_with_status(
        2,
        &["container", "create", "dk4c", "--expose", "80/sctp"],
        &["80/sctp"],
    );
}

#[test]
fn network_prune_as_docker() {
    let env = TestEnv::new("dkprune");
    env.create_network("dk5free", &["--subnet", "10.231.0.0/24"]);
    env.create_network("dk5used", &["--subnet", "10.232.0.0/24"]);
    env.create_network("dk5free2", &["--subnet", "10.233.0.0/24"]);
    env.create_container("dk5a", &["--network", "dk5used"]);
    let bridge = env.bridge_of("dk5free");

    // No: nothing removed, Docker's prompt and error.
    let out = env.cli_stdin(&["network", "prune"], b"n\n");
    let what = cli::describe("network prune, answered n", &out);
    assert_eq!(out.code(), Some(1), "{what}");
    assert_eq!(
        out.stdout_str(),
        "WARNING! This will remove all custom networks not used by at least one container.\n\
         Are you sure you want to continue? [y/N] ",
        "{what}"
    );
    assert!(
        out.stderr_str()
            .contains("network prune has been cancelled"),
        "{what}"
    );
    env.inspect_network("dk5free");

    let out = env.cli_stdin(&["network", "prune"], b"y\n");
    assert!(out.status.success(), "{}", cli::describe("prune y", &out));
    assert!(
        out.stdout_str()
            .ends_with("Deleted Networks:\ndk5free\ndk5free2\n\n"),
        "{}",
        out.stdout_str()
    );
    env.fails(&["network", "inspect", "dk5free"]);
    assert!(!link_exists(&bridge), "bridge {bridge} left after prune");
    env.inspect_network("dk5used");
    env.inspect_network("bridge");
    // Nothing left to prune: nothing printed.
    assert_eq!(env.ok(&["network", "prune", "-f"]), "");
    env.ok(&["container", "rm", "dk5a"]);
    assert_eq!(
        env.ok(&["network", "prune", "--force"]),
        "Deleted Networks:\ndk5used\n\n"
    );
}

#[test]
fn exit_statuses_as_docker() {
    let env = TestEnv::new("dkexit");
    env.create_container("dk6a", &[]);
    // The command's own status, whatever it is.
    let out = env.cli(&["exec", "dk6a", "--", "sh", "-c", "exit 7"]);
    assert_eq!(out.code(), Some(7), "{}", cli::describe("exit 7", &out));
    let out = env.cli(&["exec", "dk6a", "--", "/nonexistent/cmd"]);
    assert_eq!(
        out.code(),
        Some(127),
        "{}",
        cli::describe("no such command", &out)
    );
    // ebpfnet's own errors on exec: 125.
    env.fails_with_status(125, &["exec", "dk6nope", "--", "true"], &["dk6nope"]);
    let out = run(
        Command::new(bin())
            .args([
                "--socket",
                "/nonexistent.sock",
                "exec",
                "dk6a",
                "--",
                "true",
            ])
            .env_remove("EBPFNET_SOCKET"),
        None,
        Duration::from_secs(20),
    );
    assert_eq!(
        out.code(),
        Some(125),
        "{}",
        cli::describe("no daemon", &out)
    );
    // Usage errors: 2, with one `Error:` line.
    env.fails_with_status(2, &["container", "ls", "--bogus"], &["--bogus"]);
    env.fails_with_status(2, &["exec", "dk6a"], &["required"]);
    env.fails_with_status(2, &["port"], &["required"]);
    // Other errors stay 1.
    env.fails_with(
        &["port", "dk6a", "80"],
        &["no public port '80' published for dk6a"],
    );
}
