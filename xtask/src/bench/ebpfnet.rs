//! The ebpfnet variant: an isolated daemon (own socket, state dir, pin dir,
//! bridge and default subnet, the outside namespace's veth as uplink), its
//! container, and the programs' run time from `kernel.bpf_stats_enabled`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::extremes::NAT_TABLE_SIZE;
use super::lab::{DIR, DaemonFiles, Lab, PIN_DIR, quiet};
use super::topology::{EBPFNET_BRIDGE, EBPFNET_UPLINK, Kind};
use crate::cmd::{command, output, succeeds};
use crate::interrupt::check_interrupted;

pub struct Ebpfnet {
    pub binary: PathBuf,
}

impl Ebpfnet {
    /// `ebpfnet ARGS` against the bench daemon.
    pub fn cli<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = command(&self.binary);
        cmd.env("EBPFNET_SOCKET", Path::new(DIR).join("ebpfnet.sock"))
            .args(args);
        cmd
    }

    pub fn start_daemon(&self, lab: &mut Lab) -> Result<()> {
        let mut daemon = self.cli(["daemon", "--state-dir"]);
        daemon
            .arg(Path::new(DIR).join("state"))
            .args(["--pin-dir", PIN_DIR, "--uplink", EBPFNET_UPLINK])
            .args(["--bridge", EBPFNET_BRIDGE])
            .args(["--default-subnet", &Kind::Ebpfnet.subnet()])
            .args(["--nat-table-size", &NAT_TABLE_SIZE.to_string()]);
        lab.spawn_daemon(self.binary.clone(), &DaemonFiles::main(), &mut daemon)?;
        let deadline = Instant::now() + Duration::from_secs(15);
        while !succeeds(&mut self.cli(["status"])) {
            check_interrupted()?;
            lab.check_children()?;
            if Instant::now() > deadline {
                bail!("the ebpfnet daemon did not answer in 15 s; see {DIR}/ebpfnet-daemon.log");
            }
            sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// Creates a container on the default network and checks its address.
    pub fn create_container(&self, name: &str, ip: &str) -> Result<()> {
        quiet(&mut self.cli(["container", "create", name, "--ip", ip]))
    }

    pub fn remove_container(&self, name: &str) -> Result<()> {
        quiet(&mut self.cli(["container", "rm", name]))
    }

    /// `ebpfnet publish SPEC --container NAME`.
    pub fn publish(&self, spec: &str, container: &str) -> Command {
        self.cli(["publish", spec, "--container", container])
    }

    pub fn unpublish(&self, spec: &str, container: &str) -> Command {
        self.cli(["unpublish", spec, "--container", container])
    }
}

/// `host` port spec for a range of fillers `first..first+count`, one to one.
pub fn range_spec(first: u32, count: u32) -> String {
    let last = first + count - 1;
    format!("{first}-{last}:{first}-{last}")
}

/// Run time and count of one program, from `bpftool prog show -j`.
#[derive(Clone, Copy, Default)]
pub struct ProgStats {
    pub run_time_ns: u64,
    pub run_cnt: u64,
}

/// A daemon's programs (pinned under `pin_dir`), by pinned link name
/// (`program@interface`; bpftool 7.1 does not list TCX links under `net
/// show`), with their counters now.
pub fn prog_stats(pin_dir: &Path) -> Result<BTreeMap<String, ProgStats>> {
    let mut stats = BTreeMap::new();
    let links = pin_dir.join("links");
    let entries = std::fs::read_dir(&links).with_context(|| format!("{}", links.display()))?;
    for entry in entries {
        let path = entry?.path();
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let json = output(
            command("bpftool")
                .args(["-j", "link", "show", "pinned"])
                .arg(&path),
        )?;
        let link: Value = serde_json::from_str(&json).context("bpftool link show")?;
        let Some(id) = link.get("prog_id").and_then(Value::as_u64) else {
            continue;
        };
        let json = output(command("bpftool").args(["-j", "prog", "show", "id", &id.to_string()]))?;
        let prog: Value = serde_json::from_str(&json).context("bpftool prog show")?;
        let get = |field: &str| prog.get(field).and_then(Value::as_u64).unwrap_or(0);
        stats.insert(
            name,
            ProgStats {
                run_time_ns: get("run_time_ns"),
                run_cnt: get("run_cnt"),
            },
        );
    }
    Ok(stats)
}

/// Per program: ns per run and runs between two snapshots.
pub fn stats_delta(
    before: &BTreeMap<String, ProgStats>,
    after: &BTreeMap<String, ProgStats>,
) -> Vec<(String, f64, u64)> {
    after
        .iter()
        .filter_map(|(name, a)| {
            let b = before.get(name).copied().unwrap_or_default();
            let runs = a.run_cnt.saturating_sub(b.run_cnt);
            let ns = a.run_time_ns.saturating_sub(b.run_time_ns);
            (runs > 0).then(|| (name.clone(), ns as f64 / runs as f64, runs))
        })
        .collect()
}
