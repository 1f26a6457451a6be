//! Names of the pinned maps, shared so the controller and the programs agree.

/// Per-CPU array of [`crate::TrafficCounter`] indexed by [`crate::ProgramId`].
pub const PROG_STATS_MAP: &str = "PROG_STATS";
/// Per-CPU hash `ifindex -> [`crate::IfaceCounters`]`.
pub const IFACE_STATS_MAP: &str = "IFACE_STATS";
/// Capacity of `IFACE_STATS`: uplinks plus container veths.
pub const IFACE_STATS_CAPACITY: u32 = 4096;
