//! ebpfnet: Docker-style container networking with an eBPF datapath.

pub mod api;
pub mod cli;
pub mod client;
pub mod cluster;
pub mod controller;
pub mod daemon;
pub mod datapath;
pub mod dns;
pub mod flow_view;
pub mod flow_view6;
pub mod host;
pub mod ids;
pub mod ipam;
pub mod ipam6;
pub mod lan;
pub mod logging;
pub mod lookup;
pub mod netconf;
pub mod portspec;
pub mod relay46;
pub mod remote;
pub mod state;
/// In-memory fakes of the host and the datapath, for unit tests.
#[cfg(test)]
pub mod testing;

/// The build script's decision about the embedded eBPF object, compiled here
/// too so that its unit tests run with the crate's.
#[cfg(test)]
#[path = "../embed_object.rs"]
mod embed_object;
