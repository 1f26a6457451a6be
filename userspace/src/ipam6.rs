//! IPv6 address management, as for IPv4: lowest free address first (so a
//! freed one comes back), `--ip6` checked; and the pool of unique local
//! /64s a network takes when no IPv6 subnet is given.

use std::{collections::BTreeSet, net::Ipv6Addr};

use ipnetwork::Ipv6Network;
use thiserror::Error;

/// Where IPv6 subnets come from when none is given: the unique local
/// prefix fd00:eb::/48 split into /64s, fd00:eb:0:0::/64 first, then
/// fd00:eb:0:1::/64, and so on (Docker picks /64s of a ULA /48 too).
pub const AUTO_POOL: &str = "fd00:eb::/48";
/// The prefix length of a network taken from [`AUTO_POOL`].
pub const AUTO_PREFIX: u8 = 64;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum Ipam6Error {
    #[error("address {ip} is not inside subnet {subnet}")]
    OutsideSubnet { ip: Ipv6Addr, subnet: Ipv6Network },
    #[error("address {ip} is the {what} address of subnet {subnet}")]
    Reserved {
        ip: Ipv6Addr,
        what: &'static str,
        subnet: Ipv6Network,
    },
    #[error("address {ip} is already in use on network {network}")]
    InUse { ip: Ipv6Addr, network: String },
    #[error("no free address left in subnet {subnet} of network {network}")]
    Exhausted {
        subnet: Ipv6Network,
        network: String,
    },
    #[error(
        "IPv6 subnet {subnet} is too small: give a prefix of /{MAX_PREFIX} or shorter (/64 is usual)"
    )]
    TooSmall { subnet: Ipv6Network },
    #[error("{ip} is not a unicast address a network can use")]
    NotUnicast { ip: Ipv6Addr },
}

/// The longest prefix taken: room for a gateway and some containers.
pub const MAX_PREFIX: u8 = 124;

/// The IPv6 addresses of one network.
pub struct Pool6<'a> {
    pub network: &'a str,
    pub subnet: Ipv6Network,
    pub gateway: Ipv6Addr,
    pub used: BTreeSet<Ipv6Addr>,
}

impl Pool6<'_> {
    /// Checks that `ip` may be given to a container.
    pub fn check(&self, ip: Ipv6Addr) -> Result<(), Ipam6Error> {
        let subnet = self.subnet;
        if !subnet.contains(ip) {
            return Err(Ipam6Error::OutsideSubnet { ip, subnet });
        }
        if ip == subnet.network() {
            // RFC 4291 2.6.1: routers answer it.
            return Err(Ipam6Error::Reserved {
                ip,
                what: "subnet-router anycast",
                subnet,
            });
        }
        if ip == self.gateway {
            return Err(Ipam6Error::Reserved {
                ip,
                what: "gateway",
                subnet,
            });
        }
        if self.used.contains(&ip) {
            return Err(Ipam6Error::InUse {
                ip,
                network: self.network.to_string(),
            });
        }
        Ok(())
    }

    /// The lowest free address. Only the used ones and the gateway can be
    /// in the way, so the walk is as long as they are many.
    pub fn allocate(&self) -> Result<Ipv6Addr, Ipam6Error> {
        let first = u128::from(self.subnet.network());
        let last = u128::from(self.subnet.broadcast());
        // The subnet-router anycast address, the gateway, the used ones.
        let steps = self.used.len() as u128 + 3;
        (first..=last)
            .take(usize::try_from(steps).unwrap_or(usize::MAX))
            .map(Ipv6Addr::from)
            .find(|ip| self.check(*ip).is_ok())
            .ok_or_else(|| Ipam6Error::Exhausted {
                subnet: self.subnet,
                network: self.network.to_string(),
            })
    }
}

/// `subnet` with its host bits cleared (fd00:1::5/64 -> fd00:1::/64), as
/// Docker normalises, after checking it can hold a network.
pub fn normalise(subnet: Ipv6Network) -> Result<Ipv6Network, Ipam6Error> {
    if subnet.prefix() > MAX_PREFIX {
        return Err(Ipam6Error::TooSmall { subnet });
    }
    let network = subnet.network();
    if network.is_multicast() || network.is_loopback() || network.is_unspecified() {
        return Err(Ipam6Error::NotUnicast { ip: network });
    }
    Ok(Ipv6Network::new(network, subnet.prefix()).expect("a network's own prefix is valid"))
}

/// The gateway of a subnet when none is given: its first address after
/// the subnet-router anycast one.
pub fn default_gateway(subnet: Ipv6Network) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(subnet.network()) + 1)
}

