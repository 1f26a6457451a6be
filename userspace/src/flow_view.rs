//! NAT flows as people read them: both directions of a flow joined into
//! one row, with its state, age and idle time, for both address families
//! (IPv6 addresses in brackets: `[fd00:eb::2]:5000`). Built by the
//! daemon, printed by the CLI (`ebpfnet flows`).

use std::net::SocketAddr;

use crate::{
    api::observe::{EntryView, FlowView},
    datapath::{NatRecordOf, encoding::nat_kind_name, family::Family, nat},
};
use ebpfnet_common::{
    flow::{FlowKeyOf, NatEntryOf},
    maps::{PUBLISHED_ANY_IP, REPLY_SEEN, TCP_FIN_SEEN, TCP_RST_SEEN, proto},
};

fn endpoint<A: Family>(ip: A, port: u16, protocol: u8) -> String {
    if protocol == A::ICMP {
        // Both "ports" of an echo carry its identifier.
        format!("{} id {port}", ip.ip())
    } else {
        SocketAddr::new(ip.ip(), port).to_string()
    }
}

fn entry_view<A: Family>(key: &FlowKeyOf<A>, e: &NatEntryOf<A>) -> EntryView {
    EntryView {
        table: A::table(key.protocol).to_string(),
        src_ip: key.src_ip.ip(),
        src_port: key.src_port,
        dst_ip: key.dst_ip.ip(),
        dst_port: key.dst_port,
        protocol: key.protocol,
        new_src_ip: e.new_src_ip.ip(),
        new_src_port: e.new_src_port,
        new_dst_ip: e.new_dst_ip.ip(),
        new_dst_port: e.new_dst_port,
        kind: nat_kind_name(e.kind).to_string(),
        forward: e.forward,
        ifindex: e.ifindex,
        tcp_flags: e.tcp_flags,
        dst_mac: crate::ids::format_mac(&e.dst_mac),
        src_mac: crate::ids::format_mac(&e.src_mac),
        nexthop_generation: e.nh_gen,
        created_ns: e.created_ns,
        last_seen_ns: e.last_seen_ns,
        packets: e.packets,
        bytes: e.bytes,
    }
}

/// `established,replied`, `fin,replied`, `rst,unreplied`, `replied`, …
pub fn state(protocol: u8, flags: u8) -> String {
    let replied = flags & REPLY_SEEN != 0;
    let mut parts = Vec::new();
    if protocol == proto::TCP {
        if flags & TCP_RST_SEEN != 0 {
            parts.push("rst");
        } else if flags & TCP_FIN_SEEN != 0 {
            parts.push("fin");
        } else if replied {
            parts.push("established");
        }
    }
    parts.push(if replied { "replied" } else { "unreplied" });
    parts.join(",")
}

