//! [`NetlinkHost`]: the real [`Host`], over netlink, namespaces, sysctls
//! and `/etc/netns` files.

use std::{
    net::{Ipv4Addr, Ipv6Addr, SocketAddr},
    path::{Path, PathBuf},
};

use async_trait::async_trait;

use super::{
    HostError, etc, lan,
    netlink::{self, HostAddress, Route},
    netlink6::{self, Route6},
    netns::{self, NsId},
    ops::{Host, InterfaceAddress, LanDeviceSpec, Probe, VethSpec},
};
use crate::{lan::MadeParent, portspec::Protocol};

/// The real host, over a netlink connection of the calling namespace.
pub struct NetlinkHost {
    handle: rtnetlink::Handle,
}

impl NetlinkHost {
    /// Opens a netlink connection (served by a task on the current tokio
    /// runtime).
    pub fn connect() -> Result<Self, HostError> {
        let (connection, handle, _) =
            rtnetlink::new_connection().map_err(HostError::io("open a netlink socket"))?;
        tokio::spawn(connection);
        Ok(Self { handle })
    }
}

#[async_trait]
impl Host for NetlinkHost {
    async fn link_index(&self, name: &str) -> Result<Option<u32>, HostError> {
        netlink::link_index(&self.handle, name).await
    }

    async fn link_name(&self, index: u32) -> Result<Option<String>, HostError> {
        netlink::link_name(&self.handle, index).await
    }

    async fn ensure_bridge(
        &self,
        name: &str,
        mac: [u8; 6],
        gateway: Option<(Ipv4Addr, u8)>,
    ) -> Result<u32, HostError> {
        netlink::ensure_bridge(&self.handle, name, mac, gateway).await
    }

    async fn ensure_bridge6(
        &self,
        name: &str,
        gateway: Ipv6Addr,
        prefix: u8,
    ) -> Result<(), HostError> {
        let index = netlink::require_link(&self.handle, name).await?;
        super::enable_ipv6_nodad(name)?;
        super::refuse_router_advertisements(name)?;
        netlink6::add_address(&self.handle, index, gateway, prefix).await
    }

    async fn create_veth(&self, spec: &VethSpec<'_>) -> Result<u32, HostError> {
        let ns = netns::open_netns(spec.peer_netns)?;
        netlink::create_veth(&self.handle, spec, &ns).await
    }

    async fn delete_link(&self, name: &str) -> Result<(), HostError> {
        netlink::delete_link(&self.handle, name).await
    }

    async fn ensure_vxlan(&self, name: &str) -> Result<u32, HostError> {
        super::vxlan::ensure(&self.handle, name).await
    }

    async fn routes(&self) -> Result<Vec<Route>, HostError> {
        netlink::routes(&self.handle).await
    }

    async fn routes6(&self) -> Result<Vec<Route6>, HostError> {
        netlink6::routes(&self.handle).await
    }

    async fn ipv4_addresses(&self) -> Result<Vec<HostAddress>, HostError> {
        netlink::ipv4_addresses(&self.handle).await
    }

    async fn ipv6_addresses(&self) -> Result<Vec<(Ipv6Addr, u32)>, HostError> {
        netlink6::addresses(&self.handle).await
    }

    fn enable_forwarding(&self, ifname: &str) -> Result<(), HostError> {
        super::enable_forwarding(ifname)
    }

    fn refuse_router_advertisements(&self, ifname: &str) -> Result<(), HostError> {
        super::refuse_router_advertisements(ifname)
    }

    fn ip_local_port_range(&self) -> String {
        super::ip_local_port_range()
    }

    fn netns_cookie(&self) -> Result<u64, HostError> {
        super::netns_cookie()
    }

    fn netns_exists(&self, name: &str) -> bool {
        netns::netns_exists(name)
    }

    fn create_netns(&self, name: &str) -> Result<PathBuf, HostError> {
        netns::create_netns(name)
    }

    fn delete_netns(&self, name: &str) -> Result<(), HostError> {
        netns::delete_netns(name)
    }

