//! The two ways TC programs hang on an interface: TCX links (Linux 6.6 and
//! later) and, on older kernels, cls_bpf filters in a clsact qdisc set up
//! over netlink. This file is the netlink path: filters at a fixed priority
//! and a handle of their own per daemon (pin dir) and program, so a
//! restarted daemon replaces its filters in place instead of adding second
//! ones, and cleanup removes exactly its own.
//!
//! A filter, unlike a TCX link, is not a BPF object to pin; the pin dir
//! records it by pinning the program at the path the link would have
//! (`links/PROGRAM@IFACE`), and a clsact qdisc the daemon added by a
//! `links/clsact@IFACE` pin (of a map), so the qdisc goes when its last
//! filter does.

use std::path::Path;

use aya::maps::MapData;
use aya::programs::{
    SchedClassifier, TcAttachType,
    links::{FdLink, PinnedLink},
    tc::{self, NlOptions, SchedClassifierLink, TcAttachOptions, TcError, TcHandle},
};
use ebpfnet_common::{ProgramId, names};
use serde::Deserialize;

use super::{DatapathError, pins, tc_netlink};

/// Priority of ebpfnet's filters: 1 runs them before any other tc filter,
/// as TCX runs its programs before the clsact filters.
pub const FILTER_PRIORITY: u16 = 1;
/// Name of the pin that records a clsact qdisc ebpfnet added.
pub const CLSACT_PIN: &str = "clsact";

/// `--tc-attach` / `tc-attach`: how TC programs are attached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum TcAttachMode {
    /// TCX where the kernel has it (Linux 6.6 and later), else netlink.
    #[default]
    Auto,
    /// TCX links.
    Tcx,
    /// cls_bpf filters in a clsact qdisc, set up over netlink.
    Netlink,
}

/// The attach path in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcPath {
    Tcx,
    Netlink,
}

impl TcPath {
    pub fn name(self) -> &'static str {
        match self {
            TcPath::Tcx => "tcx",
            TcPath::Netlink => "netlink",
        }
    }
}

pub fn direction(program: ProgramId) -> TcAttachType {
    if program.is_egress() {
        TcAttachType::Egress
    } else {
        TcAttachType::Ingress
    }
}

/// The filter handle of `program` for the daemon pinning under `pin_dir`:
/// the pin dir's hash above, the program below (never 0).
pub fn filter_handle(pin_dir: &Path, program: ProgramId) -> u32 {
    // FNV-1a: stable across builds, unlike std's hasher.
    let hash = pin_dir
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0x811c_9dc5_u32, |h, b| {
            (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
        });
    let owner = (hash >> 16) ^ (hash & 0xffff);
    (owner << 16) | (program as u32 + 1)
}

fn attach_error(
    program: ProgramId,
    ifname: &str,
) -> impl Fn(aya::programs::ProgramError) -> DatapathError {
    move |source| DatapathError::Attach {
        program: program.program_name(),
        ifname: ifname.to_string(),
        source,
    }
}

/// The interface's index, `None` when there is no such interface.
fn ifindex(ifname: &str) -> Option<u32> {
    let name = std::ffi::CString::new(ifname).ok()?;
    // SAFETY: `name` is a NUL-terminated string that outlives the call.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    (index != 0).then_some(index)
}

fn io_error(action: String) -> impl FnOnce(std::io::Error) -> DatapathError {
    move |source| DatapathError::Io { action, source }
}

/// Whether the pin at `path` is a TCX link (else a program standing for a
/// filter, or nothing).
pub fn is_tcx_link(path: &Path) -> bool {
    PinnedLink::from_pin(path)
        .ok()
        .is_some_and(|link| SchedClassifierLink::try_from(FdLink::from(link)).is_ok())
}

/// Adds the clsact qdisc when missing; `true` when this call added it.
fn ensure_clsact(ifname: &str) -> Result<bool, DatapathError> {
    match tc::qdisc_add_clsact(ifname) {
        Ok(()) => Ok(true),
        Err(TcError::NetlinkError(e)) if e.raw_os_error() == Some(libc::EEXIST) => Ok(false),
        Err(e) => Err(DatapathError::Io {
            action: format!("add a clsact qdisc to {ifname}"),
            source: std::io::Error::other(e),
        }),
    }
}