/// Checks a user-given gateway.
pub fn check_gateway(subnet: Ipv6Network, gateway: Ipv6Addr) -> Result<(), Ipam6Error> {
    if !subnet.contains(gateway) {
        return Err(Ipam6Error::OutsideSubnet {
            ip: gateway,
            subnet,
        });
    }
    if gateway == subnet.network() {
        return Err(Ipam6Error::Reserved {
            ip: gateway,
            what: "subnet-router anycast",
            subnet,
        });
    }
    Ok(())
}

/// The `n`th /64 of [`AUTO_POOL`], `None` past its end.
pub fn auto_subnet(n: u32) -> Option<Ipv6Network> {
    let pool: Ipv6Network = AUTO_POOL.parse().expect("the pool is a valid CIDR");
    let n = u16::try_from(n).ok()?;
    let base = u128::from(pool.network()) | (u128::from(n) << 64);
    Ipv6Network::new(Ipv6Addr::from(base), AUTO_PREFIX).ok()
}

/// Whether two IPv6 subnets share an address.
pub fn overlaps(a: Ipv6Network, b: Ipv6Network) -> bool {
    a.contains(b.network()) || b.contains(a.network())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Ipv6Addr {
        text.parse().expect("ip")
    }

    fn pool(used: &[&str]) -> Pool6<'static> {
        Pool6 {
            network: "net",
            subnet: "fd00:1::/120".parse().expect("cidr"),
            gateway: ip("fd00:1::1"),
            used: used.iter().map(|s| ip(s)).collect(),
        }
    }

    #[test]
    fn hands_out_in_order_and_reuses_freed() {
        assert_eq!(pool(&[]).allocate(), Ok(ip("fd00:1::2")));
        assert_eq!(pool(&["fd00:1::2"]).allocate(), Ok(ip("fd00:1::3")));
        // ::2 was freed while ::3 stays: ::2 comes back first.
        assert_eq!(pool(&["fd00:1::3"]).allocate(), Ok(ip("fd00:1::2")));
    }

    #[test]
    fn exhaustion_is_reported() {
        let mut p = pool(&[]);
        p.subnet = "fd00:1::/126".parse().expect("cidr");
        p.used = [ip("fd00:1::2"), ip("fd00:1::3")].into();
        assert!(matches!(p.allocate(), Err(Ipam6Error::Exhausted { .. })));
    }

    #[test]
    fn explicit_addresses_are_checked() {
        let p = pool(&["fd00:1::3"]);
        assert_eq!(p.check(ip("fd00:1::4")), Ok(()));
        let err = |s: &str| p.check(ip(s)).expect_err("refused").to_string();
        assert!(err("fd00:2::4").contains("not inside subnet fd00:1::/120"));
        assert!(err("fd00:1::").contains("subnet-router anycast"));
        assert!(err("fd00:1::1").contains("gateway address"));
        assert!(err("fd00:1::3").contains("already in use on network net"));
    }

    #[test]
    fn subnets_and_gateways() {
        let subnet = normalise("fd00:9::5/64".parse().expect("cidr")).expect("ok");
        assert_eq!(subnet.to_string(), "fd00:9::/64");
        assert_eq!(default_gateway(subnet), ip("fd00:9::1"));
        assert!(check_gateway(subnet, ip("fd00:8::1")).is_err());
        assert!(check_gateway(subnet, ip("fd00:9::")).is_err());
        assert_eq!(check_gateway(subnet, ip("fd00:9::fe")), Ok(()));
        assert!(normalise("fd00::/127".parse().expect("cidr")).is_err());
        assert!(normalise("ff02::/64".parse().expect("cidr")).is_err());
        assert!(normalise("::1/128".parse().expect("cidr")).is_err());
    }

    #[test]
    fn the_pool_is_split_in_64s() {
        assert_eq!(
            auto_subnet(0).map(|s| s.to_string()),
            Some("fd00:eb::/64".into())
        );
        assert_eq!(
            auto_subnet(1).map(|s| s.to_string()),
            Some("fd00:eb:0:1::/64".into())
        );
        assert_eq!(
            auto_subnet(65535).map(|s| s.to_string()),
            Some("fd00:eb:0:ffff::/64".into())
        );
        assert_eq!(auto_subnet(65536), None);
        assert!(overlaps(
            "fd00:eb::/48".parse().expect("cidr"),
            auto_subnet(7).expect("in pool")
        ));
        assert!(!overlaps(
            auto_subnet(1).expect("in pool"),
            auto_subnet(2).expect("in pool")
        ));
    }
}
