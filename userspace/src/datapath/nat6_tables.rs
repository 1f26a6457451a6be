//! The IPv6 NAT path's other maps: the tail calls into its programs and
//! the uplinks' IPv6 addresses (`UPLINKS6`). Its NAT tables are read and
//! cut with IPv4's (nat_tables.rs) and collected with them
//! (nat_collector.rs).

use std::net::Ipv6Addr;

use aya::maps::{MapData, ProgramArray};
use ebpfnet_common::{flows6::UplinkInfo6, names};

use super::{
    AyaDatapath, DatapathError,
    maps::{hash, hash_mut, map_err, map_mut, removed, write_err},
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

    pub(super) fn set_uplink6_entry(
        &mut self,
        ifindex: u32,
        ip: Ipv6Addr,
    ) -> Result<(), DatapathError> {
        let name = names::UPLINKS6_MAP;
        hash_mut::<u32, UplinkInfo6>(&mut self.ebpf, name)?
            .insert(ifindex, UplinkInfo6 { ip: ip.octets() }, 0)
            .map_err(write_err(name, format!("add uplink #{ifindex} as {ip}")))
    }

    pub(super) fn remove_uplink6_entry(&mut self, ifindex: u32) -> Result<(), DatapathError> {
        let name = names::UPLINKS6_MAP;
        removed(hash_mut::<u32, UplinkInfo6>(&mut self.ebpf, name)?.remove(&ifindex))
            .map_err(write_err(name, format!("remove uplink #{ifindex}")))
    }

    pub(super) fn uplink6_entries(&self) -> Result<Vec<(u32, Ipv6Addr)>, DatapathError> {
        let name = names::UPLINKS6_MAP;
        hash::<u32, UplinkInfo6>(&self.ebpf, name)?
            .iter()
            .map(|entry| entry.map(|(ifindex, info)| (ifindex, Ipv6Addr::from(info.ip))))
            .collect::<Result<_, _>>()
            .map_err(map_err(name))
    }
}
