//! [`Dockerd`]: a Debian `dockerd` of the test's own (data root, exec root,
//! socket, pid file, containerd namespace; no iptables, no bridge), the
//! ebpfnet daemon of a [`TestEnv`] as its network driver under a name of
//! the test's own, and a busybox image built offline. Dropping it removes
//! every container, stops dockerd and removes its data, also on panic.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::cli::{describe, last_lines, run_timeout};
use crate::daemon::TestEnv;

/// Debian's docker CLI (another `docker` may come first on PATH).
pub const DOCKER: &str = "/usr/bin/docker";
pub const DOCKERD: &str = "/usr/sbin/dockerd";
const BUSYBOX: &str = "/bin/busybox";
/// The image the tests run: busybox with a page for httpd under /www.
pub const IMAGE: &str = "ebpfnet-test-busybox:1";
/// The page httpd serves.
pub const PAGE: &str = "hello from docker on ebpfnet";
const APPLETS: &[&str] = &[
    "sh", "httpd", "wget", "nslookup", "ip", "cat", "sleep", "ping", "nc", "hostname",
];
const DOCKER_TIMEOUT: Duration = Duration::from_secs(60);

/// Where dockerd looks for plugin sockets; the driver's socket goes here
/// under a name no host Docker uses.
pub const PLUGIN_DIR: &str = "/run/docker/plugins";

/// The `--docker-plugin` argument for a test run and the driver name
/// dockerd will know it by (`ebpfnet-t<pid>`).
pub fn plugin_for_this_run() -> (String, PathBuf) {
    let name = format!("ebpfnet-t{}", std::process::id());
    let socket = PathBuf::from(PLUGIN_DIR).join(format!("{name}.sock"));
    (name, socket)
}

/// One raw HTTP POST on the plugin socket: (status line, body).
pub fn plugin_call(socket: &std::path::Path, path: &str, body: &str) -> (String, String) {
    use std::io::{Read as _, Write as _};
    let mut stream = std::os::unix::net::UnixStream::connect(socket)
        .unwrap_or_else(|e| panic!("connect {}: {e}", socket.display()));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: plugin\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read answer");
    let status = answer.lines().next().unwrap_or_default().to_string();
    let body = answer
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (status, body)
}

pub struct Dockerd {
    pub dir: PathBuf,
    pub host: String,
    /// `docker network create -d DRIVER`.
    pub driver: String,
    plugin_socket: PathBuf,
    child: Option<Child>,
    log: PathBuf,
}

impl Dockerd {
    /// Starts dockerd for `env`, whose daemon serves the driver at the
    /// socket of [`plugin_for_this_run`], and imports [`IMAGE`].
    pub fn start(env: &TestEnv) -> Dockerd {
        let (driver, plugin_socket) = plugin_for_this_run();
        let pid = std::process::id();
        // Short: containerd's socket path inside must fit in 108 bytes.
        let dir = PathBuf::from(format!("/tmp/ebn-dk-{pid}"));
        if dir.exists() {
            remove_tree(&dir);
        }
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        let log = dir.join("dockerd.log");
        let sock = dir.join("docker.sock");
        let mut dockerd = Dockerd {
            dir,
            host: format!("unix://{}", sock.display()),
            driver,
            plugin_socket,
            child: None,
            log,
        };
        dockerd.spawn();
        dockerd.wait_ready();
        assert!(
            dockerd.plugin_socket.exists(),
            "the ebpfnet daemon of {} does not serve {}",
            env.tag,
            dockerd.plugin_socket.display()
        );
        dockerd.import_image();
        dockerd
    }

    /// Starts dockerd on this one's directories (appending to its log).
    fn spawn(&mut self) {
        let log_file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("dockerd log");
        let ns = format!("ebpfnet-test-{}", std::process::id());
        let child = Command::new(DOCKERD)
            .arg("--data-root")
            .arg(self.dir.join("data"))
            .arg("--exec-root")
            .arg(self.dir.join("exec"))
            .args(["-H", &self.host])
            .arg("--pidfile")
            .arg(self.dir.join("dockerd.pid"))
            .args(["--iptables=false", "--ip6tables=false", "--bridge=none"])
            .args(["--containerd-namespace", &ns])
            .args(["--containerd-plugins-namespace", &format!("{ns}-plugins")])
            .stdin(Stdio::null())
            .stdout(Stdio::from(log_file.try_clone().expect("log fd")))
            .stderr(Stdio::from(log_file))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {DOCKERD}: {e} (run `cargo xtask setup`)"));
        self.child = Some(child);
    }

    /// dockerd dies (SIGKILL: no Leave for anything), and the containerd it
    /// runs with it (left alone, that one dies at its next log line, on
    /// the broken pipe, too late for a restarted dockerd that found it
    /// still there); the containers' shims outlive both.
    pub fn crash(&mut self) {
        let mut child = self.child.take().expect("dockerd runs");
        child.kill().expect("SIGKILL dockerd");
        child.wait().expect("reap dockerd");
        let pid_file = self.dir.join("exec/containerd/containerd.pid");
        let Some(pid) = fs::read_to_string(&pid_file)
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
        else {
            return;
        };
        // The containerd this dockerd started.
        crate::send_signal(pid, nix::sys::signal::Signal::SIGKILL);
        let proc_dir = PathBuf::from(format!("/proc/{pid}"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while proc_dir.exists() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(100));
        }
        assert!(!proc_dir.exists(), "containerd {pid} outlived SIGKILL");
    }

