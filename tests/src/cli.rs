//! Running commands with a deadline, so a hung CLI or client never hangs the
//! test run.

use std::io::{Read, Write};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Convenience accessors on [`Output`].
pub trait CmdOutput {
    fn stdout_str(&self) -> String;
    fn stderr_str(&self) -> String;
    /// Exit code, `None` when killed by a signal.
    fn code(&self) -> Option<i32>;
}

impl CmdOutput for Output {
    fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
    fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

fn reader<R: Read + Send + 'static>(mut r: R) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
}

/// Runs `cmd` with `stdin` (or /dev/null) and captured stdout/stderr. Kills it
/// and returns `Err` when it does not finish within `timeout`.
pub fn run_timeout(
    cmd: &mut Command,
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> Result<Output, String> {
    let desc = format!("{cmd:?}");
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("cannot run {desc}: {e}"))?;
    if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
        let data = data.to_vec();
        thread::spawn(move || {
            let _ = pipe.write_all(&data);
        });
    }
    let out_rx = reader(child.stdout.take().expect("stdout piped"));
    let err_rx = reader(child.stderr.take().expect("stderr piped"));
    let deadline = Instant::now() + timeout;
    let status: ExitStatus = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                let stderr = err_rx
                    .recv_timeout(Duration::from_millis(200))
                    .unwrap_or_default();
                return Err(format!(
                    "timed out after {timeout:?}: {desc}\nstderr: {}",
                    String::from_utf8_lossy(&stderr)
                ));
            }
            Err(e) => return Err(format!("waiting for {desc}: {e}")),
        }
    };
    // A grandchild may keep a pipe open: do not wait for it past the deadline.
    let rest = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(500));
    let stdout = out_rx.recv_timeout(rest).unwrap_or_default();
    let stderr = err_rx
        .recv_timeout(Duration::from_millis(500))
        .unwrap_or_default();
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

/// Like [`run_timeout`], panicking on spawn failure or timeout.
pub fn run(cmd: &mut Command, stdin: Option<&[u8]>, timeout: Duration) -> Output {
    run_timeout(cmd, stdin, timeout).unwrap_or_else(|e| panic!("{e}"))
}

/// Human-readable summary of a finished command, for assertion messages.
/// The stdout of `out`, which must have succeeded (else a panic that
/// describes `what` and its output).
#[track_caller]
pub fn success_stdout(what: &str, out: &Output) -> String {
    assert!(out.status.success(), "{}", describe(what, out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn describe(what: &str, out: &Output) -> String {
    format!(
        "{what}\n  status: {}\n  stdout: {}\n  stderr: {}",
        out.status,
        out.stdout_str().trim_end(),
        out.stderr_str().trim_end()
    )
}

/// SIGKILL to `child` (when it still runs), then waits for it.
pub fn kill_and_reap(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Gives `child` up to `timeout` to exit on its own, then
/// [`kill_and_reap`]s it.
pub fn reap_within(mut child: Child, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    kill_and_reap(child);
}

/// The last `n` lines of `text`.
pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
