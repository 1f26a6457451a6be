//! `cargo xtask setup`: install what building and testing ebpfnet needs on a
//! bare Debian 12 machine. Idempotent, and silent when everything is present.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::cmd::{command, is_root, output, run, scrub_cargo_env};

/// LLVM for bpf-linker, bpftool to check BTF, and what the end-to-end tests
/// and the demo run (ip and ss, python3 servers, ping, iptables/nft; the
/// install test's `systemd-analyze verify` and `man -l`). Debian's systemd
/// package installs without systemd as PID 1 (its scripts start nothing).
const APT_PACKAGES: &[&str] = &[
    "llvm-22-dev",
    "libpolly-22-dev",
    "libzstd-dev",
    "zlib1g-dev",
    "bpftool",
    "iproute2",
    "python3",
    "iputils-ping",
    "iptables",
    "nftables",
    "systemd",
    "man-db",
    // protoc, for the etcd client's generated gRPC code (etcd-client).
    "protobuf-compiler",
    // etcd 3.4, started by the cluster tests on loopback (no service runs).
    "etcd-server",
];

/// The container runtimes the CNI and Docker driver tests drive, installed
/// without their recommendations (Podman's would add buildah,
/// fuse-overlayfs, slirp4netns; docker.io's apparmor, git, needrestart —
/// nothing the tests use): Podman 4.3 (CNI backend) with conmon and runc,
/// containerd 1.6 with `ctr`, Docker (the tests start their own dockerd),
/// Debian's CNI plugins (they make `/usr/lib/cni`) and the static busybox
/// the tests' images are made of. Debian's packages start no service here.
const RUNTIME_PACKAGES: &[&str] = &[
    "docker.io",
    "podman",
    "conmon",
    "runc",
    "containerd",
    "containernetworking-plugins",
    "busybox-static",
];

/// The bench's HTTP keep-alive workload (`cargo xtask bench`, test `http`):
/// Debian's nginx (on Debian 12 `nginx` is the server itself; `nginx-light`
/// only adds the echo module to it) and wrk, without recommendations. The
/// bench starts its own nginx in its namespaces with its own config; the
/// package's own service is not used (its namespaces have their own ports).
const BENCH_PACKAGES: &[&str] = &["nginx", "wrk"];

/// bpf-linker must use the same LLVM major version as rustc (22 for 1.95).
const BPF_LINKER_VERSION: &str = "0.13.0";
const BPF_LINKER_VERSION_PREFIX: &str = "bpf-linker 0.13.";
const LLVM_PREFIX: &str = "/usr/lib/llvm-22";

/// Builds and runs the fuzz targets (`cargo xtask fuzz`); 0.13.2 builds
/// with rustc 1.95.
const CARGO_FUZZ_VERSION: &str = "0.13.2";

pub fn setup() -> Result<()> {
    install_apt_packages()?;
    if !rust_src_installed() {
        install_rust_src()?;
    }
    if !lint_tools_ready() {
        install_lint_tools()?;
    }
    if !bpf_linker_installed() {
        install_bpf_linker()?;
    }
    if !cargo_fuzz_installed() {
        install_cargo_fuzz()?;
    }
    Ok(())
}

/// Whether the eBPF crate can be built without running [`setup`] first.
pub fn ebpf_toolchain_ready() -> bool {
    rust_src_installed() && bpf_linker_installed()
}