    /// Starts dockerd again on the same data after [`Self::crash`].
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "dockerd runs already");
        self.spawn();
        self.wait_ready();
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = self.docker(&["version", "--format", "{{.Server.Version}}"]);
            if out.status.success() {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "dockerd not ready after 30 s: {}\n--- dockerd log ---\n{}",
                    describe("docker version", &out),
                    self.log_tail()
                );
            }
            thread::sleep(Duration::from_millis(200));
        }
    }

    /// `docker import` of a rootfs made of the host's static busybox.
    fn import_image(&self) {
        let root = self.dir.join("rootfs");
        for sub in ["bin", "www", "etc", "tmp"] {
            fs::create_dir_all(root.join(sub)).expect("rootfs dirs");
        }
        fs::copy(BUSYBOX, root.join("bin/busybox"))
            .unwrap_or_else(|e| panic!("copy {BUSYBOX}: {e} (run `cargo xtask setup`)"));
        for applet in APPLETS {
            symlink("busybox", root.join("bin").join(applet)).expect("applet link");
        }
        fs::write(root.join("www/index.html"), format!("{PAGE}\n")).expect("page");
        let tar = self.dir.join("rootfs.tar");
        let out = run_timeout(
            Command::new("tar")
                .arg("-C")
                .arg(&root)
                .arg("-cf")
                .arg(&tar)
                .arg("."),
            None,
            DOCKER_TIMEOUT,
        )
        .unwrap_or_else(|e| panic!("tar: {e}"));
        assert!(out.status.success(), "{}", describe("tar", &out));
        let tar = tar.display().to_string();
        self.ok(&["import", &tar, IMAGE]);
    }

    /// `docker -H <ours> ARGS`.
    pub fn docker(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(DOCKER);
        cmd.arg("-H").arg(&self.host).args(args);
        cmd.env_remove("DOCKER_HOST").env_remove("DOCKER_CONTEXT");
        run_timeout(&mut cmd, None, DOCKER_TIMEOUT)
            .unwrap_or_else(|e| panic!("docker {}: {e}", args.join(" ")))
    }

    /// Runs docker and returns its trimmed stdout; panics on failure.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "{}\n--- dockerd log (tail) ---\n{}",
            describe(&format!("docker {}", args.join(" ")), &out),
            self.log_tail()
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Runs docker, expects failure, returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            !out.status.success(),
            "docker {} succeeded: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).to_string()
    }

    /// `docker inspect -f FORMAT NAME`.
    pub fn inspect(&self, name: &str, format: &str) -> String {
        self.ok(&["inspect", "-f", format, name])
    }

    /// The ebpfnet container of a Docker container: `docker-<sandbox id>`.
    pub fn ebpfnet_name(&self, container: &str) -> String {
        let key = self.inspect(container, "{{.NetworkSettings.SandboxKey}}");
        let id = Path::new(&key)
            .file_name()
            .unwrap_or_else(|| panic!("no sandbox key for {container}: {key:?}"));
        format!("docker-{}", id.to_string_lossy())
    }

    /// A Docker container's address on a network.
    pub fn ip_on(&self, container: &str, network: &str) -> String {
        self.inspect(
            container,
            &format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}"),
        )
    }

    pub fn log_tail(&self) -> String {
        last_lines(&fs::read_to_string(&self.log).unwrap_or_default(), 40)
    }

    fn stop(&mut self) {
        let ids = self.docker(&["ps", "-aq"]);
        let ids = String::from_utf8_lossy(&ids.stdout).to_string();
        for id in ids.split_whitespace() {
            let _ = self.docker(&["rm", "-f", id]);
        }
        let _ = self.docker(&["network", "prune", "-f"]);
        if let Some(mut child) = self.child.take() {
            crate::send_signal(child.id(), nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(20);
            while !matches!(child.try_wait(), Ok(Some(_))) {
                if Instant::now() >= deadline {
                    eprintln!("cleanup: dockerd did not stop in 20 s; killing it");
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!("--- dockerd log (tail) ---\n{}\n---", self.log_tail());
        }
        self.stop();
        remove_tree(&self.dir);
        let _ = fs::remove_file(&self.plugin_socket);
    }
}

/// Unmounts what dockerd left mounted under `dir` (overlays, namespaces),
/// deepest first, then removes it.
fn remove_tree(dir: &Path) {
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let prefix = dir.display().to_string();
    let mut under: Vec<String> = mounts
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(&prefix))
        .map(str::to_string)
        .collect();
    under.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in under {
        let _ = Command::new("umount").arg("-l").arg(&m).status();
    }
    if let Err(e) = fs::remove_dir_all(dir)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        eprintln!("cleanup: cannot remove {}: {e}", dir.display());
    }
}
