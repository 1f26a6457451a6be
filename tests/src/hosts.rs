//! Several "hosts" on one machine: each a network namespace
//! (`ebnt-hostX-PID`) with its own `ebpfnet daemon` (own socket, state
//! dir, pin dir; started with `nsenter --net`, so it shares the machine's
//! mount namespace and bpffs), its `eth0` on an underlay bridge
//! (`ebhbrPID`, host ends `ebhXPID`) as uplink. Everything is removed on
//! drop, also after a panic; the harness sweeps the names after a crash.

use std::fs::{self, File};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::cli::{CmdOutput, describe, kill_and_reap, reap_within, run_timeout};
use crate::netns::{delete_link, delete_netns, ip_ok, netns_exec_ok};
use crate::{bin, require_root, serial};

const CLI_TIMEOUT: Duration = Duration::from_secs(60);
/// The underlay's subnet; host `i` (from 1) has `.i`.
pub const UNDERLAY: &str = "198.18.93";

/// The underlay bridge joining the hosts; dropped last.
pub struct Underlay {
    pub bridge: String,
    _serial: crate::Serial,
}

impl Underlay {
    pub fn create() -> Underlay {
        let serial = serial();
        require_root();
        let bridge = format!("ebhbr{}", std::process::id());
        delete_link(&bridge);
        ip_ok(&["link", "add", &bridge, "type", "bridge"]);
        ip_ok(&["link", "set", &bridge, "up"]);
        Underlay {
            bridge,
            _serial: serial,
        }
    }

    /// Host `letter` (`A`, `B`, …) number `n` (its address `.n`), with a
    /// running daemon.
    pub fn host(&self, letter: char, n: u8) -> Host {
        self.host_with(letter, n, &[])
    }

    /// Gives the bridge an address on the underlay (`.254`), so the hosts
    /// reach a service of this machine (a test's etcd) there; answers it.
    pub fn gateway(&self) -> String {
        let ip = format!("{UNDERLAY}.254");
        ip_ok(&["addr", "replace", &format!("{ip}/24"), "dev", &self.bridge]);
        ip
    }

    /// As [`Underlay::host`], the daemon started with `args` added.
    pub fn host_with(&self, letter: char, n: u8, args: &[String]) -> Host {
        let pid = std::process::id();
        let ns = format!("ebnt-host{letter}-{pid}");
        let link = format!("ebh{letter}{pid}");
        let dir = PathBuf::from(format!("/tmp/ebn-host{letter}-{pid}"));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        delete_netns(&ns);
        delete_link(&link);
        ip_ok(&["netns", "add", &ns]);
        let mut host = Host {
            ip: format!("{UNDERLAY}.{n}"),
            sock: dir.join("sock"),
            state_dir: dir.join("state"),
            pin_dir: PathBuf::from(format!("/sys/fs/bpf/ebn-host{letter}-{pid}")),
            log: dir.join("daemon.log"),
            dir,
            ns,
            link,
            args: args.to_vec(),
            daemon: None,
        };
        ip_ok(&[
            "link", "add", &host.link, "type", "veth", "peer", "name", "eth0", "netns", &host.ns,
        ]);
        ip_ok(&["link", "set", &host.link, "master", &self.bridge, "up"]);
        let cidr = format!("{}/24", host.ip);
        netns_exec_ok(&host.ns, &["ip", "link", "set", "lo", "up"]);
        netns_exec_ok(&host.ns, &["ip", "addr", "add", &cidr, "dev", "eth0"]);
        netns_exec_ok(&host.ns, &["ip", "link", "set", "eth0", "up"]);
        host.start_daemon();
        host
    }
}

impl Drop for Underlay {
    fn drop(&mut self) {
        delete_link(&self.bridge);
    }
}

/// One host: its namespace, its daemon and the daemon's files.
pub struct Host {
    /// Its address on the underlay (`eth0`, the daemon's uplink).
    pub ip: String,
    pub ns: String,
    pub link: String,
    pub dir: PathBuf,
    pub sock: PathBuf,
    pub state_dir: PathBuf,
    pub pin_dir: PathBuf,
    pub log: PathBuf,
    args: Vec<String>,
    daemon: Option<Child>,
}

