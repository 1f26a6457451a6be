//! `cargo xtask build`: the eBPF object first (the userspace crate embeds
//! it), then the `ebpfnet` binary and the `ebpfnet-cni` plugin. A release build is one meant to be
//! installed, so its build script must find the object (see
//! userspace/embed_object.rs); debug builds keep the development leniency so
//! that they share build-script output with plain `cargo build`/`cargo test`.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};

use crate::build_ebpf::build_ebpf;
use crate::cmd::{command, run, workspace_root};

pub fn build(release: bool) -> Result<()> {
    build_ebpf()?;
    if !crate::setup::protoc_ready() {
        crate::setup::setup().context("protoc (protobuf-compiler) is missing")?;
        if !crate::setup::protoc_ready() {
            bail!(
                "protoc not found after `cargo xtask setup`: the etcd client (etcd-client) needs \
                 it to build; install protobuf-compiler or set PROTOC"
            );
        }
    }
    let mut cargo = command("cargo");
    cargo.args(["build", "-p", "ebpfnet", "-p", "ebpfnet-cni"]);
    if release {
        cargo.arg("--release").env(REQUIRE_OBJECT_VAR, "1");
    }
    run(&mut cargo)
}

/// Makes the userspace build script fail when the eBPF object is missing.
pub const REQUIRE_OBJECT_VAR: &str = "EBPFNET_REQUIRE_OBJECT";

/// The CNI plugin built beside `ebpfnet` (same directory).
pub fn cni_plugin_beside(ebpfnet: &std::path::Path) -> PathBuf {
    ebpfnet.with_file_name("ebpfnet-cni")
}

/// The binary that [`build`] produces.
pub fn ebpfnet_binary(release: bool) -> PathBuf {
    let profile = if release { "release" } else { "debug" };
    workspace_root()
        .join("target")
        .join(profile)
        .join("ebpfnet")
}