/// Joins the entries of a family's two tables into flows, sorted by
/// protocol and original tuple. `now_ns` is CLOCK_MONOTONIC.
pub fn build<A: Family>(records: &[NatRecordOf<A>], now_ns: u64) -> Vec<FlowView> {
    let mut flows = Vec::new();
    for (r, twin) in nat::flows(records) {
        let p = r.key.protocol;
        let e = &r.entry;
        let mut entries = vec![entry_view(&r.key, e)];
        if let Some(NatRecordOf { key, entry: t }) = twin {
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
        flows.push(row(
            A::protocol_name(p),
            p,
            original,
            translated,
            entries,
            now_ns,
        ));
    }
    flows.sort_by(|a, b| (&a.protocol, &a.original).cmp(&(&b.protocol, &b.original)));
    flows
}

/// One flow's row from its entries (the first the direction that opened
/// it, then its twin when there is one): the TCP state from both
/// directions' bits, age from the older creation, idle time from the
/// newer packet, counters summed.
fn row(
    protocol: String,
    l4: u8,
    original: String,
    translated: String,
    entries: Vec<EntryView>,
    now_ns: u64,
) -> FlowView {
    let flags = entries
        .iter()
        .fold(0, |f, e| f | (e.tcp_flags & !PUBLISHED_ANY_IP));
    let created = entries.iter().map(|e| e.created_ns).min().unwrap_or(0);
    let last_seen = entries.iter().map(|e| e.last_seen_ns).max().unwrap_or(0);
    let packets = entries.iter().fold(0u64, |n, e| n.wrapping_add(e.packets));
    let bytes = entries.iter().fold(0u64, |n, e| n.wrapping_add(e.bytes));
    FlowView {
        protocol,
        original,
        translated,
        kind: entries.first().map(|e| e.kind.clone()).unwrap_or_default(),
        state: state(l4, flags),
        age_ms: now_ns.saturating_sub(created) / 1_000_000,
        idle_ms: now_ns.saturating_sub(last_seen) / 1_000_000,
        packets,
        bytes,
        entries,
    }
}

/// `850ms`, `42s`, `3m05s`, `2h01m`, `3d04h`.
pub fn format_duration(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0 => format!("{ms}ms"),
        1..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86400, s % 86400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use ebpfnet_common::maps::{FlowKey, NatEntry, NatKind};

    use super::*;
    use crate::datapath::NatRecord;
    use crate::testing::fixtures::rewrite;

    const SEC: u64 = 1_000_000_000;

    fn key(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, protocol: u8) -> FlowKey {
        FlowKey::new(src, sport, dst, dport, protocol)
    }

    /// Container 10.214.0.2:5000 masqueraded behind 203.0.113.1:61234.
    fn masquerade(protocol: u8) -> Vec<NatRecord> {
        let (container, uplink, outside) = ([10, 214, 0, 2], [203, 0, 113, 1], [198, 51, 100, 7]);
        let request = NatRecord {
            key: key(container, 5000, outside, 53, protocol),
            entry: NatEntry {
                created_ns: 10 * SEC,
                last_seen_ns: 20 * SEC,
                packets: 3,
                bytes: 300,
                ..rewrite((uplink, 61234), (outside, 53), NatKind::MasqueradeRequest)
            },
        };
        let reply = NatRecord {
            key: key(outside, 53, uplink, 61234, protocol),
            entry: NatEntry {
                tcp_flags: REPLY_SEEN,
                created_ns: 10 * SEC,
                last_seen_ns: 25 * SEC,
                packets: 2,
                bytes: 500,
                ..rewrite((outside, 53), (container, 5000), NatKind::MasqueradeReply)
            },
        };
        // The reply first: the row must still come from the request.
        vec![reply, request]
    }

    #[test]
    fn a_pair_is_one_row_from_the_request() {
        let flows = build(&masquerade(proto::UDP), 30 * SEC);
        assert_eq!(flows.len(), 1);
        let f = &flows[0];
        assert_eq!(f.protocol, "udp");
        assert_eq!(f.original, "10.214.0.2:5000 -> 198.51.100.7:53");
        assert_eq!(f.translated, "203.0.113.1:61234 -> 198.51.100.7:53");
        assert_eq!(f.kind, "masquerade");
        assert_eq!(f.state, "replied");
        assert_eq!((f.age_ms, f.idle_ms), (20_000, 5_000));
        assert_eq!((f.packets, f.bytes), (5, 800));
        assert_eq!(f.entries.len(), 2);
        assert_eq!(f.entries[1].kind, "masquerade-reply");
        assert_eq!(f.entries[1].new_dst_ip, Ipv4Addr::new(10, 214, 0, 2));
    }

    #[test]
    fn a_lone_entry_is_its_own_row() {
        let records = masquerade(proto::TCP);
        let flows = build(&records[..1], 30 * SEC);
        assert_eq!(flows.len(), 1);
        assert_eq!(flows[0].kind, "masquerade-reply");
        assert_eq!(flows[0].state, "established,replied");
    }

    #[test]
    fn tcp_states() {
        assert_eq!(state(proto::TCP, 0), "unreplied");
        assert_eq!(state(proto::TCP, REPLY_SEEN), "established,replied");
        assert_eq!(state(proto::TCP, REPLY_SEEN | TCP_FIN_SEEN), "fin,replied");
        assert_eq!(
            state(proto::TCP, TCP_FIN_SEEN | TCP_RST_SEEN),
            "rst,unreplied"
        );
        assert_eq!(state(proto::UDP, TCP_FIN_SEEN), "unreplied");
    }

    #[test]
    fn icmp_shows_the_echo_id() {
        let mut records = masquerade(proto::ICMP);
        records.truncate(1);
        let flows = build(&records, 30 * SEC);
        assert_eq!(
            flows[0].original,
            "198.51.100.7 id 53 -> 203.0.113.1 id 61234"
        );
        assert_eq!(flows[0].protocol, "icmp");
    }

    #[test]
    fn durations() {
        assert_eq!(format_duration(850), "850ms");
        assert_eq!(format_duration(42_000), "42s");
        assert_eq!(format_duration(185_000), "3m05s");
        assert_eq!(format_duration(7_260_000), "2h01m");
        assert_eq!(format_duration(273_600_000), "3d04h");
    }
}
