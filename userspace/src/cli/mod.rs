//! The `ebpfnet` command line: one file per subcommand.

mod completion;
mod container;
mod daemon;
mod display;
mod exec;
mod flows;
mod listing;
mod network;
mod output;
mod port;
mod prune;
mod publish;
mod remote;
mod stats;
mod status;
mod system;
mod template;
mod unpublish;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
pub use output::{Format, FormatArg};

use crate::api::{BatchResult, DEFAULT_SOCKET};

#[derive(Debug, Parser)]
#[command(
    name = "ebpfnet",
    version,
    about = "Docker-style container networking with an eBPF datapath"
)]
pub struct Cli {
    /// The daemon's Unix socket.
    #[arg(long, global = true, env = "EBPFNET_SOCKET", default_value = DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Output format: table, json, or (ls) a Go template as Docker's.
    #[arg(
        long,
        global = true,
        default_value = "table",
        value_name = "table|json|TEMPLATE"
    )]
    pub format: FormatArg,
    #[command(flatten)]
    pub remote: remote::RemoteArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the controller daemon in the foreground (as root).
    Daemon(daemon::DaemonArgs),
    /// Manage networks.
    #[command(subcommand)]
    Network(network::NetworkCommand),
    /// Manage containers (network namespaces).
    #[command(subcommand)]
    Container(container::ContainerCommand),
    /// Run a command inside a container's network namespace.
    Exec(exec::ExecArgs),
    /// Publish ports of a container (like `docker run -p`); prints the mappings.
    Publish(publish::PublishArgs),
    /// Remove published ports of a container; prints the removed mappings.
    Unpublish(unpublish::UnpublishArgs),
    /// List a container's published ports, as `docker port`.
    Port(port::PortArgs),
    /// Show the NAT flows the datapath tracks.
    Flows,
    /// Show packet counters: per program, per published port, per drop reason.
    Stats,
    /// Show the daemon, its uplinks, attached programs and maps.
    Status,
    /// System-wide operations.
    #[command(subcommand)]
    System(system::SystemCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completion(completion::CompletionArgs),
    /// Write the man pages, one per command (used by `cargo xtask install`).
    #[command(hide = true)]
    Man(completion::ManArgs),
}

/// Runs the command; `Ok(code)` is the process exit status.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    // Made only for the commands that talk to a daemon: `-H tcp://…`
    // means something else to `ebpfnet daemon` (where to listen).
    let client = || cli.remote.client(&cli.socket);
    let format = &cli.format;
    match cli.command {
        Command::Daemon(args) => {
            let remote = cli.remote.listen()?;
            daemon::run(args, cli.socket.clone(), remote)
                .await
                .map(|()| 0)
        }
        Command::Network(command) => network::run(command, &client()?, format).await,
        Command::Container(command) => container::run(command, &client()?, format).await,
        Command::Exec(args) => exec::run(args, &client()?).await,
        Command::Publish(args) => publish::run(args, &client()?, format.plain()?)
            .await
            .map(|()| 0),
        Command::Unpublish(args) => unpublish::run(args, &client()?, format.plain()?)
            .await
            .map(|()| 0),
        Command::Port(args) => port::run(args, &client()?, format.plain()?).await,
        Command::Flows => flows::run(&client()?, format.plain()?).await.map(|()| 0),
        Command::Stats => stats::run(&client()?, format.plain()?).await.map(|()| 0),
        Command::Status => status::run(&client()?, format.plain()?).await.map(|()| 0),
        Command::System(command) => system::run(command, &client()?).await.map(|()| 0),
        Command::Completion(args) => completion::run_completion(args).map(|()| 0),
        Command::Man(args) => completion::run_man(args).map(|()| 0),
    }
}

/// The names `rm` and `inspect` take: one at least.
#[derive(Debug, clap::Args)]
pub struct NamesArgs {
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// Prints what a multi-name command did and failed to do; exit 1 on any failure.
fn report_batch(result: BatchResult) -> i32 {
    for name in &result.done {
        println!("{name}");
    }
    for error in &result.errors {
        eprintln!("Error: {error}");
    }
    i32::from(!result.errors.is_empty())
}
