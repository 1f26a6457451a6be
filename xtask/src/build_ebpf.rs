//! `cargo xtask build-ebpf`: build the eBPF programs and put the object where
//! the userspace build script embeds it (target/ebpf/ebpfnet.bpf.o).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::cmd::{command, output, run, scrub_cargo_env, workspace_root};
use crate::setup;

/// Where the userspace build script looks for the object.
pub fn ebpf_object_path() -> PathBuf {
    workspace_root().join("target/ebpf/ebpfnet.bpf.o")
}

pub fn build_ebpf() -> Result<()> {
    if !setup::ebpf_toolchain_ready() {
        setup::setup().context("the eBPF toolchain (rust-src, bpf-linker) is not ready")?;
    }
    let crate_dir = workspace_root().join("datapath-ebpf");
    // The crate's own .cargo/config.toml sets the BPF target, build-std and
    // the linker; RUSTC_BOOTSTRAP lets stable accept `-Z build-std`.
    let mut cargo = command("cargo");
    scrub_cargo_env(&mut cargo)
        .current_dir(&crate_dir)
        .env("RUSTC_BOOTSTRAP", "1")
        .args(["build", "--release"]);
    run(&mut cargo)?;

    let built = crate_dir.join("target/bpfel-unknown-none/release/ebpfnet");
    let object = ebpf_object_path();
    copy_if_changed(&built, &object)?;
    check_btf(&object)
}

/// Copies only when the contents differ, so the userspace crate (which
/// rebuilds when the object's mtime changes) is not rebuilt for nothing.
fn copy_if_changed(from: &Path, to: &Path) -> Result<()> {
    let new =
        fs::read(from).with_context(|| format!("reading the built object {}", from.display()))?;
    if fs::read(to).is_ok_and(|old| old == new) {
        return Ok(());
    }
    if let Some(dir) = to.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    // Write then rename, so a concurrent build never sees half an object.
    let partial = to.with_extension("o.partial");
    fs::write(&partial, &new).with_context(|| format!("writing {}", partial.display()))?;
    fs::rename(&partial, to)
        .with_context(|| format!("renaming {} to {}", partial.display(), to.display()))
}

/// The maps are meant to be read with `bpftool map dump`, which needs BTF.
fn check_btf(object: &Path) -> Result<()> {
    let mut bpftool = command("bpftool");
    bpftool.args(["btf", "dump", "file"]).arg(object);
    match output(&mut bpftool) {
        Ok(dump) if !dump.trim().is_empty() => Ok(()),
        Ok(_) => bail!("{} has an empty BTF section", object.display()),
        Err(err) => Err(err).with_context(|| {
            format!(
                "{} has no usable BTF (the eBPF crate must link with `-C link-arg=--btf` and debuginfo)",
                object.display()
            )
        }),
    }
}
