//! The bench's guard: every namespace, host link, background process, host
//! sysctl and ebpfnet daemon it makes is recorded here and removed (or
//! restored) by [`Lab::cleanup`], which also runs on drop, so an error, a
//! panic or Ctrl-C (see `interrupt.rs`) leaves nothing behind. The daemons
//! are reset first, while the processes they may need (the overlay phase's
//! etcd) still run.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::cmd::{command, output};
use crate::process::{link_exists, wait_timeout};
use crate::process::{spawn_logged, stop};

/// Every object the bench makes has a name starting with this.
pub const PREFIX: &str = "ebnb-";
/// Scratch dir: logs, rule files, the ebpfnet daemon's socket and state.
pub const DIR: &str = "/tmp/ebnb-bench";
/// The bench daemon's pin dir.
pub const PIN_DIR: &str = "/sys/fs/bpf/ebnb-bench";
/// Where the daemons' pin dirs are (each `ebnb-…`).
const BPF_FS: &str = "/sys/fs/bpf";
/// The overlay phase's etcd writes its pid here, so `--clean` can stop an
/// etcd a killed run left.
pub const ETCD_PID_FILE: &str = "etcd.pid";

/// An ebpfnet daemon of the bench: its files, and the network namespace
/// it runs in (none: the host's).
#[derive(Clone)]
pub struct DaemonFiles {
    /// Log name: `DIR/<name>.log`.
    pub name: String,
    pub socket: PathBuf,
    pub state_dir: PathBuf,
    pub pin_dir: PathBuf,
    pub netns: Option<String>,
}

impl DaemonFiles {
    /// The main bench daemon's (socket and state under `DIR`).
    pub fn main() -> Self {
        DaemonFiles {
            name: "ebpfnet-daemon".into(),
            socket: Path::new(DIR).join("ebpfnet.sock"),
            state_dir: Path::new(DIR).join("state"),
            pin_dir: PathBuf::from(PIN_DIR),
            netns: None,
        }
    }

    /// A daemon of its own in network namespace `ns` (a "host" of the
    /// overlay phase): socket and state in `DIR/<ns>/`, pins in
    /// `/sys/fs/bpf/<ns>`.
    pub fn in_netns(ns: &str) -> Self {
        let dir = Path::new(DIR).join(ns);
        DaemonFiles {
            name: format!("{ns}-daemon"),
            socket: dir.join("sock"),
            state_dir: dir.join("state"),
            pin_dir: Path::new(BPF_FS).join(ns),
            netns: Some(ns.to_string()),
        }
    }

    /// `PROGRAM` run in the daemon's network namespace by `nsenter --net`
    /// (not `ip netns exec`, which mounts another /sys and so hides bpffs).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        match &self.netns {
            Some(ns) => {
                let mut cmd = command("nsenter");
                cmd.arg(format!("--net=/run/netns/{ns}")).arg(program);
                cmd
            }
            None => command(program),
        }
    }
}

pub struct Lab {
    pub dir: PathBuf,
    netns: Vec<String>,
    links: Vec<String>,
    children: Vec<(String, Child)>,
    /// Host sysctls changed: name and the value to put back.
    sysctls: Vec<(String, String)>,
    /// The `ebpfnet` daemons started: binary, files, process.
    daemons: Vec<(PathBuf, DaemonFiles, Child)>,
    cleaned_up: bool,
}

impl Lab {
    pub fn new() -> Result<Self> {
        let dir = PathBuf::from(DIR);
        fs::create_dir_all(dir.join("state")).with_context(|| format!("creating {DIR}"))?;
        Ok(Lab {
            dir,
            netns: Vec::new(),
            links: Vec::new(),
            children: Vec::new(),
            sysctls: Vec::new(),
            daemons: Vec::new(),
            cleaned_up: false,
        })
    }

    pub fn add_netns(&mut self, name: &str) -> Result<()> {
        quiet(command("ip").args(["netns", "add", name]))?;
        self.netns.push(name.to_string());
        Ok(())
    }

    /// Records a host link to delete at the end (a veth goes with its peer's
    /// namespace anyway; this catches the rest).
    pub fn track_link(&mut self, name: &str) {
        self.links.push(name.to_string());
    }

