//! Background processes the demo and the bench start and stop, and small
//! host look-ups they share.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::cmd::display;

pub fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// Starts `cmd` in the background, in its own process group (so Ctrl-C
/// reaches only us and we can stop it in order), with output to `log`.
pub fn spawn_logged(cmd: &mut Command, log: &Path) -> Result<Child> {
    let file = File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let stderr = file
        .try_clone()
        .with_context(|| format!("opening {}", log.display()))?;
    cmd.stdin(Stdio::null())
        .stdout(file)
        .stderr(stderr)
        .process_group(0)
        .spawn()
        .with_context(|| format!("could not start `{}`", display(cmd)))
}

pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => sleep(Duration::from_millis(50)),
            _ => return None,
        }
    }
}

/// SIGTERM to the child's process group, SIGKILL if it is still there after 5 s.
pub fn stop(child: &mut Child, name: &str, errors: &mut Vec<String>) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    let Ok(pid) = i32::try_from(child.id()) else {
        errors.push(format!("{name}: pid {} out of range", child.id()));
        return;
    };
    let group = Pid::from_raw(pid);
    let _ = killpg(group, Signal::SIGTERM);
    if wait_timeout(child, Duration::from_secs(5)).is_none() {
        let _ = killpg(group, Signal::SIGKILL);
        if let Err(err) = child.wait() {
            errors.push(format!("stopping the {name} (pid {pid}): {err}"));
        }
    }
}
