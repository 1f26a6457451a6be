//! containerd from Debian (1.6) started by a test with its own
//! configuration, root, state and sockets (CRI off), driven with `ctr`.
//!
//! `ctr run --cni` has no option for its CNI directories: it reads
//! `/etc/cni/net.d` and looks for plugins in `/opt/cni/bin` and (Debian's
//! build) `/usr/lib/cni`. [`Containerd::ctr_cni`] runs it in a mount
//! namespace of its own where the test's directories are bind-mounted over
//! `/etc/cni/net.d` and `/usr/lib/cni`, so the host's are neither read
//! nor changed. Dropping it removes its tasks, containers, processes,
//! mounts and directory.

use std::fs::{self, File};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cli::{run_timeout, success_stdout};
use crate::cni::cni_bin;
use crate::daemon::TestEnv;
use crate::images::{busybox_rootfs, oci_archive, tar_dir};
use crate::netns::private_mounts_sh;
use crate::runtime_host::{HostPaths, kill_with_arg, unmount_under};

/// The containerd namespace the tests use; CNI container ids are
/// `NAMESPACE-ID` (ctr's `FullID`).
pub const NAMESPACE: &str = "ebntest";
/// Where ctr reads network configurations and looks for plugins.
pub const CTR_CONF_DIR: &str = "/etc/cni/net.d";
pub const CTR_PLUGIN_DIR: &str = "/usr/lib/cni";

const CTR_TIMEOUT: Duration = Duration::from_secs(60);
/// Made for root whatever the options say: libcni's result cache, and the
/// shims' socket directory.
const LIBCNI_RESULTS: &str = "/var/lib/cni/results";
const HOST_PATHS: [&str; 4] = [
    "/var/lib/cni",
    "/var/lib/cni/results",
    "/run/containerd",
    "/run/containerd/s",
];
/// Mounts the test's CNI directories over ctr's, then runs the command.
const BIND_CNI_DIRS: &str =
    r#"mount --bind "$1" "$3" && mount --bind "$2" "$4" && shift 4 && exec "$@""#;

pub struct Containerd {
    pub dir: PathBuf,
    pub sock: PathBuf,
    net_dir: PathBuf,
    plugin_dir: PathBuf,
    daemon: Option<Child>,
    _host_paths: HostPaths,
}

impl Containerd {
    /// Writes the configuration under the env's directory and starts
    /// containerd; waits (20 s) until `ctr version` answers.
    pub fn start(env: &TestEnv) -> Containerd {
        for dir in [CTR_CONF_DIR, CTR_PLUGIN_DIR] {
            assert!(
                Path::new(dir).is_dir(),
                "{dir} is missing: ctr's CNI directories must exist to be covered \
                 (`cargo xtask setup` installs podman and containernetworking-plugins, which make them)"
            );
        }
        let dir = env.dir.join("containerd");
        let (net_dir, plugin_dir) = (dir.join("net.d"), dir.join("cni-bin"));
        for d in [&net_dir, &plugin_dir] {
            fs::create_dir_all(d).unwrap_or_else(|e| panic!("mkdir {}: {e}", d.display()));
        }
        symlink(cni_bin(), plugin_dir.join("ebpfnet"))
            .unwrap_or_else(|e| panic!("link the plugin into {}: {e}", plugin_dir.display()));
        let sock = dir.join("containerd.sock");
        let path = |p: &str| format!("{:?}", dir.join(p).display().to_string());
        let config = format!(
            "version = 2\nroot = {}\nstate = {}\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = {:?}\n[ttrpc]\n  address = {}\n\
             [debug]\n  address = \"\"\n[metrics]\n  address = \"\"\n",
            path("root"),
            path("state"),
            sock.display().to_string(),
            path("containerd.sock.ttrpc"),
        );
        let config_path = dir.join("config.toml");
        fs::write(&config_path, config)
            .unwrap_or_else(|e| panic!("write {}: {e}", config_path.display()));
        let host_paths = HostPaths::watch(&HOST_PATHS);
        let log = File::create(dir.join("containerd.log"))
            .unwrap_or_else(|e| panic!("create containerd.log: {e}"));
        let log2 = log.try_clone().unwrap_or_else(|e| panic!("dup log: {e}"));
        let daemon = Command::new("containerd")
            .arg("--config")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start containerd: {e}"));
        let containerd = Containerd {
            dir,
            sock,
            net_dir,
            plugin_dir,
            daemon: Some(daemon),
            _host_paths: host_paths,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !containerd.run(&["version"]).status.success() {
            assert!(
                Instant::now() < deadline,
                "containerd does not answer after 20 s; its log:\n{}",
                fs::read_to_string(containerd.dir.join("containerd.log")).unwrap_or_default()
            );
            thread::sleep(Duration::from_millis(200));
        }
        containerd
    }

    /// `ctr -a SOCK -n NAMESPACE ARGS`.
    pub fn ctr(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("ctr");
        cmd.arg("--address")
            .arg(&self.sock)
            .args(["--namespace", NAMESPACE])
            .args(args)
            .env_remove("CONTAINERD_ADDRESS")
            .env_remove("CONTAINERD_NAMESPACE")
            // Plain copies: no overlay mounts, whatever /tmp is on.
            .env("CONTAINERD_SNAPSHOTTER", "native");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        run_timeout(&mut self.ctr(args), None, CTR_TIMEOUT)
            .unwrap_or_else(|e| panic!("ctr {}: {e}", args.join(" ")))
    }

    /// stdout of a successful `ctr ARGS`, else a panic with the output.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        success_stdout(&format!("ctr {}", args.join(" ")), &self.run(args))
    }

