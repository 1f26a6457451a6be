//! The socket programs, attached to the root cgroup v2 so every host
//! process's `connect`/`sendmsg`/`recvmsg` passes through them.

use std::{
    fs::{self, File},
    path::{Path, PathBuf},
};

use aya::{
    Ebpf,
    programs::{
        CgroupAttachMode, CgroupSockAddr,
        links::{FdLink, PinnedLink},
    },
};
use ebpfnet_common::ProgramId;

use super::{DatapathError, pins::link_pin};

/// The socket programs, in the order they are attached: every program
/// that is not a TC one.
fn sock_programs() -> impl Iterator<Item = ProgramId> {
    ProgramId::ALL
        .into_iter()
        .filter(|program| !ProgramId::TC.contains(program))
}

/// Pins of cgroup links are named `<program>@cgroup`.
pub const CGROUP_PIN_SUFFIX: &str = "cgroup";

/// Where the cgroup v2 hierarchy is mounted (`/sys/fs/cgroup` on unified
/// hosts, `/sys/fs/cgroup/unified` on hybrid ones).
pub fn cgroup2_root() -> Result<PathBuf, DatapathError> {
    let mounts = fs::read_to_string("/proc/self/mounts").map_err(|source| DatapathError::Io {
        action: "read /proc/self/mounts".into(),
        source,
    })?;
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (_, target, fstype) = (fields.next()?, fields.next()?, fields.next()?);
            (fstype == "cgroup2").then(|| PathBuf::from(target))
        })
        .min_by_key(|p| p.components().count())
        .ok_or_else(|| DatapathError::Io {
            action: "find the cgroup v2 hierarchy".into(),
            source: std::io::Error::other("no cgroup2 filesystem is mounted"),
        })
}

/// Loads and attaches the socket programs to the root cgroup, pinning each
/// link. A link pinned by an earlier daemon is replaced only after the new
/// one is in place, so no connect goes unhandled in between.
pub fn attach_sock_programs(
    ebpf: &mut Ebpf,
    pin_dir: &Path,
    root: &Path,
) -> Result<Vec<(&'static str, PinnedLink)>, DatapathError> {
    let cgroup = File::open(root).map_err(|source| DatapathError::Io {
        action: format!("open cgroup {}", root.display()),
        source,
    })?;
    let mut links = Vec::new();
    for program in sock_programs() {
        let name = program.program_name();
        let prog_err = |source| DatapathError::Program { name, source };
        let prog: &mut CgroupSockAddr = ebpf
            .program_mut(name)
            .ok_or(DatapathError::MissingProgram(name))?
            .try_into()
            .map_err(prog_err)?;
        prog.load().map_err(prog_err)?;
        // With BPF links (kernel >= 5.7) several programs share a cgroup
        // hook anyway, and link_create refuses the ALLOW_MULTI flag.
        let id = prog
            .attach(&cgroup, CgroupAttachMode::Single)
            .map_err(|source| DatapathError::Attach {
                program: name,
                ifname: root.display().to_string(),
                source,
            })?;
        let path = link_pin(pin_dir, name, CGROUP_PIN_SUFFIX);
        let pin_err = |e: Box<dyn std::error::Error + Send + Sync>| DatapathError::Pin {
            what: format!("cgroup link of {name}"),
            path: path.display().to_string(),
            source: e,
        };
        let link: FdLink = prog
            .take_link(id)
            .map_err(prog_err)?
            .try_into()
            .map_err(|e| pin_err(Box::new(e)))?;
        if let Ok(old) = PinnedLink::from_pin(&path) {
            // Dropping the unpinned old link detaches it.
            old.unpin().map_err(|e| pin_err(Box::new(e)))?;
        }
        links.push((name, link.pin(&path).map_err(|e| pin_err(Box::new(e)))?));
    }
    Ok(links)
}
