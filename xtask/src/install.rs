//! `cargo xtask install [--prefix PREFIX] [--destdir DIR]`: a release build
//! with its eBPF object (the build fails without one), installed with its
//! systemd unit, shell completions and man pages where the usual tools find
//! them under the prefix, and the CNI plugin as `PREFIX/lib/cni/ebpfnet`
//! (a runtime finds it once that directory is in its plugin path, or a
//! link to it is in `/opt/cni/bin`). Idempotent: files already right are left alone,
//! man pages of commands that no longer exist are removed.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::build::{build, cni_plugin_beside, ebpfnet_binary};
use crate::cmd::{command, output, workspace_root};

/// The unit, with `@BINDIR@` standing for the installed bin directory.
const UNIT_TEMPLATE: &str = include_str!("../../packaging/ebpfnet.service.in");
const BINDIR_PLACEHOLDER: &str = "@BINDIR@";

#[derive(Debug, Args)]
pub struct Options {
    /// Where the files will live on the target system.
    #[arg(long, default_value = "/usr/local")]
    pub prefix: PathBuf,
    /// Staging directory put in front of every installed path (for packages
    /// and tests); the files still refer to PREFIX.
    #[arg(long, env = "DESTDIR", value_name = "DIR")]
    pub destdir: Option<PathBuf>,
    /// Install this already built `ebpfnet` instead of building a release
    /// one (it must embed its eBPF object, as `cargo xtask build` makes);
    /// the `ebpfnet-cni` beside it is installed with it.
    #[arg(long, value_name = "PATH")]
    pub binary: Option<PathBuf>,
}

/// Where each installed file goes, relative to the prefix.
#[derive(Debug, PartialEq, Eq)]
pub struct Layout {
    pub binary: PathBuf,
    pub unit: PathBuf,
    pub bash_completion: PathBuf,
    pub zsh_completion: PathBuf,
    pub fish_completion: PathBuf,
    pub man1: PathBuf,
    /// The CNI plugin, named as its `type` in network configurations.
    pub cni_plugin: PathBuf,
}

impl Layout {
    /// `root` is DESTDIR + PREFIX, where files are written.
    pub fn under(root: &Path) -> Self {
        Self {
            binary: root.join("bin/ebpfnet"),
            // systemd reads /usr/lib/systemd/system and /usr/local/lib/systemd/system.
            unit: root.join("lib/systemd/system/ebpfnet.service"),
            bash_completion: root.join("share/bash-completion/completions/ebpfnet"),
            zsh_completion: root.join("share/zsh/site-functions/_ebpfnet"),
            fish_completion: root.join("share/fish/vendor_completions.d/ebpfnet.fish"),
            man1: root.join("share/man/man1"),
            cni_plugin: root.join("lib/cni/ebpfnet"),
        }
    }
}

/// DESTDIR + PREFIX; PREFIX must be absolute, as the unit refers to it.
pub fn install_root(prefix: &Path, destdir: Option<&Path>) -> Result<PathBuf> {
    if !prefix.is_absolute() {
        bail!(
            "--prefix must be an absolute path, not {}",
            prefix.display()
        );
    }
    Ok(match destdir {
        Some(destdir) => destdir.join(prefix.strip_prefix("/").unwrap_or(prefix)),
        None => prefix.to_path_buf(),
    })
}

/// The unit with its ExecStart pointing at PREFIX/bin/ebpfnet.
pub fn render_unit(prefix: &Path) -> Result<String> {
    let bindir = prefix.join("bin");
    let bindir = bindir.to_str().context("the prefix must be valid UTF-8")?;
    if bindir
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | '%' | '$'))
    {
        bail!("the prefix {bindir} has characters a systemd ExecStart would misread");
    }
    Ok(UNIT_TEMPLATE.replace(BINDIR_PLACEHOLDER, bindir))
}

pub fn install(options: &Options) -> Result<()> {
    let root = install_root(&options.prefix, options.destdir.as_deref())?;
    let unit = render_unit(&options.prefix)?;
    let binary = match &options.binary {
        Some(binary) => binary.clone(),
        None => {
            // A release build sets EBPFNET_REQUIRE_OBJECT=1: no object, no build.
            build(true)?;
            ebpfnet_binary(true)
        }
    };
    let layout = Layout::under(&root);
    let bytes = fs::read(&binary).with_context(|| format!("reading {}", binary.display()))?;
    install_bytes(&layout.binary, &bytes, 0o755)?;
    let plugin = cni_plugin_beside(&binary);
    let plugin_bytes = fs::read(&plugin).with_context(|| {
        format!(
            "reading the CNI plugin {} (`cargo xtask build` builds it beside ebpfnet)",
            plugin.display()
        )
    })?;
    install_bytes(&layout.cni_plugin, &plugin_bytes, 0o755)?;
    install_bytes(&layout.unit, unit.as_bytes(), 0o644)?;
    for (shell, path) in [
        ("bash", &layout.bash_completion),
        ("zsh", &layout.zsh_completion),
        ("fish", &layout.fish_completion),
    ] {
        let script = output(command(&binary).args(["completion", shell]))?;
        install_bytes(path, script.as_bytes(), 0o644)?;
    }
    install_man_pages(&binary, &layout.man1)?;
    println!("installed ebpfnet under {}", root.display());
    println!(
        "CNI runtimes look for plugins in /opt/cni/bin (containerd, kubelet) or their \
         cni_plugin_dirs (Podman): add {} there, or link it: ln -s {} /opt/cni/bin/ebpfnet",
        options.prefix.join("lib/cni").display(),
        options.prefix.join("lib/cni/ebpfnet").display()
    );
    // systemd looks for units only under /usr and /usr/local (and /etc).
    if options.destdir.is_none()
        && ["/usr", "/usr/local"]
            .map(Path::new)
            .contains(&options.prefix.as_path())
    {
        println!("start it with: systemctl daemon-reload && systemctl enable --now ebpfnet");
    }
    Ok(())
}

