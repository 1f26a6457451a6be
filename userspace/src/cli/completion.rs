//! `ebpfnet completion SHELL` and the hidden `ebpfnet man --out-dir DIR`:
//! shell completions and man pages generated from the real [`Cli`]
//! definition, so they can never drift from the parser.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use anyhow::Context as _;
use clap::{Args, CommandFactory as _};
use clap_complete::Shell;

use super::Cli;

/// The program name completions and man pages are written for.
const BIN_NAME: &str = "ebpfnet";

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell to complete for. Load it with, e.g.,
    /// `source <(ebpfnet completion bash)`.
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Directory to write the pages into (`ebpfnet.1`, `ebpfnet-publish.1`,
    /// …, one per command and subcommand); created when missing.
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
}

/// Writes the completion script for `shell` to `out`.
pub fn write_completion(shell: Shell, out: &mut dyn Write) {
    clap_complete::generate(shell, &mut Cli::command(), BIN_NAME, out);
}

pub fn run_completion(args: CompletionArgs) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    write_completion(args.shell, &mut stdout);
    stdout.flush().context("cannot write the completion script")
}

/// Writes one man page per visible command into `dir`, named as git's are
/// (`ebpfnet network create` → ebpfnet-network-create.1), and returns
/// their paths.
pub fn write_man_pages(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut command = Cli::command()
        .bin_name(BIN_NAME)
        .disable_help_subcommand(true);
    // Gives every subcommand its display name (`ebpfnet-network-create`).
    command.build();
    let mut written = Vec::new();
    write_pages(command, dir, &mut written)?;
    Ok(written)
}

fn write_pages(
    command: clap::Command,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> anyhow::Result<()> {
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        write_pages(sub.clone(), dir, written)?;
    }
    // Every page's footer names the package and version, subcommands' too
    // (clap_mangen's default there is the bare subcommand name).
    let page = clap_mangen::Man::new(command)
        .source(format!("{BIN_NAME} {}", env!("CARGO_PKG_VERSION")))
        .manual("ebpfnet manual");
    let path = page
        .generate_to(dir)
        .with_context(|| format!("cannot write a man page into {}", dir.display()))?;
    written.push(path);
    Ok(())
}

pub fn run_man(args: ManArgs) -> anyhow::Result<()> {
    for path in write_man_pages(&args.out_dir)? {
        println!("{}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completion(shell: Shell) -> String {
        let mut script = Vec::new();
        write_completion(shell, &mut script);
        String::from_utf8(script).expect("completion scripts are UTF-8")
    }

    #[test]
    fn every_shell_completes_the_subcommands_and_global_flags() {
        for (shell, socket_flag) in [
            (Shell::Bash, "--socket"),
            (Shell::Zsh, "--socket"),
            (Shell::Fish, "-l socket"),
        ] {
            let script = completion(shell);
            for word in [
                "publish",
                "unpublish",
                "network",
                "container",
                "completion",
                socket_flag,
            ] {
                assert!(script.contains(word), "{shell} completion lacks {word}");
            }
        }
    }

    #[test]
    fn nested_subcommands_and_their_flags_are_completed() {
        let script = completion(Shell::Bash);
        assert!(
            script.contains("ebpfnet__subcmd__network,create)"),
            "no `network create`"
        );
        assert!(script.contains("--subnet"), "no `network create --subnet`");
    }

    #[test]
    fn the_completion_shell_names_parse() {
        use clap::Parser as _;
        let cli = Cli::try_parse_from(["ebpfnet", "completion", "zsh"]).expect("parses");
        assert!(matches!(
            cli.command,
            super::super::Command::Completion(CompletionArgs { shell: Shell::Zsh })
        ));
        assert!(Cli::try_parse_from(["ebpfnet", "completion", "tcsh"]).is_err());
    }

    #[test]
    fn one_man_page_per_visible_command_with_a_th_header() {
        let dir = std::env::temp_dir().join(format!("ebpfnet-man-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let result = write_man_pages(&dir);
        let listing = std::fs::read_dir(&dir).map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        });
        let main_page = std::fs::read_to_string(dir.join("ebpfnet.1"));
        let create_page = std::fs::read_to_string(dir.join("ebpfnet-network-create.1"));
        let _ = std::fs::remove_dir_all(&dir);

        let written = result.expect("man pages written");
        let listing = listing.expect("dir listed");
        assert_eq!(written.len(), listing.len());
        for page in ["ebpfnet.1", "ebpfnet-publish.1", "ebpfnet-system-reset.1"] {
            assert!(
                listing.iter().any(|f| f == page),
                "no {page} in {listing:?}"
            );
        }
        assert!(
            !listing
                .iter()
                .any(|f| f.contains("help") || f == "ebpfnet-man.1")
        );
        let version = env!("CARGO_PKG_VERSION");
        let main_page = main_page.expect("ebpfnet.1 readable");
        let header = format!(".TH ebpfnet 1  \"ebpfnet {version}\" \"ebpfnet manual\"");
        assert!(main_page.contains(&header), "{main_page}");
        assert!(main_page.contains(r"ebpfnet\-publish(1)"), "{main_page}");
        let create_page = create_page.expect("ebpfnet-network-create.1 readable");
        let header = format!(".TH ebpfnet-network-create 1  \"ebpfnet {version}\"");
        assert!(create_page.contains(&header), "{create_page}");
        assert!(create_page.contains("subnet"));
    }
}
