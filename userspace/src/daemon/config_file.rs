//! The daemon's configuration file (`/etc/ebpfnet/daemon.json`, as
//! dockerd's `daemon.json`): its keys, their checks, and how they merge with
//! the command line (a flag wins over the file, the file over the default).

use std::{
    fs,
    io::ErrorKind,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
};

use ipnetwork::{Ipv4Network, Ipv6Network};
use serde::Deserialize;
use thiserror::Error;

pub use super::config_values::{DEFAULT_SUBNET, PortRange, parse_interface_name, parse_port_range};
use super::{
    config_values::{cluster, default_ipv6, default_subnet},
    docker_plugin::PluginSetting,
};
use crate::{
    cluster::{ClusterOptions, ClusterStore},
    controller::ipv6::Ipv6Request,
    datapath::TcAttachMode,
    logging::LogFormat,
};

/// Read when `--config-file` is not given; may be missing.
pub const DEFAULT_CONFIG_FILE: &str = "/etc/ebpfnet/daemon.json";
pub const DEFAULT_STATE_DIR: &str = "/var/lib/ebpfnet";
pub const DEFAULT_PIN_DIR: &str = "/sys/fs/bpf/ebpfnet";
/// Bounds of `nat-table-size` / `--nat-table-size`.
pub const NAT_TABLE_SIZES: std::ops::RangeInclusive<u32> = 1024..=1 << 26;

/// Every setting the file or the flags may give; `None` when not given.
/// Keys are Docker's where Docker has one (`bip`, `fixed-cidr`, `bridge`,
/// `dns`, `log-format`, `metrics-addr`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DaemonSettings {
    pub uplinks: Option<Vec<String>>,
    pub state_dir: Option<PathBuf>,
    pub pin_dir: Option<PathBuf>,
    /// Docker's bridge IP with its prefix, e.g. `10.214.0.1/16`: the
    /// default network's gateway and subnet.
    pub bip: Option<Ipv4Network>,
    /// Docker's subnet of the default network, e.g. `10.214.0.0/16`.
    pub fixed_cidr: Option<Ipv4Network>,
    /// Docker's `ipv6`: the default network has IPv6 too.
    pub ipv6: Option<bool>,
    /// Docker's IPv6 subnet of the default network (with `ipv6`).
    pub fixed_cidr_v6: Option<Ipv6Network>,
    pub bridge: Option<String>,
    /// Name servers of containers created without `--dns`.
    pub dns: Option<Vec<Ipv4Addr>>,
    pub nat_table_size: Option<u32>,
    /// `"LOW-HIGH"`, e.g. `"61000-65535"`.
    pub masquerade_port_range: Option<PortRange>,
    pub masquerade_ports_per_destination: Option<u16>,
    pub log_format: Option<LogFormat>,
    pub metrics_addr: Option<SocketAddr>,
    /// Docker's `cluster-store`: `etcd://HOST:PORT[,HOST:PORT…]`.
    pub cluster_store: Option<ClusterStore>,
    /// Docker's `cluster-advertise` (`--advertise-addr`): this host's
    /// address for the others.
    pub cluster_advertise: Option<IpAddr>,
    /// `true` (the default socket), `false`, or a socket's absolute path.
    pub docker_plugin: Option<PluginSetting>,
    /// `auto`, `tcx` or `netlink`: how TC programs are attached.
    pub tc_attach: Option<TcAttachMode>,
}

/// What the daemon runs with once flags, file and defaults are merged.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub uplinks: Vec<String>,
    pub state_dir: PathBuf,
    pub pin_dir: PathBuf,
    pub default_subnet: Ipv4Network,
    /// The default network's IPv6 (`ipv6`, `fixed-cidr-v6`).
    pub default_ipv6: Ipv6Request,
    pub bridge: String,
    pub dns: Vec<Ipv4Addr>,
    pub nat_table_size: u32,
    pub masquerade_port_range: Option<(u16, u16)>,
    pub masquerade_ports_per_destination: Option<u16>,
    pub log_format: LogFormat,
    pub metrics_addr: Option<SocketAddr>,
    pub cluster: Option<ClusterOptions>,
    /// Where Docker's network driver is served, if it is.
    pub docker_plugin: Option<PathBuf>,
    pub tc_attach: TcAttachMode,
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read daemon config file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("daemon config file {path}: {message}")]
    Syntax { path: String, message: String },
    /// `--cluster-store`/`--advertise-addr` (or their keys) that do not go
    /// together.
    #[error("{0}")]
    Cluster(String),
    #[error("daemon config file {path}: key \"{key}\": {message}")]
    Value {
        path: String,
        key: String,
        message: String,
    },
}

