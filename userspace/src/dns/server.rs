//! The listeners on one gateway (UDP and TCP port 53) and forwarding to
//! upstream servers.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, TcpStream, UdpSocket},
    sync::watch,
    task::JoinHandle,
    time::timeout,
};

use super::view::{DNS_PORT, Decision, View, decide, servfail};

/// How long one upstream server gets to answer.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(3);
/// A TCP client idle this long is dropped.
const TCP_IDLE: Duration = Duration::from_secs(10);
const MAX_UDP: usize = 4096;

pub type ViewRx = watch::Receiver<Arc<View>>;

/// The tasks serving one gateway; they stop when this is dropped.
pub struct Listener {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Binds UDP and TCP port 53 on `gateway` (a host address on a bridge, so
/// never on an uplink's address) and serves queries from containers.
pub fn listen(gateway: IpAddr, view: ViewRx) -> std::io::Result<Listener> {
    let addr = SocketAddr::from((gateway, DNS_PORT));
    let udp = std::net::UdpSocket::bind(addr)?;
    udp.set_nonblocking(true)?;
    let udp = Arc::new(UdpSocket::from_std(udp)?);
    // std sets SO_REUSEADDR on listeners, so a re-created network rebinds.
    let tcp = std::net::TcpListener::bind(addr)?;
    tcp.set_nonblocking(true)?;
    let tcp = TcpListener::from_std(tcp)?;
    Ok(Listener {
        tasks: vec![
            tokio::spawn(serve_udp(udp, view.clone())),
            tokio::spawn(serve_tcp(tcp, view)),
        ],
    })
}

/// The client's address, an IPv4-mapped one as IPv4.
fn client_addr(peer: SocketAddr) -> IpAddr {
    match peer.ip() {
        IpAddr::V6(ip) => ip.to_ipv4_mapped().map_or(IpAddr::V6(ip), IpAddr::V4),
        v4 => v4,
    }
}

async fn serve_udp(socket: Arc<UdpSocket>, view: ViewRx) {
    let mut buf = vec![0u8; MAX_UDP];
    loop {
        let (len, peer) = match socket.recv_from(&mut buf).await {
            Ok(got) => got,
            Err(e) => {
                log::debug!("dns: udp receive failed: {e}");
                continue;
            }
        };
        let source = client_addr(peer);
        let query = buf[..len].to_vec();
        let snapshot = Arc::clone(&view.borrow());
        let socket = Arc::clone(&socket);
        tokio::spawn(async move {
            if let Some(reply) = respond(&snapshot, source, &query, Transport::Udp).await
                && let Err(e) = socket.send_to(&reply, peer).await
            {
                log::debug!("dns: cannot answer {peer}: {e}");
            }
        });
    }
}

async fn serve_tcp(listener: TcpListener, view: ViewRx) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(got) => got,
            Err(e) => {
                log::debug!("dns: tcp accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let source = client_addr(peer);
        if !view.borrow().clients.contains_key(&source) {
            // Not a container of a user network: hang up at once.
            continue;
        }
        let view = view.clone();
        tokio::spawn(async move {
            if let Err(e) = serve_tcp_client(stream, source, view).await {
                log::debug!("dns: tcp client {peer}: {e}");
            }
        });
    }
}

async fn serve_tcp_client(
    mut stream: TcpStream,
    source: IpAddr,
    view: ViewRx,
) -> std::io::Result<()> {
    loop {
        let Ok(Ok(len)) = timeout(TCP_IDLE, stream.read_u16()).await else {
            return Ok(()); // idle or closed
        };
        let mut query = vec![0u8; usize::from(len)];
        timeout(TCP_IDLE, stream.read_exact(&mut query))
            .await
            .map_err(|_| std::io::ErrorKind::TimedOut)??;
        let snapshot = Arc::clone(&view.borrow());
        let Some(reply) = respond(&snapshot, source, &query, Transport::Tcp).await else {
            return Ok(());
        };
        let Ok(len) = u16::try_from(reply.len()) else {
            return Ok(());
        };
        stream.write_u16(len).await?;
        stream.write_all(&reply).await?;
    }
}

#[derive(Clone, Copy)]
enum Transport {
    Udp,
    Tcp,
}

/// The bytes to send back for one query, or `None` for no answer.
async fn respond(
    view: &View,
    source: IpAddr,
    bytes: &[u8],
    transport: Transport,
) -> Option<Vec<u8>> {
    let (query, upstreams) = match decide(view, source, bytes) {
        Decision::Ignore => return None,
        Decision::Reply(reply) => return Some(reply),
        Decision::Forward { query, upstreams } => (query, upstreams),
    };
    for upstream in upstreams {
        let relayed = match transport {
            Transport::Udp => forward_udp(upstream, bytes).await,
            Transport::Tcp => forward_tcp(upstream, bytes).await,
        };
        match relayed {
            // The same id: the answer to this very query.
            Ok(reply) if reply.get(..2) == bytes.get(..2) => return Some(reply),
            Ok(_) => log::debug!("dns: {upstream} answered another query"),
            Err(e) => log::debug!("dns: upstream {upstream}: {e}"),
        }
    }
    servfail(&query).to_vec().ok()
}

fn unspecified_for(upstream: SocketAddr) -> SocketAddr {
    match upstream {
        SocketAddr::V4(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
        SocketAddr::V6(_) => SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 0)),
    }
}

async fn forward_udp(upstream: SocketAddr, query: &[u8]) -> std::io::Result<Vec<u8>> {
    let socket = UdpSocket::bind(unspecified_for(upstream)).await?;
    socket.connect(upstream).await?;
    socket.send(query).await?;
    let mut buf = vec![0u8; MAX_UDP];
    let len = timeout(UPSTREAM_TIMEOUT, socket.recv(&mut buf))
        .await
        .map_err(|_| std::io::ErrorKind::TimedOut)??;
    buf.truncate(len);
    Ok(buf)
}

async fn forward_tcp(upstream: SocketAddr, query: &[u8]) -> std::io::Result<Vec<u8>> {
    let exchange = async {
        let mut stream = TcpStream::connect(upstream).await?;
        let len = u16::try_from(query.len()).map_err(|_| std::io::ErrorKind::InvalidInput)?;
        stream.write_u16(len).await?;
        stream.write_all(query).await?;
        let len = stream.read_u16().await?;
        let mut reply = vec![0u8; usize::from(len)];
        stream.read_exact(&mut reply).await?;
        Ok::<_, std::io::Error>(reply)
    };
    timeout(UPSTREAM_TIMEOUT, exchange)
        .await
        .map_err(|_| std::io::ErrorKind::TimedOut)?
}