    /// Imports a busybox image serving `page` as `image` from an OCI
    /// layout made offline (`ctr images import`).
    pub fn import_busybox(&self, image: &str, page: &str) {
        let rootfs = self.dir.join("rootfs");
        busybox_rootfs(&rootfs, page);
        let (layer, archive) = (self.dir.join("rootfs.tar"), self.dir.join("image.tar"));
        tar_dir(&rootfs, &layer);
        oci_archive(&layer, image, &self.dir.join("oci"), &archive);
        self.ok(&["images", "import", &archive.display().to_string()]);
    }

    /// Writes the network configuration ctr will find first: a CNI network
    /// `name` of the plugin `ebpfnet` for network `network` of `env`'s daemon.
    pub fn add_network(&self, env: &TestEnv, name: &str, network: &str) -> Value {
        let conf = json!({
            "cniVersion": "1.0.0",
            "name": name,
            "plugins": [{"type": "ebpfnet", "network": network, "socket": env.sock}],
        });
        let path = self.net_dir.join(format!("10-{name}.conflist"));
        fs::write(&path, conf.to_string())
            .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        conf
    }

    /// `ctr ARGS` in a mount namespace where the test's CNI directories
    /// cover ctr's, with its fifos and runc state in the test's directory
    /// (`ARGS` start with `run`), started and not waited for; its output
    /// goes to `ctr-run.log`.
    pub fn spawn_ctr_cni(&self, args: &[&str]) -> Child {
        let [verb, rest @ ..] = args else {
            panic!("spawn_ctr_cni needs a ctr command");
        };
        let log = File::create(self.dir.join("ctr-run.log"))
            .unwrap_or_else(|e| panic!("create ctr-run.log: {e}"));
        let log2 = log.try_clone().unwrap_or_else(|e| panic!("dup log: {e}"));
        let ctr = self.ctr(&[]);
        let mut cmd = private_mounts_sh(BIND_CNI_DIRS);
        cmd.arg(&self.net_dir)
            .arg(&self.plugin_dir)
            .args([CTR_CONF_DIR, CTR_PLUGIN_DIR])
            .arg(ctr.get_program())
            .args(ctr.get_args())
            .arg(verb)
            .arg("--fifo-dir")
            .arg(self.dir.join("fifo"))
            .arg("--runc-root")
            .arg(self.dir.join("runc"))
            .args(rest)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        cmd.spawn()
            .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
    }

    /// What `ctr run` printed so far.
    pub fn ctr_run_log(&self) -> String {
        fs::read_to_string(self.dir.join("ctr-run.log")).unwrap_or_default()
    }

    /// Ids listed by `ctr tasks ls -q` or `ctr containers ls -q`.
    pub fn ids(&self, kind: &str) -> Vec<String> {
        self.ok(&[kind, "ls", "-q"])
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // Never a panic here: this also runs while a failed test unwinds.
        let quiet = |args: &[&str]| -> String {
            run_timeout(&mut self.ctr(args), None, CTR_TIMEOUT)
                .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
                .unwrap_or_default()
        };
        for task in quiet(&["tasks", "ls", "-q"]).lines() {
            quiet(&["tasks", "kill", "--signal", "SIGKILL", task]);
            quiet(&["tasks", "delete", "--force", task]);
        }
        for container in quiet(&["containers", "ls", "-q"]).lines() {
            quiet(&["containers", "delete", container]);
        }
        if let Some(mut daemon) = self.daemon.take() {
            crate::send_signal(daemon.id(), nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(daemon.try_wait(), Ok(None)) && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(50));
            }
            let _ = daemon.kill();
            let _ = daemon.wait();
        }
        // Shims outlive containerd; they name its socket on their command line.
        kill_with_arg(&self.sock.display().to_string());
        remove_cached_results();
        unmount_under(&self.dir);
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// libcni's cached results of this namespace's containers
/// (`NETWORK-NAMESPACE-ID-IFNAME`): ctr removes one only when it runs DEL,
/// which it never does for a detached container.
fn remove_cached_results() {
    let marker = format!("-{NAMESPACE}-");
    for entry in fs::read_dir(LIBCNI_RESULTS).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().contains(&marker) {
            let _ = fs::remove_file(entry.path());
        }
    }
}
