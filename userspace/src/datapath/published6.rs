//! `PUBLISHED6` and `HOST_ADDRS6` in the kernel: IPv6 mappings written and
//! removed (with the flows that came in through them, as for IPv4), and
//! the host's IPv6 addresses that mappings on `::` answer on.

use std::net::Ipv6Addr;

use aya::maps::{HashMap, MapData, PerCpuHashMap};
use ebpfnet_common::{
    flows6::{FlowKey6, NatEntry6},
    maps::{PublishedStats, proto},
    names,
    published6::{PublishedKey6, PublishedValue6},
};

use super::{
    AyaDatapath, DatapathError, NatRecord6, Publishing6,
    encoding::describe_key6,
    maps::{hash, hash_mut, map_err, map_mut, removed, sync_host_addrs, write_err},
    nat,
    nat_collector::read_table,
};

/// Both directions of every IPv6 flow that came in through any of
/// `mappings`: request entries to the published address and port (any
/// host address for a mapping on `::`), and their reply twins; one pass
/// over the records.
pub fn flows_of_mappings6(records: &[NatRecord6], mappings: &[PublishedKey6]) -> Vec<FlowKey6> {
    let wanted = mappings
        .iter()
        .map(|m| (m.protocol, m.host_port, m.host_ip));
    let mut flows = nat::flows_through(records, &wanted.collect());
    flows.extend(super::nat46::flows_of_every_address(records, mappings));
    flows
}

type Table6<'a> = HashMap<&'a mut MapData, FlowKey6, NatEntry6>;

impl AyaDatapath {
    /// Takes a mapping's counters out of `PUBLISHED_STATS6`.
    fn remove_counters6(&mut self, key: &PublishedKey6) -> Result<(), DatapathError> {
        let name = names::PUBLISHED_STATS6_MAP;
        let mut counters: PerCpuHashMap<_, PublishedKey6, PublishedStats> =
            PerCpuHashMap::try_from(map_mut(&mut self.ebpf, name)?).map_err(map_err(name))?;
        removed(counters.remove(key)).map_err(write_err(
            name,
            format!("remove the counters of {}", describe_key6(key)),
        ))
    }

    /// Deletes the flows of `keys` (IPv6 mappings) from `table`.
    fn cut_flows6(
        &mut self,
        table: &'static str,
        keys: &[PublishedKey6],
    ) -> Result<usize, DatapathError> {
        let records: Vec<NatRecord6> =
            read_table(&hash::<FlowKey6, NatEntry6>(&self.ebpf, table)?, table)?
                .into_iter()
                .map(|(key, entry)| NatRecord6 { key, entry })
                .collect();
        let flows = flows_of_mappings6(&records, keys);
        let mut map: Table6 = hash_mut(&mut self.ebpf, table)?;
        let mut deleted = 0;
        for key in flows {
            match map.remove(&key) {
                Ok(()) => deleted += 1,
                Err(e) => removed(Err(e)).map_err(write_err(table, "remove a flow"))?,
            }
        }
        Ok(deleted)
    }
}

impl Publishing6 for AyaDatapath {
    fn publish6(
        &mut self,
        key: PublishedKey6,
        value: PublishedValue6,
    ) -> Result<(), DatapathError> {
        let name = names::PUBLISHED6_MAP;
        hash_mut::<PublishedKey6, PublishedValue6>(&mut self.ebpf, name)?
            .insert(key, value, 0)
            .map_err(write_err(name, format!("publish {}", describe_key6(&key))))?;
        self.mark_nat46(&key)
    }

