//! The kernel datapath, through aya: TC programs on TCX links, pinned.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use aya::{
    Ebpf, EbpfLoader,
    maps::{PerCpuArray, PerCpuHashMap},
    programs::{
        LinkOrder, SchedClassifier, TcAttachType,
        links::{FdLink, PinnedLink},
        tc::{SchedClassifierLink, TcAttachOptions},
    },
};
use ebpfnet_common::{IfaceCounters, ProgramId, TrafficCounter, names};

use super::{
    Attachment, Datapath, DatapathError, DatapathStatus, InterfaceCounters, MapFill,
    ProgramCounters,
    pins::{self, link_pin},
};

/// The eBPF object built by `cargo xtask build-ebpf`, embedded by build.rs.
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/ebpfnet.bpf.o"));

pub struct AyaDatapath {
    ebpf: Ebpf,
    pin_dir: PathBuf,
    /// (interface, program) -> the pinned link keeping it attached.
    links: BTreeMap<(String, &'static str), (u32, PinnedLink)>,
}

impl AyaDatapath {
    /// Loads the programs, reusing the maps pinned under `pin_dir` by an
    /// earlier daemon so counters and (later) connection state survive.
    pub fn load(pin_dir: &Path) -> Result<Self, DatapathError> {
        if OBJECT.is_empty() {
            return Err(DatapathError::NoObject);
        }
        pins::prepare(pin_dir)?;
        pins::check_layouts(pin_dir)?;
        let map_paths: Vec<(&str, PathBuf)> = pins::map_layouts()
            .iter()
            .map(|l| (l.name, pin_dir.join(l.name)))
            .collect();
        let mut loader = EbpfLoader::new();
        for (name, path) in &map_paths {
            loader.map_pin_path(name, path.as_path());
        }
        let mut ebpf = loader.load(OBJECT).map_err(DatapathError::Load)?;
        for program in ProgramId::ALL {
            classifier(&mut ebpf, program)?
                .load()
                .map_err(|source| DatapathError::Program {
                    name: program.program_name(),
                    source,
                })?;
        }
        Ok(Self {
            ebpf,
            pin_dir: pin_dir.to_path_buf(),
            links: BTreeMap::new(),
        })
    }

    fn prog_counters(&self) -> Result<Vec<ProgramCounters>, DatapathError> {
        let map_err = |source| DatapathError::Map {
            name: names::PROG_STATS_MAP,
            source,
        };
        let map = self
            .ebpf
            .map(names::PROG_STATS_MAP)
            .ok_or(DatapathError::Map {
                name: names::PROG_STATS_MAP,
                source: aya::maps::MapError::InvalidName {
                    name: names::PROG_STATS_MAP.into(),
                },
            })?;
        let stats: PerCpuArray<_, TrafficCounter> = PerCpuArray::try_from(map).map_err(map_err)?;
        ProgramId::ALL
            .iter()
            .map(|program| {
                let mut total = TrafficCounter::default();
                for cpu in stats.get(&(*program as u32), 0).map_err(map_err)?.iter() {
                    total.add(cpu);
                }
                Ok(ProgramCounters {
                    program: program.program_name(),
                    packets: total.packets,
                    bytes: total.bytes,
                })
            })
            .collect()
    }

    fn iface_counters(&self) -> Result<Vec<InterfaceCounters>, DatapathError> {
        let map_err = |source| DatapathError::Map {
            name: names::IFACE_STATS_MAP,
            source,
        };
        let map = self
            .ebpf
            .map(names::IFACE_STATS_MAP)
            .ok_or(DatapathError::Map {
                name: names::IFACE_STATS_MAP,
                source: aya::maps::MapError::InvalidName {
                    name: names::IFACE_STATS_MAP.into(),
                },
            })?;
        let stats: PerCpuHashMap<_, u32, IfaceCounters> =
            PerCpuHashMap::try_from(map).map_err(map_err)?;
        let mut out = Vec::new();
        for entry in stats.iter() {
            let (ifindex, per_cpu) = entry.map_err(map_err)?;
            let mut total = TrafficCounter::default();
            for cpu in per_cpu.iter() {
                total.add(&cpu.ingress);
            }
            out.push(InterfaceCounters {
                ifindex,
                packets: total.packets,
                bytes: total.bytes,
            });
        }
        Ok(out)
    }
}

fn classifier(ebpf: &mut Ebpf, program: ProgramId) -> Result<&mut SchedClassifier, DatapathError> {
    let name = program.program_name();
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

impl Datapath for AyaDatapath {
    fn attach(
        &mut self,
        program: ProgramId,
        ifname: &str,
        ifindex: u32,
    ) -> Result<(), DatapathError> {
        let name = program.program_name();
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
                pins::unpin(&path)?;
                let id = prog
                    .attach_with_options(
                        ifname,
                        TcAttachType::Ingress,
                        TcAttachOptions::TcxOrder(LinkOrder::default()),
                    )
                    .map_err(attach_err)?;
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
            .insert((ifname.to_string(), name), (ifindex, pinned));
        Ok(())
    }

    fn detach(&mut self, ifname: &str) -> Result<(), DatapathError> {
        for program in ProgramId::ALL {
            let name = program.program_name();
            // Dropping our fd after the pin is gone detaches the program.
            self.links.remove(&(ifname.to_string(), name));
            pins::unpin(&link_pin(&self.pin_dir, name, ifname))?;
        }
        Ok(())
    }

    fn prune(&mut self, keep: &[String]) -> Result<(), DatapathError> {
        for (ifname, path) in pins::pinned_links(&self.pin_dir)? {
            if !keep.contains(&ifname) {
                self.links.retain(|(name, _), _| *name != ifname);
                pins::unpin(&path)?;
            }
        }
        Ok(())
    }

    fn status(&self) -> Result<DatapathStatus, DatapathError> {
        let programs = self
            .links
            .iter()
            .map(|((ifname, program), (ifindex, _))| Attachment {
                program,
                interface: ifname.clone(),
                ifindex: *ifindex,
            })
            .collect();
        let interfaces = self.iface_counters()?;
        let maps = vec![
            MapFill {
                name: names::PROG_STATS_MAP,
                entries: ProgramId::COUNT,
                max_entries: ProgramId::COUNT,
            },
            MapFill {
                name: names::IFACE_STATS_MAP,
                entries: interfaces.len() as u32,
                max_entries: names::IFACE_STATS_CAPACITY,
            },
        ];
        Ok(DatapathStatus {
            programs,
            maps,
            counters: self.prog_counters()?,
            interfaces,
        })
    }
}
