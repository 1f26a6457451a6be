//! Types shared by the eBPF programs (`datapath-ebpf`) and the controller.
//!
//! Every map key and value is `#[repr(C)]` with explicit padding, so the byte
//! layout is the same on both sides and `bpftool map dump` prints it with field
//! names (the programs carry BTF). Byte order is documented on each field.
#![cfg_attr(not(test), no_std)]

mod constructors;
pub mod counters;
pub mod flow;
pub mod flows6;
pub mod fragments;
pub mod maps;
pub mod maps6;
pub mod names;
pub mod nat46;
pub mod nat46_icmp;
pub mod overlay;
pub mod published;
pub mod published6;
pub mod routed6;

pub use counters::{DropReason, IfaceCounters, IfaceSlot, ProgramId, TrafficCounter};
