//! ebpfnet: Docker-style container networking with an eBPF datapath.

pub mod api;
pub mod cli;
pub mod client;
pub mod controller;
pub mod daemon;
pub mod datapath;
pub mod dns;
pub mod flows;
pub mod host;
pub mod ipam;
pub mod lan;
pub mod logging;
pub mod names;
pub mod netconf;
pub mod portspec;
pub mod state;

/// The build script's decision about the embedded eBPF object, compiled here
/// too so that its unit tests run with the crate's.
#[cfg(test)]
#[path = "../embed_object.rs"]
mod embed_object;
