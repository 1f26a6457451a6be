//! `ebpfnet daemon`: loads the datapath, reconciles the host with the saved
//! state, and serves the CLI over a Unix socket until SIGTERM.

mod cluster_requests;
pub mod config_file;
mod config_values;
pub mod docker_plugin;
mod gc;
mod metrics;
mod nexthop;
mod overlay;
mod server;
mod systemd;
mod watch;

use std::{
    fs::{self, File},
    net::{Ipv4Addr, SocketAddr},
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use anyhow::{Context as _, bail};
use ipnetwork::Ipv4Network;
use nix::fcntl::{Flock, FlockArg};
use tokio::{
    net::UnixListener,
    signal::unix::{SignalKind, signal},
    sync::{Mutex, Notify},
};

use crate::{
    cluster::{Cluster, ClusterOptions},
    controller::{self, Config, Controller, masquerade::MasqueradeOptions},
    datapath::{AyaDatapath, MapSizes, TcAttachMode},
    host::NetlinkHost,
    remote::{TlsFiles, TlsListener},
    state::Store,
};

pub struct DaemonOptions {
    pub socket: PathBuf,
    pub uplinks: Vec<String>,
    pub state_dir: PathBuf,
    pub pin_dir: PathBuf,
    pub default_subnet: Ipv4Network,
    /// `--ipv6` and `--fixed-cidr-v6`: the default network's IPv6.
    pub default_ipv6: controller::ipv6::Ipv6Request,
    pub default_bridge: String,
    /// Name servers of containers created without `--dns`.
    pub default_dns: Vec<Ipv4Addr>,
    pub map_sizes: MapSizes,
    pub masquerade: MasqueradeOptions,
    pub guard_interfaces: controller::GuardInterfaces,
    /// `--metrics-addr`: where Prometheus scrapes `/metrics`.
    pub metrics_addr: Option<SocketAddr>,
    /// `--cluster-store` and `--advertise-addr`: join a cluster.
    pub cluster: Option<ClusterOptions>,
    /// `--docker-plugin`: where Docker's remote network driver is served.
    pub docker_plugin: Option<PathBuf>,
    /// `-H tcp://…`: remote control, with mutual TLS only.
    pub remote: Option<RemoteListen>,
    /// `--tc-attach`: TCX, netlink, or whichever the kernel has.
    pub tc_attach: TcAttachMode,
}

/// Where remote clients connect, and the files of the daemon's TLS end.
pub struct RemoteListen {
    pub address: SocketAddr,
    pub tls: TlsFiles,
}

pub async fn run(options: DaemonOptions) -> anyhow::Result<()> {
    if !nix::unistd::geteuid().is_root() {
        bail!("the daemon must run as root (it creates namespaces, links and eBPF programs)");
    }
    let tc_path = crate::host::requirements::require_supported_host(options.tc_attach)?;
    // Refused before anything is made: no disjoint masquerade range.
    controller::masquerade::masquerade_range(
        &crate::host::ip_local_port_range(),
        options.masquerade.range,
    )
    .map_err(anyhow::Error::msg)?;
    let metrics = options
        .metrics_addr
        .map(metrics::MetricsListener::bind)
        .transpose()?;
    let docker_plugin = options
        .docker_plugin
        .as_deref()
        .map(docker_plugin::PluginListener::bind)
        .transpose()?;
    // Certificates checked and the port taken before anything is made.
    let remote = match &options.remote {
        Some(remote) => Some(TlsListener::bind(remote.address, &remote.tls).await?),
        None => None,
    };
    fs::create_dir_all(&options.state_dir)
        .with_context(|| format!("cannot create state dir {}", options.state_dir.display()))?;
    let store = Store::new(&options.state_dir);
    let _lock = lock_state_dir(&store.lock_path())?;

    let host = NetlinkHost::connect().context("cannot open netlink")?;

    let uplinks = if options.uplinks.is_empty() {
        vec![controller::default_uplink(&host).await?]
    } else {
        options.uplinks.clone()
    };
    let datapath =
        AyaDatapath::load(&options.pin_dir, options.map_sizes, tc_path).with_context(|| {
            format!(
                "cannot set up the datapath under {}",
                options.pin_dir.display()
            )
        })?;
    // Before anything else changes the host: every next hop cached by an
    // earlier daemon is resolved again, and changes are followed from now.
    let nexthop_watch = nexthop::spawn(&options.pin_dir, uplinks.clone())
        .context("cannot follow route and neighbour changes for cached next hops")?;
    let config = Config {
        uplinks,
        default_subnet: options.default_subnet,
        default_ipv6: options.default_ipv6,
        default_bridge: options.default_bridge.clone(),
        default_dns: options.default_dns.clone(),
        pin_dir: options.pin_dir.clone(),
        masquerade: options.masquerade,
        guard_interfaces: options.guard_interfaces,
    };
    let controller = Controller::start(
        store,
        Box::new(host),
        Box::new(datapath),
        Box::new(crate::relay46::TokioRelay46::new()),
        config,
    )
    .await
    .context("cannot bring the host in line with the saved state")?;

    let cluster = match &options.cluster {
        Some(cluster) => Some(Arc::new(
            Cluster::join(cluster, &options.state_dir)
                .await
                .with_context(|| format!("cannot join the cluster store {}", cluster.store))?,
        )),
        None => None,
    };
    let listener = bind(&options.socket).await?;
    log::info!("ebpfnet daemon listening on {}", options.socket.display());
    systemd::ready(&options.socket);
    let controller = Arc::new(Mutex::new(controller));
    let _metrics = metrics
        .map(|listener| listener.serve(Arc::clone(&controller)))
        .transpose()?;
    let docker_plugin = docker_plugin
        .map(|listener| {
            listener.serve(
                Arc::clone(&controller),
                &options.state_dir,
                tokio::runtime::Handle::current(),
            )
        })
        .transpose()?;
    let housekeeping = tokio::spawn(housekeeping(Arc::clone(&controller)));
    let overlay_sync = cluster
        .as_ref()
        .map(|cluster| tokio::spawn(overlay::sync(Arc::clone(&controller), Arc::clone(cluster))));
    let host_watch = watch::spawn(Arc::clone(&controller))?;
    let shutdown = Arc::new(Notify::new());
    let remote = remote.map(|listener| {
        if let Ok(address) = listener.local_addr() {
            log::info!("ebpfnet daemon listening on tcp://{address} (mutual TLS)");
        }
        tokio::spawn(server::serve_tls(
            listener,
            Arc::clone(&controller),
            cluster.clone(),
            Arc::clone(&shutdown),
        ))
    });
    let mut sigterm = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut sigint = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let reset = loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let controller = Arc::clone(&controller);
                    let shutdown = Arc::clone(&shutdown);
                    let cluster = cluster.clone();
                    tokio::spawn(server::serve(stream, controller, cluster, shutdown));
                }
                Err(e) => log::warn!("accept failed: {e}"),
            },
            _ = sigterm.recv() => break false,
            _ = sigint.recv() => break false,
            _ = shutdown.notified() => break true,
        }
    };
    systemd::stopping();
    housekeeping.abort();
    host_watch.abort();
    nexthop_watch.abort();
    if let Some(task) = overlay_sync {
        task.abort();
    }
    if let Some(remote) = remote {
        remote.abort();
    }
    drop(docker_plugin);
    // Wait for a request in flight (a reset, say) to finish.
    drop(controller.lock().await);
    let _ = fs::remove_file(&options.socket);
    if let Some(cluster) = &cluster {
        cluster.leave().await;
    }
    if reset {
        log::info!("ebpfnet daemon stopped after a reset");
    } else {
        log::info!("ebpfnet daemon stopped; the datapath stays attached");
    }
    Ok(())
}

