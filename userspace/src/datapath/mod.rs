//! The datapath seen by the controller: programs attached to interfaces and
//! the maps they use. [`AyaDatapath`] is the kernel one.

mod aya_impl;
mod pins;

pub use aya_impl::AyaDatapath;
use ebpfnet_common::ProgramId;
pub use pins::remove_pins;
use serde::Serialize;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum DatapathError {
    #[error(
        "this ebpfnet binary was built without its eBPF object; build it with `cargo xtask build`"
    )]
    NoObject,
    #[error("cannot load the eBPF programs: {0}")]
    Load(#[source] aya::EbpfError),
    #[error("eBPF program {0} is missing from the object")]
    MissingProgram(&'static str),
    #[error("eBPF program {name}: {source}")]
    Program {
        name: &'static str,
        #[source]
        source: aya::programs::ProgramError,
    },
    #[error("cannot attach {program} to {ifname}: {source}")]
    Attach {
        program: &'static str,
        ifname: String,
        #[source]
        source: aya::programs::ProgramError,
    },
    #[error("cannot pin {what} at {path}: {source}")]
    Pin {
        what: String,
        path: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(
        "pinned map {path} has a different layout ({found}) than this ebpfnet expects ({expected}); \
         remove it with `ebpfnet system reset` or use another --pin-dir"
    )]
    LayoutMismatch {
        path: String,
        found: String,
        expected: String,
    },
    #[error("map {name}: {source}")]
    Map {
        name: &'static str,
        #[source]
        source: aya::maps::MapError,
    },
    #[error("{action}: {source}")]
    Io {
        action: String,
        #[source]
        source: std::io::Error,
    },
}

/// A program attached to an interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Attachment {
    pub program: &'static str,
    pub interface: String,
    pub ifindex: u32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MapFill {
    pub name: &'static str,
    pub entries: u32,
    pub max_entries: u32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProgramCounters {
    pub program: &'static str,
    pub packets: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InterfaceCounters {
    pub ifindex: u32,
    pub packets: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DatapathStatus {
    pub programs: Vec<Attachment>,
    pub maps: Vec<MapFill>,
    pub counters: Vec<ProgramCounters>,
    pub interfaces: Vec<InterfaceCounters>,
}

/// What the controller needs from a datapath.
pub trait Datapath: Send + Sync {
    /// Attaches `program` to the interface, replacing atomically what a
    /// previous daemon attached there, so no packet goes unhandled.
    fn attach(
        &mut self,
        program: ProgramId,
        ifname: &str,
        ifindex: u32,
    ) -> Result<(), DatapathError>;
    /// Detaches every program from the interface.
    fn detach(&mut self, ifname: &str) -> Result<(), DatapathError>;
    /// Drops attachments left by an earlier daemon on interfaces not in `keep`.
    fn prune(&mut self, keep: &[String]) -> Result<(), DatapathError>;
    fn status(&self) -> Result<DatapathStatus, DatapathError>;
}
