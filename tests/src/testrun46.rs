//! The IPv4-into-IPv6 translation (`nat46`) in a test [`Datapath`]: its
//! program in its `TAIL_CALLS` slot and the ports marked in `NAT46_PORTS`,
//! as the daemon writes them.

use aya::maps::Array;
use ebpfnet_common::nat46::{NAT46_PORTS_MAP, TAIL_UPLINK46, UPLINK_INGRESS46_PROGRAM};

use crate::testrun::Datapath;

impl Datapath {
    /// Loads `uplink_ingress46` into its `TAIL_CALLS` slot.
    pub fn fill_tail_call46(&mut self) {
        self.set_tail_call(TAIL_UPLINK46, UPLINK_INGRESS46_PROGRAM);
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
