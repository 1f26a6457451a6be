//! `cargo xtask build`: the eBPF object first (the userspace crate embeds
//! it), then the `ebpfnet` binary.

use std::path::PathBuf;

use anyhow::Result;

use crate::build_ebpf::build_ebpf;
use crate::cmd::{command, run, workspace_root};

pub fn build(release: bool) -> Result<()> {
    build_ebpf()?;
    let mut cargo = command("cargo");
    cargo.args(["build", "-p", "ebpfnet"]);
    if release {
        cargo.arg("--release");
    }
    run(&mut cargo)
}

/// The binary that [`build`] produces.
pub fn ebpfnet_binary(release: bool) -> PathBuf {
    let profile = if release { "release" } else { "debug" };
    workspace_root()
        .join("target")
        .join(profile)
        .join("ebpfnet")
}
