//! Named network namespaces, as `ip netns` makes them (`/run/netns/NAME`),
//! and running netlink work inside one.
//!
//! `setns` changes only the calling thread, so every piece of work inside a
//! namespace runs on a dedicated OS thread with its own small runtime, never
//! on a tokio worker that would carry the namespace into unrelated tasks.

use std::{
    fs::{self, File, OpenOptions},
    future::Future,
    io::ErrorKind,
    path::{Path, PathBuf},
};

use nix::{
    mount::{MntFlags, MsFlags, mount, umount2},
    sched::{CloneFlags, setns, unshare},
};

use super::HostError;

pub const NETNS_RUN_DIR: &str = "/run/netns";

pub fn netns_path(name: &str) -> PathBuf {
    Path::new(NETNS_RUN_DIR).join(name)
}

pub fn netns_exists(name: &str) -> bool {
    netns_path(name).exists()
}

/// Makes `/run/netns` a shared mount point, as iproute2 does, so namespaces
/// mounted there are seen from other mount namespaces too.
fn prepare_run_dir() -> Result<(), HostError> {
    fs::create_dir_all(NETNS_RUN_DIR).map_err(HostError::io(format!("create {NETNS_RUN_DIR}")))?;
    let shared = || {
        mount(
            None::<&str>,
            NETNS_RUN_DIR,
            None::<&str>,
            MsFlags::MS_SHARED | MsFlags::MS_REC,
            None::<&str>,
        )
    };
    if shared().is_ok() {
        return Ok(());
    }
    // Not a mount point yet: bind it onto itself first.
    mount(
        Some(NETNS_RUN_DIR),
        NETNS_RUN_DIR,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(HostError::sys(format!("bind-mount {NETNS_RUN_DIR}")))?;
    shared().map_err(HostError::sys(format!("make {NETNS_RUN_DIR} shared")))
}

/// Creates the named namespace `name`; fails if it exists.
pub fn create_netns(name: &str) -> Result<PathBuf, HostError> {
    prepare_run_dir()?;
    let path = netns_path(name);
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| match e.kind() {
            ErrorKind::AlreadyExists => HostError::NetnsExists(name.to_string()),
            _ => HostError::Io {
                action: format!("create {}", path.display()),
                source: e,
            },
        })?;
    let target = path.clone();
    let made = std::thread::spawn(move || -> Result<(), HostError> {
        unshare(CloneFlags::CLONE_NEWNET).map_err(HostError::sys("unshare a network namespace"))?;
        mount(
            Some("/proc/thread-self/ns/net"),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(HostError::sys(format!(
            "bind-mount namespace on {}",
            target.display()
        )))
    })
    .join()
    .unwrap_or_else(|_| Err(HostError::WorkerDied(name.to_string())));
    if let Err(e) = made {
        let _ = fs::remove_file(&path);
        return Err(e);
    }
    Ok(path)
}

/// Deletes the named namespace; its interfaces go with it once nothing else
/// holds it. Missing namespaces are not an error.
pub fn delete_netns(name: &str) -> Result<(), HostError> {
    let path = netns_path(name);
    if !path.exists() {
        return Ok(());
    }
    // Not mounted (a half-made namespace) is fine: the file goes anyway.
    let _ = umount2(&path, MntFlags::MNT_DETACH);
    match fs::remove_file(&path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(HostError::Io {
            action: format!("remove {}", path.display()),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// What identifies a namespace: the device and inode of its nsfs file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NsId {
    pub dev: u64,
    pub ino: u64,
}

/// The identity of the network namespace at `path` (a bind mount like
/// `/run/netns/NAME`, or `/proc/PID/ns/net`).
pub fn ns_id(path: &Path) -> std::io::Result<NsId> {
    use std::os::unix::fs::MetadataExt as _;
    fs::metadata(path).map(|m| NsId {
        dev: m.dev(),
        ino: m.ino(),
    })
}

/// Whether `path` is a network namespace: entering it on a throwaway
/// thread succeeds (setns checks the type).
pub fn is_netns(path: &Path) -> Result<(), HostError> {
    let ns = open_netns(path)?;
    let label = path.display().to_string();
    std::thread::spawn(move || {
        setns(&ns, CloneFlags::CLONE_NEWNET).map_err(HostError::sys(format!(
            "enter {label} as a network namespace"
        )))
    })
    .join()
    .unwrap_or_else(|_| Err(HostError::WorkerDied(path.display().to_string())))
}

/// Opens a namespace file, for moving links into it or entering it.
pub fn open_netns(path: &Path) -> Result<File, HostError> {
    File::open(path).map_err(HostError::io(format!(
        "open network namespace {}",
        path.display()
    )))
}

/// Runs `work` with a netlink handle bound inside the namespace at `path`.
pub async fn in_netns<F, Fut, T>(path: &Path, work: F) -> Result<T, HostError>
where
    F: FnOnce(rtnetlink::Handle) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, HostError>>,
    T: Send + 'static,
{
    let ns = open_netns(path)?;
    let label = path.display().to_string();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let result = (|| {
            setns(&ns, CloneFlags::CLONE_NEWNET)
                .map_err(HostError::sys(format!("enter {label}")))?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(HostError::io("start a netns runtime"))?;
            runtime.block_on(async {
                let (connection, handle, _) =
                    rtnetlink::new_connection().map_err(HostError::io("open netlink socket"))?;
                tokio::spawn(connection);
                work(handle).await
            })
        })();
        let _ = tx.send(result);
    });
    rx.await
        .unwrap_or_else(|_| Err(HostError::WorkerDied(path.display().to_string())))
}
