//! IPv6 NAT flows as people read them (`ebpfnet flows`): the rows of
//! `NAT6_TCP` and `NAT6_OTHER`, built by `flow_view`'s `build` (generic
//! over the address family; the name is kept for the IPv6 callers),
//! addresses in brackets (`[fd00:eb::2]:5000`).

pub use crate::flow_view::build;

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use ebpfnet_common::{
        flows6::{FlowKey6, NatEntry6},
        maps::{NatKind, REPLY_SEEN, proto},
    };

    use super::*;
    use crate::datapath::NatRecord6;

    #[test]
    fn a_masqueraded_pair_is_one_row_with_bracketed_addresses() {
        let c: Ipv6Addr = "fd00:eb::2".parse().expect("address");
        let u: Ipv6Addr = "fd00:e6:ff::1".parse().expect("address");
        let o: Ipv6Addr = "fd00:e6:ff::2".parse().expect("address");
        let request = NatRecord6 {
            key: FlowKey6::new(c.octets(), 5000, o.octets(), 53, proto::UDP),
            entry: NatEntry6 {
                new_src_ip: u.octets(),
                new_src_port: 61000,
                new_dst_ip: o.octets(),
                new_dst_port: 53,
                kind: NatKind::MasqueradeRequest as u8,
                src_mac: [0x02, 0, 0, 0, 0, 0xaa],
                packets: 1,
                ..NatEntry6::default()
            },
        };
        let reply = NatRecord6 {
            key: request.entry.twin_key(proto::UDP),
            entry: NatEntry6 {
                new_src_ip: o.octets(),
                new_src_port: 53,
                new_dst_ip: c.octets(),
                new_dst_port: 5000,
                kind: NatKind::MasqueradeReply as u8,
                tcp_flags: REPLY_SEEN,
                packets: 1,
                ..NatEntry6::default()
            },
        };
        let rows = build(&[reply, request], 0);
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(row.original, "[fd00:eb::2]:5000 -> [fd00:e6:ff::2]:53");
        assert_eq!(
            row.translated,
            "[fd00:e6:ff::1]:61000 -> [fd00:e6:ff::2]:53"
        );
        assert_eq!(
            (row.kind.as_str(), row.state.as_str()),
            ("masquerade", "replied")
        );
        assert_eq!(row.packets, 2);
        assert_eq!(row.entries[1].table, "NAT6_OTHER");
        // IPv6 flows cache a next hop as IPv4 ones do: its source MAC shows.
        assert_eq!(row.entries[0].src_mac, "02:00:00:00:00:aa");
        assert_eq!(row.entries[1].new_dst_ip, std::net::IpAddr::V6(c));
    }
}