    fn unpublish6(&mut self, keys: &[PublishedKey6]) -> Result<usize, DatapathError> {
        // The mappings go first: no new flow can start through them meanwhile.
        let name = names::PUBLISHED6_MAP;
        let mut first_error = None;
        for key in keys {
            let gone = removed(
                hash_mut::<PublishedKey6, PublishedValue6>(&mut self.ebpf, name)?.remove(key),
            )
            .map_err(write_err(name, format!("unpublish {}", describe_key6(key))))
            .and_then(|()| self.remove_counters6(key));
            if let Err(e) = gone {
                log::error!("{e}");
                first_error.get_or_insert(e);
            }
        }
        let mut deleted = 0;
        for (table, tcp) in [(names::NAT6_TCP_MAP, true), (names::NAT6_OTHER_MAP, false)] {
            let of_table: Vec<PublishedKey6> = keys
                .iter()
                .filter(|k| (k.protocol == proto::TCP) == tcp)
                .copied()
                .collect();
            if !of_table.is_empty() {
                deleted += self.cut_flows6(table, &of_table)?;
            }
        }
        self.unmark_nat46(keys)?;
        first_error.map_or(Ok(deleted), Err)
    }

    fn published6(&self) -> Result<Vec<(PublishedKey6, PublishedValue6)>, DatapathError> {
        let name = names::PUBLISHED6_MAP;
        hash::<PublishedKey6, PublishedValue6>(&self.ebpf, name)?
            .iter()
            .collect::<Result<_, _>>()
            .map_err(map_err(name))
    }

    fn set_host_addrs6(&mut self, addrs: &[(Ipv6Addr, u32)]) -> Result<(), DatapathError> {
        let wanted = addrs.iter().map(|(ip, index)| (ip.octets(), *index));
        sync_host_addrs(&mut self.ebpf, names::HOST_ADDRS6_MAP, wanted.collect())
    }
}

#[cfg(test)]
mod tests {
    use ebpfnet_common::maps::{NatKind, PUBLISHED_ANY_IP};

    use super::*;

    fn ip(text: &str) -> [u8; 16] {
        text.parse::<Ipv6Addr>().expect(text).octets()
    }

    /// A published flow from `client` to `host:8080` into `[fd00::2]:80`:
    /// its request and reply records.
    fn flow(client: &str, host: &str, protocol: u8) -> [NatRecord6; 2] {
        let key = FlowKey6::new(ip(client), 40000, ip(host), 8080, protocol);
        let request = NatEntry6 {
            new_src_ip: ip(client),
            new_src_port: 40000,
            new_dst_ip: ip("fd00::2"),
            new_dst_port: 80,
            kind: NatKind::PublishedRequest as u8,
            tcp_flags: PUBLISHED_ANY_IP,
            ..NatEntry6::default()
        };
        let reply = NatEntry6 {
            new_src_ip: ip(host),
            new_src_port: 8080,
            new_dst_ip: ip(client),
            new_dst_port: 40000,
            kind: NatKind::PublishedReply as u8,
            ..NatEntry6::default()
        };
        [
            NatRecord6 {
                key: request.twin_key(protocol),
                entry: reply,
            },
            NatRecord6 {
                key,
                entry: request,
            },
        ]
    }

    #[test]
    fn a_mapping_takes_the_flows_it_let_in_both_ways() {
        let mut records = Vec::new();
        records.extend(flow("2001:db8::9", "2001:db8::1", proto::TCP));
        records.extend(flow("2001:db8::9", "2001:db8::5", proto::TCP));
        records.extend(flow("2001:db8::7", "2001:db8::1", proto::UDP));
        let exact = PublishedKey6::new(ip("2001:db8::1"), 8080, proto::TCP);
        let cut = flows_of_mappings6(&records, &[exact]);
        let [reply, request] = flow("2001:db8::9", "2001:db8::1", proto::TCP);
        assert_eq!(cut, [request.key, request.entry.twin_key(proto::TCP)]);
        assert_eq!(cut[1], reply.key);
        // `::` takes every TCP flow of the port, whatever address it came to.
        let every = PublishedKey6::new([0; 16], 8080, proto::TCP);
        assert_eq!(flows_of_mappings6(&records, &[every]).len(), 4);
        // Another port or protocol takes none.
        let other = PublishedKey6::new([0; 16], 8081, proto::TCP);
        assert!(flows_of_mappings6(&records, &[other]).is_empty());
    }
}
