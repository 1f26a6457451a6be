//! IPv6 NAT flows as people read them (`ebpfnet flows`): the rows of
//! `NAT6_TCP` and `NAT6_OTHER`, joined and shown as `flow_view` shows the
//! IPv4 ones, addresses in brackets (`[fd00:eb::2]:5000`).

use std::net::Ipv6Addr;

use crate::{
    api::observe::{EntryView, FlowView},
    datapath::{NatRecord6, encoding::nat_kind_name, nat6},
    flow_view::row,
};
use ebpfnet_common::{
    flows6::{FlowKey6, ICMPV6, NatEntry6},
    maps::proto,
};

fn protocol_name(protocol: u8) -> String {
    match protocol {
        proto::TCP => "tcp".into(),
        proto::UDP => "udp".into(),
        ICMPV6 => "icmpv6".into(),
        other => other.to_string(),
    }
}

fn table(protocol: u8) -> &'static str {
    if protocol == proto::TCP {
        "NAT6_TCP"
    } else {
        "NAT6_OTHER"
    }
}

fn endpoint(ip: [u8; 16], port: u16, protocol: u8) -> String {
    if protocol == ICMPV6 {
        format!("{} id {port}", Ipv6Addr::from(ip))
    } else {
        format!("[{}]:{port}", Ipv6Addr::from(ip))
    }
}

fn entry_view(key: &FlowKey6, e: &NatEntry6) -> EntryView {
    EntryView {
        table: table(key.protocol).to_string(),
        src_ip: Ipv6Addr::from(key.src_ip).into(),
        src_port: key.src_port,
        dst_ip: Ipv6Addr::from(key.dst_ip).into(),
        dst_port: key.dst_port,
        protocol: key.protocol,
        new_src_ip: Ipv6Addr::from(e.new_src_ip).into(),
        new_src_port: e.new_src_port,
        new_dst_ip: Ipv6Addr::from(e.new_dst_ip).into(),
        new_dst_port: e.new_dst_port,
        kind: nat_kind_name(e.kind).to_string(),
        forward: e.forward,
        ifindex: e.ifindex,
        tcp_flags: e.tcp_flags,
        dst_mac: crate::ids::format_mac(&e.dst_mac),
        // IPv6 flows leave by `bpf_redirect_neigh`: no cached next hop.
        src_mac: String::new(),
        nexthop_generation: 0,
        created_ns: e.created_ns,
        last_seen_ns: e.last_seen_ns,
        packets: e.packets,
        bytes: e.bytes,
    }
}

/// One row per IPv6 flow, sorted by protocol and original tuple.
/// `now_ns` is CLOCK_MONOTONIC.
pub fn build(records: &[NatRecord6], now_ns: u64) -> Vec<FlowView> {
    let mut flows = Vec::new();
    for (r, twin) in nat6::flows(records) {
        let p = r.key.protocol;
        let e = &r.entry;
        let mut entries = vec![entry_view(&r.key, e)];
        if let Some(NatRecord6 { key, entry: t }) = twin {
            entries.push(entry_view(&key, &t));
        }
        let original = format!(
            "{} -> {}",
            endpoint(r.key.src_ip, r.key.src_port, p),
            endpoint(r.key.dst_ip, r.key.dst_port, p)
        );
        let translated = format!(
            "{} -> {}",
            endpoint(e.new_src_ip, e.new_src_port, p),
            endpoint(e.new_dst_ip, e.new_dst_port, p)
        );
        // ICMPv6 states read as ICMP's (no TCP part).
        let state_protocol = if p == ICMPV6 { proto::ICMP } else { p };
        flows.push(row(
            protocol_name(p),
            state_protocol,
            original,
            translated,
            entries,
            now_ns,
        ));
    }
    flows.sort_by(|a, b| (&a.protocol, &a.original).cmp(&(&b.protocol, &b.original)));
    flows
}

#[cfg(test)]
mod tests {
    use ebpfnet_common::maps::{NatKind, REPLY_SEEN};

    use super::*;

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
        assert_eq!(row.entries[1].new_dst_ip, std::net::IpAddr::V6(c));
    }
}
