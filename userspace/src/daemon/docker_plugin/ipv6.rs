//! IPv6 in Docker's remote-driver calls (`docker network create --ipv6`):
//! the network's IPv6 pool and gateway from CreateNetwork's `IPv6Data`
//! (Docker's IPAM chose them), an endpoint's address from CreateEndpoint's
//! `AddressIPv6`. Docker configures both in the container; ebpfnet puts the
//! gateway on the bridge and the address in the datapath.

use std::net::Ipv6Addr;

use ipnetwork::Ipv6Network;

use super::{api::IpamData, driver::DriverError};
use crate::{controller::ipv6::Ipv6Request, state::Network};

fn refused(message: String) -> DriverError {
    DriverError::Refused(message)
}

/// `addr/len` (or a bare address) as Docker writes IPv6 addresses.
fn address(text: &str, what: &str) -> Result<Ipv6Addr, DriverError> {
    let bare = text.split('/').next().unwrap_or_default();
    bare.parse()
        .map_err(|e| refused(format!("bad {what} {text:?}: {e}")))
}

/// The IPv6 side of a new network: none without `IPv6Data`, else its one
/// pool and gateway. `enable_ipv6`: the option Docker sends with `--ipv6`.
pub fn network_request(
    data: Option<&[IpamData]>,
    enable_ipv6: bool,
) -> Result<Ipv6Request, DriverError> {
    let pools = data.unwrap_or_default();
    let pool = match pools {
        [] if enable_ipv6 => {
            return Err(refused(
                "Docker asked for IPv6 but gave no IPv6 pool: give --subnet with an IPv6 subnet"
                    .into(),
            ));
        }
        [] => return Ok(Ipv6Request::default()),
        [pool] => pool,
        _ => {
            return Err(refused(format!(
                "ebpfnet networks have at most one IPv6 subnet; Docker gave {}",
                pools.len()
            )));
        }
    };
    if !pool.aux_addresses.is_empty() {
        return Err(refused(
            "ebpfnet does not reserve --aux-address addresses; create the network without".into(),
        ));
    }
    let subnet: Ipv6Network = pool
        .pool
        .parse()
        .map_err(|e| refused(format!("bad IPv6 subnet {:?}: {e}", pool.pool)))?;
    let gateway = match pool.gateway.as_str() {
        "" => None,
        text => Some(address(text, "IPv6 gateway")?),
    };
    Ok(Ipv6Request {
        enable: true,
        subnet: Some(subnet),
        gateway,
        only: false,
        // Set by the controller from the network's options.
        routed: false,
    })
}

/// An endpoint's IPv6 address (`AddressIPv6`, empty for none): inside its
/// network's IPv6 subnet, and only on a network with IPv6.
pub fn endpoint_address(text: &str, network: &Network) -> Result<Option<Ipv6Addr>, DriverError> {
    if text.is_empty() {
        return Ok(None);
    }
    let ip = address(text, "endpoint IPv6 address")?;
    match network.ipv6 {
        Some(six) if six.subnet.contains(ip) => Ok(Some(ip)),
        Some(six) => Err(refused(format!(
            "IPv6 address {ip} is outside network {}'s IPv6 subnet {}",
            network.name, six.subnet
        ))),
        None => Err(refused(format!(
            "Docker gave IPv6 address {ip} but network {} has no IPv6",
            network.name
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(pool: &str, gateway: &str) -> IpamData {
        IpamData {
            pool: pool.into(),
            gateway: gateway.into(),
            ..IpamData::default()
        }
    }

    #[test]
    fn reads_docker_ipv6_pools() {
        let req =
            network_request(Some(&[pool("fd00:d0::/64", "fd00:d0::1/64")]), true).expect("request");
        assert!(req.enable && !req.only);
        assert_eq!(req.subnet, Some("fd00:d0::/64".parse().expect("net")));
        assert_eq!(req.gateway, Some("fd00:d0::1".parse().expect("ip")));
        let none = network_request(None, false).expect("none");
        assert!(!none.enable);
    }

    #[test]
    fn refuses_what_it_cannot_take() {
        let two = [pool("fd00:d0::/64", ""), pool("fd00:d1::/64", "")];
        let err = network_request(Some(&two), true).expect_err("two");
        assert!(err.to_string().contains("at most one IPv6 subnet"), "{err}");
        let err = network_request(None, true).expect_err("no pool");
        assert!(err.to_string().contains("no IPv6 pool"), "{err}");
        let err = network_request(Some(&[pool("10.0.0.0/24", "")]), true).expect_err("v4");
        assert!(err.to_string().contains("bad IPv6 subnet"), "{err}");
        let err = network_request(Some(&[pool("fd00:d0::/64", "x/64")]), true).expect_err("gw");
        assert!(err.to_string().starts_with("bad IPv6 gateway"), "{err}");
    }
}
