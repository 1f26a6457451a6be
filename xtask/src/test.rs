//! `cargo xtask test`: unit tests, then the end-to-end tests, which need root
//! (they create namespaces, bridges and eBPF programs) and are never skipped.

use anyhow::{Result, bail};

use crate::build::{build, ebpfnet_binary};
use crate::cmd::{command, is_root, run};
use crate::setup::setup;

pub fn test(e2e_args: &[String]) -> Result<()> {
    if !is_root() {
        bail!(
            "`cargo xtask test` must run as root: the end-to-end tests create network \
             namespaces, bridges and eBPF programs"
        );
    }
    // The tests use python3, ping, bpftool and iptables besides the build
    // tools; setup is quiet when everything is there.
    setup()?;
    build(false)?;

    // Both suites run even if the first fails, so one run reports everything.
    let mut failures = Vec::new();
    let mut unit = command("cargo");
    unit.args(["test", "--workspace", "--exclude", "ebpfnet-tests"]);
    if let Err(err) = run(&mut unit) {
        failures.push(format!("unit tests: {err:#}"));
    }

    // One thread: the tests share the host's network and bpffs.
    let mut e2e = command("cargo");
    e2e.env("EBPFNET_BIN", ebpfnet_binary(false))
        .args(["test", "-p", "ebpfnet-tests", "--", "--test-threads=1"])
        .args(e2e_args);
    if let Err(err) = run(&mut e2e) {
        failures.push(format!("end-to-end tests: {err:#}"));
    }

    if !failures.is_empty() {
        bail!("{}", failures.join("; "));
    }
    println!("all tests passed");
    Ok(())
}
