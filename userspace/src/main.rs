use std::process::ExitCode;

use clap::Parser as _;
use ebpfnet::{
    cli::{self, Cli},
    logging::{self, LogFormat},
};
use nix::sys::signal::{SigHandler, Signal, signal};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            // One line that names what was wrong, like every other error;
            // exit status 2, as clap (and getopt tools) give usage errors.
            let rendered = e.render().to_string();
            let message: Vec<&str> = rendered
                .lines()
                .take_while(|line| !line.trim().is_empty())
                .map(str::trim)
                .collect();
            eprintln!("Error: {}", message.join(" ").trim_start_matches("error: "));
            return ExitCode::from(USAGE_ERROR);
        }
    };
    // `exec` keeps 1-124 and 126-127 for the command: its own errors are
    // 125, as `docker exec`/`docker run` give theirs.
    let failure = if matches!(cli.command, cli::Command::Exec(_)) {
        ExitCode::from(EXEC_ERROR)
    } else {
        ExitCode::FAILURE
    };
    if !matches!(cli.command, cli::Command::Daemon(_)) {
        // The daemon sets up its logs once its config file is read.
        if let Err(e) = logging::init(LogFormat::Text) {
            eprintln!("Error: {e}");
            return failure;
        }
        // A CLI piped into `head` should end quietly, as other tools do. The
        // daemon keeps ignoring SIGPIPE: a client hanging up must not kill it.
        // SAFETY: no other thread exists yet, and SIG_DFL is a valid handler.
        let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return failure;
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("Error: {}", error_chain(&e));
            failure
        }
    }
}

/// A command line clap refuses.
const USAGE_ERROR: u8 = 2;
/// ebpfnet's own failure in `exec` (not the command's).
const EXEC_ERROR: u8 = 125;

/// The error and its causes on one line, each said once: library errors
/// often already quote their source in their own message.
fn error_chain(error: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    message
}
