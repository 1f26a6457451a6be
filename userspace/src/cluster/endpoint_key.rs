//! The key of a container's endpoint on an overlay network, under
//! `/ebpfnet/v1/endpoints/`: `<network>/<address>`, where `<address>` is
//! the container's IPv4 address on an IPv4 or dual-stack network (its
//! IPv6 address, if any, is the record's `ip6`), and its IPv6 address on
//! an IPv6-only network (`fd00:eb:1::2`, as `Ipv6Addr` prints it: lower
//! case, zeros compressed; the record's `ip6` is the same address).
//!
//! Keys of IPv4 and dual-stack networks are those that daemons wrote
//! before IPv6-only overlay networks; a daemon that predates them skips
//! an IPv6 key (its address is no IPv4 one). Network names never hold a
//! `/` (`ids::validate`), so the address is what follows the last one.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why a key or its record cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointKeyError {
    #[error("endpoint key {0:?} is not <network>/<address>")]
    Shape(String),
    #[error("endpoint key {0:?}: {1:?} is not an IPv4 or IPv6 address")]
    Address(String, String),
    #[error("endpoint key {key:?} names IPv6 address {key_ip6} but its record's ip6 is {ip6}")]
    Mismatch {
        key: String,
        key_ip6: Ipv6Addr,
        ip6: Ipv6Addr,
    },
}

/// A container's addresses on an overlay network, as its key and record
/// give them: an IPv4 one (none on an IPv6-only network), an IPv6 one
/// (on a network with IPv6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointAddrs {
    pub ip: Option<Ipv4Addr>,
    pub ip6: Option<Ipv6Addr>,
}

impl EndpointAddrs {
    /// The address the key names: the IPv4 one when there is one.
    pub fn key_address(&self) -> Option<IpAddr> {
        self.ip.map(IpAddr::V4).or_else(|| self.ip6.map(IpAddr::V6))
    }
}

/// The key (below the endpoints prefix) of an endpoint with `addrs` on
/// `network`; `None` for one with no address at all.
pub fn encode(network: &str, addrs: EndpointAddrs) -> Option<String> {
    Some(format!("{network}/{}", addrs.key_address()?))
}

/// The network and addresses of the endpoint under `key` (below the
/// endpoints prefix), whose record has `record_ip6`.
pub fn decode(
    key: &str,
    record_ip6: Option<Ipv6Addr>,
) -> Result<(String, EndpointAddrs), EndpointKeyError> {
    let (network, address) = key
        .rsplit_once('/')
        .filter(|(network, address)| !network.is_empty() && !address.is_empty())
        .ok_or_else(|| EndpointKeyError::Shape(key.to_string()))?;
    let address: IpAddr = address
        .parse()
        .map_err(|_| EndpointKeyError::Address(key.to_string(), address.to_string()))?;
    let addrs = match address {
        IpAddr::V4(ip) => EndpointAddrs {
            ip: Some(ip),
            ip6: record_ip6,
        },
        IpAddr::V6(key_ip6) => {
            if let Some(ip6) = record_ip6.filter(|ip6| *ip6 != key_ip6) {
                return Err(EndpointKeyError::Mismatch {
                    key: key.to_string(),
                    key_ip6,
                    ip6,
                });
            }
            EndpointAddrs {
                ip: None,
                ip6: Some(key_ip6),
            }
        }
    };
    Ok((network.to_string(), addrs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(ip: Option<&str>, ip6: Option<&str>) -> EndpointAddrs {
        EndpointAddrs {
            ip: ip.map(|ip| ip.parse().unwrap()),
            ip6: ip6.map(|ip| ip.parse().unwrap()),
        }
    }

    #[test]
    fn ipv4_and_dual_stack_endpoints_keep_the_ipv4_key() {
        let v4 = addrs(Some("10.129.0.2"), None);
        assert_eq!(encode("web", v4).unwrap(), "web/10.129.0.2");
        let dual = addrs(Some("10.129.0.3"), Some("fd00:eb:1::3"));
        assert_eq!(encode("web", dual).unwrap(), "web/10.129.0.3");
        // As this release (and the one before) wrote them.
        assert_eq!(decode("web/10.129.0.2", None).unwrap(), ("web".into(), v4));
        assert_eq!(
            decode("web/10.129.0.3", dual.ip6).unwrap(),
            ("web".into(), dual)
        );
    }

    #[test]
    fn ipv6_only_endpoints_are_keyed_by_their_ipv6_address() {
        let six = addrs(None, Some("fd00:eb:1:0:0:0:0:a"));
        let key = encode("v6net", six).unwrap();
        assert_eq!(key, "v6net/fd00:eb:1::a", "the canonical form");
        assert_eq!(decode(&key, six.ip6).unwrap(), ("v6net".into(), six));
        // The record's ip6 may be left out: the key names it.
        assert_eq!(decode(&key, None).unwrap(), ("v6net".into(), six));
        assert_eq!(encode("v6net", addrs(None, None)), None);
    }

    #[test]
    fn bad_keys_and_records_are_refused_with_the_key() {
        for bad in ["web", "/10.0.0.1", "web/", "web/10.0.0.256", "web/fd00::g"] {
            let e = decode(bad, None).unwrap_err();
            assert!(e.to_string().contains(&format!("{bad:?}")), "{bad}: {e}");
        }
        let e = decode("v6/fd00::1", Some("fd00::2".parse().unwrap())).unwrap_err();
        assert_eq!(
            e.to_string(),
            "endpoint key \"v6/fd00::1\" names IPv6 address fd00::1 but its record's ip6 is fd00::2"
        );
    }
}
