//! The kernel datapath, through aya: TC programs on TCX links (or, on older
//! kernels, netlink filters: `tc_attach.rs`), pinned.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use aya::{
    Ebpf, EbpfLoader,
    programs::{
        LinkOrder, SchedClassifier,
        links::{FdLink, PinnedLink},
        tc::{SchedClassifierLink, TcAttachOptions},
    },
};
use ebpfnet_common::ProgramId;

use super::{
    Attachment, DatapathError, DatapathStatus, Programs, cgroup,
    pins::{self, MapSizes, link_pin},
    tc_attach::{self, TcPath},
};

/// The eBPF object built by `cargo xtask build-ebpf`, embedded by build.rs.
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/ebpfnet.bpf.o"));

pub struct AyaDatapath {
    pub(super) ebpf: Ebpf,
    pin_dir: PathBuf,
    /// (interface, program) -> the pinned TCX link keeping it attached
    /// (`None` for a netlink filter, which needs no fd).
    links: BTreeMap<(String, &'static str), (u32, Option<PinnedLink>)>,
    tc_path: TcPath,
    /// The socket programs' links on the root cgroup, and its path.
    sock_links: Vec<(&'static str, PinnedLink)>,
    cgroup_root: PathBuf,
    pub(super) sizes: MapSizes,
    /// The IPv4-mapped keys of `PUBLISHED6` by port, read from the map
    /// once (nat46.rs); `None` until then, or after a failed unpublish.
    pub(super) nat46_users: Option<super::nat46::Nat46Users>,
}

impl AyaDatapath {
    /// Loads the programs, reusing the maps pinned under `pin_dir` by an
    /// earlier daemon so counters and (later) connection state survive.
    pub fn load(pin_dir: &Path, sizes: MapSizes, tc_path: TcPath) -> Result<Self, DatapathError> {
        if OBJECT.is_empty() {
            return Err(DatapathError::NoObject);
        }
        pins::prepare(pin_dir)?;
        pins::check_layouts(pin_dir, &sizes)?;
        let layouts = pins::map_layouts(&sizes);
        let mut loader = EbpfLoader::new();
        for layout in &layouts {
            loader.map_max_entries(layout.name, layout.max_entries);
        }
        let map_paths: Vec<(&str, PathBuf)> = layouts
            .iter()
            .map(|l| (l.name, pin_dir.join(l.name)))
            .collect();
        for (name, path) in &map_paths {
            loader.map_pin_path(name, path.as_path());
        }
        let mut ebpf = loader.load(OBJECT).map_err(DatapathError::Load)?;
        for program in ProgramId::TC {
            classifier(&mut ebpf, program)?
                .load()
                .map_err(|source| DatapathError::Program {
                    name: program.program_name(),
                    source,
                })?;
        }
        for program in [
            ebpfnet_common::names::CONTAINER_INGRESS6_PROGRAM,
            ebpfnet_common::names::UPLINK_INGRESS6_PROGRAM,
            ebpfnet_common::nat46::UPLINK_INGRESS46_PROGRAM,
        ] {
            loaded_classifier(&mut ebpf, program)?
                .load()
                .map_err(|source| DatapathError::Program {
                    name: program,
                    source,
                })?;
        }
        let cgroup_root = cgroup::cgroup2_root()?;
        let sock_links = cgroup::attach_sock_programs(&mut ebpf, pin_dir, &cgroup_root)?;
        let mut datapath = Self {
            ebpf,
            pin_dir: pin_dir.to_path_buf(),
            links: BTreeMap::new(),
            tc_path,
            sock_links,
            cgroup_root,
            sizes,
            nat46_users: None,
        };
        datapath.fill_tail_calls()?;
        Ok(datapath)
    }
}

fn classifier(ebpf: &mut Ebpf, program: ProgramId) -> Result<&mut SchedClassifier, DatapathError> {
    loaded_classifier(ebpf, program.program_name())
}

/// The TC program `name` of the object (loaded or not).
pub(super) fn loaded_classifier<'a>(
    ebpf: &'a mut Ebpf,
    name: &'static str,
) -> Result<&'a mut SchedClassifier, DatapathError> {
    ebpf.program_mut(name)
        .ok_or(DatapathError::MissingProgram(name))?
        .try_into()
        .map_err(|source| DatapathError::Program { name, source })
}

/// Swaps the program behind a link pinned by an earlier daemon. `None` when
/// the old link is gone or dead (its interface was recreated).
fn replace_pinned(
    prog: &mut SchedClassifier,
    path: &Path,
) -> Option<aya::programs::tc::SchedClassifierLinkId> {
    let old = PinnedLink::from_pin(path).ok()?;
    let link = SchedClassifierLink::try_from(FdLink::from(old)).ok()?;
    prog.attach_to_link(link).ok()
}

