//! The tokio relay over the loopback: real sockets, a real IPv6 server.

use std::{
    io::ErrorKind,
    net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6},
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream, UdpSocket},
};

use super::*;

/// A port free on 127.0.0.1 for both protocols now.
fn free_port() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let port = tcp.local_addr().expect("address").port();
        if std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
}

fn key(protocol: Protocol, port: u16) -> RelayKey {
    RelayKey {
        protocol,
        listen: SocketAddrV4::new(Ipv4Addr::LOCALHOST, port),
    }
}

/// A TCP server on `[::1]` that reads to the end, then answers
/// `NAME:` and what it read, and closes.
async fn tcp_server(name: &'static str) -> SocketAddrV6 {
    let listener = TcpListener::bind((Ipv6Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let SocketAddr::V6(at) = listener.local_addr().expect("address") else {
        unreachable!("bound on ::1")
    };
    tokio::spawn(async move {
        while let Ok((mut c, _)) = listener.accept().await {
            let mut got = Vec::new();
            if c.read_to_end(&mut got).await.is_ok() {
                let _ = c.write_all(format!("{name}:").as_bytes()).await;
                let _ = c.write_all(&got).await;
            }
        }
    });
    at
}

/// A UDP echo server on `[::1]` answering `NAME:` and the datagram.
async fn udp_server(name: &'static str) -> SocketAddrV6 {
    let socket = UdpSocket::bind((Ipv6Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let SocketAddr::V6(at) = socket.local_addr().expect("address") else {
        unreachable!("bound on ::1")
    };
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let mut answer = format!("{name}:").into_bytes();
            answer.extend_from_slice(&buf[..n]);
            let _ = socket.send_to(&answer, from).await;
        }
    });
    at
}

/// Sends `data`, shuts the writing side (half-close), reads the answer.
async fn tcp_ask(port: u16, data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await?;
    s.write_all(data).await?;
    s.shutdown().await?;
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut got))
        .await
        .map_err(|_| std::io::Error::new(ErrorKind::TimedOut, "no answer"))??;
    Ok(got)
}

async fn udp_ask(port: u16, data: &[u8]) -> Option<(Vec<u8>, SocketAddr)> {
    let s = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    s.send_to(data, (Ipv4Addr::LOCALHOST, port))
        .await
        .expect("send");
    let mut buf = [0u8; 2048];
    let (n, from) = tokio::time::timeout(Duration::from_secs(3), s.recv_from(&mut buf))
        .await
        .ok()?
        .ok()?;
    Some((buf[..n].to_vec(), from))
}

#[tokio::test]
async fn tcp_is_copied_both_ways_with_half_close_and_stops() {
    let (a, b) = (tcp_server("a").await, tcp_server("b").await);
    let port = free_port();
    let mut relay = TokioRelay46::new();
    relay.start(key(Protocol::Tcp, port), a).expect("listens");
    // 1 MiB, answered only after the client's end of stream came through.
    let data: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    let got = tcp_ask(port, &data).await.expect("relayed");
    assert_eq!(&got[..2], b"a:");
    assert!(got[2..] == data[..], "{} bytes back", got.len());
    // Started again: new connections go to the new target.
    relay
        .start(key(Protocol::Tcp, port), b)
        .expect("retargeted");
    assert_eq!(tcp_ask(port, b"x").await.expect("relayed"), b"b:x");
    relay.stop(key(Protocol::Tcp, port));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let err = tcp_ask(port, b"y").await.expect_err("stopped");
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
}

#[tokio::test]
async fn udp_clients_get_answers_from_the_address_they_asked() {
    let server = udp_server("u").await;
    let port = free_port();
    let mut relay = TokioRelay46::new();
    relay
        .start(key(Protocol::Udp, port), server)
        .expect("listens");
    for payload in [&b"one"[..], b"two"] {
        let (answer, from) = udp_ask(port, payload).await.expect("answered");
        assert_eq!(answer, [&b"u:"[..], payload].concat());
        assert_eq!(from, SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    }
    relay.stop(key(Protocol::Udp, port));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(udp_ask(port, b"three").await.is_none(), "stopped");
}

#[tokio::test]
async fn a_taken_address_is_an_error_naming_it() {
    let taken = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let port = taken.local_addr().expect("address").port();
    let mut relay = TokioRelay46::new();
    let target = SocketAddrV6::new(Ipv6Addr::LOCALHOST, 9, 0, 0);
    let err = relay
        .start(key(Protocol::Tcp, port), target)
        .expect_err("taken");
    let text = err.to_string();
    assert!(
        text.contains(&format!("127.0.0.1:{port}/tcp")) && text.contains("in use"),
        "{text}"
    );
    assert!(relay.running.is_empty());
}