    /// Sets a host sysctl, remembering the value to restore.
    pub fn set_host_sysctl(&mut self, name: &str, value: &str) -> Result<()> {
        let old = output(command("sysctl").args(["-n", name]))?
            .trim()
            .to_string();
        if !self.sysctls.iter().any(|(known, _)| known == name) {
            self.sysctls.push((name.to_string(), old));
        }
        quiet(command("sysctl").args(["-qw", &format!("{name}={value}")]))
    }

    /// Puts a host sysctl set by [`Lab::set_host_sysctl`] back now.
    pub fn restore_host_sysctl(&mut self, name: &str) -> Result<()> {
        if let Some(i) = self.sysctls.iter().position(|(known, _)| known == name) {
            let (name, value) = self.sysctls.remove(i);
            quiet(command("sysctl").args(["-qw", &format!("{name}={value}")]))?;
        }
        Ok(())
    }

    /// Starts `cmd` in its own process group (Ctrl-C reaches only us), with
    /// its output in `DIR/<log>.log`.
    pub fn spawn(&mut self, log: &str, cmd: &mut Command) -> Result<()> {
        let child = spawn_logged(cmd, &self.dir.join(format!("{log}.log")))?;
        self.children.push((log.to_string(), child));
        Ok(())
    }

    /// Starts an ebpfnet daemon; cleanup resets it through its socket
    /// (removing its containers, bridges and pins) before stopping it.
    pub fn spawn_daemon(
        &mut self,
        ebpfnet: PathBuf,
        files: &DaemonFiles,
        cmd: &mut Command,
    ) -> Result<()> {
        let child = spawn_logged(cmd, &self.dir.join(format!("{}.log", files.name)))?;
        self.daemons.push((ebpfnet, files.clone(), child));
        Ok(())
    }

    /// The pid of the background process started last.
    pub fn last_child_pid(&self) -> Option<u32> {
        self.children.last().map(|(_, child)| child.id())
    }

    /// Whether a background process has died (its log then says why).
    pub fn check_children(&mut self) -> Result<()> {
        for (name, child) in &mut self.children {
            if let Some(status) = child.try_wait()? {
                bail!("background `{name}` exited ({status}); see {DIR}/{name}.log");
            }
        }
        for (_, files, daemon) in &mut self.daemons {
            if let Some(status) = daemon.try_wait()? {
                bail!(
                    "the ebpfnet daemon {} exited ({status}); see {DIR}/{}.log",
                    files.name,
                    files.name
                );
            }
        }
        Ok(())
    }

    /// Removes everything made; returns what could not be removed.
    pub fn cleanup(&mut self) -> Vec<String> {
        if self.cleaned_up {
            return Vec::new();
        }
        self.cleaned_up = true;
        let mut errors = Vec::new();
        for (ebpfnet, files, mut daemon) in self.daemons.drain(..).rev() {
            if let Err(err) = reset_daemon(&ebpfnet, &files) {
                errors.push(format!("{err:#}"));
            }
            if wait_timeout(&mut daemon, Duration::from_secs(5)).is_none() {
                stop(&mut daemon, &files.name, &mut errors);
            }
            if files.pin_dir.exists() && fs::remove_dir(&files.pin_dir).is_err() {
                errors.push(format!(
                    "pin dir {} is left behind",
                    files.pin_dir.display()
                ));
            }
        }
        for (name, mut child) in self.children.drain(..).rev() {
            stop(&mut child, &name, &mut errors);
        }
        for netns in self.netns.drain(..).rev() {
            if let Err(err) = quiet(command("ip").args(["netns", "del", &netns])) {
                errors.push(format!("{err:#}"));
            }
        }
        // The kernel removes a veth's peer asynchronously.
        let deadline = Instant::now() + Duration::from_secs(3);
        while self.links.iter().any(|l| link_exists(l)) && Instant::now() < deadline {
            sleep(Duration::from_millis(50));
        }
        for link in self.links.drain(..) {
            if link_exists(&link)
                && let Err(err) = quiet(command("ip").args(["link", "del", &link]))
            {
                errors.push(format!("{err:#}"));
            }
        }
        for (name, value) in self.sysctls.drain(..) {
            if let Err(err) = quiet(command("sysctl").args(["-qw", &format!("{name}={value}")])) {
                errors.push(format!("restoring {name}={value}: {err:#}"));
            }
        }
        if errors.is_empty() {
            let _ = fs::remove_dir_all(&self.dir);
        }
        errors
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for err in self.cleanup() {
            eprintln!("bench cleanup: {err}");
        }
    }
}

