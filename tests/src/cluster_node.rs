//! A second `ebpfnet daemon` on this machine for the cluster tests, beside
//! the [`crate::daemon::TestEnv`] one: its own socket, state dir, pin dir,
//! default bridge and subnet, and a veth as uplink. Reset and removed on
//! drop, also after a panic.

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::cli::{describe, kill_and_reap, last_lines, reap_within, run_timeout};
use crate::daemon_args;
use crate::netns::{delete_link, ip_ok, link_exists};

pub struct ClusterNode {
    pub bin: PathBuf,
    pub dir: PathBuf,
    pub sock: PathBuf,
    pub state_dir: PathBuf,
    pub pin_dir: PathBuf,
    pub bridge: String,
    pub uplink: String,
    args: Vec<String>,
    child: Option<Child>,
}

impl ClusterNode {
    /// Starts a daemon tagged `tag` (a short word) with `args` added, and
    /// waits until it answers.
    pub fn start(tag: &str, default_subnet: &str, args: &[String]) -> ClusterNode {
        let pid = std::process::id();
        let dir = PathBuf::from(format!("/tmp/ebn-node-{tag}-{pid}"));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("state")).unwrap_or_else(|e| panic!("mkdir: {e}"));
        let uplink = format!("ebnn{tag}{}", pid % 100_000);
        if !link_exists(&uplink) {
            // A veth pair (this kernel has no dummy driver); the peer
            // stays on the host unused.
            let peer = format!("{uplink}p");
            ip_ok(&[
                "link", "add", &uplink, "type", "veth", "peer", "name", &peer,
            ]);
        }
        ip_ok(&["link", "set", &uplink, "up"]);
        // The daemon wants an IPv4 address on its uplink (benchmarking
        // range, unused elsewhere on the test hosts).
        ip_ok(&["addr", "replace", "198.19.250.1/30", "dev", &uplink]);
        let mut node = ClusterNode {
            bin: crate::bin(),
            sock: dir.join("sock"),
            state_dir: dir.join("state"),
            pin_dir: PathBuf::from(format!("/sys/fs/bpf/ebn-node-{tag}-{pid}")),
            bridge: format!("ebnb{tag}{}", pid % 100_000),
            uplink,
            dir,
            args: [
                &["--default-subnet".to_string(), default_subnet.to_string()],
                args,
            ]
            .concat(),
            child: None,
        };
        node.spawn();
        node
    }

    fn spawn(&mut self) {
        let log = fs::File::options()
            .create(true)
            .append(true)
            .open(self.dir.join("daemon.log"))
            .unwrap_or_else(|e| panic!("daemon log: {e}"));
        let log2 = log.try_clone().expect("clone log fd");
        let child = Command::new(&self.bin)
            .args(daemon_args(&self.sock, &self.state_dir, &self.pin_dir))
            .args(["--bridge", &self.bridge, "--uplink", &self.uplink])
            .args(&self.args)
            .env_remove("EBPFNET_SOCKET")
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.bin.display()));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                panic!("daemon exited at start ({status})\n{}", self.log());
            }
            if self.cli(&["status"]).status.success() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "daemon not ready\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs `ebpfnet --socket <this daemon's> ARGS`.
    pub fn cli(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--socket").arg(&self.sock).args(args);
        run_timeout(&mut cmd, None, Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("ebpfnet {args:?}: {e}"))
    }

    /// As [`ClusterNode::cli`], panicking unless it succeeds; its stdout.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "{}\n{}",
            describe(&format!("ebpfnet {args:?}"), &out),
            self.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// SIGKILL: the daemon leaves nothing behind in the store but its
    /// lease, which expires.
    pub fn kill(&mut self) {
        if let Some(child) = self.child.take() {
            kill_and_reap(child);
        }
    }

    pub fn log(&self) -> String {
        let text = fs::read_to_string(self.dir.join("daemon.log")).unwrap_or_default();
        format!(
            "--- daemon log {} (tail) ---\n{}",
            self.dir.display(),
            last_lines(&text, 40)
        )
    }
}

impl Drop for ClusterNode {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!("{}", self.log());
        }
        // Through the daemon if it runs (it exits afterwards), else offline.
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--socket")
            .arg(&self.sock)
            .args(["system", "reset", "--state-dir"])
            .arg(&self.state_dir)
            .arg("--pin-dir")
            .arg(&self.pin_dir);
        match run_timeout(&mut cmd, None, Duration::from_secs(60)) {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!("cleanup: {}", describe("ebpfnet system reset", &out)),
            Err(e) => eprintln!("cleanup: ebpfnet system reset: {e}"),
        }
        if let Some(child) = self.child.take() {
            reap_within(child, Duration::from_secs(5));
        }
        for link in [&self.bridge, &self.uplink] {
            if link_exists(link) {
                delete_link(link);
            }
        }
        let _ = fs::remove_dir_all(&self.pin_dir);
        if std::env::var_os("EBPFNET_TEST_KEEP").is_none() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}