impl Host {
    /// `ARGS` run inside the host's namespace (`nsenter --net`).
    fn in_ns(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net=/run/netns/{}", self.ns)).args(args);
        cmd
    }

    fn start_daemon(&mut self) {
        let log = File::create(&self.log).unwrap_or_else(|e| panic!("{}: {e}", self.log.display()));
        let log2 = log.try_clone().expect("clone log fd");
        let bin = bin();
        let mut cmd = self.in_ns(&[&bin.display().to_string(), "daemon"]);
        cmd.arg("--socket")
            .arg(&self.sock)
            .arg("--state-dir")
            .arg(&self.state_dir)
            .arg("--pin-dir")
            .arg(&self.pin_dir)
            .args(["--uplink", "eth0"])
            .args(&self.args)
            .env("RUST_LOG", "info")
            .env_remove("EBPFNET_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2));
        self.daemon = Some(cmd.spawn().unwrap_or_else(|e| panic!("start daemon: {e}")));
        let deadline = Instant::now() + Duration::from_secs(15);
        while !self.cli(&["status"]).status.success() {
            assert!(
                Instant::now() < deadline,
                "daemon of {} not ready:\n{}",
                self.ns,
                self.daemon_log()
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGKILL to the daemon, as a host that dies: it leaves its devices
    /// and its lease (until the TTL) behind.
    pub fn kill_daemon(&mut self) {
        if let Some(child) = self.daemon.take() {
            kill_and_reap(child);
        }
    }

    /// SIGKILL, then the daemon started again over what it left.
    pub fn restart_daemon(&mut self) {
        self.kill_daemon();
        self.start_daemon();
    }

    pub fn daemon_log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `ebpfnet --socket SOCK ARGS` (the CLI needs no namespace).
    pub fn cli(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(bin());
        cmd.arg("--socket").arg(&self.sock).args(args);
        run_timeout(&mut cmd, None, CLI_TIMEOUT).unwrap_or_else(|e| panic!("{e}"))
    }

    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "{}\n--- daemon log of {} ---\n{}",
            describe(&format!("ebpfnet {}", args.join(" ")), &out),
            self.ns,
            self.daemon_log()
        );
        out.stdout_str()
    }

    /// `ebpfnet ARGS`, which must fail with `needle` in its error (`why`
    /// says what a success would mean); returns the error.
    #[track_caller]
    pub fn fails_with(&self, args: &[&str], needle: &str, why: &str) -> String {
        let out = self.cli(args);
        let err = out.stderr_str();
        assert!(
            !out.status.success() && err.contains(needle),
            "{why}: expected a failure naming {needle:?}: {}",
            describe(&format!("ebpfnet {}", args.join(" ")), &out)
        );
        err
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!("--- daemon log of {} ---\n{}", self.ns, self.daemon_log());
        }
        // `system reset` removes what the daemon made and stops it; with
        // this host's dirs named, and in its namespace, in case the
        // daemon no longer answers (never the machine's defaults).
        let bin = bin().display().to_string();
        let sock = self.sock.display().to_string();
        let state = self.state_dir.display().to_string();
        let pins = self.pin_dir.display().to_string();
        let mut reset = self.in_ns(&[
            &bin,
            "--socket",
            &sock,
            "system",
            "reset",
            "--state-dir",
            &state,
            "--pin-dir",
            &pins,
        ]);
        if let Ok(out) = run_timeout(&mut reset, None, CLI_TIMEOUT)
            && !out.status.success()
        {
            eprintln!("cleanup: {}", describe("ebpfnet system reset", &out));
        }
        if let Some(child) = self.daemon.take() {
            reap_within(child, Duration::from_secs(5));
        }
        delete_netns(&self.ns);
        delete_link(&self.link);
        let _ = fs::remove_dir_all(&self.pin_dir);
        let _ = fs::remove_dir_all(&self.dir);
    }
}
