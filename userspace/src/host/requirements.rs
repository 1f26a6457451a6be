//! What the daemon needs from the kernel and the host, checked before it
//! loads anything so that a missing piece is named plainly instead of
//! surfacing as an obscure `bpf()` or mount error halfway through start.
//!
//! The checks are pure functions over what was read from the host (the
//! `uname` release, /proc/filesystems, /proc/self/mounts, whether a path
//! exists); [`HostFacts::read`] gathers those, [`check`] judges them.

use std::{fmt, fs, path::Path};

use thiserror::Error;

use crate::datapath::{TcAttachMode, TcPath};

/// The oldest kernel the datapath is meant for (Ubuntu 22.04's 5.15); before
/// 6.6 its TC programs attach as netlink filters.
pub const MIN_KERNEL: KernelVersion = KernelVersion {
    major: 5,
    minor: 15,
};
/// TCX, the TC programs' preferred attachment, arrived in Linux 6.6.
pub const TCX_KERNEL: KernelVersion = KernelVersion { major: 6, minor: 6 };
/// Kernel BTF, which the programs' CO-RE relocations and map BTF rely on.
pub const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct KernelVersion {
    pub major: u32,
    pub minor: u32,
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// One thing the host lacks.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Missing {
    #[error("Linux {MIN_KERNEL} or newer; this kernel is {release}")]
    KernelTooOld { release: String },
    #[error(
        "TCX links (Linux {TCX_KERNEL} or newer) for --tc-attach tcx; this kernel is {release} \
         (use --tc-attach netlink or auto)"
    )]
    NoTcx { release: String },
    #[error("a kernel version this daemon understands; `uname -r` says {release:?}")]
    UnknownKernel { release: String },
    #[error("kernel BTF at {VMLINUX_BTF} (a kernel built with CONFIG_DEBUG_INFO_BTF=y)")]
    Btf,
    #[error(
        "the BPF filesystem: bpffs is neither mounted nor listed in /proc/filesystems \
         (a kernel built with CONFIG_BPF_SYSCALL=y)"
    )]
    Bpffs,
    #[error("a cgroup v2 mount (none in /proc/self/mounts; mount one, e.g. on /sys/fs/cgroup)")]
    Cgroup2,
}

/// Everything the host lacks, named in one message.
#[derive(Debug, Error)]
#[error("this host cannot run the ebpfnet datapath; it lacks {}", list(.0))]
pub struct Unsupported(pub Vec<Missing>);

fn list(missing: &[Missing]) -> String {
    let items: Vec<String> = missing.iter().map(ToString::to_string).collect();
    items.join("; and ")
}

/// What the checks look at, as read from the host.
#[derive(Debug, Clone)]
pub struct HostFacts {
    /// `uname -r`, e.g. `6.18.3+deb13-amd64`.
    pub kernel_release: String,
    pub has_vmlinux_btf: bool,
    /// Contents of /proc/filesystems.
    pub filesystems: String,
    /// Contents of /proc/self/mounts.
    pub mounts: String,
}

impl HostFacts {
    /// Reads the facts from this host. A file that cannot be read counts
    /// as empty, so the check then names what it could not confirm.
    pub fn read() -> Self {
        let read = |path: &str| fs::read_to_string(path).unwrap_or_default();
        Self {
            kernel_release: nix::sys::utsname::uname()
                .map(|uts| uts.release().to_string_lossy().into_owned())
                .unwrap_or_default(),
            has_vmlinux_btf: Path::new(VMLINUX_BTF).is_file(),
            filesystems: read("/proc/filesystems"),
            mounts: read("/proc/self/mounts"),
        }
    }
}

/// The TC attach path for `mode` on this kernel, when the kernel has one.
pub fn tc_path(mode: TcAttachMode, release: &str) -> Result<TcPath, Missing> {
    let version = check_kernel(release)?;
    match mode {
        TcAttachMode::Netlink => Ok(TcPath::Netlink),
        TcAttachMode::Auto if version < TCX_KERNEL => Ok(TcPath::Netlink),
        TcAttachMode::Auto => Ok(TcPath::Tcx),
        TcAttachMode::Tcx if version < TCX_KERNEL => Err(Missing::NoTcx {
            release: release.trim().to_string(),
        }),
        TcAttachMode::Tcx => Ok(TcPath::Tcx),
    }
}

