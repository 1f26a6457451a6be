//! `spray`: one UDP datagram from each of many (source address, source
//! port) pairs to one target, so the datapath holds that many flows at once
//! (the bench's "a million flows resident" runs). Sent through a raw socket
//! (`IPPROTO_RAW`: the kernel fills in the IPv4 header checksum and id), as
//! the sources are addresses of the bench's own link that no socket could
//! bind. Sending the same pairs again refreshes the flows instead of
//! adding any.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Instant;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

#[derive(clap::Args)]
pub struct Args {
    /// Where every datagram goes, e.g. 198.18.4.1:80
    #[arg(long)]
    target: SocketAddrV4,
    /// First source address; the next `--sources - 1` addresses follow it
    #[arg(long)]
    first_source: Ipv4Addr,
    /// How many source addresses
    #[arg(long, default_value_t = 16)]
    sources: u32,
    /// How many flows (source pairs) in all, spread over the addresses
    #[arg(long)]
    flows: u32,
}

/// Source ports start here, clear of the well-known ones.
const FIRST_PORT: u32 = 1024;
/// The socket sends whole IPv4 packets (ip(7)).
const IPPROTO_RAW: i32 = 255;
const IPV4_HEADER: usize = 20;
const UDP_HEADER: usize = 8;
const PAYLOAD: &[u8] = b"ebpfnet-bench flow";

/// Sends the datagrams; returns how many were sent and in how many seconds.
pub fn spray(args: &Args) -> io::Result<(u64, f64)> {
    let per_source = args.flows.div_ceil(args.sources.max(1));
    if FIRST_PORT + per_source > 65536 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} flows over {} addresses need {per_source} ports each; at most {} fit",
                args.flows,
                args.sources,
                65536 - FIRST_PORT
            ),
        ));
    }
    let socket = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(IPPROTO_RAW)))?;
    let to = SockAddr::from(args.target);
    let started = Instant::now();
    let mut packet = [0u8; IPV4_HEADER + UDP_HEADER + PAYLOAD.len()];
    let mut sent = 0u64;
    for flow in 0..args.flows {
        let source = u32::from(args.first_source) + flow / per_source;
        let port = (FIRST_PORT + flow % per_source) as u16;
        build(&mut packet, Ipv4Addr::from(source), port, &args.target);
        socket.send_to(&packet, &to)?;
        sent += 1;
    }
    Ok((sent, started.elapsed().as_secs_f64()))
}

/// Writes an IPv4/UDP datagram from `source:port` to `target` into `packet`.
fn build(packet: &mut [u8], source: Ipv4Addr, port: u16, target: &SocketAddrV4) {
    let total = packet.len() as u16;
    let udp_len = (UDP_HEADER + PAYLOAD.len()) as u16;
    let (ip, rest) = packet.split_at_mut(IPV4_HEADER);
    ip.copy_from_slice(&[0; IPV4_HEADER]);
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[8] = 64; // TTL
    ip[9] = 17; // UDP
    ip[12..16].copy_from_slice(&source.octets());
    ip[16..20].copy_from_slice(&target.ip().octets());
    rest[0..2].copy_from_slice(&port.to_be_bytes());
    rest[2..4].copy_from_slice(&target.port().to_be_bytes());
    rest[4..6].copy_from_slice(&udp_len.to_be_bytes());
    rest[6..8].copy_from_slice(&[0, 0]);
    rest[UDP_HEADER..].copy_from_slice(PAYLOAD);
    let sum = udp_checksum(&source.octets(), &target.ip().octets(), rest);
    rest[6..8].copy_from_slice(&sum.to_be_bytes());
}

/// RFC 768: the ones' complement sum over the pseudo-header and datagram.
fn udp_checksum(source: &[u8; 4], target: &[u8; 4], datagram: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |bytes: &[u8]| {
        for pair in bytes.chunks(2) {
            let high = u32::from(pair[0]) << 8;
            sum += high | pair.get(1).map_or(0, |&low| u32::from(low));
        }
    };
    add(source);
    add(target);
    add(&[0, 17]);
    add(&(datagram.len() as u16).to_be_bytes());
    add(datagram);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    match !(sum as u16) {
        // 0 means "no checksum" in UDP over IPv4.
        0 => 0xffff,
        sum => sum,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_a_known_datagram_verifies() {
        let target = SocketAddrV4::new(Ipv4Addr::new(198, 18, 4, 1), 80);
        let mut packet = [0u8; IPV4_HEADER + UDP_HEADER + PAYLOAD.len()];
        build(&mut packet, Ipv4Addr::new(198, 18, 4, 100), 1024, &target);
        // Summing a datagram with its checksum in place gives 0xffff.
        let udp = &packet[IPV4_HEADER..];
        let check = udp_checksum(&[198, 18, 4, 100], &[198, 18, 4, 1], udp);
        assert_eq!(check, 0xffff, "a valid checksum sums to all ones");
        assert_eq!(
            &packet[IPV4_HEADER..IPV4_HEADER + 2],
            &1024u16.to_be_bytes()
        );
    }
}
