//! An ebpfnet daemon of a side phase (overlay, IPv6), running in a network
//! namespace of its own with its own socket, state and pins (`DaemonFiles`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::lab::{DIR, DaemonFiles, Lab};
use crate::cmd::{command, succeeds};
use crate::interrupt::check_interrupted;

pub struct NetnsDaemon {
    pub binary: PathBuf,
    pub files: DaemonFiles,
}

impl NetnsDaemon {
    /// The daemon of namespace `ns` (not started).
    pub fn new(binary: &Path, ns: &str) -> Self {
        NetnsDaemon {
            binary: binary.to_path_buf(),
            files: DaemonFiles::in_netns(ns),
        }
    }

    /// `ebpfnet --socket SOCK ARGS` (the CLI needs no namespace).
    pub fn cli(&self, args: &[&str]) -> Command {
        let mut cmd = command(&self.binary);
        cmd.arg("--socket").arg(&self.files.socket).args(args);
        cmd
    }

    /// Starts `ebpfnet daemon` with its files and `args`, and waits (15 s
    /// at most) until it answers.
    pub fn start(&self, lab: &mut Lab, args: &[&str]) -> Result<()> {
        std::fs::create_dir_all(&self.files.state_dir)?;
        let mut daemon = self.files.command(&self.binary);
        daemon
            .arg("daemon")
            .arg("--socket")
            .arg(&self.files.socket)
            .arg("--state-dir")
            .arg(&self.files.state_dir)
            .arg("--pin-dir")
            .arg(&self.files.pin_dir)
            .args(args)
            .env("RUST_LOG", "info")
            .env_remove("EBPFNET_SOCKET");
        lab.spawn_daemon(self.binary.clone(), &self.files, &mut daemon)?;
        let deadline = Instant::now() + Duration::from_secs(15);
        while !succeeds(&mut self.cli(&["status"])) {
            check_interrupted()?;
            lab.check_children()?;
            if Instant::now() > deadline {
                bail!(
                    "the daemon {} did not answer in 15 s; see {DIR}/{}.log",
                    self.files.name,
                    self.files.name
                );
            }
            sleep(Duration::from_millis(100));
        }
        Ok(())
    }
}