/// The TC attach path when the host has everything, else every missing
/// piece at once.
pub fn check(facts: &HostFacts, mode: TcAttachMode) -> Result<TcPath, Unsupported> {
    let path = tc_path(mode, &facts.kernel_release);
    let missing: Vec<Missing> = [
        path.clone().err(),
        (!facts.has_vmlinux_btf).then_some(Missing::Btf),
        (!bpffs_possible(&facts.filesystems, &facts.mounts)).then_some(Missing::Bpffs),
        (!mount_types(&facts.mounts).any(|fstype| fstype == "cgroup2")).then_some(Missing::Cgroup2),
    ]
    .into_iter()
    .flatten()
    .collect();
    match path {
        Ok(path) if missing.is_empty() => Ok(path),
        _ => Err(Unsupported(missing)),
    }
}

/// The daemon's single entry point: reads this host, checks it and says
/// which TC attach path it uses.
pub fn require_supported_host(mode: TcAttachMode) -> Result<TcPath, Unsupported> {
    let facts = HostFacts::read();
    let path = check(&facts, mode)?;
    let why = match (mode, path) {
        (TcAttachMode::Auto, TcPath::Tcx) => "the kernel has TCX",
        (TcAttachMode::Auto, TcPath::Netlink) => "the kernel has no TCX (Linux 6.6)",
        _ => "as --tc-attach asks",
    };
    log::info!(
        "host checks passed (kernel {}); TC programs attach through {} ({why})",
        facts.kernel_release.trim(),
        match path {
            TcPath::Tcx => "TCX links",
            TcPath::Netlink => "netlink filters in a clsact qdisc",
        }
    );
    Ok(path)
}

/// Parses the leading `MAJOR.MINOR` of a kernel release such as
/// `6.1.0-18-amd64` or `6.18.3+deb13-amd64`.
pub fn parse_kernel_release(release: &str) -> Option<KernelVersion> {
    let mut numbers = release.trim().split(['.', '-', '+']).map(str::parse::<u32>);
    let major = numbers.next()?.ok()?;
    let minor = numbers.next()?.ok()?;
    Some(KernelVersion { major, minor })
}

pub fn check_kernel(release: &str) -> Result<KernelVersion, Missing> {
    match parse_kernel_release(release) {
        Some(version) if version >= MIN_KERNEL => Ok(version),
        Some(_) => Err(Missing::KernelTooOld {
            release: release.trim().to_string(),
        }),
        None => Err(Missing::UnknownKernel {
            release: release.trim().to_string(),
        }),
    }
}

/// bpffs is usable when one is mounted already or the kernel can mount one
/// (the daemon mounts it on /sys/fs/bpf when needed).
pub fn bpffs_possible(filesystems: &str, mounts: &str) -> bool {
    let known = filesystems
        .lines()
        .any(|line| line.split_whitespace().last() == Some("bpf"));
    known || mount_types(mounts).any(|fstype| fstype == "bpf")
}

