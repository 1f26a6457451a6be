//! IPv4 mappings into IPv6-only containers (Docker 28's "proxy 4 to 6",
//! done by the datapath's translation, `nat46` in the programs): a
//! mapping on an IPv4 host address of a container whose mappings lead to
//! an endpoint without IPv4 is a `PUBLISHED6` entry keyed by the
//! IPv4-mapped host address. Nothing is saved apart: a mapping is
//! translated while its container's first endpoint is IPv6-only.

use ebpfnet_common::published6::PublishedKey6;

use crate::{
    datapath::nat46::translated_key,
    portspec::PortMapping,
    state::{Container, Endpoint},
};

/// Whether IPv4 mappings into `endpoint` are translated to IPv6: it has
/// an IPv6 address and no IPv4 one.
pub fn translates(endpoint: &Endpoint) -> bool {
    endpoint.ip.is_none() && endpoint.ip6.is_some()
}

/// The `PUBLISHED6` key of `m` when it is translated into `endpoint`.
pub fn key_into(m: &PortMapping, endpoint: &Endpoint) -> Option<PublishedKey6> {
    translated_key(m).filter(|_| translates(endpoint))
}

/// The `PUBLISHED6` keys of `container`'s translated mappings.
pub fn keys_of(container: &Container) -> Vec<PublishedKey6> {
    match container.endpoints.first() {
        Some(endpoint) => container
            .ports
            .iter()
            .filter_map(|m| key_into(m, endpoint))
            .collect(),
        None => Vec::new(),
    }
}

/// Refuses what cannot be translated: a mapping on an IPv4 loopback
/// address serves only this host's own sockets, which the datapath cannot
/// move from IPv4 to IPv6 (a `connect4` hook keeps the family).
pub fn check(mappings: &[PortMapping], endpoint: &Endpoint, network: &str) -> Result<(), String> {
    if !translates(endpoint) {
        return Ok(());
    }
    match mappings
        .iter()
        .find(|m| m.host_ip.is_ipv4() && m.host_ip.is_loopback())
    {
        Some(m) => Err(format!(
            "cannot publish on {}: network {network} is IPv6-only, and IPv4 reaches its \
             containers only from other hosts (translated to IPv6); this host's processes \
             use [::1]:{} or another IPv6 address",
            m.host(),
            m.host_port
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv6Addr};

    use super::*;
    use crate::portspec::Protocol;

    fn mapping(ip: &str) -> PortMapping {
        PortMapping {
            host_ip: ip.parse::<IpAddr>().expect("address"),
            host_port: 8080,
            container_port: 80,
            protocol: Protocol::Tcp,
        }
    }

    fn endpoint(ip4: bool) -> Endpoint {
        let mut endpoint =
            crate::testing::fixtures::endpoint("n6", "10.1.0.2".parse().expect("address"));
        endpoint.ip = ip4.then(|| "10.1.0.2".parse().expect("address"));
        endpoint.ip6 = Some("fd00::2".parse::<Ipv6Addr>().expect("address"));
        endpoint
    }

    #[test]
    fn only_ipv4_mappings_of_ipv6_only_endpoints_are_translated() {
        let (v6only, dual) = (endpoint(false), endpoint(true));
        assert!(translates(&v6only) && !translates(&dual));
        assert!(key_into(&mapping("0.0.0.0"), &v6only).is_some());
        assert!(key_into(&mapping("0.0.0.0"), &dual).is_none());
        assert!(key_into(&mapping("::"), &v6only).is_none());
    }

    #[test]
    fn ipv4_loopback_is_refused_with_the_way_that_works() {
        let v6only = endpoint(false);
        let err = check(&[mapping("127.0.0.1")], &v6only, "n6").expect_err("refused");
        assert!(
            err.contains("127.0.0.1:8080") && err.contains("[::1]:8080"),
            "{err}"
        );
        assert!(check(&[mapping("0.0.0.0"), mapping("::1")], &v6only, "n6").is_ok());
        assert!(check(&[mapping("127.0.0.1")], &endpoint(true), "n6").is_ok());
    }
}
