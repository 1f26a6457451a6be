//! `ebpfnet system reset`.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::Subcommand;

use crate::{
    api::request::Reset,
    client::{Client, ClientError},
    controller::teardown,
    host::NetlinkHost,
    state::Store,
};

#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Remove everything ebpfnet created: containers' namespaces and veths,
    /// bridges, pinned programs, links and maps, and the saved state. Goes
    /// through the daemon when one answers (it exits afterwards), else works
    /// from the state dir directly.
    Reset {
        /// State dir to read when no daemon answers.
        #[arg(long, default_value = "/var/lib/ebpfnet")]
        state_dir: PathBuf,
        /// Pin dir to clear when no daemon answers.
        #[arg(long, default_value = "/sys/fs/bpf/ebpfnet")]
        pin_dir: PathBuf,
    },
}

pub async fn run(command: SystemCommand, client: &Client) -> anyhow::Result<()> {
    let SystemCommand::Reset { state_dir, pin_dir } = command;
    let errors = match client.call(Reset).await {
        Ok(result) => result.errors,
        Err(ClientError::Unreachable { .. }) => offline_reset(state_dir, pin_dir).await?,
        Err(e) => return Err(e).context("reset through the daemon failed"),
    };
    if !errors.is_empty() {
        bail!("reset left things behind:\n  {}", errors.join("\n  "));
    }
    println!("ebpfnet reset: everything it created is gone");
    Ok(())
}

async fn offline_reset(state_dir: PathBuf, pin_dir: PathBuf) -> anyhow::Result<Vec<String>> {
    if !nix::unistd::geteuid().is_root() {
        bail!("no daemon answers, and a reset without one must run as root");
    }
    let store = Store::new(state_dir);
    let state = store.load().context("cannot read what ebpfnet created")?;
    let host = NetlinkHost::connect().context("cannot open netlink")?;
    Ok(teardown(&state, &host, &store, &pin_dir).await)
}
