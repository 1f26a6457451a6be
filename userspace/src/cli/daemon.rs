//! `ebpfnet daemon`.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::PathBuf,
};

use clap::Args;
use ipnetwork::{Ipv4Network, Ipv6Network};

use crate::{
    controller::{GuardInterfaces, masquerade::MasqueradeOptions},
    daemon::{
        self, DaemonOptions,
        config_file::{self, DaemonSettings, NAT_TABLE_SIZES, PortRange},
        docker_plugin::PluginSetting,
    },
    datapath::{MapSizes, TcAttachMode},
    logging::{self, LogFormat},
};

/// Flags win over the same keys of the config file, which win over the
/// defaults shown here.
#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// The daemon's JSON configuration file (keys in docs/cli.md); the
    /// default one may be missing [default: /etc/ebpfnet/daemon.json].
    #[arg(long, value_name = "PATH")]
    pub config_file: Option<PathBuf>,
    /// Host interface where outside traffic arrives (repeatable; default:
    /// the interface of the default route).
    #[arg(long = "uplink", value_name = "IFACE", value_parser = config_file::parse_interface_name)]
    pub uplinks: Vec<String>,
    /// Where the desired state is saved [default: /var/lib/ebpfnet].
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Where maps and links are pinned (on bpffs) [default: /sys/fs/bpf/ebpfnet].
    #[arg(long, value_name = "DIR")]
    pub pin_dir: Option<PathBuf>,
    /// Subnet of the default `bridge` network (Docker's is 172.17.0.0/16)
    /// [default: 10.214.0.0/16].
    #[arg(long, value_name = "CIDR")]
    pub default_subnet: Option<Ipv4Network>,
    /// Bridge device of the default network, made at first start (Docker's
    /// `dockerd --bridge`); lets two daemons with separate state share a
    /// host [default: ebpfnet0].
    #[arg(long, value_name = "NAME", value_parser = config_file::parse_interface_name)]
    pub bridge: Option<String>,
    /// IPv6 on the default network too (Docker's `dockerd --ipv6`): a /64
    /// of fd00:eb::/48 unless --fixed-cidr-v6 names one.
    #[arg(long)]
    pub ipv6: bool,
    /// IPv6 subnet of the default network (with --ipv6).
    #[arg(long, value_name = "CIDR")]
    pub fixed_cidr_v6: Option<Ipv6Network>,
    /// Name server of containers created without `--dns` (repeatable;
    /// default: the host's resolvers).
    #[arg(long = "dns", value_name = "IP")]
    pub dns: Vec<Ipv4Addr>,
    /// Entries in each NAT table (TCP, and UDP/ICMP); a flow takes two.
    /// Tables never evict a flow: when full, new flows are refused
    /// [default: 1048576].
    #[arg(long, value_name = "ENTRIES",
          value_parser = clap::value_parser!(u32).range(*NAT_TABLE_SIZES.start() as i64..=*NAT_TABLE_SIZES.end() as i64))]
    pub nat_table_size: Option<u32>,
    /// Masquerade source ports (default: every port above the host's
    /// net.ipv4.ip_local_port_range); must lie outside that range.
    #[arg(long, value_name = "LOW-HIGH", value_parser = parse_port_range)]
    pub masquerade_port_range: Option<PortRange>,
    /// Masquerade ports one container may hold towards one destination
    /// (address, port, protocol); default: half the range.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub masquerade_ports_per_destination: Option<u16>,
    /// Host interfaces kept from reaching container addresses directly:
    /// `all` drops what the host forwards to a container from any interface
    /// that is not a container's; `uplinks` guards only the uplinks, for
    /// hosts that route to containers on purpose.
    #[arg(long, value_enum, default_value = "all")]
    pub guard_interfaces: GuardInterfaces,
    /// Log lines as text or JSON objects (level from RUST_LOG) [default: text].
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Serve Prometheus metrics on http://HOST:PORT/metrics (off by default).
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_addr: Option<SocketAddr>,
    /// Serve Docker's remote network driver API on this Unix socket
    /// (`docker network create -d NAME`, NAME being the socket's file name
    /// without .sock); off by default (key `docker-plugin`).
    #[arg(long, value_name = "PATH", num_args = 0..=1,
          default_missing_value = crate::daemon::docker_plugin::DEFAULT_SOCKET,
          value_parser = crate::daemon::docker_plugin::parse_socket_path)]
    pub docker_plugin: Option<PathBuf>,
    /// Join a cluster whose state is kept in etcd (v3 API) at these
    /// members; needs --advertise-addr (docs/cluster.md).
    #[arg(long, value_name = "etcd://HOST:PORT[,HOST:PORT...]",
          value_parser = crate::cluster::endpoints::parse_cluster_store)]
    pub cluster_store: Option<crate::cluster::ClusterStore>,
    /// This host's address for the other hosts of the cluster.
    #[arg(long, value_name = "IP")]
    pub advertise_addr: Option<IpAddr>,
    /// How TC programs attach: TCX links (Linux 6.6+), or netlink filters
    /// in a clsact qdisc (older kernels) [default: auto].
    #[arg(long, value_enum, value_name = "HOW")]
    pub tc_attach: Option<TcAttachMode>,
}

