//! CHECK: the attachment is still what ADD reported (`prevResult`): the
//! daemon has the container with that address, the host side of its veth
//! exists, and inside the namespace the interface has the address and
//! carries the default route.

use std::{net::Ipv4Addr, path::Path};

use ebpfnet::host::{HostError, netlink, netns};

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
    let Some(ip) = now.ips.iter().find_map(|c| match c.address {
        ipnetwork::IpNetwork::V4(net) => Some(net.ip()),
        ipnetwork::IpNetwork::V6(_) => None,
    }) else {
        return Err(differs("the daemon reports no IPv4 address"));
    };
    check_in_namespace(netns_path, &attachment.ifname, ip).await?;
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

/// Inside the namespace: `ifname` exists, has `ip`, and the default route
/// leaves through it.
async fn check_in_namespace(path: &Path, ifname: &str, ip: Ipv4Addr) -> Result<(), CniError> {
    let ifname = ifname.to_string();
    let found = netns::in_netns(path, move |handle| async move {
        let Some(index) = netlink::link_index(&handle, &ifname).await? else {
            return Ok(Err(format!("the namespace has no interface {ifname}")));
        };
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
        Ok::<_, HostError>(Ok(()))
    })
    .await
    .map_err(|e| differs(e.to_string()))?;
    found.map_err(differs)
}
