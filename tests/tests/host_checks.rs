//! The daemon checks the host before it loads or creates anything: run in a
//! private mount namespace where kernel BTF is hidden and no cgroup v2 is
//! mounted, it must name both and leave no socket, state or pins behind.
//! The host's own mounts are untouched (`unshare --propagation private`).

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use ebpfnet_tests::*;

/// A scratch directory removed on drop, also when the test fails.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Hides /sys/kernel/btf under an empty tmpfs, unmounts every cgroup2
/// mount, then runs the daemon with the arguments after `--`.
const HIDE_AND_RUN: &str = r#"
set -e
mount -t tmpfs none /sys/kernel/btf
for target in $(awk '$3 == "cgroup2" { print $2 }' /proc/self/mounts); do
    umount -l "$target"
done
exec "$@"
"#;

#[test]
fn daemon_on_a_host_without_btf_or_cgroup2_names_both_and_makes_nothing() {
    require_root();
    // Should the check ever let the daemon through, it must not meet
    // another test's daemon on the host-global names.
    let _serial = serial();
    let scratch =
        Scratch(std::env::temp_dir().join(format!("ebn-hostcheck-{}", std::process::id())));
    let _ = fs::remove_dir_all(&scratch.0);
    let (sock, state, pins) = (
        scratch.0.join("sock"),
        scratch.0.join("state"),
        PathBuf::from(format!("/sys/fs/bpf/ebn-hostcheck-{}", std::process::id())),
    );
    let mut cmd = private_mounts_sh(HIDE_AND_RUN);
    cmd.arg(bin())
        .args(daemon_args(&sock, &state, &pins))
        .env_remove("EBPFNET_SOCKET")
        .env_remove("NOTIFY_SOCKET");
    let out = run(&mut cmd, None, Duration::from_secs(30));
    let pins_made = pins.exists();
    if pins_made {
        let _ = fs::remove_dir_all(&pins);
    }

    let stderr = out.stderr_str();
    assert_eq!(out.code(), Some(1), "daemon exit: {}\n{stderr}", out.status);
    for needle in [
        "this host cannot run the ebpfnet datapath",
        "/sys/kernel/btf/vmlinux",
        "cgroup v2",
    ] {
        assert!(
            stderr.contains(needle),
            "stderr lacks {needle:?}:\n{stderr}"
        );
    }
    // This kernel is new enough and has bpffs: only what is missing is named.
    assert!(
        !stderr.contains("Linux 6.6") && !stderr.contains("bpffs"),
        "{stderr}"
    );
    assert!(
        !state.exists(),
        "the state dir was created before the check"
    );
    assert!(!sock.exists(), "the socket was created before the check");
    assert!(!pins_made, "the pin dir was created before the check");
}