/// Reads the file at `path`. A missing file is fine only when it is the
/// default one (`explicit` false), as with dockerd.
pub fn load(path: &Path, explicit: bool) -> Result<DaemonSettings, ConfigError> {
    match fs::read_to_string(path) {
        Ok(text) => parse(&text, path),
        Err(e) if e.kind() == ErrorKind::NotFound && !explicit => Ok(DaemonSettings::default()),
        Err(source) => Err(ConfigError::Read {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// Parses the JSON text of `path`; a value of the wrong type is an error
/// naming its key. Ranges and names are checked by [`DaemonSettings::resolve`].
pub fn parse(text: &str, path: &Path) -> Result<DaemonSettings, ConfigError> {
    let shown = path.display().to_string();
    let mut json = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut json).map_err(|e| {
        let key = e.path().to_string();
        let message = e.inner().to_string();
        if key == "." || key.is_empty() {
            ConfigError::Syntax {
                path: shown,
                message,
            }
        } else {
            ConfigError::Value {
                path: shown,
                key,
                message,
            }
        }
    })
}

impl DaemonSettings {
    /// The checks clap makes on the flags, made on the file's values:
    /// `Err((key, what is wrong))`.
    fn check(&self) -> Result<(), (&'static str, String)> {
        if let Some(uplinks) = &self.uplinks {
            for name in uplinks {
                parse_interface_name(name).map_err(|e| ("uplinks", format!("{name:?}: {e}")))?;
            }
        }
        if let Some(bridge) = &self.bridge {
            parse_interface_name(bridge).map_err(|e| ("bridge", e))?;
        }
        if let Some(size) = self.nat_table_size
            && !NAT_TABLE_SIZES.contains(&size)
        {
            return Err((
                "nat-table-size",
                format!(
                    "{size} is not between {} and {}",
                    NAT_TABLE_SIZES.start(),
                    NAT_TABLE_SIZES.end()
                ),
            ));
        }
        if self.masquerade_ports_per_destination == Some(0) {
            return Err((
                "masquerade-ports-per-destination",
                "must be at least 1".into(),
            ));
        }
        default_subnet(self.bip, self.fixed_cidr)?;
        default_ipv6(self.ipv6, self.fixed_cidr_v6)?;
        Ok(())
    }

    /// Every value of `self` (the flags) that is set wins over `file`'s.
    pub fn over(self, file: DaemonSettings) -> DaemonSettings {
        DaemonSettings {
            uplinks: self.uplinks.or(file.uplinks),
            state_dir: self.state_dir.or(file.state_dir),
            pin_dir: self.pin_dir.or(file.pin_dir),
            bip: self.bip.or(file.bip),
            fixed_cidr: self.fixed_cidr.or(file.fixed_cidr),
            ipv6: self.ipv6.or(file.ipv6),
            fixed_cidr_v6: self.fixed_cidr_v6.or(file.fixed_cidr_v6),
            bridge: self.bridge.or(file.bridge),
            dns: self.dns.or(file.dns),
            nat_table_size: self.nat_table_size.or(file.nat_table_size),
            masquerade_port_range: self.masquerade_port_range.or(file.masquerade_port_range),
            masquerade_ports_per_destination: self
                .masquerade_ports_per_destination
                .or(file.masquerade_ports_per_destination),
            log_format: self.log_format.or(file.log_format),
            metrics_addr: self.metrics_addr.or(file.metrics_addr),
            cluster_store: self.cluster_store.or(file.cluster_store),
            cluster_advertise: self.cluster_advertise.or(file.cluster_advertise),
            docker_plugin: self.docker_plugin.or(file.docker_plugin),
            tc_attach: self.tc_attach.or(file.tc_attach),
        }
    }

    /// Checks the merged values and fills in the defaults.
    /// `default_subnet_flag` (`--default-subnet`) wins over `bip` and
    /// `fixed-cidr`. Flags are checked by clap already, so an error here
    /// names a key of the file at `path`.
    pub fn resolve(
        self,
        default_subnet_flag: Option<Ipv4Network>,
        path: &Path,
    ) -> Result<Resolved, ConfigError> {
        let error = |(key, message): (&str, String)| ConfigError::Value {
            path: path.display().to_string(),
            key: key.to_string(),
            message,
        };
        self.check().map_err(error)?;
        let subnet = match default_subnet_flag {
            Some(subnet) => subnet,
            None => default_subnet(self.bip, self.fixed_cidr)
                .map_err(error)?
                .unwrap_or(DEFAULT_SUBNET),
        };
        Ok(Resolved {
            uplinks: self.uplinks.unwrap_or_default(),
            state_dir: self.state_dir.unwrap_or_else(|| DEFAULT_STATE_DIR.into()),
            pin_dir: self.pin_dir.unwrap_or_else(|| DEFAULT_PIN_DIR.into()),
            default_subnet: subnet,
            default_ipv6: default_ipv6(self.ipv6, self.fixed_cidr_v6).map_err(error)?,
            bridge: self
                .bridge
                .unwrap_or_else(|| crate::ids::DEFAULT_BRIDGE.to_string()),
            dns: self.dns.unwrap_or_default(),
            nat_table_size: self
                .nat_table_size
                .unwrap_or(ebpfnet_common::names::NAT_CAPACITY),
            masquerade_port_range: self.masquerade_port_range.map(|r| (r.low, r.high)),
            masquerade_ports_per_destination: self.masquerade_ports_per_destination,
            log_format: self.log_format.unwrap_or_default(),
            metrics_addr: self.metrics_addr,
            // From the flags, the file or both: the error names flag and key.
            cluster: cluster(self.cluster_store, self.cluster_advertise)
                .map_err(ConfigError::Cluster)?,
            docker_plugin: self.docker_plugin.and_then(PluginSetting::socket),
            tc_attach: self.tc_attach.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
#[path = "config_file_tests.rs"]
mod tests;
