//! The IPv6 side of a dual-stack global network (`network create -d
//! overlay --ipv6`): the given IPv6 subnet, or the first /64 of
//! [`OVERLAY_POOL6`] that no global network (nor a network of the
//! creating host) overlaps, and its gateway. Kept in the network's key,
//! so every host sees the same IPv6 subnet.

use std::net::Ipv6Addr;

use ipnetwork::Ipv6Network;

use crate::ipam6;

/// Where dual-stack overlay networks without an IPv6 `--subnet` take
/// theirs: the unique local /48 fd00:eb:1::/48 in /64s (bridge networks
/// take theirs from fd00:eb::/48, so the two never meet).
pub const OVERLAY_POOL6: &str = "fd00:eb:1::/48";
const POOL6_BASE: u128 = 0xfd00_00eb_0001_u128 << 80;
const POOL6_SUBNETS: u128 = 1 << 16;

/// What `--ipv6` asked for: an IPv6 `--subnet` and `--gateway`, or none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ipv6Wanted {
    pub subnet: Option<Ipv6Network>,
    pub gateway: Option<Ipv6Addr>,
}

/// The IPv6 subnet and gateway of a new global network; `taken`: the
/// global networks' IPv6 subnets (with what to call them), `local`: the
/// creating host's.
pub fn plan(
    wanted: Ipv6Wanted,
    taken: &[(Ipv6Network, String)],
    local: &[Ipv6Network],
) -> Result<(Ipv6Network, Ipv6Addr), String> {
    let clash = |subnet: Ipv6Network| {
        taken
            .iter()
            .find(|(other, _)| ipam6::overlaps(subnet, *other))
            .map(|(other, what)| format!("{what} ({other})"))
            .or_else(|| {
                local
                    .iter()
                    .find(|other| ipam6::overlaps(subnet, **other))
                    .map(|other| format!("a network of this host ({other})"))
            })
    };
    let subnet = match wanted.subnet {
        Some(subnet) => {
            let subnet = ipam6::normalise(subnet).map_err(|e| e.to_string())?;
            if let Some(what) = clash(subnet) {
                return Err(format!("subnet {subnet} overlaps {what}"));
            }
            subnet
        }
        None => {
            if let Some(gateway) = wanted.gateway {
                return Err(format!(
                    "--gateway {gateway} needs the IPv6 --subnet it is in"
                ));
            }
            (0..POOL6_SUBNETS)
                .filter_map(|i| {
                    let ip = Ipv6Addr::from(POOL6_BASE | (i << 64));
                    Ipv6Network::new(ip, ipam6::AUTO_PREFIX).ok()
                })
                .find(|subnet| clash(*subnet).is_none())
                .ok_or_else(|| {
                    format!(
                        "no free IPv6 /64 left in the overlay pool {OVERLAY_POOL6}; give one \
                         with --subnet"
                    )
                })?
        }
    };
    let gateway = match wanted.gateway {
        Some(gateway) => {
            ipam6::check_gateway(subnet, gateway).map_err(|e| e.to_string())?;
            gateway
        }
        None => ipam6::default_gateway(subnet),
    };
    Ok((subnet, gateway))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> Ipv6Network {
        text.parse().unwrap()
    }

    #[test]
    fn first_free_slash64_of_the_pool() {
        let taken = vec![(net("fd00:eb:1::/64"), "network a".to_string())];
        let local = vec![net("fd00:eb:1:1::/64")];
        assert_eq!(
            plan(Ipv6Wanted::default(), &taken, &local),
            Ok((net("fd00:eb:1:2::/64"), "fd00:eb:1:2::1".parse().unwrap()))
        );
        assert_eq!(
            OVERLAY_POOL6.parse::<Ipv6Network>().unwrap().network(),
            Ipv6Addr::from(POOL6_BASE)
        );
    }

    #[test]
    fn given_subnet_and_gateway_are_checked() {
        let taken = vec![(net("fd00:aa::/48"), "network a".to_string())];
        let wanted = |subnet: &str, gateway: Option<&str>| Ipv6Wanted {
            subnet: Some(net(subnet)),
            gateway: gateway.map(|g| g.parse().unwrap()),
        };
        let e = plan(wanted("fd00:aa:0:5::/64", None), &taken, &[]).unwrap_err();
        assert_eq!(
            e,
            "subnet fd00:aa:0:5::/64 overlaps network a (fd00:aa::/48)"
        );
        let e = plan(wanted("fd00:bb::/64", None), &[], &[net("fd00:bb::/56")]).unwrap_err();
        assert!(e.contains("a network of this host (fd00:bb::/56)"), "{e}");
        let e = plan(wanted("fd00:bb::/64", Some("fd00:cc::1")), &[], &[]).unwrap_err();
        assert!(e.contains("not inside subnet fd00:bb::/64"), "{e}");
        assert_eq!(
            plan(wanted("fd00:bb::7/64", Some("fd00:bb::fe")), &taken, &[]),
            Ok((net("fd00:bb::/64"), "fd00:bb::fe".parse().unwrap()))
        );
        let e = plan(
            Ipv6Wanted {
                subnet: None,
                gateway: Some("fd00:bb::1".parse().unwrap()),
            },
            &[],
            &[],
        )
        .unwrap_err();
        assert!(e.contains("needs the IPv6 --subnet"), "{e}");
    }
}
