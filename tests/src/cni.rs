//! A CNI test driver: runs the `ebpfnet-cni` plugin exactly as a runtime
//! does (a clean environment of `CNI_*` variables, the network
//! configuration on stdin, the result or error object read from stdout)
//! against a test's daemon.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{Value, json};

use crate::cli::{CmdOutput, describe, run};
use crate::daemon::TestEnv;

/// A runtime may wait long; a plugin that hangs fails the test instead.
const PLUGIN_TIMEOUT: Duration = Duration::from_secs(90);

/// Path of the plugin under test: `$EBPFNET_CNI_BIN`, else `ebpfnet-cni`
/// beside the `ebpfnet` binary under test. Panics when it does not exist.
pub fn cni_bin() -> PathBuf {
    let path = match std::env::var_os("EBPFNET_CNI_BIN") {
        Some(p) => PathBuf::from(p),
        None => crate::bin().with_file_name("ebpfnet-cni"),
    };
    assert!(
        path.is_file(),
        "ebpfnet-cni not found at {} (set EBPFNET_CNI_BIN or build it with `cargo xtask build`)",
        path.display()
    );
    path
}

/// The `CNI_*` variables of one call.
#[derive(Debug, Clone, Default)]
pub struct CniVars {
    pub container_id: Option<String>,
    pub netns: Option<String>,
    pub ifname: Option<String>,
}

impl CniVars {
    /// An attachment of container `id` in the named namespace
    /// (`/run/netns/NETNS`) as interface `ifname`.
    pub fn attachment(id: &str, netns: &str, ifname: &str) -> Self {
        Self {
            container_id: Some(id.to_string()),
            netns: Some(format!("/run/netns/{netns}")),
            ifname: Some(ifname.to_string()),
        }
    }
}

/// A network configuration of type `ebpfnet` for `network`, declaring every
/// capability the plugin has, pointed at the test daemon's socket.
pub fn netconf(env: &TestEnv, name: &str, network: &str, runtime_config: Value) -> Value {
    json!({
        "cniVersion": "1.1.0",
        "name": name,
        "type": "ebpfnet",
        "network": network,
        "socket": env.sock,
        "capabilities": {"portMappings": true, "ips": true, "mac": true, "dns": true},
        "runtimeConfig": runtime_config,
    })
}

/// What one plugin run gave.
pub struct CniReply {
    pub output: Output,
}

impl CniReply {
    pub fn succeeded(&self) -> bool {
        self.output.status.success()
    }

    /// stdout as JSON (a result, or an error object).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.output.stdout).unwrap_or_else(|e| {
            panic!(
                "plugin stdout is not JSON ({e}): {}",
                describe("ebpfnet-cni", &self.output)
            )
        })
    }

    /// The result of a successful run, else a panic with the output.
    #[track_caller]
    pub fn result(&self) -> Value {
        assert!(
            self.succeeded(),
            "{}",
            describe("ebpfnet-cni", &self.output)
        );
        self.json()
    }

    /// A successful run that printed nothing (DEL, CHECK, GC, STATUS).
    #[track_caller]
    pub fn assert_silent_success(&self) {
        assert!(
            self.succeeded() && self.output.stdout_str().trim().is_empty(),
            "{}",
            describe("ebpfnet-cni", &self.output)
        );
    }

    /// A failed run with a CNI error object of `code`; returns the object.
    #[track_caller]
    pub fn assert_error(&self, code: u64) -> Value {
        assert!(
            !self.succeeded(),
            "expected error {code}: {}",
            describe("ebpfnet-cni", &self.output)
        );
        let object = self.json();
        assert_eq!(object["code"], code, "{object:#}");
        assert!(object["cniVersion"].is_string(), "{object:#}");
        assert!(
            object["msg"].as_str().is_some_and(|m| !m.is_empty()),
            "{object:#}"
        );
        object
    }
}

/// Runs the plugin with `CNI_COMMAND=command`, `vars` and `stdin`, in an
/// environment holding nothing else (no `EBPFNET_SOCKET` from the test run).
pub fn cni_exec(command: &str, vars: &CniVars, stdin: &[u8]) -> CniReply {
    let bin = cni_bin();
    let mut cmd = Command::new(&bin);
    cmd.env_clear()
        .env("CNI_COMMAND", command)
        .env("CNI_PATH", bin.parent().unwrap_or(Path::new("/")))
        .env("CNI_ARGS", "IgnoreUnknown=1");
    for (name, value) in [
        ("CNI_CONTAINERID", &vars.container_id),
        ("CNI_NETNS", &vars.netns),
        ("CNI_IFNAME", &vars.ifname),
    ] {
        if let Some(value) = value {
            cmd.env(name, value);
        }
    }
    CniReply {
        output: run(&mut cmd, Some(stdin), PLUGIN_TIMEOUT),
    }
}

/// [`cni_exec`] with a configuration as JSON.
pub fn cni(command: &str, vars: &CniVars, conf: &Value) -> CniReply {
    cni_exec(command, vars, conf.to_string().as_bytes())
}

/// `conf` with `prevResult` (CHECK) set.
pub fn with_prev_result(conf: &Value, result: &Value) -> Value {
    let mut conf = conf.clone();
    conf["prevResult"] = result.clone();
    conf
}

/// The names `container ls` lists.
pub fn container_names(env: &TestEnv) -> Vec<String> {
    env.json(&["container", "ls"])
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["Names"].as_str().map(str::to_string))
        .collect()
}
