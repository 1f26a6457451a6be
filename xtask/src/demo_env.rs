//! The demo's isolated environment: its own socket, state dir and pin dir, an
//! "outside" namespace as uplink, and the background daemon and HTTP server.
//! Everything made here is removed by [`DemoEnv::cleanup`], which also runs on
//! drop so an early return or panic does not leave things behind.

use std::fs::{self};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::cmd::{command, display, run, succeeds};
use crate::interrupt::check_interrupted;
use crate::process::link_exists;
use crate::process::{spawn_logged, stop, wait_timeout};

pub const OUTSIDE_NETNS: &str = "ebn-demo-out";
pub const UPLINK: &str = "ebndemo0";
/// The host's address on the uplink: where the outside reaches published ports.
pub const UPLINK_IP: &str = "203.0.113.1";
const UPLINK_HOST_ADDR: &str = "203.0.113.1/24";
const UPLINK_OUTSIDE_ADDR: &str = "203.0.113.2/24";

pub fn netns_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

pub struct DemoEnv {
    ebpfnet: PathBuf,
    pub dir: PathBuf,
    socket: PathBuf,
    state_dir: PathBuf,
    pin_dir: PathBuf,
    made_netns: bool,
    daemon: Option<Child>,
    http_server: Option<Child>,
    cleaned_up: bool,
}

impl DemoEnv {
    /// Makes the temp dir and the outside namespace with its veth uplink.
    pub fn create(ebpfnet: PathBuf) -> Result<Self> {
        let dir = PathBuf::from(format!("/tmp/ebpfnet-demo-{}", std::process::id()));
        let mut env = DemoEnv {
            ebpfnet,
            socket: dir.join("ebpfnet.sock"),
            state_dir: dir.join("state"),
            pin_dir: PathBuf::from(format!("/sys/fs/bpf/ebpfnet-demo-{}", std::process::id())),
            dir,
            made_netns: false,
            daemon: None,
            http_server: None,
            cleaned_up: false,
        };
        fs::create_dir_all(&env.state_dir)
            .with_context(|| format!("creating {}", env.state_dir.display()))?;

        run(command("ip").args(["netns", "add", OUTSIDE_NETNS]))?;
        env.made_netns = true;
        let ip_out = |args: &[&str]| {
            let mut cmd = command("ip");
            cmd.args(["-n", OUTSIDE_NETNS]).args(args);
            cmd
        };
        let veth = [
            "link", "add", UPLINK, "type", "veth", "peer", "name", "eth0", "netns",
        ];
        run(command("ip").args(veth).arg(OUTSIDE_NETNS))?;
        run(command("ip").args(["addr", "add", UPLINK_HOST_ADDR, "dev", UPLINK]))?;
        run(command("ip").args(["link", "set", UPLINK, "up"]))?;
        run(&mut ip_out(&[
            "addr",
            "add",
            UPLINK_OUTSIDE_ADDR,
            "dev",
            "eth0",
        ]))?;
        run(&mut ip_out(&["link", "set", "eth0", "up"]))?;
        run(&mut ip_out(&["link", "set", "lo", "up"]))?;
        Ok(env)
    }

