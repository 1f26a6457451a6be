//! Traffic helpers for the end-to-end datapath tests: servers that record
//! what they saw, many-flow clients, a long-lived client, a raw-frame sender
//! and sniffer (python3 AF_PACKET), host-side clients, bpftool dumps, and
//! guards for host-global changes (addresses, sysctls, iptables policy).
//!
//! Every client has a 2-3 s timeout per request; every background process
//! is killed when its guard drops.

mod attack;
mod clients;
mod host;
mod masquerade;
mod scripts;

pub(crate) use scripts::ECHO_SERVER;

pub use attack::*;
pub use clients::*;
pub use host::*;
pub use masquerade::*;