fn parse_port_range(text: &str) -> Result<PortRange, String> {
    PortRange::try_from(text.to_string())
}

impl DaemonArgs {
    /// The flags given, as settings that win over the file's.
    fn settings(&self) -> DaemonSettings {
        DaemonSettings {
            uplinks: (!self.uplinks.is_empty()).then(|| self.uplinks.clone()),
            state_dir: self.state_dir.clone(),
            pin_dir: self.pin_dir.clone(),
            bip: None,
            fixed_cidr: None,
            // Absent, the file's `ipv6` holds.
            ipv6: self.ipv6.then_some(true),
            fixed_cidr_v6: self.fixed_cidr_v6,
            bridge: self.bridge.clone(),
            dns: (!self.dns.is_empty()).then(|| self.dns.clone()),
            nat_table_size: self.nat_table_size,
            masquerade_port_range: self.masquerade_port_range,
            masquerade_ports_per_destination: self.masquerade_ports_per_destination,
            log_format: self.log_format,
            metrics_addr: self.metrics_addr,
            cluster_store: self.cluster_store.clone(),
            cluster_advertise: self.advertise_addr,
            docker_plugin: self.docker_plugin.clone().map(PluginSetting::Socket),
            tc_attach: self.tc_attach,
        }
    }
}

pub async fn run(
    args: DaemonArgs,
    socket: PathBuf,
    remote: Option<crate::daemon::RemoteListen>,
) -> anyhow::Result<()> {
    // Everything is read and checked before anything is made.
    let path = args
        .config_file
        .clone()
        .unwrap_or_else(|| config_file::DEFAULT_CONFIG_FILE.into());
    let file = config_file::load(&path, args.config_file.is_some())?;
    let settings = args
        .settings()
        .over(file)
        .resolve(args.default_subnet, &path)?;
    logging::init(settings.log_format)?;
    daemon::run(DaemonOptions {
        socket,
        uplinks: settings.uplinks,
        state_dir: settings.state_dir,
        pin_dir: settings.pin_dir,
        default_subnet: settings.default_subnet,
        default_ipv6: settings.default_ipv6,
        default_bridge: settings.bridge,
        default_dns: settings.dns,
        map_sizes: MapSizes {
            nat_entries: settings.nat_table_size,
        },
        masquerade: MasqueradeOptions {
            range: settings.masquerade_port_range,
            per_destination: settings.masquerade_ports_per_destination,
        },
        guard_interfaces: args.guard_interfaces,
        metrics_addr: settings.metrics_addr,
        docker_plugin: settings.docker_plugin,
        remote,
        cluster: settings.cluster,
        tc_attach: settings.tc_attach,
    })
    .await
}
