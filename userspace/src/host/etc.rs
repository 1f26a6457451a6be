//! A container's own /etc files, where `ip netns exec` picks them up
//! (`/etc/netns/NAME/hosts`, `resolv.conf`), and showing them to a command
//! the way `ip netns exec` does.

use std::{
    fs,
    io::ErrorKind,
    path::{Path, PathBuf},
};

use nix::{
    mount::{MntFlags, MsFlags, mount, umount2},
    sched::{CloneFlags, unshare},
    sys::statvfs::{FsFlags, statvfs},
};

use super::HostError;

pub const ETC_NETNS_DIR: &str = "/etc/netns";
/// The files ebpfnet writes for a container.
pub const FILES: [&str; 2] = ["hosts", "resolv.conf"];

pub fn etc_dir(name: &str) -> PathBuf {
    Path::new(ETC_NETNS_DIR).join(name)
}

/// Writes `content` to `/etc/netns/NAME/FILE` (atomically, by rename) when
/// it differs from what is there. Returns whether it wrote.
pub fn write_file(name: &str, file: &str, content: &str) -> Result<bool, HostError> {
    let dir = etc_dir(name);
    let path = dir.join(file);
    if fs::read_to_string(&path).is_ok_and(|old| old == content) {
        return Ok(false);
    }
    fs::create_dir_all(&dir).map_err(HostError::io(format!("create {}", dir.display())))?;
    let tmp = dir.join(format!(".{file}.ebpfnet-tmp"));
    fs::write(&tmp, content).map_err(HostError::io(format!("write {}", tmp.display())))?;
    fs::rename(&tmp, &path).map_err(HostError::io(format!("rename into {}", path.display())))?;
    Ok(true)
}

/// Removes ebpfnet's files of a container, and the directory when nothing
/// else is in it. Missing files are fine.
pub fn remove_files(name: &str) -> Result<(), HostError> {
    let dir = etc_dir(name);
    for file in FILES {
        let path = dir.join(file);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != ErrorKind::NotFound => {
                return Err(HostError::Io {
                    action: format!("remove {}", path.display()),
                    source: e,
                });
            }
            _ => {}
        }
    }
    // Someone else's files stay, and so does the directory then.
    let _ = fs::remove_dir(&dir);
    Ok(())
}

/// For a process that has just entered a container's network namespace:
/// gives it a mount namespace of its own where /sys describes that network
/// namespace and each file of `dir` is bind-mounted over `/etc/<file>`, as
/// iproute2's `netns_switch` does. The calling thread must then exec.
pub fn enter_files(dir: &Path) -> Result<(), HostError> {
    unshare(CloneFlags::CLONE_NEWNS).map_err(HostError::sys("unshare a mount namespace"))?;
    // Nothing done here may propagate back to the host.
    mount(
        Some(""),
        "/",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(HostError::sys("make / a slave mount"))?;
    let mut flags = MsFlags::empty();
    if umount2("/sys", MntFlags::MNT_DETACH).is_err() {
        // Still mounted (or never was): keep it read-only if it is.
        if statvfs("/sys").is_ok_and(|s| s.flags().contains(FsFlags::ST_RDONLY)) {
            flags = MsFlags::MS_RDONLY;
        }
    }
    mount(Some("sysfs"), "/sys", Some("sysfs"), flags, None::<&str>)
        .map_err(HostError::sys("mount /sys for the network namespace"))?;
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(HostError::Io {
                action: format!("read {}", dir.display()),
                source: e,
            });
        }
    };
    for entry in entries.flatten() {
        let file = entry.file_name();
        if file.to_string_lossy().starts_with('.') {
            continue;
        }
        let target = Path::new("/etc").join(&file);
        // As iproute2: a file that cannot be shown is reported, not fatal.
        if let Err(e) = mount(
            Some(&entry.path()),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        ) {
            log::warn!(
                "cannot bind-mount {} on {}: {e}",
                entry.path().display(),
                target.display()
            );
        }
    }
    Ok(())
}
