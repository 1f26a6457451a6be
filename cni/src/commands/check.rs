//! CHECK: the attachment is still what ADD reported (`prevResult`): the
//! daemon has the container with that address, the host side of its veth
//! exists, and inside the namespace the interface has the address and
//! carries the default route.

use std::{
    net::{Ipv4Addr, Ipv6Addr},
    path::Path,
};

use ebpfnet::host::{HostError, netlink, netlink6, netns};

use super::inspect_container;
use crate::{
    attachment::{self, attachment_of, container_name},
    config::{Attachment, CniEnv, NetConf},
    daemon::Daemon,
    error::{CniError, code},
    result::{self, CniResult},
};

fn differs(details: impl Into<String>) -> CniError {
    CniError::new(
        code::CHECK_FAILED,
        "the attachment differs from its result",
        details,
    )
}

pub async fn run(conf: &NetConf, env: &CniEnv, daemon: &Daemon) -> Result<(), CniError> {
    let attachment = Attachment {
        container_id: env.container_id()?.to_string(),
        ifname: env.ifname()?.to_string(),
    };
    let netns_path = env.netns()?;
    let prev = conf
        .prev_result
        .clone()
        .ok_or_else(|| CniError::invalid_config("CHECK needs prevResult"))?;
    let prev: CniResult = serde_json::from_value(prev)
        .map_err(|e| CniError::invalid_config(format!("prevResult: {e}")))?;
    let name = container_name(&attachment.container_id);
    let view = inspect_container(daemon, &name)
        .await?
        .ok_or_else(|| differs(format!("ebpfnet has no container {name}")))?;
    if attachment_of(&view, &conf.name).as_ref() != Some(&attachment) {
        return Err(differs(format!(
            "container {name} is not this attachment's"
        )));
    }
    let now = result::build(
        &conf.cni_version,
        &view,
        conf.network(),
        netns_path,
        attachment::runtime_dns(conf),
    )?;
    if prev.ips.iter().map(|ip| ip.address).collect::<Vec<_>>()
        != now.ips.iter().map(|ip| ip.address).collect::<Vec<_>>()
    {
        return Err(differs(format!(
            "addresses: prevResult has {:?}, the daemon {:?}",
            prev.ips, now.ips
        )));
    }
    let four = now.ips.iter().find_map(|c| match c.address {
        ipnetwork::IpNetwork::V4(net) => Some(net.ip()),
        ipnetwork::IpNetwork::V6(_) => None,
    });
    let six = now.ips.iter().find_map(|c| match c.address {
        ipnetwork::IpNetwork::V6(net) => Some(net.ip()),
        ipnetwork::IpNetwork::V4(_) => None,
    });
    check_in_namespace(netns_path, &attachment.ifname, four, six).await?;
    let host_veth = &now.interfaces[0].name;
    if !Path::new("/sys/class/net").join(host_veth).exists() {
        return Err(differs(format!("the host has no interface {host_veth}")));
    }
    let sandbox = netns_path.display().to_string();
    if !prev
        .interfaces
        .iter()
        .any(|i| i.name == attachment.ifname && i.sandbox.as_ref() == Some(&sandbox))
    {
        return Err(differs(format!(
            "prevResult does not list interface {} in sandbox {sandbox}",
            attachment.ifname
        )));
    }
    Ok(())
}

/// Inside the namespace: `ifname` exists, has `four` and `six`, and the
/// default route leaves through it (the IPv4 one; the IPv6 one on an
/// IPv6-only network).
async fn check_in_namespace(
    path: &Path,
    ifname: &str,
    four: Option<Ipv4Addr>,
    six: Option<Ipv6Addr>,
) -> Result<(), CniError> {
    let ifname = ifname.to_string();
    let found = netns::in_netns(path, move |handle| async move {
        let Some(index) = netlink::link_index(&handle, &ifname).await? else {
            return Ok(Err(format!("the namespace has no interface {ifname}")));
        };
        if let Some(ip) = four {
            let addresses = netlink::ipv4_addresses(&handle).await?;
            if !addresses.iter().any(|a| a.ifindex == index && a.ip == ip) {
                return Ok(Err(format!("{ifname} does not have {ip}")));
            }
            let routes = netlink::routes(&handle).await?;
            if !routes
                .iter()
                .any(|r| r.destination.prefix() == 0 && r.output == Some(index))
            {
                return Ok(Err(format!("the default route does not leave by {ifname}")));
            }
        }
        if let Some(ip) = six {
            let addresses = netlink6::addresses(&handle).await?;
            if !addresses.contains(&(ip, index)) {
                return Ok(Err(format!("{ifname} does not have {ip}")));
            }
            let routes = netlink6::routes(&handle).await?;
            let routed = routes
                .iter()
                .any(|r| r.destination.prefix() == 0 && r.output == Some(index));
            if four.is_none() && !routed {
                return Ok(Err(format!(
                    "the IPv6 default route does not leave by {ifname}"
                )));
            }
        }
        if four.is_none() && six.is_none() {
            return Ok(Err("the daemon reports no address".to_string()));
        }
        Ok::<_, HostError>(Ok(()))
    })
    .await
    .map_err(|e| differs(e.to_string()))?;
    found.map_err(differs)
}