/// `ebpfnet system reset` for a bench daemon: through its socket when it
/// answers, else directly from its state dir (in its namespace).
fn reset_daemon(ebpfnet: &Path, files: &DaemonFiles) -> Result<()> {
    quiet(
        files
            .command(ebpfnet)
            .arg("--socket")
            .arg(&files.socket)
            .args(["system", "reset", "--state-dir"])
            .arg(&files.state_dir)
            .arg("--pin-dir")
            .arg(&files.pin_dir),
    )
}

fn prefixed(dir: &str) -> Vec<String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with(PREFIX))
        .collect();
    names.sort();
    names
}

/// What a previous run left: namespaces, links, the pin dir, the state.
pub fn leftovers() -> Vec<String> {
    let mut found: Vec<String> = prefixed("/run/netns")
        .into_iter()
        .map(|n| format!("network namespace {n}"))
        .collect();
    found.extend(
        prefixed("/sys/class/net")
            .into_iter()
            .map(|l| format!("link {l}")),
    );
    found.extend(
        prefixed(BPF_FS)
            .into_iter()
            .map(|p| format!("pin dir {BPF_FS}/{p}")),
    );
    if Path::new(DIR).exists() {
        found.push(DIR.to_string());
    }
    found
}

/// The daemons whose state a previous run left under `DIR`.
fn leftover_daemons() -> Vec<DaemonFiles> {
    let mut found = Vec::new();
    if Path::new(DIR).join("state").exists() {
        found.push(DaemonFiles::main());
    }
    for ns in prefixed(DIR) {
        let mut files = DaemonFiles::in_netns(&ns);
        if files.state_dir.exists() {
            if !Path::new("/run/netns").join(&ns).exists() {
                files.netns = None;
            }
            found.push(files);
        }
    }
    found
}

/// Stops the etcd a killed run left (its pid from `DIR/etcd.pid`, if that
/// process still is an etcd with its data under `DIR`).
fn stop_leftover_etcd() {
    let Ok(pid) = fs::read_to_string(Path::new(DIR).join(ETCD_PID_FILE)) else {
        return;
    };
    let Ok(pid) = pid.trim().parse::<i32>() else {
        return;
    };
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmdline = String::from_utf8_lossy(&cmdline);
    let program = cmdline.split('\0').next().unwrap_or_default();
    if program.ends_with("etcd") && cmdline.contains(DIR) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        println!("bench: stopped the etcd (pid {pid}) a previous run left");
    }
}

/// `cargo xtask bench --clean`: removes only the bench's own objects.
pub fn clean_leftovers(ebpfnet: &Path) -> Result<()> {
    for files in leftover_daemons() {
        if let Err(err) = reset_daemon(ebpfnet, &files) {
            eprintln!("bench: ebpfnet reset of {} failed: {err:#}", files.name);
        }
    }
    stop_leftover_etcd();
    for netns in prefixed("/run/netns") {
        quiet(command("ip").args(["netns", "del", &netns]))?;
    }
    sleep(Duration::from_millis(500));
    for link in prefixed("/sys/class/net") {
        if link_exists(&link) {
            quiet(command("ip").args(["link", "del", &link]))?;
        }
    }
    for pins in prefixed(BPF_FS) {
        quiet(command("rm").args(["-rf", &format!("{BPF_FS}/{pins}")]))?;
    }
    let _ = fs::remove_dir_all(DIR);
    let left = leftovers();
    if !left.is_empty() {
        bail!("still there after cleaning: {}", left.join(", "));
    }
    println!("bench: nothing of a previous run is left");
    Ok(())
}

/// Runs a command silently; on failure the error carries its stderr.
pub fn quiet(cmd: &mut Command) -> Result<()> {
    output(cmd).map(drop)
}

/// Blocks on the tests' host-wide lock so end-to-end tests and the bench do
/// not share the machine; held until the returned file is dropped.
pub fn host_lock() -> Result<File> {
    const LOCK: &str = "/run/ebpfnet-tests.lock";
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(LOCK)
        .with_context(|| format!("opening {LOCK}"))?;
    println!("bench: taking the host-wide test lock {LOCK} (waits for running tests)");
    // SAFETY: flock on a descriptor we own; released when it closes.
    let rc =
        unsafe { nix::libc::flock(std::os::fd::AsRawFd::as_raw_fd(&file), nix::libc::LOCK_EX) };
    if rc != 0 {
        bail!("locking {LOCK}: {}", std::io::Error::last_os_error());
    }
    Ok(file)
}
