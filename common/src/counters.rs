//! Packet counters kept by every program.

/// The attach points of the datapath. Used as the index of the `PROG_STATS`
/// per-CPU array, so the discriminants are stable ABI.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgramId {
    /// TC ingress on an uplink: traffic arriving from other hosts.
    UplinkIngress = 0,
    /// TC ingress on a container's host-side veth: traffic leaving a container.
    ContainerIngress = 1,
}

impl ProgramId {
    pub const COUNT: u32 = 2;
    pub const ALL: [ProgramId; 2] = [ProgramId::UplinkIngress, ProgramId::ContainerIngress];

    /// The ELF symbol name of the program attached at this hook.
    pub const fn program_name(self) -> &'static str {
        match self {
            ProgramId::UplinkIngress => "uplink_ingress",
            ProgramId::ContainerIngress => "container_ingress",
        }
    }
}

/// Packets and bytes seen, host byte order. Value of `PROG_STATS`
/// (per-CPU array indexed by [`ProgramId`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrafficCounter {
    pub packets: u64,
    pub bytes: u64,
}

impl TrafficCounter {
    pub fn add(&mut self, other: &TrafficCounter) {
        self.packets = self.packets.wrapping_add(other.packets);
        self.bytes = self.bytes.wrapping_add(other.bytes);
    }
}

/// Value of `IFACE_STATS` (per-CPU hash keyed by the interface index, a `u32`
/// in host byte order): what each attached program saw on that interface.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IfaceCounters {
    /// Packets received by the interface (TC ingress).
    pub ingress: TrafficCounter,
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: plain `#[repr(C)]` integers with no padding.
    unsafe impl aya::Pod for super::TrafficCounter {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::IfaceCounters {}
}
