//! systemd readiness: with `$NOTIFY_SOCKET` set, the daemon sends `READY=1`
//! only once its CLI socket answers and the datapath is attached, and
//! `STOPPING=1` when SIGTERM arrives. A test-owned datagram socket stands in
//! for systemd (CI has no systemd as PID 1).

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ebpfnet_tests::*;

const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// The service manager's end of `$NOTIFY_SOCKET`; removes its file on drop.
struct NotifyListener {
    socket: UnixDatagram,
    path: PathBuf,
    /// Every datagram received so far, in order.
    received: Vec<String>,
}

impl NotifyListener {
    fn bind(path: PathBuf) -> Self {
        let _ = std::fs::remove_file(&path);
        let socket = UnixDatagram::bind(&path)
            .unwrap_or_else(|e| panic!("cannot bind {}: {e}", path.display()));
        Self {
            socket,
            path,
            received: Vec::new(),
        }
    }

    /// Reads datagrams until one carries the line `line` or `timeout` passes.
    fn wait_for(&mut self, line: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut buffer = [0u8; 4096];
        loop {
            if self.has(line) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            self.socket
                .set_read_timeout(Some(left))
                .expect("set a read timeout");
            match self.socket.recv(&mut buffer) {
                Ok(n) => self
                    .received
                    .push(String::from_utf8_lossy(&buffer[..n]).into_owned()),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return false;
                }
                Err(e) => panic!("reading {}: {e}", self.path.display()),
            }
        }
    }

    /// Takes what has already arrived, without waiting.
    fn drain(&mut self) {
        self.socket.set_nonblocking(true).expect("non-blocking");
        let mut buffer = [0u8; 4096];
        while let Ok(n) = self.socket.recv(&mut buffer) {
            self.received
                .push(String::from_utf8_lossy(&buffer[..n]).into_owned());
        }
        self.socket.set_nonblocking(false).expect("blocking again");
    }

    fn has(&self, line: &str) -> bool {
        self.received
            .iter()
            .any(|message| message.lines().any(|l| l == line))
    }
}

impl Drop for NotifyListener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[test]
fn daemon_notifies_ready_when_it_answers_and_stopping_on_sigterm() {
    let mut env = TestEnv::without_daemon("ntfy");
    let mut notify = NotifyListener::bind(env.dir.join("notify.sock"));
    env.spawn_daemon(&[("NOTIFY_SOCKET", notify.path.as_os_str())]);

    assert!(
        notify.wait_for("READY=1", READY_TIMEOUT),
        "no READY=1 within {READY_TIMEOUT:?}; got {:?}\n--- daemon log ---\n{}",
        notify.received,
        env.daemon_log()
    );
    // At the moment READY=1 arrives the CLI must answer at once (no retry)
    // and the uplink program must already be attached.
    let status = env.json(&["status"]);
    let programs = status["Programs"].as_array().cloned().unwrap_or_default();
    assert!(
        programs
            .iter()
            .any(|p| p["Interface"] == env.uplink.as_str()),
        "READY=1 before the uplink program was attached: {status:#}"
    );
    notify.drain();
    assert!(
        !notify.has("STOPPING=1"),
        "STOPPING=1 before any stop: {:?}",
        notify.received
    );

    let exit = env.stop_daemon();
    assert!(exit.success(), "daemon exit on SIGTERM: {exit}");
    assert!(
        notify.wait_for("STOPPING=1", Duration::from_secs(5)),
        "no STOPPING=1 after SIGTERM; got {:?}",
        notify.received
    );
    let ready_at = notify.received.iter().position(|m| m.contains("READY=1"));
    let stopping_at = notify
        .received
        .iter()
        .position(|m| m.contains("STOPPING=1"));
    assert!(ready_at < stopping_at, "order: {:?}", notify.received);
}
