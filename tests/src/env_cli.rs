//! Running the CLI against a [`TestEnv`]'s daemon, and reading its answers.

use crate::cli::{CmdOutput, describe, run};
use serde_json::Value;
use std::process::{Command, Output};

use crate::TestEnv;
use crate::daemon::CLI_TIMEOUT;

impl TestEnv {
    /// `ebpfnet --socket S ARGS` as a Command, not started.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--socket")
            .arg(&self.sock)
            .args(args)
            .env_remove("EBPFNET_SOCKET");
        cmd
    }

    /// Runs `ebpfnet --socket S ARGS` (60 s timeout).
    pub fn cli(&self, args: &[&str]) -> Output {
        run(&mut self.command(args), None, CLI_TIMEOUT)
    }

    /// Runs `ebpfnet --socket S ARGS` with `stdin` as its standard input.
    pub fn cli_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        run(&mut self.command(args), Some(stdin), CLI_TIMEOUT)
    }

    /// Runs the CLI, asserts success, returns stdout.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "{}\n--- daemon log (tail) ---\n{}",
            describe(&format!("ebpfnet {}", args.join(" ")), &out),
            self.log_tail()
        );
        out.stdout_str()
    }

    /// Runs the CLI, asserts a non-zero exit, returns stderr.
    #[track_caller]
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            !out.status.success(),
            "expected failure: {}",
            describe(&format!("ebpfnet {}", args.join(" ")), &out)
        );
        out.stderr_str()
    }

    /// Runs the CLI expecting a contract error: exit status 1, stderr
    /// `Error: ...` mentioning every string in `needles`. Returns stderr.
    #[track_caller]
    pub fn fails_with(&self, args: &[&str], needles: &[&str]) -> String {
        self.fails_with_status(1, args, needles)
    }

    /// [`Self::fails_with`] with another exit status: 2 for a command line
    /// the CLI refuses to parse, 125 for `exec`'s own errors.
    #[track_caller]
    pub fn fails_with_status(&self, status: i32, args: &[&str], needles: &[&str]) -> String {
        let out = self.cli(args);
        let what = describe(&format!("ebpfnet {}", args.join(" ")), &out);
        assert_eq!(
            out.code(),
            Some(status),
            "expected exit status {status}: {what}"
        );
        let err = out.stderr_str();
        assert!(
            err.contains("Error:"),
            "expected an `Error: ...` line: {what}"
        );
        for n in needles {
            assert!(err.contains(n), "error should name {n:?}: {what}");
        }
        err
    }

    /// Runs the CLI and parses stdout as JSON. Adds `--format json` except
    /// for `inspect` (always JSON) or when already given. `ls` prints one
    /// object a line, as Docker: they come back as one array.
    #[track_caller]
    pub fn json(&self, args: &[&str]) -> Value {
        let mut args: Vec<&str> = args.to_vec();
        if !args.contains(&"inspect") && !args.contains(&"--format") {
            args.extend(["--format", "json"]);
        }
        let text = self.ok(&args);
        let bad =
            |e: serde_json::Error| panic!("ebpfnet {}: bad JSON ({e}):\n{text}", args.join(" "));
        if args.contains(&"ls") {
            let lines = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(bad));
            return Value::Array(lines.collect());
        }
        serde_json::from_str(&text).unwrap_or_else(bad)
    }

    /// `network create NAME ARGS...` → the printed id (checked to be 64 hex).
    #[track_caller]
    pub fn create_network(&self, name: &str, extra: &[&str]) -> String {
        self.create("network", name, extra)
    }

    /// `container create NAME ARGS...` → the printed id (checked to be 64 hex).
    #[track_caller]
    pub fn create_container(&self, name: &str, extra: &[&str]) -> String {
        self.create("container", name, extra)
    }

    /// `KIND create NAME ARGS...` → the printed id (checked to be 64 hex).
    #[track_caller]
    fn create(&self, kind: &str, name: &str, extra: &[&str]) -> String {
        let args = [&[kind, "create", name][..], extra].concat();
        let id = self.ok(&args).trim().to_string();
        assert!(
            crate::is_hex_id(&id),
            "{kind} create printed {id:?}, not a 64-hex id"
        );
        id
    }

    /// `network inspect NAME` → the single object.
    #[track_caller]
    pub fn inspect_network(&self, name: &str) -> Value {
        self.inspect("network", name)
    }

    /// `container inspect NAME` → the single object.
    #[track_caller]
    pub fn inspect_container(&self, name: &str) -> Value {
        self.inspect("container", name)
    }

    /// `KIND inspect NAME` → the single object.
    #[track_caller]
    fn inspect(&self, kind: &str, name: &str) -> Value {
        let v = self.json(&[kind, "inspect", name]);
        assert_eq!(
            v.as_array().map(|a| a.len()),
            Some(1),
            "{kind} inspect {name}: expected a one-element array: {v:#}"
        );
        v[0].clone()
    }

    /// The container's endpoint on network `net` (from inspect).
    #[track_caller]
    pub fn endpoint(&self, container: &str, net: &str) -> Value {
        let c = self.inspect_container(container);
        let ep = c["NetworkSettings"]["Networks"][net].clone();
        assert!(
            ep.is_object(),
            "container {container} has no endpoint on {net}: {c:#}"
        );
        ep
    }

    /// The container's IPAddress on network `net`.
    #[track_caller]
    pub fn ip_of(&self, container: &str, net: &str) -> String {
        let ep = self.endpoint(container, net);
        ep["IPAddress"]
            .as_str()
            .unwrap_or_else(|| panic!("no IPAddress for {container} on {net}: {ep:#}"))
            .to_string()
    }

    /// Bridge device of network `net` (inspect Options).
    #[track_caller]
    pub fn bridge_of(&self, net: &str) -> String {
        let n = self.inspect_network(net);
        n["Options"]["com.docker.network.bridge.name"]
            .as_str()
            .unwrap_or_else(|| panic!("network {net} has no bridge name option: {n:#}"))
            .to_string()
    }

    /// Host-side veth of the container's endpoint on `net`.
    #[track_caller]
    pub fn host_veth_of(&self, container: &str, net: &str) -> String {
        let ep = self.endpoint(container, net);
        ep["HostInterface"]
            .as_str()
            .unwrap_or_else(|| panic!("no HostInterface for {container} on {net}: {ep:#}"))
            .to_string()
    }
}
