//! IPv4 address management: lowest free address first, as Docker does.

use std::{collections::BTreeSet, net::Ipv4Addr};

use ipnetwork::Ipv4Network;
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum IpamError {
    #[error("address {ip} is not inside subnet {subnet}")]
    OutsideSubnet { ip: Ipv4Addr, subnet: Ipv4Network },
    #[error("address {ip} is the {what} address of subnet {subnet}")]
    Reserved {
        ip: Ipv4Addr,
        what: &'static str,
        subnet: Ipv4Network,
    },
    #[error("address {ip} is already in use on network {network}")]
    InUse { ip: Ipv4Addr, network: String },
    #[error("no free address left in subnet {subnet} of network {network}")]
    Exhausted {
        subnet: Ipv4Network,
        network: String,
    },
    #[error("subnet {subnet} is too small: it needs room for a gateway and a container")]
    TooSmall { subnet: Ipv4Network },
}

/// The addresses of one network: which are taken, and which to hand out next.
pub struct Pool<'a> {
    pub network: &'a str,
    pub subnet: Ipv4Network,
    pub gateway: Ipv4Addr,
    pub used: BTreeSet<Ipv4Addr>,
}

impl Pool<'_> {
    /// Checks that `ip` may be given to a container.
    pub fn check(&self, ip: Ipv4Addr) -> Result<(), IpamError> {
        let subnet = self.subnet;
        if !subnet.contains(ip) {
            return Err(IpamError::OutsideSubnet { ip, subnet });
        }
        let reserved = |what| Err(IpamError::Reserved { ip, what, subnet });
        if subnet.prefix() < 31 {
            if ip == subnet.network() {
                return reserved("network");
            }
            if ip == subnet.broadcast() {
                return reserved("broadcast");
            }
        }
        if ip == self.gateway {
            return reserved("gateway");
        }
        if self.used.contains(&ip) {
            return Err(IpamError::InUse {
                ip,
                network: self.network.to_string(),
            });
        }
        Ok(())
    }

    /// The lowest free address, so a freed address is handed out again.
    pub fn allocate(&self) -> Result<Ipv4Addr, IpamError> {
        let first = u32::from(self.subnet.network());
        let last = u32::from(self.subnet.broadcast());
        (first..=last)
            .map(Ipv4Addr::from)
            .find(|ip| self.check(*ip).is_ok())
            .ok_or_else(|| IpamError::Exhausted {
                subnet: self.subnet,
                network: self.network.to_string(),
            })
    }
}

/// The gateway of a subnet when none is given: its first host address.
pub fn default_gateway(subnet: Ipv4Network) -> Result<Ipv4Addr, IpamError> {
    if subnet.prefix() > 30 {
        return Err(IpamError::TooSmall { subnet });
    }
    Ok(Ipv4Addr::from(u32::from(subnet.network()) + 1))
}

/// Checks a user-given gateway.
pub fn check_gateway(subnet: Ipv4Network, gateway: Ipv4Addr) -> Result<(), IpamError> {
    if subnet.prefix() > 30 {
        return Err(IpamError::TooSmall { subnet });
    }
    if !subnet.contains(gateway) {
        return Err(IpamError::OutsideSubnet {
            ip: gateway,
            subnet,
        });
    }
    if gateway == subnet.network() || gateway == subnet.broadcast() {
        let what = if gateway == subnet.network() {
            "network"
        } else {
            "broadcast"
        };
        return Err(IpamError::Reserved {
            ip: gateway,
            what,
            subnet,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(used: &[[u8; 4]]) -> Pool<'static> {
        Pool {
            network: "net",
            subnet: "10.1.2.0/29".parse().expect("cidr"),
            gateway: Ipv4Addr::new(10, 1, 2, 1),
            used: used.iter().map(|o| Ipv4Addr::from(*o)).collect(),
        }
    }

    #[test]
    fn hands_out_in_order_skipping_reserved() {
        assert_eq!(pool(&[]).allocate(), Ok(Ipv4Addr::new(10, 1, 2, 2)));
        assert_eq!(
            pool(&[[10, 1, 2, 2]]).allocate(),
            Ok(Ipv4Addr::new(10, 1, 2, 3))
        );
    }

    #[test]
    fn reuses_freed_addresses() {
        // .2 was freed while .3 stays: .2 comes back first.
        assert_eq!(
            pool(&[[10, 1, 2, 3]]).allocate(),
            Ok(Ipv4Addr::new(10, 1, 2, 2))
        );
    }

    #[test]
    fn exhaustion_is_reported() {
        let full = pool(&[
            [10, 1, 2, 2],
            [10, 1, 2, 3],
            [10, 1, 2, 4],
            [10, 1, 2, 5],
            [10, 1, 2, 6],
        ]);
        assert!(matches!(full.allocate(), Err(IpamError::Exhausted { .. })));
    }

    #[test]
    fn explicit_addresses_are_checked() {
        let p = pool(&[[10, 1, 2, 3]]);
        assert_eq!(p.check(Ipv4Addr::new(10, 1, 2, 4)), Ok(()));
        let err = |ip: [u8; 4]| {
            p.check(Ipv4Addr::from(ip))
                .expect_err("refused")
                .to_string()
        };
        assert!(err([10, 1, 3, 4]).contains("not inside subnet 10.1.2.0/29"));
        assert!(err([10, 1, 2, 0]).contains("network address"));
        assert!(err([10, 1, 2, 7]).contains("broadcast address"));
        assert!(err([10, 1, 2, 1]).contains("gateway address"));
        assert!(err([10, 1, 2, 3]).contains("already in use on network net"));
    }

    #[test]
    fn gateways() {
        let subnet: Ipv4Network = "10.9.0.0/16".parse().expect("cidr");
        assert_eq!(default_gateway(subnet), Ok(Ipv4Addr::new(10, 9, 0, 1)));
        assert!(check_gateway(subnet, Ipv4Addr::new(10, 8, 0, 1)).is_err());
        assert!(check_gateway(subnet, Ipv4Addr::new(10, 9, 255, 255)).is_err());
        assert_eq!(check_gateway(subnet, Ipv4Addr::new(10, 9, 0, 254)), Ok(()));
        assert!(default_gateway("10.0.0.0/31".parse().expect("cidr")).is_err());
    }
}
