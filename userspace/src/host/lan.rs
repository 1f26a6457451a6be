//! The links of macvlan and ipvlan networks: the parents ebpfnet makes
//! (a dummy, a VLAN sub-interface) and the containers' interfaces, born on
//! the parent straight inside the container's namespace under their final
//! name (so no host name is ever taken, and nothing is left to rename).

use std::{net::Ipv4Addr, os::fd::AsRawFd};

use futures::TryStreamExt;
use nix::errno::Errno;
use rtnetlink::{
    Handle, LinkDummy, LinkIpVlan, LinkMacVlan, LinkVeth, LinkVlan, RouteMessageBuilder,
    packet_route::link::{InfoKind, IpVlanFlags, IpVlanMode, LinkAttribute, LinkInfo, MacVlanMode},
};

use super::{HostError, LanDeviceSpec, netlink};
use crate::lan::{LanKind, LanNetwork, MadeParent};

/// The kind of link `name` (`None` when there is none, or it has no kind:
/// a physical device).
pub async fn link_kind(handle: &Handle, name: &str) -> Result<Option<InfoKind>, HostError> {
    if netlink::link_index(handle, name).await?.is_none() {
        return Ok(None);
    }
    let mut links = handle.link().get().match_name(name.to_string()).execute();
    let link = links
        .try_next()
        .await
        .map_err(HostError::netlink(format!("look up interface {name}")))?;
    Ok(link.and_then(|link| {
        link.attributes.into_iter().find_map(|a| match a {
            LinkAttribute::LinkInfo(infos) => infos.into_iter().find_map(|i| match i {
                LinkInfo::Kind(kind) => Some(kind),
                _ => None,
            }),
            _ => None,
        })
    }))
}

/// Makes the parent ebpfnet owns (if missing) and brings it up; returns
/// its index. `made` says what it is.
pub async fn ensure_parent(
    handle: &Handle,
    name: &str,
    made: &MadeParent,
) -> Result<u32, HostError> {
    if let Some(index) = netlink::link_index(handle, name).await? {
        netlink::set_up(handle, index, name).await?;
        return Ok(index);
    }
    let message = match made {
        MadeParent::Dummy => LinkDummy::new(name).up().build(),
        MadeParent::Vlan { link, id } => {
            let base = netlink::require_link(handle, link).await?;
            LinkVlan::new(name, base, *id).up().build()
        }
    };
    let made_it = handle.link().add(message).execute().await;
    match made_it {
        Err(e) if matches!(made, MadeParent::Dummy) && is_errno(&e, Errno::EOPNOTSUPP) => {
            // A kernel without dummy links: a veth pair whose peer nothing
            // uses is as closed a segment (and goes when `name` goes).
            let peer = dummy_veth_peer(name);
            let pair = LinkVeth::new(name, &peer).up().build();
            let what = format!("create parent interface {name}");
            netlink::add_link(handle, pair, what).await?;
            let peer_index = netlink::require_link(handle, &peer).await?;
            netlink::set_up(handle, peer_index, &peer).await?;
        }
        made_it => made_it.map_err(HostError::netlink(format!(
            "create parent interface {name}"
        )))?,
    }
    netlink::require_link(handle, name).await
}

/// The peer of a dummy parent made as a veth: `dm-X` → `dp-X`.
fn dummy_veth_peer(name: &str) -> String {
    format!("dp-{}", name.trim_start_matches("dm-"))
}

fn is_errno(err: &rtnetlink::Error, errno: Errno) -> bool {
    matches!(err, rtnetlink::Error::NetlinkError(msg) if msg.raw_code() == -(errno as i32))
}

/// Whether `err` says the kernel has no support for a kind of link (it
/// answers "Operation not supported" to an unknown `IFLA_INFO_KIND`).
pub fn unsupported(err: &HostError) -> bool {
    matches!(err, HostError::Netlink { source, .. } if is_errno(source, Errno::EOPNOTSUPP))
}

/// Creates the container's interface on the parent, inside the namespace
/// `netns` (open).
pub async fn create_device(
    handle: &Handle,
    spec: &LanDeviceSpec<'_>,
    netns: &std::fs::File,
) -> Result<(), HostError> {
    let fd = netns.as_raw_fd();
    let message = match spec.lan.kind {
        LanKind::Macvlan => {
            let link = LinkMacVlan::new(spec.ifname, spec.parent_index, macvlan_mode(spec.lan));
            match spec.mac {
                Some(mac) => link.address(mac.to_vec()),
                None => link,
            }
            .setns_by_fd(fd)
            .build()
        }
        LanKind::Ipvlan => LinkIpVlan::new(spec.ifname, spec.parent_index, ipvlan_mode(spec.lan))
            .flag(ipvlan_flag(spec.lan))
            .setns_by_fd(fd)
            .build(),
    };
    let what = format!(
        "create {} interface {} on {}",
        spec.lan.kind.driver(),
        spec.ifname,
        spec.lan.parent
    );
    netlink::add_link(handle, message, what).await
}

/// Deletes the container's interface `name` (run inside its namespace),
/// only if it is a macvlan or ipvlan one: an adopted namespace may have
/// made another of that name since.
pub async fn delete_device(handle: &Handle, name: &str) -> Result<(), HostError> {
    match link_kind(handle, name).await? {
        Some(InfoKind::MacVlan | InfoKind::IpVlan) => netlink::delete_link(handle, name).await,
        _ => Ok(()),
    }
}

fn macvlan_mode(lan: &LanNetwork) -> MacVlanMode {
    match lan.mode.as_str() {
        "private" => MacVlanMode::Private,
        "vepa" => MacVlanMode::Vepa,
        "passthru" => MacVlanMode::Passthrough,
        _ => MacVlanMode::Bridge,
    }
}

fn ipvlan_mode(lan: &LanNetwork) -> IpVlanMode {
    match lan.mode.as_str() {
        "l3" => IpVlanMode::L3,
        "l3s" => IpVlanMode::L3S,
        _ => IpVlanMode::L2,
    }
}

fn ipvlan_flag(lan: &LanNetwork) -> IpVlanFlags {
    match lan.flag.as_deref() {
        Some("private") => IpVlanFlags::Private,
        Some("vepa") => IpVlanFlags::Vepa,
        _ => IpVlanFlags::empty(),
    }
}

/// `default dev IFNAME`: ipvlan l3 and l3s containers send everything out
/// of their device, and the host routes it.
pub async fn add_device_default_route(
    handle: &Handle,
    index: u32,
    ifname: &str,
) -> Result<(), HostError> {
    let route = RouteMessageBuilder::<Ipv4Addr>::new().output_interface(index);
    netlink::replace_route(handle, route, format!("add default route dev {ifname}")).await
}
