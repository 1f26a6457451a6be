//! [`TestEnv`]: one daemon with its own state, socket, pins and uplink.

use std::fs::{self, OpenOptions};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cli::{describe, kill_and_reap, last_lines, run_timeout};
use crate::harness_host::{free_uplink_net, remove_stale_harness_objects};
use crate::netns::{delete_link, delete_netns, ip_ok, link_exists, netns_exists};
use crate::uplink::make_uplink;
use crate::{bin, daemon_args, require_root, serial};

/// Uplink subnets (/24) tried in order: the host side of the uplink veth
/// gets `.1`, `eth0` in the outside namespace `.2`. The first is the normal
/// one; the second is used when something else on the host (a debug setup,
/// another test run) already has an address in the first.
pub const UPLINK_NETS: [&str; 2] = ["203.0.113", "198.51.100"];
/// The default network's bridge device.
pub const DEFAULT_BRIDGE: &str = "ebpfnet0";

pub(crate) const CLI_TIMEOUT: Duration = Duration::from_secs(60);
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// Everything one test needs; cleaned up on drop, also after a panic.
pub struct TestEnv {
    pub tag: String,
    pub bin: PathBuf,
    /// `/tmp/ebn-test-<tag>-<pid>`
    pub dir: PathBuf,
    pub state_dir: PathBuf,
    pub sock: PathBuf,
    pub pin_dir: PathBuf,
    pub log: PathBuf,
    /// The "outside" namespace (a remote host on the uplink).
    pub outside_ns: String,
    /// Host side of the uplink veth, passed as `--uplink`.
    pub uplink: String,
    /// Address of the uplink veth on the host (normally 203.0.113.1).
    pub uplink_ip: String,
    /// Address of `eth0` in the outside namespace (normally 203.0.113.2).
    pub outside_ip: String,
    /// Extra `ebpfnet daemon` arguments, on every start.
    pub daemon_args: Vec<String>,
    daemon: Option<Child>,
    _serial: crate::Serial,
}

impl TestEnv {
    /// Sets up dirs, the outside namespace and uplink, and starts a daemon.
    pub fn new(tag: &str) -> TestEnv {
        Self::with_daemon_args(tag, &[])
    }

    /// As [`TestEnv::new`], with extra `ebpfnet daemon` arguments.
    pub fn with_daemon_args(tag: &str, daemon_args: &[&str]) -> TestEnv {
        let mut env = TestEnv::without_daemon(tag);
        env.daemon_args = daemon_args.iter().map(|a| a.to_string()).collect();
        env.start_daemon();
        env
    }

    /// Sets up dirs, the outside namespace and uplink; the test starts the
    /// daemon ([`TestEnv::start_daemon`] or [`TestEnv::spawn_daemon`]).
    pub fn without_daemon(tag: &str) -> TestEnv {
        let guard = serial();
        require_root();
        let bin = bin();
        let pid = std::process::id();
        remove_stale_harness_objects(pid);

        let dir = PathBuf::from(format!("/tmp/ebn-test-{tag}-{pid}"));
        let pin_dir = PathBuf::from(format!("/sys/fs/bpf/ebn-test-{tag}-{pid}"));
        if dir.exists() {
            let _ = fs::remove_dir_all(&dir);
        }
        let prefix = free_uplink_net();
        let env = TestEnv {
            tag: tag.to_string(),
            bin,
            state_dir: dir.join("state"),
            sock: dir.join("sock"),
            log: dir.join("daemon.log"),
            dir,
            pin_dir,
            outside_ns: format!("ebnt-out-{pid}"),
            uplink: format!("ebntup{pid}"),
            uplink_ip: format!("{prefix}.1"),
            outside_ip: format!("{prefix}.2"),
            daemon_args: Vec::new(),
            daemon: None,
            _serial: guard,
        };
        if link_exists(DEFAULT_BRIDGE) {
            eprintln!(
                "warning: {DEFAULT_BRIDGE} already exists before the test (another daemon, or a leak)"
            );
        }
        fs::create_dir_all(&env.state_dir)
            .unwrap_or_else(|e| panic!("mkdir {}: {e}", env.state_dir.display()));

        ip_ok(&["netns", "add", &env.outside_ns]);
        make_uplink(&env);

        env
    }

    /// Starts `ebpfnet daemon` with this env's dirs and waits until
    /// `ebpfnet status` answers (15 s), panicking with the daemon log if not.
    pub fn start_daemon(&mut self) {
        self.spawn_daemon(&[]);
        self.wait_daemon_answers();
    }

