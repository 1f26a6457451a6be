//! Remote control over TCP (`-H tcp://…`), only with mutual TLS: a client
//! with a certificate the daemon's CA signed drives the daemon; one without
//! a certificate, with another CA's, or speaking plain TCP gets nothing
//! done; a daemon asked to listen on TCP without TLS refuses to start and
//! makes nothing. Run as root: the tests fail (never skip) otherwise.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use ebpfnet_tests::TestEnv;
use ebpfnet_tests::certs::{Ca, EndFiles};
use ebpfnet_tests::cli::{CmdOutput, describe, run};

/// A port nobody listens on right now.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// `ebpfnet -H ADDRESS [TLS flags] ARGS`, with `EBPFNET_CERT_PATH` if given.
fn remote_cli(
    env: &TestEnv,
    address: &str,
    tls: Option<&EndFiles>,
    cert_path: Option<&EndFiles>,
    args: &[&str],
) -> std::process::Output {
    let mut cmd = Command::new(&env.bin);
    cmd.args(["-H", address])
        .args(tls.map(EndFiles::flags).unwrap_or_default())
        .args(args)
        .env_remove("EBPFNET_SOCKET")
        .env_remove("EBPFNET_HOST")
        .env_remove("EBPFNET_CERT_PATH");
    if let Some(files) = cert_path {
        cmd.env("EBPFNET_CERT_PATH", &files.dir);
    }
    run(&mut cmd, None, Duration::from_secs(30))
}

#[test]
fn only_a_client_the_ca_signed_drives_the_daemon() {
    let mut env = TestEnv::without_daemon("tls");
    let tls = env.dir.join("tls");
    let ours = Ca::new("ebpfnet test CA");
    let theirs = Ca::new("someone else's CA");
    let daemon = ours.issue(&tls.join("daemon"), &ours, &["127.0.0.1"], true);
    let client = ours.issue(&tls.join("client"), &ours, &["cli"], false);
    let rogue = theirs.issue(&tls.join("rogue"), &ours, &["cli"], false);
    let port = free_port();
    let address = format!("tcp://127.0.0.1:{port}");
    env.daemon_args = [vec!["-H".to_string(), address.clone()], daemon.flags()].concat();
    env.start_daemon();

    // Signed by the CA: drives the daemon (the same one as on the socket).
    let out = remote_cli(
        &env,
        &address,
        Some(&client),
        None,
        &["network", "create", "remote1"],
    );
    assert!(
        out.status.success(),
        "{}",
        describe("remote network create", &out)
    );
    assert!(env.ok(&["network", "ls"]).contains("remote1"));
    let out = remote_cli(&env, &address, None, Some(&client), &["network", "ls"]);
    assert!(
        out.status.success() && out.stdout_str().contains("remote1"),
        "{}",
        describe("remote network ls with EBPFNET_CERT_PATH", &out)
    );

    // Another CA's certificate: nothing done, and the reason said.
    let out = remote_cli(
        &env,
        &address,
        Some(&rogue),
        None,
        &["network", "create", "rogue1"],
    );
    assert!(!out.status.success(), "{}", describe("rogue client", &out));
    assert!(out.stderr_str().contains(&address), "{}", out.stderr_str());
    assert!(!env.ok(&["network", "ls"]).contains("rogue1"));

    // No TLS at all: the CLI refuses before connecting.
    let out = remote_cli(&env, &address, None, None, &["network", "ls"]);
    assert!(!out.status.success());
    assert!(
        out.stderr_str().contains("needs mutual TLS"),
        "{}",
        out.stderr_str()
    );

    // Plain TCP with a well-formed request: no answer, nothing made.
    let mut raw = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    raw.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let request = r#"{"api_version":1,"request":{"op":"network_create","name":"plain1","subnet":null,"gateway":null,"internal":false}}"#;
    let _ = raw.write_all(format!("{request}\n").as_bytes());
    let mut answer = Vec::new();
    let _ = raw.read_to_end(&mut answer);
    assert!(
        !String::from_utf8_lossy(&answer).contains("\"ok\""),
        "a plain TCP client was answered: {}",
        String::from_utf8_lossy(&answer)
    );
    assert!(!env.ok(&["network", "ls"]).contains("plain1"));
    assert!(
        env.daemon_log().contains("refused a remote client"),
        "the refusals are not logged"
    );
    env.ok(&["network", "rm", "remote1"]);
}

#[test]
fn a_daemon_never_listens_on_tcp_without_mutual_tls() {
    let env = TestEnv::without_daemon("tlsoff");
    let state_dir = env.dir.join("never-made");
    let address = format!("tcp://127.0.0.1:{}", free_port());
    let mut cmd = Command::new(&env.bin);
    cmd.args(["daemon", "-H", &address, "--socket"])
        .arg(env.dir.join("never.sock"))
        .arg("--state-dir")
        .arg(&state_dir)
        .arg("--pin-dir")
        .arg(env.dir.join("never-pinned"))
        .args(["--uplink", &env.uplink])
        .env_remove("EBPFNET_CERT_PATH");
    let out = run(&mut cmd, None, Duration::from_secs(30));
    assert!(
        !out.status.success(),
        "{}",
        describe("daemon -H tcp without TLS", &out)
    );
    assert!(
        out.stderr_str().contains(&format!(
            "refusing to listen on {address} without mutual TLS"
        )),
        "{}",
        out.stderr_str()
    );
    assert!(!state_dir.exists(), "the refused daemon made its state dir");
}
