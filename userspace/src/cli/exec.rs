//! `ebpfnet exec NAME -- CMD [ARGS...]`.

use std::{
    ffi::CString,
    path::{Path, PathBuf},
};

use anyhow::{Context as _, bail};
use clap::Args;
use nix::sched::{CloneFlags, setns};

use crate::{
    api::request::ContainerInspect,
    client::Client,
    host::{etc, netns},
};

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The container.
    pub name: String,
    /// The command and its arguments (after `--`).
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// Enters the container's network namespace and replaces this process with
/// the command, so stdio and the exit status are the command's own. Like
/// `ip netns exec`, the command gets a mount namespace of its own where
/// /sys describes the container's network namespace and the container's
/// files (/etc/netns/NAME: hosts, resolv.conf) are bind-mounted over
/// /etc's. In network mode host it runs as it is, in the host's.
pub async fn run(args: ExecArgs, client: &Client) -> anyhow::Result<i32> {
    let views = client
        .call(ContainerInspect {
            names: vec![args.name.clone()],
        })
        .await
        .with_context(|| format!("cannot exec in container {}", args.name))?;
    let view = views
        .first()
        .with_context(|| format!("the daemon sent nothing about container {}", args.name))?;
    let host_mode = view.host_config.network_mode == "host";
    let sandbox = PathBuf::from(&view.network_settings.sandbox_key);
    let files = Some(view.hosts_path.as_str())
        .filter(|p| !p.is_empty())
        .and_then(|p| Path::new(p).parent().map(Path::to_path_buf));
    let argv: Vec<CString> = args
        .command
        .iter()
        .map(|a| CString::new(a.as_str()))
        .collect::<Result<_, _>>()
        .context("a command argument contains a NUL byte")?;
    if !host_mode {
        if sandbox.as_os_str().is_empty() {
            bail!("the daemon gave no namespace for container {}", args.name);
        }
        let ns = netns::open_netns(&sandbox)?;
        // setns and unshare act on this thread only; execvp right after
        // replaces the whole process from this thread, namespaces included.
        setns(&ns, CloneFlags::CLONE_NEWNET)
            .with_context(|| format!("cannot enter namespace {}", sandbox.display()))?;
        if let Some(dir) = files {
            etc::enter_files(&dir)
                .with_context(|| format!("cannot show {} to the command", dir.display()))?;
        }
    }
    let Err(err) = nix::unistd::execvp(&argv[0], &argv);
    // Shell conventions: 127 for a missing command, 126 for one that cannot run.
    let code = if err == nix::errno::Errno::ENOENT {
        127
    } else {
        126
    };
    eprintln!("Error: cannot run {}: {err}", args.command[0]);
    Ok(code)
}
