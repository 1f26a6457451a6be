//! Podman from Debian (4.3, CNI backend) with everything of its own: a
//! `containers.conf` (`CONTAINERS_CONF`) naming the CNI backend, a plugin
//! directory holding only `ebpfnet` (a link to the plugin under test), a
//! network configuration directory, cgroupfs, runc and a file events log;
//! its own storage (`--root`, `--runroot`, vfs) and `--tmpdir`. Dropping
//! it removes its containers (CNI DEL runs then) and its directory.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{Value, json};

use crate::cli::{describe, run_timeout, success_stdout};
use crate::cni::cni_bin;
use crate::daemon::TestEnv;
use crate::images::{busybox_rootfs, tar_dir};
use crate::runtime_host::{HostPaths, unmount_under};

const PODMAN_TIMEOUT: Duration = Duration::from_secs(120);

/// Caches Podman makes for root whatever its options say: containers/image's
/// blob cache (on import) and libcni's result cache.
const HOST_CACHES: [&str; 5] = [
    "/var/lib/containers",
    "/var/lib/containers/cache",
    "/var/lib/containers/cache/blob-info-cache-v1.boltdb",
    "/var/lib/cni",
    "/var/lib/cni/results",
];

pub struct Podman {
    pub dir: PathBuf,
    /// `network_config_dir`: the CNI network configurations (`*.conflist`).
    pub net_dir: PathBuf,
    conf: PathBuf,
    storage_conf: PathBuf,
    _host_caches: HostPaths,
}

impl Podman {
    /// Sets up Podman's files under the env's directory.
    pub fn new(env: &TestEnv) -> Podman {
        let dir = env.dir.join("podman");
        let (net_dir, plugin_dir) = (dir.join("net.d"), dir.join("cni-bin"));
        for d in [&net_dir, &plugin_dir] {
            fs::create_dir_all(d).unwrap_or_else(|e| panic!("mkdir {}: {e}", d.display()));
        }
        // The plugin's file name is its `type`.
        symlink(cni_bin(), plugin_dir.join("ebpfnet"))
            .unwrap_or_else(|e| panic!("link the plugin into {}: {e}", plugin_dir.display()));
        let conf = dir.join("containers.conf");
        let text = format!(
            "[containers]\n\
             # runc fails to set a nofile limit above the host's hard limit\n\
             default_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n\
             [network]\n\
             network_backend = \"cni\"\n\
             cni_plugin_dirs = [{plugins:?}]\n\
             network_config_dir = {nets:?}\n\
             [engine]\n\
             cgroup_manager = \"cgroupfs\"\n\
             # crun refuses the hybrid cgroup layout of these machines\n\
             runtime = \"runc\"\n\
             events_logger = \"file\"\n\
             events_logfile_path = {events:?}\n",
            plugins = plugin_dir.display().to_string(),
            nets = net_dir.display().to_string(),
            events = dir.join("events.log").display().to_string(),
        );
        fs::write(&conf, text).unwrap_or_else(|e| panic!("write {}: {e}", conf.display()));
        let storage_conf = dir.join("storage.conf");
        let storage = format!(
            "[storage]\ndriver = \"vfs\"\ngraphroot = {:?}\nrunroot = {:?}\n",
            dir.join("root").display().to_string(),
            dir.join("runroot").display().to_string(),
        );
        fs::write(&storage_conf, storage)
            .unwrap_or_else(|e| panic!("write {}: {e}", storage_conf.display()));
        Podman {
            dir,
            net_dir,
            conf,
            storage_conf,
            _host_caches: HostPaths::watch(&HOST_CACHES),
        }
    }

    /// `podman ARGS` with this instance's configuration and storage.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("podman");
        cmd.env("CONTAINERS_CONF", &self.conf)
            .env("CONTAINERS_STORAGE_CONF", &self.storage_conf)
            .env_remove("CONTAINER_HOST")
            .env_remove("EBPFNET_SOCKET")
            .arg("--root")
            .arg(self.dir.join("root"))
            .arg("--runroot")
            .arg(self.dir.join("runroot"))
            .arg("--tmpdir")
            .arg(self.dir.join("tmp"))
            .args(["--storage-driver", "vfs"])
            .args(args);
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        run_timeout(&mut self.command(args), None, PODMAN_TIMEOUT)
            .unwrap_or_else(|e| panic!("podman {}: {e}", args.join(" ")))
    }

    /// stdout of a successful `podman ARGS`, else a panic with the output.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        success_stdout(&format!("podman {}", args.join(" ")), &self.run(args))
    }

    /// `podman inspect NAME` (the first object).
    pub fn inspect(&self, name: &str) -> Value {
        let text = self.ok(&["inspect", name]);
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("podman inspect {name}: {e}: {text}"));
        v[0].clone()
    }

    /// Imports a busybox image serving `page`, offline (`podman import`).
    pub fn import_busybox(&self, image: &str, page: &str) {
        let rootfs = self.dir.join("rootfs");
        busybox_rootfs(&rootfs, page);
        let tar = self.dir.join("rootfs.tar");
        tar_dir(&rootfs, &tar);
        self.ok(&["import", &tar.display().to_string(), image]);
    }

    /// Writes `NAME.conflist`: a CNI network `name` of the one plugin
    /// `ebpfnet` attaching to ebpfnet network `network` of `env`'s daemon,
    /// with the capabilities Podman fills in.
    pub fn add_network(&self, env: &TestEnv, name: &str, network: &str) -> Value {
        let conf = json!({
            "cniVersion": "1.0.0",
            "name": name,
            "plugins": [{
                "type": "ebpfnet",
                "network": network,
                "socket": env.sock,
                "capabilities": {
                    "portMappings": true, "ips": true, "mac": true, "dns": true, "aliases": true,
                },
            }],
        });
        let path = self.net_dir.join(format!("{name}.conflist"));
        fs::write(&path, conf.to_string())
            .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        conf
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        match run_timeout(
            &mut self.command(&["rm", "--all", "--force", "--time", "0"]),
            None,
            PODMAN_TIMEOUT,
        ) {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!("cleanup: {}", describe("podman rm --all", &out)),
            Err(e) => eprintln!("cleanup: podman rm --all: {e}"),
        }
        unmount_under(&self.dir);
        let _ = fs::remove_dir_all(&self.dir);
    }
}
