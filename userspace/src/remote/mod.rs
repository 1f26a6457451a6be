//! Remote control over TCP, as `dockerd -H tcp://…` / `docker -H …`, but
//! only with mutual TLS: the daemon serves only clients whose certificate
//! its CA signed, and the CLI trusts only a daemon certificate from that
//! CA. There is no unauthenticated TCP mode: the API is root on the host.

mod address;
mod listener;
mod tls;
#[cfg(test)]
mod tls_tests;

pub use address::{AddressError, DaemonAddress};
pub use listener::{Handshake, ListenError, TlsListener, connector};
pub use tls::{TlsError, TlsFiles, client_config, server_config, server_name};