/// Attaches `program` as a filter on `ifname`, replacing in place the one
/// an earlier daemon of this pin dir left there, and records it in the pin
/// dir. A TCX link pinned there by an earlier daemon goes once the filter
/// is in place.
pub fn attach(
    prog: &mut SchedClassifier,
    program: ProgramId,
    ifname: &str,
    pin_dir: &Path,
) -> Result<(), DatapathError> {
    let error = attach_error(program, ifname);
    let (priority, handle) = (
        FILTER_PRIORITY,
        TcHandle::from(filter_handle(pin_dir, program)),
    );
    if ensure_clsact(ifname)? {
        pin_marker(pin_dir, ifname)?;
    }
    let old = SchedClassifierLink::attached(ifname, direction(program), priority, handle, None)
        .map_err(|e| error(TcError::IoError(e).into()))?;
    let id = match prog.attach_to_link(old) {
        Ok(id) => id,
        Err(aya::programs::ProgramError::TcError(TcError::NetlinkError(e)))
            if e.raw_os_error() == Some(libc::ENOENT) =>
        {
            let options = NlOptions {
                priority,
                handle,
                classid: None,
            };
            prog.attach_with_options(
                ifname,
                direction(program),
                TcAttachOptions::Netlink(options),
            )
            .map_err(&error)?
        }
        Err(aya::programs::ProgramError::TcError(TcError::NetlinkError(e)))
            if e.raw_os_error() == Some(libc::EINVAL) =>
        {
            return Err(DatapathError::Io {
                action: format!(
                    "attach {} to {ifname} as a tc filter at priority {FILTER_PRIORITY} \
                     (is a filter of another kind or protocol there?)",
                    program.program_name()
                ),
                source: std::io::Error::other(e),
            });
        }
        Err(e) => return Err(error(e)),
    };
    // The filter stays after the daemon: the link is not to be detached
    // when dropped (it holds no fd, so forgetting it leaks nothing).
    std::mem::forget(prog.take_link(id).map_err(&error)?);
    let path = pins::link_pin(pin_dir, program.program_name(), ifname);
    // Unpinning a TCX link of an earlier daemon detaches it.
    pins::unpin(&path)?;
    pin_program(prog, &path)
}

/// Records that ebpfnet added the clsact qdisc of `ifname`: a second pin of
/// the (pinned anyway) `CONFIG` map, which keeps nothing else alive.
fn pin_marker(pin_dir: &Path, ifname: &str) -> Result<(), DatapathError> {
    let marker = pins::link_pin(pin_dir, CLSACT_PIN, ifname);
    pins::unpin(&marker)?;
    let pin_error = |source: Box<dyn std::error::Error + Send + Sync>| DatapathError::Pin {
        what: format!("the record of the clsact qdisc added to {ifname}"),
        path: marker.display().to_string(),
        source,
    };
    MapData::from_pin(pin_dir.join(names::CONFIG_MAP))
        .map_err(|e| pin_error(Box::new(e)))?
        .pin(&marker)
        .map_err(|e| pin_error(Box::new(e)))
}

fn pin_program(prog: &mut SchedClassifier, path: &Path) -> Result<(), DatapathError> {
    prog.pin(path).map_err(|e| DatapathError::Pin {
        what: "program standing for a tc filter".into(),
        path: path.display().to_string(),
        source: Box::new(e),
    })
}

/// Removes what the program pin `links/PROGRAM@IFACE` stands for, then the
/// pin: on the netlink path the program's filter; a TCX link is only
/// unpinned (which detaches it once no fd holds it).
pub fn remove_pinned(pin_dir: &Path, program: &str, ifname: &str) -> Result<(), DatapathError> {
    let path = pins::link_pin(pin_dir, program, ifname);
    let filter = ProgramId::TC
        .into_iter()
        .find(|p| p.program_name() == program);
    if let Some(program) = filter
        && path.exists()
        && !is_tcx_link(&path)
        && let Some(ifindex) = ifindex(ifname)
    {
        tc_netlink::delete_filter(
            ifindex,
            program.is_egress(),
            FILTER_PRIORITY,
            filter_handle(pin_dir, program),
        )
        .map_err(io_error(format!(
            "remove the {} filter of {ifname}",
            program.program_name()
        )))?;
    }
    pins::unpin(&path)
}

/// Once ebpfnet's filters are gone from `ifname`: removes the clsact qdisc
/// ebpfnet added there if no filter (of anyone) is left in it, and forgets
/// it once none of ebpfnet's programs is pinned for the interface (a
/// qdisc another tool's filters still use stays).
pub fn release_clsact(pin_dir: &Path, ifname: &str) -> Result<(), DatapathError> {
    let marker = pins::link_pin(pin_dir, CLSACT_PIN, ifname);
    if !marker.exists() {
        return Ok(());
    }
    let Some(ifindex) = ifindex(ifname) else {
        // The interface went, and its qdisc with it.
        return pins::unpin(&marker);
    };
    let action = || format!("list the tc filters of {ifname}");
    let empty = tc_netlink::filters(ifindex, false)
        .map_err(io_error(action()))?
        .is_empty()
        && tc_netlink::filters(ifindex, true)
            .map_err(io_error(action()))?
            .is_empty();
    if empty {
        tc_netlink::delete_clsact(ifindex)
            .map_err(io_error(format!("remove the clsact qdisc of {ifname}")))?;
        return pins::unpin(&marker);
    }
    let ours_left = ProgramId::TC
        .iter()
        .any(|p| pins::link_pin(pin_dir, p.program_name(), ifname).exists());
    if ours_left {
        Ok(())
    } else {
        pins::unpin(&marker)
    }
}
