//! The host's one collect-metadata VXLAN device (`ip link add NAME type
//! vxlan external dstport 4789`): the eBPF programs set each packet's
//! tunnel key (VNI, remote host) and redirect it here; decapsulated
//! packets come in here carrying the key.

use nix::errno::Errno;
use rtnetlink::{
    Handle, LinkMessageBuilder, LinkVxlan,
    packet_route::link::{InfoData, InfoKind, InfoVxlan, LinkAttribute, LinkInfo},
};

use super::{HostError, netlink};

/// IANA's VXLAN port (RFC 7348), as Docker's overlay driver uses.
pub const VXLAN_PORT: u16 = 4789;

/// Makes the device (up) unless it exists; answers its index. An existing
/// link of that name that is not a collect-metadata VXLAN device is an
/// error naming it, never taken over.
pub async fn ensure(handle: &Handle, name: &str) -> Result<u32, HostError> {
    if let Some(index) = netlink::link_index(handle, name).await? {
        check_external(handle, name).await?;
        netlink::set_up(handle, index, name).await?;
        return Ok(index);
    }
    let message = LinkMessageBuilder::<LinkVxlan>::new(name)
        .collect_metadata(true)
        .learning(false)
        .port(VXLAN_PORT)
        .up()
        .build();
    match handle.link().add(message).execute().await {
        Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -(Errno::EEXIST as i32) => {
            Err(HostError::Io {
                action: format!("create VXLAN device {name}"),
                source: std::io::Error::other(format!(
                    "another VXLAN device already listens on UDP port {VXLAN_PORT} \
                     (only one collect-metadata device per port and namespace)"
                )),
            })
        }
        Err(e) => Err(HostError::netlink(format!("create VXLAN device {name}"))(e)),
        Ok(()) => netlink::require_link(handle, name).await,
    }
}

/// `name` must be a VXLAN device in `external` (collect-metadata) mode.
async fn check_external(handle: &Handle, name: &str) -> Result<(), HostError> {
    use futures::TryStreamExt as _;
    let mut links = handle.link().get().match_name(name.to_string()).execute();
    let link = links
        .try_next()
        .await
        .map_err(HostError::netlink(format!("look up {name}")))?
        .ok_or_else(|| HostError::NoSuchLink(name.to_string()))?;
    let mut kind = None;
    let mut external = false;
    for attribute in &link.attributes {
        let LinkAttribute::LinkInfo(infos) = attribute else {
            continue;
        };
        for info in infos {
            match info {
                LinkInfo::Kind(k) => kind = Some(k.clone()),
                LinkInfo::Data(InfoData::Vxlan(data)) => {
                    external = data.contains(&InfoVxlan::CollectMetadata(true));
                }
                _ => {}
            }
        }
    }
    if kind == Some(InfoKind::Vxlan) && external {
        Ok(())
    } else {
        Err(HostError::Io {
            action: format!("use {name} as the overlay VXLAN device"),
            source: std::io::Error::other(
                "a link of that name exists and is not a collect-metadata (external) VXLAN device",
            ),
        })
    }
}
