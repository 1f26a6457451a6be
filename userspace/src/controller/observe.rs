//! What the datapath is doing: flows, counters, and removing idle flows.

use super::{Controller, Result, views};
use crate::{
    api::observe::{FlowView, MappingStats, StatsView},
    datapath::{
        Collector,
        encoding::{describe_key, published_key, published_key6},
    },
    flow_view, flow_view6,
    host::monotonic_ns,
};

impl Controller {
    pub fn flows(&self) -> Result<Vec<FlowView>> {
        let records = self.datapath.flows()?;
        let records6 = self.datapath.flows6()?;
        let now = monotonic_ns()?;
        let mut flows = flow_view::build(&records, now);
        flows.extend(flow_view6::build(&records6, now));
        Ok(flows)
    }

    pub fn stats(&self) -> Result<StatsView> {
        let stats = self.datapath.stats()?;
        let mut mappings = Vec::new();
        for container in self.state.containers.values() {
            let mut ports = container.ports.clone();
            ports.sort_by_key(|m| (m.container_port, m.protocol, m.host_ip, m.host_port));
            for m in ports {
                let (described, counters) = match (published_key(&m), published_key6(&m)) {
                    (Some(key), _) => (
                        describe_key(&key),
                        stats
                            .published
                            .iter()
                            .find(|(k, _)| *k == key)
                            .map(|(_, s)| *s),
                    ),
                    (_, Some(key)) => (
                        describe_key(&key),
                        stats
                            .published6
                            .iter()
                            .find(|(k, _)| *k == key)
                            .map(|(_, s)| *s),
                    ),
                    (None, None) => continue,
                };
                let counters = counters.unwrap_or_default();
                mappings.push(MappingStats {
                    mapping: format!("{described} -> {}:{}", container.name, m.container_port),
                    host_ip: m.host_ip,
                    host_port: m.host_port,
                    protocol: m.protocol.to_string(),
                    container: container.name.clone(),
                    container_port: m.container_port,
                    packets: counters.packets,
                    bytes: counters.bytes,
                    flows: counters.flows,
                });
            }
        }
        Ok(StatsView {
            programs: stats.programs.iter().map(views::program_counters).collect(),
            mappings,
            drops: stats.drops.iter().map(views::drop_count).collect(),
        })
    }

    /// A collector of idle flows (IPv4 and IPv6) that works without the
    /// controller: the daemon reads the tables with it while commands go
    /// on.
    pub fn flow_collector(&self) -> Result<Box<dyn Collector>> {
        Ok(self.datapath.collector()?)
    }
}