/// How often the housekeeping runs.
const REFRESH_EVERY: Duration = Duration::from_secs(2);
/// Idle flows are looked for every this many ticks (10 s).
const GC_EVERY_REFRESHES: u32 = 5;
/// Host links and addresses are followed from netlink notifications
/// (`watch`); this slow poll (60 s) only repairs what a lost notification
/// (socket overrun) would leave behind.
const HOST_POLL_EVERY_REFRESHES: u32 = 30;

/// Background upkeep: the name servers' view of the host, idle NAT flows,
/// containers of adopted namespaces that are gone, and the safety poll of
/// the host's links and addresses.
async fn housekeeping(shared: Arc<Mutex<Controller>>) {
    let mut ticker = tokio::time::interval(REFRESH_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ticks = 0u32;
    loop {
        ticker.tick().await;
        let mut controller = shared.lock().await;
        if ticks.is_multiple_of(HOST_POLL_EVERY_REFRESHES)
            && let Err(e) = controller.refresh_host().await
        {
            log::warn!("cannot refresh the host addresses in the datapath: {e}");
        }
        controller.refresh_names();
        controller.refresh_port_range();
        drop_vanished(&mut controller).await;
        drop(controller);
        ticks = ticks.wrapping_add(1);
        if ticks.is_multiple_of(GC_EVERY_REFRESHES) {
            match gc::collect_garbage(&shared).await {
                Ok(0) => {}
                Ok(n) => log::debug!("removed {n} idle NAT entries"),
                Err(e) => log::warn!("cannot remove idle flows: {e:#}"),
            }
        }
    }
}

/// Removes containers whose adopted namespace is gone (a process that
/// exited, a Docker sandbox removed while the daemon was not told).
pub(crate) async fn drop_vanished(controller: &mut Controller) {
    match controller.drop_vanished().await {
        Ok(gone) if !gone.is_empty() => {
            log::info!(
                "removed containers whose namespace is gone: {}",
                gone.join(", ")
            );
        }
        Ok(_) => {}
        Err(e) => log::warn!("cannot remove containers whose namespace is gone: {e}"),
    }
}

/// One daemon per state directory: a second one would fight over devices.
fn lock_state_dir(path: &Path) -> anyhow::Result<Flock<File>> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, errno)| {
        anyhow::anyhow!("another ebpfnet daemon holds {} ({errno})", path.display())
    })
}

async fn bind(socket: &Path) -> anyhow::Result<UnixListener> {
    if let Some(parent) = socket.parent() {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    if socket.exists() {
        if tokio::net::UnixStream::connect(socket).await.is_ok() {
            bail!(
                "another ebpfnet daemon is listening on {}",
                socket.display()
            );
        }
        fs::remove_file(socket)
            .with_context(|| format!("cannot remove stale socket {}", socket.display()))?;
    }
    let listener = UnixListener::bind(socket)
        .with_context(|| format!("cannot listen on {}", socket.display()))?;
    // Only root may drive the daemon: it creates devices on the host.
    fs::set_permissions(socket, fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot restrict {}", socket.display()))?;
    Ok(listener)
}
