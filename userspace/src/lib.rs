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
pub mod names;
pub mod netconf;
pub mod portspec;
pub mod state;
