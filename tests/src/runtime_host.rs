//! What a container runtime started by a test leaves on the host outside
//! its own directories, and removing it: caches it makes for root that no
//! flag moves, mounts under its directories, and processes that outlive it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::cli::run_timeout;

/// Host paths a runtime may create that no option moves (libcni's result
/// cache, containers/image's blob cache): those absent when the guard was
/// made are removed when it drops, files first, directories only when
/// empty; paths that existed before are never touched.
pub struct HostPaths {
    created_later: Vec<PathBuf>,
}

impl HostPaths {
    /// Watches `paths`, given parents before children.
    pub fn watch(paths: &[&str]) -> Self {
        Self {
            created_later: paths
                .iter()
                .map(PathBuf::from)
                .filter(|p| fs::symlink_metadata(p).is_err())
                .collect(),
        }
    }

    /// The watched paths that did not exist when the guard was made.
    pub fn absent_before(&self) -> &[PathBuf] {
        &self.created_later
    }
}

impl Drop for HostPaths {
    fn drop(&mut self) {
        for path in self.created_later.iter().rev() {
            match fs::symlink_metadata(path) {
                Ok(meta) if meta.is_dir() => {
                    // Only when empty: something else may have put files there.
                    let _ = fs::remove_dir(path);
                }
                Ok(_) => {
                    let _ = fs::remove_file(path);
                }
                Err(_) => {}
            }
        }
    }
}

/// Mount points at or under `dir`, deepest first.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut found: Vec<PathBuf> = text
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(PathBuf::from)
        .filter(|mount| mount.starts_with(dir))
        .collect();
    found.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
    found
}

/// Detaches every mount under `dir` (a runtime that died mid-way).
pub fn unmount_under(dir: &Path) {
    for mount in mounts_under(dir) {
        eprintln!("cleanup: unmounting {}", mount.display());
        let _ = run_timeout(
            Command::new("umount").arg("-l").arg(&mount),
            None,
            Duration::from_secs(10),
        );
    }
}

/// Pids of processes whose command line contains `needle`.
pub fn pids_with_arg(needle: &str) -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmd| String::from_utf8_lossy(&cmd).contains(needle))
        })
        .filter(|pid| *pid != std::process::id() as i32)
        .collect()
}

/// SIGKILLs the processes whose command line contains `needle`.
pub fn kill_with_arg(needle: &str) {
    for pid in pids_with_arg(needle) {
        eprintln!("cleanup: killing leftover process {pid} ({needle})");
        crate::send_signal(pid, nix::sys::signal::Signal::SIGKILL);
    }
}
