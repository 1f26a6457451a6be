//! The host's network: namespaces, links, addresses and routes over netlink.

pub mod bound;
pub mod etc;
pub mod lan;
pub mod netlink;
pub mod netlink6;
mod netlink_host;
pub mod netns;
mod ops;
pub mod requirements;
mod sock_diag;
pub mod vxlan;

pub use netlink_host::NetlinkHost;
pub use ops::{Host, InterfaceAddress, InterfaceAddress6, LanDeviceSpec, Probe, VethSpec};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum HostError {
    #[error("netlink: cannot {action}: {source}")]
    Netlink {
        action: String,
        source: rtnetlink::Error,
    },
    #[error("cannot {action}: {source}")]
    Io {
        action: String,
        source: std::io::Error,
    },
    #[error("cannot {action}: {source}")]
    Sys { action: String, source: nix::Error },
    #[error("network namespace {0} already exists")]
    NetnsExists(String),
    #[error("interface {0} not found")]
    NoSuchLink(String),
    #[error("netns worker thread for {0} died")]
    WorkerDied(String),
}

impl HostError {
    pub fn netlink(action: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> Self {
        let action = action.into();
        move |source| HostError::Netlink { action, source }
    }

    pub fn io(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let action = action.into();
        move |source| HostError::Io { action, source }
    }

    pub fn sys(action: impl Into<String>) -> impl FnOnce(nix::Error) -> Self {
        let action = action.into();
        move |source| HostError::Sys { action, source }
    }
}

/// CLOCK_MONOTONIC in nanoseconds: the clock of `bpf_ktime_get_ns`, which
/// stamps the NAT entries.
pub fn monotonic_ns() -> Result<u64, HostError> {
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map_err(HostError::sys("read CLOCK_MONOTONIC"))?;
    let secs = u64::try_from(now.tv_sec()).unwrap_or_default();
    let nanos = u64::try_from(now.tv_nsec()).unwrap_or_default();
    Ok(secs.saturating_mul(1_000_000_000).saturating_add(nanos))
}

/// The cookie of the calling thread's network namespace
/// (`SO_NETNS_COOKIE`), which `bpf_get_netns_cookie` returns for sockets
/// of the same namespace.
pub fn netns_cookie() -> Result<u64, HostError> {
    use std::os::fd::AsRawFd as _;
    let socket = std::net::UdpSocket::bind("127.0.0.1:0")
        .map_err(HostError::io("open a socket to read the netns cookie"))?;
    let mut cookie: u64 = 0;
    let mut len = size_of::<u64>() as libc::socklen_t;
    // SAFETY: the fd is open for the duration of the call, and `cookie` and
    // `len` describe a valid, writable u64.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_NETNS_COOKIE,
            (&raw mut cookie).cast(),
            &raw mut len,
        )
    };
    if rc != 0 {
        return Err(HostError::Io {
            action: "read the host's netns cookie (SO_NETNS_COOKIE)".into(),
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(cookie)
}

/// Turns IPv4 forwarding on for one interface only (the host's
/// `ip_forward` stays as it is), so `bpf_fib_lookup` may route what
/// arrives on it; IPv6 forwarding too where the interface has IPv6 (the
/// IPv6 lookup refuses interfaces without it; `conf/all/forwarding` stays
/// as it is, and router advertisements stay refused: `accept_ra` 0).
pub fn enable_forwarding(ifname: &str) -> Result<(), HostError> {
    write_sysctl(&format!("/proc/sys/net/ipv4/conf/{ifname}/forwarding"), "1")?;
    let ipv6 = format!("/proc/sys/net/ipv6/conf/{ifname}/forwarding");
    if std::path::Path::new(&ipv6).exists() {
        write_sysctl(&ipv6, "1")?;
    }
    Ok(())
}

/// Makes an interface of ours (bridge, host side of a veth) ignore router
/// advertisements: a container must never configure the host's addresses
/// or routes (CVE-2020-13401). Interfaces without IPv6 have nothing to set.
pub fn refuse_router_advertisements(ifname: &str) -> Result<(), HostError> {
    let path = format!("/proc/sys/net/ipv6/conf/{ifname}/accept_ra");
    if !std::path::Path::new(&path).exists() {
        return Ok(());
    }
    write_sysctl(&path, "0")
}

/// Turns IPv6 on for an interface of ours (a host may default
/// `disable_ipv6` to 1) and duplicate address detection off: the
/// controller's addresses are unique per network and must work at once.
/// Written from a thread inside the interface's namespace, it sets the
/// interface there.
pub fn enable_ipv6_nodad(ifname: &str) -> Result<(), HostError> {
    let conf = format!("/proc/sys/net/ipv6/conf/{ifname}");
    write_sysctl(&format!("{conf}/disable_ipv6"), "0")?;
    write_sysctl(&format!("{conf}/accept_dad"), "0")
}

/// The host's ephemeral port range, as the kernel's file has it (empty
/// when it cannot be read).
pub fn ip_local_port_range() -> String {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default()
}

fn write_sysctl(path: &str, value: &str) -> Result<(), HostError> {
    std::fs::write(path, value).map_err(HostError::io(format!("write {value} to {path}")))
}

/// Binds a socket to `addr` (without SO_REUSEADDR, so a port any host
/// socket uses counts as taken) and lets it go again; an IPv6 one only for
/// IPv6 (see [`bind_ipv6_only`]).
fn probe_port(protocol: crate::portspec::Protocol, addr: std::net::SocketAddr) -> Probe {
    use std::{io::ErrorKind, net::SocketAddr};

    use crate::portspec::Protocol;
    let bound = match (protocol, addr) {
        (_, SocketAddr::V6(_)) => bind_ipv6_only(protocol, addr),
        (Protocol::Tcp, _) => tokio::net::TcpSocket::new_v4().and_then(|s| s.bind(addr)),
        (Protocol::Udp, _) => std::net::UdpSocket::bind(addr).map(drop),
    };
    match bound {
        Ok(()) => Probe::Free,
        Err(e) if e.kind() == ErrorKind::AddrInUse => Probe::InUse,
        Err(e) if e.kind() == ErrorKind::AddrNotAvailable => Probe::NotLocal,
        Err(e) => Probe::Failed(e.to_string()),
    }
}

/// Binds an `IPV6_V6ONLY` socket to `addr` and lets it go: a mapping on
/// an IPv6 host address is IPv6 only (as Docker's `[::]` bindings), so a
/// host process holding the port on IPv4 alone does not clash with it,
/// while one on `[::]` (either way) does.
fn bind_ipv6_only(
    protocol: crate::portspec::Protocol,
    addr: std::net::SocketAddr,
) -> std::io::Result<()> {
    use socket2::{Domain, Protocol as IpProtocol, Socket, Type};
    let (kind, number) = match protocol {
        crate::portspec::Protocol::Tcp => (Type::STREAM, IpProtocol::TCP),
        crate::portspec::Protocol::Udp => (Type::DGRAM, IpProtocol::UDP),
    };
    let socket = Socket::new(Domain::IPV6, kind, Some(number))?;
    socket.set_only_v6(true)?;
    socket.bind(&addr.into())
}
