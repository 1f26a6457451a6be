//! `cargo xtask fuzz`: build the coverage-guided fuzz targets in `fuzz/`
//! with cargo-fuzz (libFuzzer), run each for a bounded time from its seed
//! corpus, fail on any crash, and print how many inputs each one ran.

use anyhow::{Context, Result, bail};

use crate::cmd::{command, describe, display, output, run, scrub_cargo_env, workspace_root};
use crate::setup::cargo_fuzz_installed;

/// A run that hangs on one input this long (seconds) counts as a failure.
const INPUT_TIMEOUT_SECS: u64 = 10;

pub fn fuzz(seconds: u64, only: &[String]) -> Result<()> {
    if !cargo_fuzz_installed() {
        bail!("cargo-fuzz is not installed; run `cargo xtask setup` first");
    }
    let dir = workspace_root().join("fuzz");
    let cargo_fuzz = |args: &[&str]| {
        let mut cmd = command("cargo");
        scrub_cargo_env(&mut cmd)
            .current_dir(&dir)
            .arg("fuzz")
            .args(args);
        cmd
    };
    // `-s none`: coverage instrumentation only, which stable rustc does;
    // the targets' own assertions are the oracle. `--dev` keeps debug
    // assertions and overflow checks on and builds much faster from scratch.
    const BUILD_FLAGS: [&str; 3] = ["-s", "none", "--dev"];
    run(&mut cargo_fuzz(&[&["build"][..], &BUILD_FLAGS].concat()))?;

    let listed = output(&mut cargo_fuzz(&["list"]))?;
    let targets: Vec<&str> = listed
        .lines()
        .map(str::trim)
        .filter(|name| !name.is_empty() && (only.is_empty() || only.iter().any(|o| o == name)))
        .collect();
    if targets.is_empty() {
        bail!("no fuzz target matches {only:?}; `cargo fuzz list` in fuzz/ names them");
    }

    let max_time = format!("-max_total_time={seconds}");
    let timeout = format!("-timeout={INPUT_TIMEOUT_SECS}");
    let mut summary = Vec::new();
    for target in targets {
        // New inputs go to the (ignored) corpus dir; the seeds stay as committed.
        let corpus = format!("corpus/{target}");
        let seeds = format!("seeds/{target}");
        std::fs::create_dir_all(dir.join(&corpus))
            .with_context(|| format!("cannot create fuzz/{corpus}"))?;
        let mut args = vec!["run"];
        args.extend(BUILD_FLAGS);
        args.extend([target, &corpus]);
        if dir.join(&seeds).is_dir() {
            args.push(&seeds);
        }
        args.extend(["--", &max_time, &timeout, "-print_final_stats=1"]);
        // Tokens libFuzzer splices in: JSON keys, non-ASCII text.
        let dict = format!("dicts/{target}.dict");
        let dict_arg = format!("-dict={dict}");
        if dir.join(&dict).is_file() {
            args.push(&dict_arg);
        }
        let mut cmd = cargo_fuzz(&args);
        println!("$ {}", display(&cmd));
        let out = cmd
            .output()
            .with_context(|| format!("could not start `{}`", display(&cmd)))?;
        let log = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            eprintln!("{}", crash_report(&log));
            bail!(
                "fuzz target {target} failed ({}); the input that failed is under \
                 fuzz/artifacts/{target}/; rerun it with `cd fuzz && cargo fuzz run {} {target} \
                 artifacts/{target}/<file>`",
                describe(out.status),
                BUILD_FLAGS.join(" ")
            );
        }
        let executions = executions(&log)
            .with_context(|| format!("libFuzzer printed no execution count for {target}"))?;
        println!("fuzz: {target}: {executions} executions in {seconds} s, no crash");
        summary.push((target, executions));
    }
    println!("fuzz summary ({seconds} s per target):");
    for (target, executions) in summary {
        println!("  {target:<16} {executions:>12} executions");
    }
    Ok(())
}

/// The part of a failed run's log worth reading: from the panic message
/// (backtrace, libFuzzer's summary, the input and how to rerun it follow),
/// or the last lines when nothing panicked (a timeout, out of memory).
fn crash_report(log: &str) -> String {
    const MAX_LINES: usize = 150;
    let lines: Vec<&str> = log.lines().collect();
    let start = lines
        .iter()
        .position(|line| line.contains("panicked at"))
        .unwrap_or(lines.len().saturating_sub(60));
    let end = lines.len().min(start + MAX_LINES);
    lines[start..end].join("\n")
}

/// The number of inputs a libFuzzer run executed, from its final stats
/// (`stat::number_of_executed_units: N`) or its `Done N runs` line.
fn executions(log: &str) -> Option<u64> {
    log.lines().find_map(|line| {
        if let Some(count) = line.strip_prefix("stat::number_of_executed_units:") {
            return count.trim().parse().ok();
        }
        line.strip_prefix("Done ")
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|count| count.parse().ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executions_come_from_the_final_stats() {
        let log = "#2\tINITED cov: 10\n#8192\tpulse\n\
                   Done 3607825 runs in 21 second(s)\n\
                   stat::number_of_executed_units: 3607825\nstat::peak_rss_mb: 40\n";
        assert_eq!(executions(log), Some(3_607_825));
        assert_eq!(executions("Done 12 runs in 1 second(s)\n"), Some(12));
        assert_eq!(
            executions("INFO: Seed: 1\n==1== ERROR: libFuzzer: deadly signal\n"),
            None
        );
    }

    #[test]
    fn a_crash_report_starts_at_the_panic() {
        let log = "#1 INITED\n#2 NEW\nthread '<unnamed>' panicked at src/x.rs:1:1:\nboom\n\
                   SUMMARY: libFuzzer: deadly signal\n";
        let report = crash_report(log);
        assert!(
            report.starts_with("thread '<unnamed>' panicked"),
            "{report}"
        );
        assert!(report.ends_with("deadly signal"), "{report}");
        assert_eq!(crash_report("a\nb"), "a\nb");
    }
}