    /// `ebpfnet ARGS` talking to the demo's own daemon.
    pub fn ebpfnet<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = command(&self.ebpfnet);
        cmd.env("EBPFNET_SOCKET", &self.socket).args(args);
        cmd
    }

    /// Where the demo daemon pins its maps and links.
    pub fn pin_dir(&self) -> &Path {
        &self.pin_dir
    }

    /// The line a user would type to point their shell at the demo daemon.
    pub fn socket_export(&self) -> String {
        format!("export EBPFNET_SOCKET={}", self.socket.display())
    }

    pub fn start_daemon(&mut self) -> Result<()> {
        let mut daemon = self.ebpfnet(["daemon", "--state-dir"]);
        daemon
            .arg(&self.state_dir)
            .arg("--pin-dir")
            .arg(&self.pin_dir)
            .args(["--uplink", UPLINK]);
        let log = self.dir.join("daemon.log");
        self.daemon = Some(spawn_logged_shown(&mut daemon, &log)?);
        self.wait_until("the daemon to answer", |env| {
            if let Some(daemon) = env.daemon.as_mut()
                && let Some(status) = daemon.try_wait()?
            {
                bail!("the daemon exited with {status} before it was ready");
            }
            Ok(succeeds(&mut env.ebpfnet(["status"])))
        })
    }

    /// Serves `www` on port 80 inside the container's namespace.
    pub fn start_http_server(&mut self, netns: &str, www: &Path) -> Result<()> {
        let mut server = command("ip");
        server
            .args(["netns", "exec", netns, "python3", "-m", "http.server", "80"])
            .args(["--bind", "0.0.0.0", "--directory"])
            .arg(www);
        let log = self.dir.join("http.log");
        self.http_server = Some(spawn_logged_shown(&mut server, &log)?);
        self.wait_until("the HTTP server to listen on port 80", |env| {
            if let Some(server) = env.http_server.as_mut()
                && let Some(status) = server.try_wait()?
            {
                bail!("the HTTP server exited with {status}");
            }
            let mut ss = command("ip");
            ss.args(["netns", "exec", netns, "ss", "-Hltn", "sport = :80"]);
            Ok(crate::cmd::output(&mut ss).is_ok_and(|out| !out.trim().is_empty()))
        })
    }

    /// Polls `ready` for up to 10 s.
    fn wait_until(
        &mut self,
        what: &str,
        mut ready: impl FnMut(&mut Self) -> Result<bool>,
    ) -> Result<()> {
        println!("(waiting for {what})");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            check_interrupted()?;
            if ready(self)? {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("timed out after 10 s waiting for {what}");
            }
            sleep(Duration::from_millis(200));
        }
    }

    /// Prints the background processes' logs (after a failure).
    pub fn print_logs(&self) {
        for name in ["daemon.log", "http.log"] {
            let path = self.dir.join(name);
            if let Ok(text) = fs::read_to_string(&path) {
                eprintln!("--- {} ---\n{}--- end of {name} ---", path.display(), text);
            }
        }
    }

    /// Removes everything the demo made; returns what could not be removed.
    pub fn cleanup(&mut self) -> Vec<String> {
        if self.cleaned_up {
            return Vec::new();
        }
        self.cleaned_up = true;
        println!("\n== cleaning up ==");
        let mut errors = Vec::new();
        if let Some(mut server) = self.http_server.take() {
            stop(&mut server, "HTTP server", &mut errors);
        }
        let mut reset_failed = false;
        if let Some(mut daemon) = self.daemon.take() {
            // Through the daemon when it answers (it then exits), else directly.
            let mut reset = self.ebpfnet(["system", "reset", "--state-dir"]);
            reset
                .arg(&self.state_dir)
                .arg("--pin-dir")
                .arg(&self.pin_dir);
            if let Err(err) = run(&mut reset) {
                errors.push(format!("{err:#}"));
                reset_failed = true;
            }
            if wait_timeout(&mut daemon, Duration::from_secs(5)).is_none() {
                stop(&mut daemon, "daemon", &mut errors);
            }
        }
        if self.pin_dir.exists() && fs::remove_dir(&self.pin_dir).is_err() {
            errors.push(format!("pin dir {} is left behind", self.pin_dir.display()));
        }
        if self.made_netns {
            // Deleting the namespace deletes eth0 and with it its peer, the uplink.
            if let Err(err) = run(command("ip").args(["netns", "del", OUTSIDE_NETNS])) {
                errors.push(format!("{err:#}"));
            }
            // The kernel removes the peer asynchronously; give it a moment.
            let deadline = Instant::now() + Duration::from_secs(2);
            while link_exists(UPLINK) && Instant::now() < deadline {
                sleep(Duration::from_millis(50));
            }
            if link_exists(UPLINK)
                && let Err(err) = run(command("ip").args(["link", "del", UPLINK]))
            {
                errors.push(format!("{err:#}"));
            }
        }
        if reset_failed {
            // The state dir is what a manual reset needs.
            errors.push(format!(
                "kept {} for inspection; finish by hand with `{}; ebpfnet system reset \
                 --state-dir {} --pin-dir {}`",
                self.dir.display(),
                self.socket_export(),
                self.state_dir.display(),
                self.pin_dir.display(),
            ));
        } else if let Err(err) = fs::remove_dir_all(&self.dir) {
            errors.push(format!("removing {}: {err}", self.dir.display()));
        }
        errors
    }
}

impl Drop for DemoEnv {
    fn drop(&mut self) {
        for err in self.cleanup() {
            eprintln!("cleanup: {err}");
        }
    }
}

/// [`spawn_logged`], printed as the shell line it stands for.
fn spawn_logged_shown(cmd: &mut Command, log: &Path) -> Result<Child> {
    println!("$ {} >{} 2>&1 &", display(cmd), log.display());
    spawn_logged(cmd, log)
}
