//! The relay for this host's own IPv4 clients of IPv6-only containers.
//!
//! The datapath translates IPv4 packets to an IPv6-only container's
//! published port when they come in through an uplink (`nat46`), but a
//! host process's IPv4 socket never passes an uplink, and the `connect4`
//! socket hook that serves other mappings for host processes cannot change
//! a socket's family. For those clients (`127.0.0.1:P`, a host IPv4
//! address from the host) the daemon listens on the mapping's IPv4
//! address and copies the bytes to the container's IPv6 address, as
//! Docker's `docker-proxy` does: tokio tasks in the daemon, no process.
//! Uplink traffic never reaches these sockets (the datapath takes it at
//! TC ingress, before the socket layer), so a listener on `0.0.0.0:P`
//! adds a way in without shadowing the translated one.

mod tcp;
mod udp;

use std::{
    collections::HashMap,
    io,
    net::{SocketAddrV4, SocketAddrV6},
};

use thiserror::Error;
use tokio::{sync::watch, task::AbortHandle};

use crate::portspec::Protocol;

/// One relay: what it listens on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RelayKey {
    pub protocol: Protocol,
    pub listen: SocketAddrV4,
}

#[derive(Debug, Error)]
pub enum RelayError {
    #[error(
        "cannot listen on {}/{} for this host's own IPv4 clients: {source}",
        key.listen,
        key.protocol
    )]
    Listen {
        key: RelayKey,
        #[source]
        source: io::Error,
    },
}

/// Starts and stops relays; the controller holds one (a fake in unit
/// tests).
pub trait Relay46: Send + Sync {
    /// Relays `key` to `target` from now on: binds its socket, or points
    /// the one already bound at `target` (new connections and UDP clients
    /// go there).
    fn start(&mut self, key: RelayKey, target: SocketAddrV6) -> Result<(), RelayError>;

    /// Stops relaying `key`, closing its socket and its connections; a key
    /// not relayed is left alone.
    fn stop(&mut self, key: RelayKey);
}

/// A running relay: its task and where it sends to.
struct Running {
    task: AbortHandle,
    target: watch::Sender<SocketAddrV6>,
}

/// Relays as tokio tasks of the daemon's runtime: one per key, holding
/// its connections (TCP) or sessions (UDP), which end with it.
#[derive(Default)]
pub struct TokioRelay46 {
    running: HashMap<RelayKey, Running>,
}

impl TokioRelay46 {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Relay46 for TokioRelay46 {
    fn start(&mut self, key: RelayKey, target: SocketAddrV6) -> Result<(), RelayError> {
        if let Some(running) = self.running.get(&key)
            && !running.task.is_finished()
        {
            running.target.send_replace(target);
            return Ok(());
        }
        let (sender, receiver) = watch::channel(target);
        let listen = |source| RelayError::Listen { key, source };
        let task = match key.protocol {
            Protocol::Tcp => tcp::spawn(key.listen, receiver).map_err(listen)?,
            Protocol::Udp => udp::spawn(key.listen, receiver).map_err(listen)?,
        };
        log::info!(
            "relaying {}/{} (this host's IPv4 clients) to {target}",
            key.listen,
            key.protocol
        );
        self.running.insert(
            key,
            Running {
                task,
                target: sender,
            },
        );
        Ok(())
    }

    fn stop(&mut self, key: RelayKey) {
        if let Some(running) = self.running.remove(&key) {
            running.task.abort();
            log::info!("stopped relaying {}/{}", key.listen, key.protocol);
        }
    }
}

impl Drop for TokioRelay46 {
    fn drop(&mut self) {
        for running in self.running.values() {
            running.task.abort();
        }
    }
}

#[cfg(test)]
mod tests;
