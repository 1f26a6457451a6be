//! `cargo xtask install`: into a staging `--destdir` and into a plain
//! `--prefix`, with the binary under test (`--binary`; the release build
//! that `install` makes by default is the same binary with the same object).
//! Checks every installed file, that a second install changes nothing, and
//! the unit with `systemd-analyze verify`.

use std::fs;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use ebpfnet_tests::*;

/// A cold xtask build may have to compile first.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);

/// A scratch directory removed on drop, also when the test fails.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("ebn-install-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

/// `cargo xtask install --binary $EBPFNET_BIN ARGS`, asserted to succeed.
fn xtask_install(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(workspace_root())
        .args([
            "run",
            "--quiet",
            "--package",
            "xtask",
            "--",
            "install",
            "--binary",
        ])
        .arg(bin())
        .args(args)
        .env_remove("DESTDIR");
    let out = run(&mut cmd, None, INSTALL_TIMEOUT);
    assert!(
        out.status.success(),
        "{}",
        describe_output("cargo xtask install", &out)
    );
    out
}

fn describe_output(what: &str, out: &Output) -> String {
    format!(
        "{what}: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        out.stdout_str(),
        out.stderr_str()
    )
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Every regular file under `dir` with its modification time and inode, to
/// see whether a second install rewrote anything.
fn snapshot(dir: &Path) -> Vec<(PathBuf, i64, i64, u64)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("ls {}: {e}", dir.display())) {
            let path = entry.expect("dir entry").path();
            let meta = fs::symlink_metadata(&path).expect("metadata");
            if meta.is_dir() {
                pending.push(path);
            } else {
                files.push((path, meta.mtime(), meta.mtime_nsec(), meta.ino()));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn install_into_a_destdir_puts_every_file_in_place_and_is_idempotent() {
    let scratch = Scratch::new("dest");
    let stage = scratch.0.join("stage");
    let stage_arg = stage.to_str().expect("UTF-8 path");
    xtask_install(&["--prefix", "/usr", "--destdir", stage_arg]);
    let root = stage.join("usr");

    // The binary: executable, and the very binary under test.
    let binary = root.join("bin/ebpfnet");
    let mode = fs::metadata(&binary)
        .expect("installed binary")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755, "mode of {}", binary.display());
    let version = |path: &Path| {
        run(
            Command::new(path).arg("--version"),
            None,
            Duration::from_secs(10),
        )
    };
    let installed = version(&binary);
    assert!(
        installed.status.success(),
        "{}",
        describe_output("ebpfnet --version", &installed)
    );
    assert!(
        installed.stdout_str().starts_with("ebpfnet "),
        "{}",
        installed.stdout_str()
    );
    assert_eq!(installed.stdout_str(), version(&bin()).stdout_str());
    // The CNI plugin, where `type: ebpfnet` finds it, answering VERSION.
    let plugin = root.join("lib/cni/ebpfnet");
    let answer = run(
        Command::new(&plugin).env("CNI_COMMAND", "VERSION"),
        Some(br#"{"cniVersion":"1.0.0"}"#),
        Duration::from_secs(10),
    );
    assert!(
        answer.status.success() && answer.stdout_str().contains("supportedVersions"),
        "{}",
        describe_output("ebpfnet-cni VERSION", &answer)
    );

    // The unit refers to the prefix, never to the staging directory.
    let unit = read(&root.join("lib/systemd/system/ebpfnet.service"));
    assert!(
        unit.contains("\nExecStart=/usr/bin/ebpfnet daemon\n"),
        "{unit}"
    );
    assert!(unit.contains("\nType=notify\n"), "{unit}");
    assert!(
        !unit.contains(stage_arg) && !unit.contains("@BINDIR@"),
        "{unit}"
    );

    // Completions, each in the directory its shell reads.
    let bash = read(&root.join("share/bash-completion/completions/ebpfnet"));
    let zsh = read(&root.join("share/zsh/site-functions/_ebpfnet"));
    let fish = read(&root.join("share/fish/vendor_completions.d/ebpfnet.fish"));
    assert!(
        bash.contains("complete -F _ebpfnet"),
        "bash script: {bash:.300}"
    );
    assert!(
        zsh.starts_with("#compdef ebpfnet"),
        "zsh script: {zsh:.300}"
    );
    assert!(
        fish.contains("complete -c ebpfnet"),
        "fish script: {fish:.300}"
    );
    for script in [&bash, &zsh, &fish] {
        for subcommand in ["publish", "unpublish", "network", "container", "system"] {
            assert!(
                script.contains(subcommand),
                "a completion lacks {subcommand}"
            );
        }
    }

    // Man pages: one per command, each with its header, formatted by man(1).
    let man1 = root.join("share/man/man1");
    for (page, title) in [
        ("ebpfnet.1", "ebpfnet"),
        ("ebpfnet-publish.1", "ebpfnet-publish"),
        ("ebpfnet-network-create.1", "ebpfnet-network-create"),
    ] {
        let path = man1.join(page);
        assert!(
            read(&path).contains(&format!(".TH {title} 1 ")),
            "{page} has no .TH"
        );
        let mut man = Command::new("man");
        man.arg("-l")
            .arg(&path)
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100");
        let out = run(&mut man, None, Duration::from_secs(30));
        assert!(
            out.status.success(),
            "{}",
            describe_output(&format!("man -l {page}"), &out)
        );
        let text = out.stdout_str();
        assert!(
            text.contains("NAME") && text.contains("SYNOPSIS"),
            "man -l {page}:\n{text}"
        );
        assert!(
            out.stderr_str().trim().is_empty(),
            "man -l {page}: {}",
            out.stderr_str()
        );
    }

    // A second install rewrites nothing, and drops the pages of commands
    // that no longer exist while leaving other packages' pages alone.
    fs::write(man1.join("ebpfnet-retired.1"), ".TH ebpfnet-retired 1\n").expect("stale page");
    fs::write(man1.join("other-tool.1"), ".TH other-tool 1\n").expect("foreign page");
    let before = snapshot(&stage);
    xtask_install(&["--prefix", "/usr", "--destdir", stage_arg]);
    let after = snapshot(&stage);
    let retired = man1.join("ebpfnet-retired.1");
    let expected: Vec<_> = before.into_iter().filter(|f| f.0 != retired).collect();
    assert_eq!(after, expected, "the second install changed files");
}

#[test]
fn installed_unit_passes_systemd_analyze_verify() {
    let scratch = Scratch::new("prefix");
    let prefix = scratch.0.join("prefix");
    let prefix_arg = prefix.to_str().expect("UTF-8 path");
    // A plain prefix, so the unit's ExecStart and man: references resolve.
    xtask_install(&["--prefix", prefix_arg]);
    let unit = prefix.join("lib/systemd/system/ebpfnet.service");
    assert!(
        read(&unit).contains(&format!("\nExecStart={prefix_arg}/bin/ebpfnet daemon\n")),
        "{}",
        read(&unit)
    );
    let mut verify = Command::new("systemd-analyze");
    verify
        .arg("verify")
        .arg(&unit)
        // Documentation=man:ebpfnet(1) must be found among the installed pages.
        .env("MANPATH", prefix.join("share/man"));
    let out = run_timeout(&mut verify, None, Duration::from_secs(60)).unwrap_or_else(|e| {
        panic!("{e}; systemd-analyze comes with Debian's systemd package (`cargo xtask setup`)")
    });
    // verify exits 0 on some warnings (an unknown Type=, say): stderr must be empty.
    assert!(
        out.status.success() && out.stderr_str().trim().is_empty(),
        "{}",
        describe_output("systemd-analyze verify", &out)
    );
}
