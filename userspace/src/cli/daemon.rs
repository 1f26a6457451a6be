//! `ebpfnet daemon`.

use std::path::PathBuf;

use clap::Args;
use ipnetwork::Ipv4Network;

use crate::daemon::{self, DaemonOptions};

#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// Host interface where outside traffic arrives (repeatable; default:
    /// the interface of the default route).
    #[arg(long = "uplink", value_name = "IFACE")]
    pub uplinks: Vec<String>,
    /// Where the desired state is saved.
    #[arg(long, default_value = "/var/lib/ebpfnet")]
    pub state_dir: PathBuf,
    /// Where maps and links are pinned (on bpffs).
    #[arg(long, default_value = "/sys/fs/bpf/ebpfnet")]
    pub pin_dir: PathBuf,
    /// Subnet of the default `bridge` network (Docker's is 172.17.0.0/16).
    #[arg(long, default_value = "10.214.0.0/16")]
    pub default_subnet: Ipv4Network,
}

pub async fn run(args: DaemonArgs, socket: PathBuf) -> anyhow::Result<()> {
    daemon::run(DaemonOptions {
        socket,
        uplinks: args.uplinks,
        state_dir: args.state_dir,
        pin_dir: args.pin_dir,
        default_subnet: args.default_subnet,
    })
    .await
}
