//! The IPv6 NAT path's other map: the tail calls into its programs. Its
//! NAT tables are read and cut with IPv4's (nat_tables.rs) and collected
//! with them (nat_collector.rs); the uplinks' IPv6 addresses (`UPLINKS6`)
//! are written with the IPv6 topology (maps6.rs).

use aya::maps::{MapData, ProgramArray};
use ebpfnet_common::names;

use super::{
    AyaDatapath, DatapathError,
    maps::{map_err, map_mut, write_err},
};

impl AyaDatapath {
    /// Puts `container_ingress6` and `uplink_ingress6` (loaded) in their
    /// `TAIL_CALLS` slots, where `container_ingress` and `uplink_ingress`
    /// jump for their IPv6 NAT paths.
    pub(super) fn fill_tail_calls(&mut self) -> Result<(), DatapathError> {
        for (slot, program) in [
            (names::TAIL_CONTAINER6, names::CONTAINER_INGRESS6_PROGRAM),
            (names::TAIL_UPLINK6, names::UPLINK_INGRESS6_PROGRAM),
            (
                ebpfnet_common::nat46::TAIL_UPLINK46,
                ebpfnet_common::nat46::UPLINK_INGRESS46_PROGRAM,
            ),
        ] {
            let fd = super::aya_impl::loaded_classifier(&mut self.ebpf, program)?
                .fd()
                .map_err(|source| DatapathError::Program {
                    name: program,
                    source,
                })?
                .try_clone()
                .map_err(|source| DatapathError::Io {
                    action: format!("duplicate the descriptor of program {program}"),
                    source,
                })?;
            let name = names::TAIL_CALLS_MAP;
            let mut slots: ProgramArray<&mut MapData> =
                ProgramArray::try_from(map_mut(&mut self.ebpf, name)?).map_err(map_err(name))?;
            slots
                .set(slot, &fd, 0)
                .map_err(write_err(name, format!("put {program} in its slot")))?;
        }
        Ok(())
    }
}