/// Renders the pages with the binary itself into a scratch dir, installs
/// them, and removes `ebpfnet*.1` pages of commands that no longer exist.
fn install_man_pages(binary: &Path, man1: &Path) -> Result<()> {
    let scratch = workspace_root().join(format!("target/xtask-man-{}", std::process::id()));
    let _ = fs::remove_dir_all(&scratch);
    let rendered = output(command(binary).arg("man").arg("--out-dir").arg(&scratch))
        .and_then(|_listing| copy_pages(&scratch, man1));
    let _ = fs::remove_dir_all(&scratch);
    let pages = rendered?;
    let installed = fs::read_dir(man1).with_context(|| format!("listing {}", man1.display()))?;
    for entry in installed {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if is_our_page(&name) && !pages.contains(&name) {
            let stale = man1.join(&name);
            fs::remove_file(&stale).with_context(|| format!("removing {}", stale.display()))?;
        }
    }
    Ok(())
}

/// Copies every page from `from` into `man1`; returns their file names.
fn copy_pages(from: &Path, man1: &Path) -> Result<Vec<String>> {
    let mut pages = Vec::new();
    for entry in fs::read_dir(from).with_context(|| format!("listing {}", from.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let bytes = fs::read(entry.path())?;
        install_bytes(&man1.join(&name), &bytes, 0o644)?;
        pages.push(name);
    }
    if pages.is_empty() {
        bail!("`ebpfnet man` wrote no page into {}", from.display());
    }
    Ok(pages)
}

fn is_our_page(name: &str) -> bool {
    name == "ebpfnet.1" || (name.starts_with("ebpfnet-") && name.ends_with(".1"))
}

/// Writes `bytes` to `path` with `mode` unless it already holds exactly
/// that. Writes a sibling then renames, so a running `ebpfnet` binary is
/// replaced rather than overwritten ("text file busy").
fn install_bytes(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let up_to_date = fs::read(path).is_ok_and(|old| old == bytes)
        && fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o7777 == mode);
    if up_to_date {
        return Ok(());
    }
    let dir = path.parent().context("an install path has a parent")?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    fs::write(&partial, bytes).with_context(|| format!("writing {}", partial.display()))?;
    fs::set_permissions(&partial, fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting the mode of {}", partial.display()))?;
    fs::rename(&partial, path).with_context(|| format!("installing {}", path.display()))?;
    println!("installed {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destdir_is_put_in_front_of_the_prefix() {
        let root = install_root(Path::new("/usr"), Some(Path::new("/tmp/stage"))).unwrap();
        assert_eq!(root, Path::new("/tmp/stage/usr"));
        assert_eq!(
            install_root(Path::new("/opt/e"), None).unwrap(),
            Path::new("/opt/e")
        );
        assert!(install_root(Path::new("usr/local"), None).is_err());
    }

    #[test]
    fn files_go_where_their_tools_look() {
        let layout = Layout::under(Path::new("/usr/local"));
        assert_eq!(layout.binary, Path::new("/usr/local/bin/ebpfnet"));
        assert_eq!(
            layout.unit,
            Path::new("/usr/local/lib/systemd/system/ebpfnet.service")
        );
        assert_eq!(
            layout.bash_completion,
            Path::new("/usr/local/share/bash-completion/completions/ebpfnet")
        );
        assert_eq!(
            layout.zsh_completion,
            Path::new("/usr/local/share/zsh/site-functions/_ebpfnet")
        );
        assert_eq!(
            layout.fish_completion,
            Path::new("/usr/local/share/fish/vendor_completions.d/ebpfnet.fish")
        );
        assert_eq!(layout.man1, Path::new("/usr/local/share/man/man1"));
        assert_eq!(layout.cni_plugin, Path::new("/usr/local/lib/cni/ebpfnet"));
    }

    #[test]
    fn the_unit_starts_the_prefix_binary_and_never_tears_down_on_stop() {
        let unit = render_unit(Path::new("/opt/ebpfnet")).unwrap();
        assert!(
            unit.contains("\nExecStart=/opt/ebpfnet/bin/ebpfnet daemon\n"),
            "{unit}"
        );
        assert!(!unit.contains('@'), "a placeholder is left: {unit}");
        assert!(unit.contains("\nType=notify\n"));
        assert!(
            !unit.lines().any(|line| line.starts_with("ExecStop")),
            "{unit}"
        );
        assert!(render_unit(Path::new("/opt/my prefix")).is_err());
    }

    #[test]
    fn only_ebpfnet_pages_count_as_ours() {
        assert!(is_our_page("ebpfnet.1"));
        assert!(is_our_page("ebpfnet-network-create.1"));
        assert!(!is_our_page("ebpfnetfoo.1"));
        assert!(!is_our_page("ip.8"));
        assert!(!is_our_page("ebpfnet-publish.1.partial"));
    }
}
