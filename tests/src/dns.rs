//! A DNS client for the tests: one A query, encoded and decoded by
//! hickory-proto, sent from inside a network namespace.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RData, RecordType};

use crate::packet_netns::run_in_netns;

const TIMEOUT: Duration = Duration::from_secs(2);
const QUERY_ID: u16 = 0x4242;

fn query(name: &str) -> Result<Vec<u8>, String> {
    let name = Name::from_ascii(name).map_err(|e| format!("name {name:?}: {e}"))?;
    let mut message = Message::new();
    message
        .set_id(QUERY_ID)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true)
        .add_query(Query::query(name, RecordType::A));
    message.to_vec().map_err(|e| e.to_string())
}

fn exchange(server: SocketAddr, query: &[u8], tcp: bool) -> std::io::Result<Vec<u8>> {
    if tcp {
        let mut stream = TcpStream::connect_timeout(&server, TIMEOUT)?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        let length = u16::try_from(query.len()).map_err(std::io::Error::other)?;
        stream.write_all(&length.to_be_bytes())?;
        stream.write_all(query)?;
        let mut length = [0; 2];
        stream.read_exact(&mut length)?;
        let mut answer = vec![0; usize::from(u16::from_be_bytes(length))];
        stream.read_exact(&mut answer)?;
        Ok(answer)
    } else {
        let socket = UdpSocket::bind("0.0.0.0:0")?;
        socket.set_read_timeout(Some(TIMEOUT))?;
        socket.send_to(query, server)?;
        let mut answer = vec![0; 4096];
        let (length, _) = socket.recv_from(&mut answer)?;
        answer.truncate(length);
        Ok(answer)
    }
}

/// One A query for `name` to `server`:53 over UDP (`proto` "tcp": TCP)
/// from the named namespace `ns` (a container's): `Some("answer RCODE
/// IP...")`, or `None` when nothing (or no DNS message) came back within 2 s.
pub fn dns_query(ns: &str, server: &str, name: &str, proto: &str) -> Option<String> {
    let ip: Ipv4Addr = server
        .parse()
        .unwrap_or_else(|e| panic!("server {server:?}: {e}"));
    let query = query(name).unwrap_or_else(|e| panic!("query for {name}: {e}"));
    let answer = run_in_netns(ns, || {
        exchange(SocketAddr::from((ip, 53)), &query, proto == "tcp")
    })
    .ok()?;
    let message = Message::from_vec(&answer).ok()?;
    let ips = message.answers().iter().filter_map(|r| match r.data() {
        RData::A(a) => Some(a.0.to_string()),
        _ => None,
    });
    let words: Vec<String> = [u16::from(message.response_code()).to_string()]
        .into_iter()
        .chain(ips)
        .collect();
    Some(format!("answer {}", words.join(" ")))
}