/// The filesystem type of each line of /proc/self/mounts.
fn mount_types(mounts: &str) -> impl Iterator<Item = &str> {
    mounts
        .lines()
        .filter_map(|line| line.split_whitespace().nth(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILESYSTEMS: &str = "nodev\tsysfs\nnodev\tproc\nnodev\tcgroup2\nnodev\tbpf\n\text4\n";
    const MOUNTS: &str = "sysfs /sys sysfs rw 0 0\n\
        cgroup2 /sys/fs/cgroup/unified cgroup2 rw,nosuid 0 0\n\
        bpf /sys/fs/bpf bpf rw,nosuid 0 0\n";

    fn good_host() -> HostFacts {
        HostFacts {
            kernel_release: "6.18.3+deb13-amd64".into(),
            has_vmlinux_btf: true,
            filesystems: FILESYSTEMS.into(),
            mounts: MOUNTS.into(),
        }
    }

    #[test]
    fn kernel_releases_parse_with_distribution_suffixes() {
        let v = |major, minor| Some(KernelVersion { major, minor });
        assert_eq!(parse_kernel_release("6.18.3+deb13-amd64"), v(6, 18));
        assert_eq!(parse_kernel_release("6.1.0-18-cloud-amd64"), v(6, 1));
        assert_eq!(parse_kernel_release("6.6\n"), v(6, 6));
        assert_eq!(parse_kernel_release("5.15.0-91-generic"), v(5, 15));
        assert_eq!(parse_kernel_release(""), None);
        assert_eq!(parse_kernel_release("linux"), None);
        assert_eq!(parse_kernel_release("6"), None);
    }

    #[test]
    fn kernels_from_5_15_compared_numerically() {
        assert!(check_kernel("6.6.0").is_ok());
        assert!(check_kernel("5.15.0-91-generic").is_ok());
        assert!(check_kernel("6.1.0-18-amd64").is_ok());
        assert!(check_kernel("6.18.3+deb13-amd64").is_ok());
        assert!(check_kernel("7.0.1").is_ok());
        // 6.10 > 6.6 although "10" < "6" as text.
        assert!(check_kernel("6.10.2").is_ok());
        assert_eq!(
            check_kernel("5.10.0-28-amd64"),
            Err(Missing::KernelTooOld {
                release: "5.10.0-28-amd64".into()
            })
        );
        assert!(matches!(
            check_kernel("4.19.17"),
            Err(Missing::KernelTooOld { .. })
        ));
        assert!(matches!(
            check_kernel("weird"),
            Err(Missing::UnknownKernel { .. })
        ));
    }

    #[test]
    fn the_attach_path_follows_the_kernel_unless_forced() {
        use TcAttachMode::*;
        let cases = [
            (Auto, "6.18.3+deb13-amd64", Ok(TcPath::Tcx)),
            (Auto, "6.6.0", Ok(TcPath::Tcx)),
            (Auto, "6.1.0-18-amd64", Ok(TcPath::Netlink)),
            (Auto, "5.15.0-91-generic", Ok(TcPath::Netlink)),
            (Netlink, "6.18.3", Ok(TcPath::Netlink)),
            (Tcx, "6.10.2", Ok(TcPath::Tcx)),
            (
                Tcx,
                "6.5.13",
                Err(Missing::NoTcx {
                    release: "6.5.13".into(),
                }),
            ),
        ];
        for (mode, release, expected) in cases {
            assert_eq!(tc_path(mode, release), expected, "{mode:?} on {release}");
        }
        let mut facts = good_host();
        facts.kernel_release = "6.1.0-18-amd64".into();
        let error = check(&facts, Tcx).expect_err("no TCX on 6.1");
        assert!(error.to_string().contains("--tc-attach netlink"), "{error}");
        assert_eq!(check(&facts, Auto).ok(), Some(TcPath::Netlink));
    }

    #[test]
    fn bpffs_is_possible_when_known_to_the_kernel_or_already_mounted() {
        assert!(bpffs_possible(FILESYSTEMS, ""));
        assert!(bpffs_possible("nodev\tproc\n", MOUNTS));
        assert!(!bpffs_possible(
            "nodev\tproc\nnodev\tbpfoo\n",
            "sysfs /sys sysfs rw 0 0\n"
        ));
    }

    #[test]
    fn a_complete_host_passes() {
        assert_eq!(
            check(&good_host(), TcAttachMode::Auto).ok(),
            Some(TcPath::Tcx)
        );
    }

    /// Takes one piece away from a good host.
    type BreakHost = fn(&mut HostFacts);

    #[test]
    fn each_missing_piece_is_named() {
        let cases: [(BreakHost, Missing); 4] = [
            (
                |f| f.kernel_release = "5.10.13".into(),
                Missing::KernelTooOld {
                    release: "5.10.13".into(),
                },
            ),
            (|f| f.has_vmlinux_btf = false, Missing::Btf),
            (
                |f| {
                    f.filesystems = "nodev\tproc\n".into();
                    f.mounts = f.mounts.replace("bpf /sys/fs/bpf bpf", "none /x tmpfs");
                },
                Missing::Bpffs,
            ),
            // A v1-only (legacy) host has `cgroup` mounts but no `cgroup2`.
            (
                |f| f.mounts = "cgroup /sys/fs/cgroup/cpu cgroup rw 0 0\n".into(),
                Missing::Cgroup2,
            ),
        ];
        for (break_host, expected) in cases {
            let mut facts = good_host();
            break_host(&mut facts);
            let Err(Unsupported(missing)) = check(&facts, TcAttachMode::Auto) else {
                panic!("{expected:?} not reported");
            };
            assert!(
                missing.contains(&expected),
                "{missing:?} lacks {expected:?}"
            );
        }
    }

    #[test]
    fn everything_missing_is_reported_in_one_message() {
        let facts = HostFacts {
            kernel_release: "5.10.0".into(),
            has_vmlinux_btf: false,
            filesystems: String::new(),
            mounts: String::new(),
        };
        let error = check(&facts, TcAttachMode::Auto).expect_err("nothing is there");
        assert_eq!(error.0.len(), 4);
        let message = error.to_string();
        for needle in ["5.15", "5.10.0", VMLINUX_BTF, "bpffs", "cgroup v2"] {
            assert!(message.contains(needle), "{message:?} lacks {needle}");
        }
    }
}