    fn ns_id(&self, path: &Path) -> std::io::Result<NsId> {
        netns::ns_id(path)
    }

    fn is_netns(&self, path: &Path) -> Result<(), HostError> {
        netns::is_netns(path)
    }

    async fn loopback_up(&self, netns: &Path) -> Result<(), HostError> {
        netns::in_netns(netns, |handle| async move {
            let lo = netlink::require_link(&handle, "lo").await?;
            netlink::set_up(&handle, lo, "lo").await
        })
        .await
    }

    async fn configure_interface(
        &self,
        netns: &Path,
        ifname: &str,
        address: InterfaceAddress,
    ) -> Result<(), HostError> {
        let ifname = ifname.to_string();
        netns::in_netns(netns, move |handle| async move {
            let lo = netlink::require_link(&handle, "lo").await?;
            netlink::set_up(&handle, lo, "lo").await?;
            let index = netlink::require_link(&handle, &ifname).await?;
            if let Some(ip) = address.ip {
                netlink::add_address(&handle, index, ip, address.prefix).await?;
            }
            if let Some(six) = address.ipv6 {
                // Before the link comes up: its link-local address skips
                // DAD too. This thread is inside the namespace.
                super::enable_ipv6_nodad(&ifname)?;
                netlink6::add_address(&handle, index, six.ip, six.prefix).await?;
            }
            netlink::set_up(&handle, index, &ifname).await?;
            if let Some(gateway) = address.default_route {
                netlink::add_default_route(&handle, gateway).await?;
            }
            if let Some(gateway) = address.ipv6.and_then(|six| six.default_route) {
                netlink6::set_default_route(&handle, index, gateway).await?;
            }
            Ok(())
        })
        .await
    }

    async fn interface_names(&self, netns: &Path) -> Result<Vec<String>, HostError> {
        netns::in_netns(
            netns,
            |handle| async move { netlink::link_names(&handle).await },
        )
        .await
    }

    async fn ensure_lan_parent(&self, name: &str, made: &MadeParent) -> Result<u32, HostError> {
        lan::ensure_parent(&self.handle, name, made).await
    }

    async fn create_lan_device(&self, spec: &LanDeviceSpec<'_>) -> Result<(), HostError> {
        let ns = netns::open_netns(spec.netns)?;
        lan::create_device(&self.handle, spec, &ns).await
    }

    async fn delete_lan_device(&self, netns: &Path, ifname: &str) -> Result<(), HostError> {
        // A namespace gone took its interfaces along.
        if !netns.exists() {
            return Ok(());
        }
        let ifname = ifname.to_string();
        netns::in_netns(netns, move |handle| async move {
            lan::delete_device(&handle, &ifname).await
        })
        .await
    }

    async fn add_device_default_route(&self, netns: &Path, ifname: &str) -> Result<(), HostError> {
        let ifname = ifname.to_string();
        netns::in_netns(netns, move |handle| async move {
            let index = netlink::require_link(&handle, &ifname).await?;
            lan::add_device_default_route(&handle, index, &ifname).await
        })
        .await
    }

    async fn set_default_route6(
        &self,
        netns: &Path,
        ifname: &str,
        gateway: Ipv6Addr,
    ) -> Result<(), HostError> {
        let ifname = ifname.to_string();
        netns::in_netns(netns, move |handle| async move {
            let index = netlink::require_link(&handle, &ifname).await?;
            netlink6::set_default_route(&handle, index, gateway).await
        })
        .await
    }

    fn write_etc_file(&self, name: &str, file: &str, content: &str) -> Result<bool, HostError> {
        etc::write_file(name, file, content)
    }

    fn remove_etc_files(&self, name: &str) -> Result<(), HostError> {
        etc::remove_files(name)
    }

    fn probe_port(&self, protocol: Protocol, addr: SocketAddr) -> Probe {
        super::probe_port(protocol, addr)
    }

    fn bound_sockets(&self, protocol: Protocol) -> Result<super::bound::BoundSockets, HostError> {
        super::sock_diag::bound_sockets(protocol)
    }
}