impl Programs for AyaDatapath {
    fn attach(
        &mut self,
        program: ProgramId,
        ifname: &str,
        ifindex: u32,
    ) -> Result<(), DatapathError> {
        let name = program.program_name();
        if self.tc_path == TcPath::Netlink {
            let prog = classifier(&mut self.ebpf, program)?;
            tc_attach::attach(prog, program, ifname, &self.pin_dir)?;
            self.links
                .insert((ifname.to_string(), name), (ifindex, None));
            return Ok(());
        }
        let path = link_pin(&self.pin_dir, name, ifname);
        let attach_err = |source| DatapathError::Attach {
            program: name,
            ifname: ifname.to_string(),
            source,
        };
        let prog = classifier(&mut self.ebpf, program)?;
        let (link_id, already_pinned) = match replace_pinned(prog, &path) {
            Some(id) => (id, true),
            None => {
                let id = prog
                    .attach_with_options(
                        ifname,
                        tc_attach::direction(program),
                        TcAttachOptions::TcxOrder(LinkOrder::default()),
                    )
                    .map_err(attach_err)?;
                // A filter an earlier daemon attached over netlink goes
                // now that the link is in place.
                tc_attach::remove_pinned(&self.pin_dir, name, ifname)?;
                (id, false)
            }
        };
        let link = prog.take_link(link_id).map_err(attach_err)?;
        let fd_link = FdLink::try_from(link).map_err(|e| DatapathError::Pin {
            what: format!("link of {name} on {ifname}"),
            path: path.display().to_string(),
            source: Box::new(e),
        })?;
        let pinned = if already_pinned {
            // The pin still names this very link; keep our fd beside it.
            PinnedLink::from_pin(&path).map_err(|e| DatapathError::Pin {
                what: format!("link of {name} on {ifname}"),
                path: path.display().to_string(),
                source: Box::new(e),
            })?
        } else {
            fd_link.pin(&path).map_err(|e| DatapathError::Pin {
                what: format!("link of {name} on {ifname}"),
                path: path.display().to_string(),
                source: Box::new(e),
            })?
        };
        self.links
            .insert((ifname.to_string(), name), (ifindex, Some(pinned)));
        tc_attach::release_clsact(&self.pin_dir, ifname)
    }

    fn detach(&mut self, ifname: &str) -> Result<(), DatapathError> {
        for program in ProgramId::TC {
            self.detach_program(program, ifname)?;
        }
        Ok(())
    }

    fn detach_program(&mut self, program: ProgramId, ifname: &str) -> Result<(), DatapathError> {
        let name = program.program_name();
        // Dropping our fd after the pin is gone detaches a TCX link.
        self.links.remove(&(ifname.to_string(), name));
        tc_attach::remove_pinned(&self.pin_dir, name, ifname)?;
        tc_attach::release_clsact(&self.pin_dir, ifname)
    }

    fn prune(&mut self, keep: &[String]) -> Result<(), DatapathError> {
        let mut released = Vec::new();
        for (ifname, program) in pins::pinned_links(&self.pin_dir)? {
            // The socket programs hang off the cgroup, not an interface.
            if ifname == cgroup::CGROUP_PIN_SUFFIX || keep.contains(&ifname) {
                continue;
            }
            self.links.retain(|(name, _), _| *name != ifname);
            if program != tc_attach::CLSACT_PIN {
                tc_attach::remove_pinned(&self.pin_dir, &program, &ifname)?;
            }
            released.push(ifname);
        }
        for ifname in released {
            tc_attach::release_clsact(&self.pin_dir, &ifname)?;
        }
        Ok(())
    }

    fn status(&self) -> Result<DatapathStatus, DatapathError> {
        let on_cgroup = self.sock_links.iter().map(|(program, _)| Attachment {
            program,
            interface: format!("cgroup {}", self.cgroup_root.display()),
            ifindex: 0,
        });
        let programs = self
            .links
            .iter()
            .map(|((ifname, program), (ifindex, _))| Attachment {
                program,
                interface: ifname.clone(),
                ifindex: *ifindex,
            })
            .chain(on_cgroup)
            .collect();
        let interfaces = self.iface_counters()?;
        let maps = self.map_fills()?;
        Ok(DatapathStatus {
            tc_attach: self.tc_path.name(),
            programs,
            maps,
            counters: self.prog_counters()?,
            interfaces,
        })
    }
}
