//! The IPv4-into-IPv6 translation (`nat46`) in a test [`Datapath`]: its
//! program in its `TAIL_CALLS` slot and the ports marked in `NAT46_PORTS`,
//! as the daemon writes them.

use aya::maps::{Array, ProgramArray};
use aya::programs::SchedClassifier;
use ebpfnet_common::nat46::{NAT46_PORTS_MAP, TAIL_UPLINK46, UPLINK_INGRESS46_PROGRAM};

use crate::testrun::Datapath;

impl Datapath {
    /// Loads `uplink_ingress46` into its `TAIL_CALLS` slot.
    pub fn fill_tail_call46(&mut self) {
        let name = UPLINK_INGRESS46_PROGRAM;
        let prog: &mut SchedClassifier = self
            .ebpf
            .program_mut(name)
            .unwrap_or_else(|| panic!("no program {name}"))
            .try_into()
            .unwrap_or_else(|e| panic!("{name} is not a classifier: {e:?}"));
        prog.load()
            .unwrap_or_else(|e| panic!("verifier rejected {name}: {e:?}"));
        let fd = prog
            .fd()
            .unwrap_or_else(|e| panic!("fd of {name}: {e:?}"))
            .try_clone()
            .unwrap_or_else(|e| panic!("fd of {name}: {e}"));
        let map = self.ebpf.map_mut("TAIL_CALLS").expect("no map TAIL_CALLS");
        let mut slots: ProgramArray<_> = ProgramArray::try_from(map).expect("TAIL_CALLS");
        slots.set(TAIL_UPLINK46, &fd, 0).expect("TAIL_CALLS set");
    }

    /// `NAT46_PORTS[port] = bits`.
    pub fn mark_nat46_port(&mut self, port: u16, bits: u8) {
        let map = self
            .ebpf
            .map_mut(NAT46_PORTS_MAP)
            .expect("no map NAT46_PORTS");
        let mut ports: Array<_, u8> = Array::try_from(map).expect("NAT46_PORTS");
        ports
            .set(u32::from(port), bits, 0)
            .expect("NAT46_PORTS set");
    }
}
