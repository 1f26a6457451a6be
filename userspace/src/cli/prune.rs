//! `ebpfnet network prune [-f]`, as `docker network prune`.

use std::io::{BufRead as _, Write as _};

use anyhow::{Context as _, bail};
use clap::Args;

use crate::{api::request::NetworkPrune, client::Client};

/// Docker's prompt, word for word.
const WARNING: &str =
    "WARNING! This will remove all custom networks not used by at least one container.
Are you sure you want to continue? [y/N] ";

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    pub force: bool,
}

/// Whether an answer to the prompt is a yes (`y` or `Y`, spaces aside).
fn confirmed(answer: &str) -> bool {
    answer.trim().eq_ignore_ascii_case("y")
}

/// What `docker network prune` prints for the removed networks: nothing
/// when none was, else `Deleted Networks:`, a name a line, and an empty line.
pub fn report(deleted: &[String]) -> String {
    if deleted.is_empty() {
        return String::new();
    }
    let mut out = String::from("Deleted Networks:\n");
    for name in deleted {
        out.push_str(name);
        out.push('\n');
    }
    out.push('\n');
    out
}

pub async fn run(args: PruneArgs, client: &Client) -> anyhow::Result<i32> {
    if !args.force {
        let mut stdout = std::io::stdout();
        stdout
            .write_all(WARNING.as_bytes())
            .and_then(|()| stdout.flush())
            .context("cannot ask for confirmation")?;
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .context("cannot read the answer")?;
        if !confirmed(&answer) {
            bail!("network prune has been cancelled");
        }
    }
    let result = client.call(NetworkPrune).await?;
    print!("{}", report(&result.done));
    for error in &result.errors {
        eprintln!("Error: {error}");
    }
    Ok(i32::from(!result.errors.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_as_docker() {
        assert_eq!(report(&[]), "");
        assert_eq!(
            report(&["back".into(), "front".into()]),
            "Deleted Networks:\nback\nfront\n\n"
        );
    }

    #[test]
    fn only_y_confirms() {
        assert!(confirmed("y\n") && confirmed(" Y "));
        assert!(!confirmed("") && !confirmed("yes\n") && !confirmed("n"));
    }
}
