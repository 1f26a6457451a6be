//! Running external commands: echo them like a shell transcript and turn
//! failures into errors that name the command and how it ended.

use std::ffi::{OsStr, OsString};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::LazyLock;

use anyhow::{Context, Result, bail};

/// Variables that the outer `cargo run` or the user's shell may set and that
/// would make a nested cargo build use the wrong compiler, flags or output dir.
const CARGO_ENV_TO_SCRUB: &[&str] = &[
    "RUSTC",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_TARGET_DIR",
];

/// Not shown on each echoed command line: PATH is only widened (see
/// [`SEARCH_PATH`]) and the demo prints its `EBPFNET_SOCKET` once.
const ENV_NOT_SHOWN: &[&str] = &["PATH", "EBPFNET_SOCKET"];

/// PATH for child processes, widened with cargo's bin dir (a freshly installed
/// bpf-linker lives there) and the sbin dirs (bpftool, ip) that a non-root
/// PATH on Debian lacks.
static SEARCH_PATH: LazyLock<OsString> = LazyLock::new(|| {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")));
    let extra = cargo_home.map(|home| home.join("bin")).into_iter();
    for dir in extra.chain(["/usr/sbin", "/sbin"].map(PathBuf::from)) {
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    std::env::join_paths(dirs).unwrap_or_default()
});

/// The workspace root (xtask lives one level below it).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the xtask crate is inside the workspace")
        .to_path_buf()
}

/// A command whose program is looked up in the widened [`SEARCH_PATH`].
pub fn command(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.env("PATH", &*SEARCH_PATH);
    cmd
}

/// Removes the variables that could confuse a nested cargo build.
pub fn scrub_cargo_env(cmd: &mut Command) -> &mut Command {
    for var in CARGO_ENV_TO_SCRUB {
        cmd.env_remove(var);
    }
    cmd
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The command as a user would type it in a shell.
pub fn display(cmd: &Command) -> String {
    let mut words = Vec::new();
    if let Some(dir) = cmd.get_current_dir() {
        let root = workspace_root();
        let shown = dir.strip_prefix(&root).unwrap_or(dir);
        words.push(format!("cd {} &&", quote(shown.as_os_str())));
    }
    for (name, value) in cmd.get_envs() {
        if let Some(value) = value
            && !ENV_NOT_SHOWN.iter().any(|hidden| name == *hidden)
        {
            words.push(format!("{}={}", name.to_string_lossy(), quote(value)));
        }
    }
    // Binaries run by path (target/debug/ebpfnet) are shown by name.
    let program = Path::new(cmd.get_program());
    let program = match program.file_name() {
        Some(name) if program.is_absolute() => name,
        _ => program.as_os_str(),
    };
    words.push(quote(program));
    words.extend(cmd.get_args().map(quote));
    words.join(" ")
}

/// Shell-quotes a word when it needs it.
fn quote(word: &OsStr) -> String {
    let word = word.to_string_lossy();
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.into_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// "exit status 101" or "signal 9".
pub fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("signal {signal}"),
        (None, None) => status.to_string(),
    }
}

fn check(cmd: &Command, status: ExitStatus) -> Result<()> {
    if status.success() {
        Ok(())
    } else {
        bail!("`{}` failed with {}", display(cmd), describe(status))
    }
}

/// Prints `$ cmd`, runs it with the terminal attached, fails unless it succeeds.
pub fn run(cmd: &mut Command) -> Result<()> {
    println!("$ {}", display(cmd));
    let status = cmd
        .status()
        .with_context(|| format!("could not start `{}`", display(cmd)))?;
    check(cmd, status)
}

/// Like [`run`], but also returns what the command printed on stdout.
pub fn run_echo(cmd: &mut Command) -> Result<String> {
    println!("$ {}", display(cmd));
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("could not start `{}`", display(cmd)))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    print!("{stdout}");
    check(cmd, out.status)?;
    Ok(stdout)
}

/// Runs silently and returns stdout; stderr goes into the error.
pub fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("could not start `{}`", display(cmd)))?;
    if !out.status.success() {
        bail!(
            "`{}` failed with {}: {}",
            display(cmd),
            describe(out.status),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether the command runs and exits 0; all its output is discarded.
pub fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_only_what_needs_it() {
        let mut cmd = command("/work/target/debug/ebpfnet");
        cmd.args(["exec", "client", "--", "python3", "-c", "print('hi there')"]);
        assert_eq!(
            display(&cmd),
            r#"ebpfnet exec client -- python3 -c 'print('\''hi there'\'')'"#
        );
    }

    #[test]
    fn display_shows_env_but_not_path() {
        let mut cmd = command("cargo");
        cmd.env("RUSTC_BOOTSTRAP", "1")
            .env_remove("RUSTFLAGS")
            .arg("build");
        assert_eq!(display(&cmd), "RUSTC_BOOTSTRAP=1 cargo build");
    }
}
