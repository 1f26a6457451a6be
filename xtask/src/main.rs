//! Developer tasks for ebpfnet, run as `cargo xtask <command>`.

mod bench;
mod build;
mod build_ebpf;
mod cmd;
mod demo;
mod demo_env;
mod fuzz;
mod install;
mod interrupt;
mod lint;
mod process;
mod setup;
mod test;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Developer tasks for ebpfnet"
)]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Install the build and test dependencies (as root; idempotent)
    Setup,
    /// Build the eBPF programs into target/ebpf/ebpfnet.bpf.o
    BuildEbpf,
    /// Build the eBPF programs and the `ebpfnet` binary
    Build {
        #[arg(long)]
        release: bool,
    },
    /// Check formatting (rustfmt) and lints (clippy, warnings as errors)
    /// of the workspace and the eBPF crate
    Lint,
    /// Run the unit and end-to-end tests (as root)
    Test {
        /// Passed to the end-to-end test binary, e.g. a test name filter
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        e2e_args: Vec<String>,
    },
    /// Show ebpfnet end to end in an isolated setup, then remove it (as root)
    Demo,
    /// Install a release build with its systemd unit, completions and man pages
    Install(install::Options),
    /// Benchmark ebpfnet against a direct veth, iptables and nft (as root)
    Bench(bench::Options),
    /// Build the fuzz targets (fuzz/) and run each for a bounded time
    Fuzz {
        /// How long each target runs
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        /// Only these targets (default: all of them)
        targets: Vec<String>,
    },
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Task::Setup => setup::setup(),
        Task::BuildEbpf => build_ebpf::build_ebpf(),
        Task::Build { release } => build::build(release),
        Task::Lint => lint::lint(),
        Task::Test { e2e_args } => test::test(&e2e_args),
        Task::Demo => demo::demo(),
        Task::Install(options) => install::install(&options),
        Task::Bench(options) => bench::bench(&options),
        Task::Fuzz { seconds, targets } => fuzz::fuzz(seconds, &targets),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // `{:#}` prints the context chain on one line, no backtrace.
            eprintln!("Error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e2e_args(argv: &[&str]) -> Vec<String> {
        match Cli::try_parse_from(argv).map(|cli| cli.command) {
            Ok(Task::Test { e2e_args }) => e2e_args,
            _ => panic!("{argv:?} is not a test command"),
        }
    }

    #[test]
    fn test_passes_arguments_after_the_separator() {
        let argv = ["xtask", "test", "--", "publish", "--nocapture"];
        assert_eq!(e2e_args(&argv), ["publish", "--nocapture"]);
        assert_eq!(e2e_args(&["xtask", "test", "publish"]), ["publish"]);
        assert!(e2e_args(&["xtask", "test"]).is_empty());
    }
}
