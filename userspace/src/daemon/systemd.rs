//! Readiness for systemd (`Type=notify`): `READY=1` once the CLI socket is
//! listening and the datapath is attached, `STOPPING=1` when a stop begins.
//! Outside systemd (`$NOTIFY_SOCKET` unset) these do nothing.

use sd_notify::NotifyState;

pub fn ready(socket: &std::path::Path) {
    let status = format!("listening on {}", socket.display());
    send(&[NotifyState::Ready, NotifyState::Status(&status)]);
}

pub fn stopping() {
    send(&[NotifyState::Stopping]);
}

/// A lost notification must not stop the daemon: systemd then times the
/// start out by itself, which says more than an error here would.
fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        log::warn!("cannot notify the service manager through $NOTIFY_SOCKET: {e}");
    }
}