/// Whether protoc, which the etcd client's build script runs, is there
/// (`PROTOC` or `protoc` on the PATH).
pub fn protoc_ready() -> bool {
    let protoc = std::env::var_os("PROTOC").unwrap_or_else(|| "protoc".into());
    Command::new(protoc)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn missing_apt_packages(packages: &[&'static str]) -> Vec<&'static str> {
    packages
        .iter()
        .copied()
        .filter(|package| {
            let status = output(command("dpkg-query").args(["-W", "-f=${Status}", package]));
            !matches!(status.as_deref(), Ok("install ok installed"))
        })
        .collect()
}

fn install_apt_packages() -> Result<()> {
    let missing = missing_apt_packages(APT_PACKAGES);
    let missing_runtimes = [
        missing_apt_packages(RUNTIME_PACKAGES),
        missing_apt_packages(BENCH_PACKAGES),
    ]
    .concat();
    if missing.is_empty() && missing_runtimes.is_empty() {
        return Ok(());
    }
    let list = [missing.as_slice(), missing_runtimes.as_slice()]
        .concat()
        .join(" ");
    let mut by_hand = String::from("apt-get update");
    if !missing.is_empty() {
        by_hand += &format!(" && apt-get install -y {}", missing.join(" "));
    }
    if !missing_runtimes.is_empty() {
        by_hand += &format!(
            " && apt-get install -y --no-install-recommends {}",
            missing_runtimes.join(" ")
        );
    }
    if !is_root() {
        bail!(
            "missing apt packages: {list}; installing them needs root: run `cargo xtask setup` \
             as root, or install them by hand: `{by_hand}`"
        );
    }
    println!("setup: installing apt packages: {list}");
    let apt_get = |args: &[&str]| {
        let mut cmd = command("apt-get");
        cmd.env("DEBIAN_FRONTEND", "noninteractive").args(args);
        cmd
    };
    let install = |packages: &[&str], recommends: bool| {
        if packages.is_empty() {
            return Ok(());
        }
        let mut cmd = apt_get(&["install", "-y", "-q"]);
        if !recommends {
            cmd.arg("--no-install-recommends");
        }
        cmd.args(packages);
        run(&mut cmd)
    };
    run(&mut apt_get(&["update", "-q"]))
        .and_then(|()| install(&missing, true))
        .and_then(|()| install(&missing_runtimes, false))
        .with_context(|| {
            format!("could not install apt packages; by hand (as root): `{by_hand}`")
        })?;

    let still_missing = [
        missing_apt_packages(APT_PACKAGES),
        missing_apt_packages(RUNTIME_PACKAGES),
        missing_apt_packages(BENCH_PACKAGES),
    ]
    .concat();
    if !still_missing.is_empty() {
        bail!(
            "apt-get finished but these packages are still not installed: {}; \
             by hand (as root): `{by_hand}`",
            still_missing.join(" ")
        );
    }
    Ok(())
}

/// The eBPF crate builds `core` from source (`-Z build-std=core`).
fn rust_src_installed() -> bool {
    output(command("rustc").args(["--print", "sysroot"])).is_ok_and(|sysroot| {
        Path::new(sysroot.trim())
            .join("lib/rustlib/src/rust/library")
            .is_dir()
    })
}

fn install_rust_src() -> Result<()> {
    const BY_HAND: &str = "rustup component add rust-src";
    run(command("rustup").args(["component", "add", "rust-src"])).with_context(|| {
        format!("could not install the rust-src component; by hand: `{BY_HAND}`")
    })?;
    if !rust_src_installed() {
        bail!(
            "rustup installed rust-src, but `rustc --print sysroot` has no lib/rustlib/src; \
             is `rustc` on PATH the rustup toolchain? By hand: `{BY_HAND}`"
        );
    }
    Ok(())
}

/// rustfmt and clippy, which `cargo xtask lint` runs (a toolchain
/// installed with rustup's minimal profile has neither).
pub fn lint_tools_ready() -> bool {
    ["fmt", "clippy"].into_iter().all(|tool| {
        output(command("cargo").args([tool, "--version"])).is_ok_and(|v| !v.trim().is_empty())
    })
}

pub fn install_lint_tools() -> Result<()> {
    const BY_HAND: &str = "rustup component add rustfmt clippy";
    run(command("rustup").args(["component", "add", "rustfmt", "clippy"]))
        .with_context(|| format!("could not install rustfmt and clippy; by hand: `{BY_HAND}`"))?;
    if !lint_tools_ready() {
        bail!(
            "rustup installed rustfmt and clippy, but `cargo fmt --version` or `cargo clippy \
             --version` does not run; is `cargo` on PATH the rustup toolchain? By hand: \
             `{BY_HAND}`"
        );
    }
    Ok(())
}

fn bpf_linker_installed() -> bool {
    output(command("bpf-linker").arg("--version"))
        .is_ok_and(|version| version.trim().starts_with(BPF_LINKER_VERSION_PREFIX))
}

fn install_bpf_linker() -> Result<()> {
    println!("setup: installing bpf-linker {BPF_LINKER_VERSION} (takes about a minute)");
    let cargo_install = |locked: bool| -> Command {
        let mut cmd = command("cargo");
        scrub_cargo_env(&mut cmd)
            .env("LLVM_PREFIX", LLVM_PREFIX)
            .args([
                "install",
                "bpf-linker",
                "--version",
                BPF_LINKER_VERSION,
                "--no-default-features",
                "--features",
                "llvm-22",
                // We only get here when the installed one is missing or unusable.
                "--force",
            ]);
        if locked {
            cmd.arg("--locked");
        }
        cmd
    };
    if let Err(err) = run(&mut cargo_install(true)) {
        eprintln!("setup: {err:#}; retrying without --locked");
        run(&mut cargo_install(false)).with_context(|| {
            format!(
                "could not install bpf-linker; by hand (after `apt-get install -y {}`): \
                 `LLVM_PREFIX={LLVM_PREFIX} cargo install bpf-linker --version {BPF_LINKER_VERSION} \
                 --no-default-features --features llvm-22`",
                APT_PACKAGES[..4].join(" ")
            )
        })?;
    }
    if !bpf_linker_installed() {
        bail!(
            "bpf-linker {BPF_LINKER_VERSION} was installed, but `bpf-linker --version` does not \
             report it; is cargo's bin directory (~/.cargo/bin) on PATH?"
        );
    }
    Ok(())
}

/// Any cargo-fuzz will do: the fuzz targets use no newer flag than 0.13's.
pub fn cargo_fuzz_installed() -> bool {
    output(command("cargo").args(["fuzz", "--version"]))
        .is_ok_and(|version| version.trim().starts_with("cargo-fuzz "))
}

fn install_cargo_fuzz() -> Result<()> {
    println!("setup: installing cargo-fuzz {CARGO_FUZZ_VERSION} (takes about a minute)");
    let by_hand = format!("cargo install cargo-fuzz --version {CARGO_FUZZ_VERSION} --locked");
    let mut install = command("cargo");
    scrub_cargo_env(&mut install).args([
        "install",
        "cargo-fuzz",
        "--version",
        CARGO_FUZZ_VERSION,
        "--locked",
    ]);
    // One retry: crates.io is sometimes out of reach for a few seconds.
    if let Err(err) = run(&mut install) {
        eprintln!("setup: {err:#}; trying once more");
        run(&mut install)
            .with_context(|| format!("could not install cargo-fuzz; by hand: `{by_hand}`"))?;
    }
    if !cargo_fuzz_installed() {
        bail!(
            "cargo-fuzz was installed, but `cargo fuzz --version` does not run; is cargo's bin \
             directory (~/.cargo/bin) on PATH? By hand: `{by_hand}`"
        );
    }
    Ok(())
}