    /// Starts `ebpfnet daemon` with this env's dirs and `extra_env`, and
    /// returns at once (the daemon may not answer yet).
    pub fn spawn_daemon(&mut self, extra_env: &[(&str, &std::ffi::OsStr)]) {
        assert!(self.daemon.is_none(), "daemon already started");
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap_or_else(|e| panic!("open {}: {e}", self.log.display()));
        let log2 = log.try_clone().expect("clone log fd");
        let mut cmd = Command::new(&self.bin);
        cmd.args(daemon_args(&self.sock, &self.state_dir, &self.pin_dir))
            .arg("--uplink")
            .arg(&self.uplink)
            .args(&self.daemon_args)
            .args(crate::forced_tc_attach(&self.daemon_args))
            .env_remove("EBPFNET_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2));
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "info");
        }
        cmd.envs(extra_env.iter().copied());
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.bin.display()));
        self.daemon = Some(child);
    }

    /// Waits until `ebpfnet status` answers (15 s), panicking with the
    /// daemon log if the daemon exits or does not answer in time.
    fn wait_daemon_answers(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut last;
        loop {
            if let Some(status) = self
                .daemon
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.daemon = None;
                panic!(
                    "ebpfnet daemon exited during startup ({status})\n--- daemon log ---\n{}",
                    self.daemon_log()
                );
            }
            match run_timeout(&mut self.command(&["status"]), None, Duration::from_secs(5)) {
                Ok(out) if out.status.success() => return,
                Ok(out) => last = describe("ebpfnet status", &out),
                Err(e) => last = e,
            }
            if Instant::now() >= deadline {
                panic!(
                    "ebpfnet daemon not ready after {READY_TIMEOUT:?}; last attempt: {last}\n--- daemon log ---\n{}",
                    self.daemon_log()
                );
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends SIGTERM to the daemon and waits (10 s) for it to exit.
    pub fn stop_daemon(&mut self) -> ExitStatus {
        let mut child = self.daemon.take().expect("daemon not running");
        crate::send_signal(child.id(), nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "ebpfnet daemon did not exit within 10 s of SIGTERM\n--- daemon log ---\n{}",
                    self.daemon_log()
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits up to `timeout` for the daemon to exit by itself (e.g. after
    /// `system reset`); returns its status, or `None` if still running.
    pub fn wait_daemon_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            let child = self.daemon.as_mut()?;
            if let Ok(Some(status)) = child.try_wait() {
                self.daemon = None;
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the daemon process started by this env is still running.
    pub fn daemon_running(&mut self) -> bool {
        match self.daemon.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The daemon's log so far.
    pub fn daemon_log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_else(|e| format!("<no log: {e}>"))
    }

    pub(crate) fn log_tail(&self) -> String {
        last_lines(&self.daemon_log(), 60)
    }

    /// Runs `ebpfnet system reset` for this env's dirs (best effort).
    pub fn reset(&self) -> Result<Output, String> {
        let mut cmd = self.command(&["system", "reset"]);
        cmd.arg("--state-dir")
            .arg(&self.state_dir)
            .arg("--pin-dir")
            .arg(&self.pin_dir);
        run_timeout(&mut cmd, None, CLI_TIMEOUT)
    }

    /// (container names, bridge devices) the daemon currently knows, best
    /// effort, for leak checks after the reset in Drop.
    fn known_objects(&self) -> (Vec<String>, Vec<String>) {
        let mut containers = Vec::new();
        let mut bridges = Vec::new();
        let list = |args: &[&str]| -> Option<Value> {
            let out = run_timeout(&mut self.command(args), None, Duration::from_secs(10)).ok()?;
            if !out.status.success() {
                return None;
            }
            serde_json::from_slice(&out.stdout).ok()
        };
        // `ls` prints one object a line.
        let names = |args: &[&str], key: &str| -> Vec<String> {
            let out = run_timeout(&mut self.command(args), None, Duration::from_secs(10));
            let Ok(out) = out.map(|o| o.stdout) else {
                return Vec::new();
            };
            String::from_utf8_lossy(&out)
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .filter_map(|v| v[key].as_str().map(str::to_string))
                .collect()
        };
        containers.extend(names(&["container", "ls", "--format", "json"], "Names"));
        let networks = names(&["network", "ls", "--format", "json"], "Name");
        let mut args = vec!["network", "inspect"];
        args.extend(networks.iter().map(String::as_str));
        if let Some(v) = list(&args) {
            for n in v.as_array().into_iter().flatten() {
                // Global (overlay) networks have no bridge on this host.
                if let Some(b) = n["Options"]["com.docker.network.bridge.name"]
                    .as_str()
                    .filter(|b| !b.is_empty())
                {
                    bridges.push(b.to_string());
                }
            }
        }
        (containers, bridges)
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!(
                "--- daemon log of test env {} (tail) ---\n{}\n---",
                self.tag,
                self.log_tail()
            );
        }
        let (containers, mut bridges) = if self.daemon_running() {
            self.known_objects()
        } else {
            (Vec::new(), Vec::new())
        };
        if !bridges.iter().any(|b| b == DEFAULT_BRIDGE) {
            bridges.push(DEFAULT_BRIDGE.to_string());
        }
        match self.reset() {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!("cleanup: {}", describe("ebpfnet system reset", &out)),
            Err(e) => eprintln!("cleanup: ebpfnet system reset: {e}"),
        }
        if self.wait_daemon_exit(Duration::from_secs(5)).is_none()
            && let Some(child) = self.daemon.take()
        {
            eprintln!("cleanup: daemon still running after reset; killing it");
            kill_and_reap(child);
        }
        for c in &containers {
            if netns_exists(c) {
                eprintln!("cleanup: LEAK: netns {c} survived `system reset`; deleting it");
                delete_netns(c);
            }
        }
        for b in &bridges {
            if link_exists(b) {
                eprintln!("cleanup: LEAK: bridge {b} survived `system reset`; deleting it");
                delete_link(b);
            }
        }
        delete_netns(&self.outside_ns);
        delete_link(&self.uplink);
        if self.pin_dir.exists() {
            let _ = fs::remove_dir_all(&self.pin_dir);
        }
        if std::env::var_os("EBPFNET_TEST_KEEP").is_none() {
            let _ = fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("cleanup: keeping {}", self.dir.display());
        }
    }
}
