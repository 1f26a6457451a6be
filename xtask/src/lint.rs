//! `cargo xtask lint`: rustfmt and clippy over the workspace (every target,
//! the tests and benches too) and over the eBPF crate, warnings as errors.
//! Run after `cargo xtask build`, clippy reuses what the build made that a
//! check needs as well: build-script outputs (the embedded eBPF object,
//! the etcd client's generated code) and proc macros.

use std::process::Command;

use anyhow::{Result, bail};

use crate::cmd::{command, run, scrub_cargo_env, workspace_root};
use crate::setup;

pub fn lint() -> Result<()> {
    if !setup::lint_tools_ready() {
        setup::install_lint_tools()?;
    }
    let ebpf_crate = workspace_root().join("datapath-ebpf");
    let in_ebpf_crate = |args: &[&str]| {
        let mut cargo = command("cargo");
        // The crate's .cargo/config.toml sets the BPF target and
        // build-std; RUSTC_BOOTSTRAP lets stable accept `-Z build-std`.
        // `--release` where it builds: the build scripts of its
        // dependencies are then those `cargo xtask build-ebpf` ran.
        scrub_cargo_env(&mut cargo)
            .current_dir(&ebpf_crate)
            .env("RUSTC_BOOTSTRAP", "1")
            .args(args);
        cargo
    };
    let workspace = |args: &[&str]| {
        let mut cargo = command("cargo");
        cargo.args(args);
        cargo
    };
    let steps: [(&str, Command); 4] = [
        (
            "rustfmt (workspace)",
            workspace(&["fmt", "--all", "--check"]),
        ),
        ("rustfmt (eBPF crate)", in_ebpf_crate(&["fmt", "--check"])),
        (
            "clippy (workspace)",
            workspace(&[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]),
        ),
        (
            "clippy (eBPF crate)",
            in_ebpf_crate(&["clippy", "--release", "--", "-D", "warnings"]),
        ),
    ];
    // Every step runs, so one run reports everything.
    let mut failures = Vec::new();
    for (what, mut cargo) in steps {
        if let Err(err) = run(&mut cargo) {
            eprintln!("lint: {what}: {err:#}");
            failures.push(what);
        }
    }
    if failures.iter().any(|what| what.starts_with("rustfmt")) {
        eprintln!("lint: `cargo fmt --all` and `cd datapath-ebpf && cargo fmt` fix the formatting");
    }
    if !failures.is_empty() {
        bail!("lint failed: {}", failures.join(", "));
    }
    println!("lint: rustfmt and clippy are clean");
    Ok(())
}
