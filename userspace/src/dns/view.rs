//! Who may ask, and what the names are: a snapshot of the state the
//! servers answer from, and the answer to one query. Pure.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
};

use hickory_proto::{
    op::{Message, MessageType, OpCode, ResponseCode},
    rr::{
        Name, RData, Record, RecordType,
        rdata::{A, AAAA, PTR},
    },
};
use ipnetwork::{Ipv4Network, Ipv6Network};

use crate::{
    ids::{DEFAULT_NETWORK, short_id},
    state::State,
};

/// TTL of the answers about containers, as Docker's embedded server.
pub const TTL: u32 = 600;
pub const DNS_PORT: u16 = 53;

/// The names of one user-defined network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkNames {
    pub name: String,
    /// None on an IPv6-only network.
    pub subnet: Option<Ipv4Network>,
    /// On a network with IPv6.
    pub subnet6: Option<Ipv6Network>,
    pub internal: bool,
    /// Lowercase name (container name, alias, short id) → address.
    pub names: HashMap<String, Ipv4Addr>,
    /// The same names → IPv6 address, for AAAA.
    pub names6: HashMap<String, Ipv6Addr>,
    /// Address (of either family) → container name, for PTR.
    pub reverse: HashMap<IpAddr, String>,
}

impl NetworkNames {
    /// Whether a container of the network has `name` (an IPv4 or an
    /// IPv6 address: on an IPv6-only network only the latter).
    pub(super) fn has(&self, name: &str) -> bool {
        self.names.contains_key(name) || self.names6.contains_key(name)
    }
}

/// A container that may ask: the user networks it is on (indexes into
/// [`View::networks`]) and where its other queries go.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Client {
    pub networks: Vec<usize>,
    pub upstreams: Vec<SocketAddr>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct View {
    pub networks: Vec<NetworkNames>,
    /// A container's address (either family) on a user network → the
    /// container.
    pub clients: HashMap<IpAddr, Client>,
    /// The gateways the servers listen on (IPv4, and IPv6 where a network
    /// has it).
    pub gateways: Vec<IpAddr>,
}

impl View {
    /// `upstreams`: the host's resolvers, for containers without `--dns`.
    pub fn build(state: &State, upstreams: &[IpAddr]) -> Self {
        let mut view = View::default();
        let mut index = HashMap::new();
        for network in state.networks.values() {
            // The servers listen on the gateway, which is the host's on
            // bridges only: a macvlan or ipvlan gateway is the LAN's router.
            if network.name == DEFAULT_NETWORK || network.lan.is_some() {
                continue;
            }
            index.insert(network.name.as_str(), view.networks.len());
            view.gateways.extend(network.gateway.map(IpAddr::V4));
            view.gateways
                .extend(network.ipv6.map(|six| IpAddr::V6(six.gateway)));
            view.networks.push(NetworkNames {
                name: network.name.clone(),
                subnet: network.subnet,
                subnet6: network.ipv6.map(|six| six.subnet),
                internal: network.internal,
                names: HashMap::new(),
                names6: HashMap::new(),
                reverse: HashMap::new(),
            });
        }
        let to_addrs = |ips: &mut dyn Iterator<Item = IpAddr>| -> Vec<SocketAddr> {
            ips.map(|ip| SocketAddr::new(ip, DNS_PORT)).collect()
        };
        for container in state.containers.values() {
            let mut client = Client {
                networks: Vec::new(),
                upstreams: if container.dns.is_empty() {
                    to_addrs(&mut upstreams.iter().copied())
                } else {
                    to_addrs(&mut container.dns.iter().map(|ip| IpAddr::V4(*ip)))
                },
            };
            for endpoint in &container.endpoints {
                let Some(&i) = index.get(endpoint.network.as_str()) else {
                    continue;
                };
                client.networks.push(i);
                let names = &mut view.networks[i];
                let own = [container.name.as_str(), short_id(&container.id)];
                for name in own
                    .into_iter()
                    .chain(endpoint.aliases.iter().map(String::as_str))
                {
                    if let Some(ip) = endpoint.ip {
                        names.names.insert(name.to_ascii_lowercase(), ip);
                    }
                    if let Some(ip6) = endpoint.ip6 {
                        names.names6.insert(name.to_ascii_lowercase(), ip6);
                    }
                }
                if let Some(ip) = endpoint.ip {
                    names.reverse.insert(IpAddr::V4(ip), container.name.clone());
                }
                if let Some(ip6) = endpoint.ip6 {
                    names
                        .reverse
                        .insert(IpAddr::V6(ip6), container.name.clone());
                }
            }
            let addresses: Vec<IpAddr> = container
                .endpoints
                .iter()
                .filter(|e| index.contains_key(e.network.as_str()))
                .flat_map(|e| {
                    e.ip.map(IpAddr::V4)
                        .into_iter()
                        .chain(e.ip6.map(IpAddr::V6))
                })
                .collect();
            for ip in addresses {
                view.clients.insert(ip, client.clone());
            }
        }
        view
    }

    /// The network that has `name`, and the name as it is kept there.
    fn lookup<'a>(&self, client: &Client, name: &'a str) -> Option<(&NetworkNames, &'a str)> {
        for &i in &client.networks {
            let network = &self.networks[i];
            if network.has(name) {
                return Some((network, name));
            }
            // `web.backend`: the name on that network only.
            let scoped = name
                .strip_suffix(network.name.to_ascii_lowercase().as_str())
                .and_then(|n| n.strip_suffix('.'));
            if let Some(n) = scoped.filter(|n| network.has(n)) {
                return Some((network, n));
            }
        }
        None
    }
}

/// What to do with one query.
#[derive(Debug)]
pub enum Answer {
    Reply(Message),
    /// Relay the query to these servers (in order) and their answer back.
    Forward(Vec<SocketAddr>),
    /// Not from a container of a user network: no answer at all.
    Ignore,
}

fn reply(query: &Message, code: ResponseCode) -> Message {
    let mut message = Message::error_msg(query.id(), query.op_code(), code);
    message
        .set_recursion_desired(query.recursion_desired())
        .set_recursion_available(true);
    message.add_queries(query.queries().iter().cloned());
    message
}

/// Answers `query` from the container at `source`.
pub fn answer(view: &View, source: impl Into<IpAddr>, query: &Message) -> Answer {
    let Some(client) = view.clients.get(&source.into()) else {
        return Answer::Ignore;
    };
    if query.message_type() != MessageType::Query {
        return Answer::Ignore;
    }
    if query.op_code() != OpCode::Query {
        return Answer::Reply(reply(query, ResponseCode::NotImp));
    }
    let [question] = query.queries() else {
        return Answer::Reply(reply(query, ResponseCode::FormErr));
    };
    let qname = question.name();
    let text = qname.to_lowercase().to_ascii();
    let text = text.trim_end_matches('.');
    let mut message = reply(query, ResponseCode::NoError);
    if let Some((network, key)) = view.lookup(client, text) {
        // Ours: A and AAAA when asked (AAAA on networks with IPv6), and
        // an empty NOERROR for other types of an existing name, never a
        // forward.
        message.set_authoritative(true);
        let kind = question.query_type();
        if matches!(kind, RecordType::A | RecordType::ANY)
            && let Some(ip) = network.names.get(key)
        {
            message.add_answer(Record::from_rdata(qname.clone(), TTL, RData::A(A(*ip))));
        }
        if matches!(kind, RecordType::AAAA | RecordType::ANY)
            && let Some(ip) = network.names6.get(key)
        {
            let rdata = RData::AAAA(AAAA(*ip));
            message.add_answer(Record::from_rdata(qname.clone(), TTL, rdata));
        }
        return Answer::Reply(message);
    }
    if question.query_type() == RecordType::PTR
        && let Ok(net) = qname.parse_arpa_name()
        && net.prefix_len() == net.max_prefix_len()
    {
        let ip = net.addr();
        for &i in &client.networks {
            let network = &view.networks[i];
            let inside = match ip {
                IpAddr::V4(ip) => network.subnet.is_some_and(|s| s.contains(ip)),
                IpAddr::V6(ip) => network.subnet6.is_some_and(|s| s.contains(ip)),
            };
            if !inside {
                continue;
            }
            message.set_authoritative(true);
            // An address of the network nobody has: no such name, and
            // nothing about the network leaves for upstream servers.
            let Some(name) = network.reverse.get(&ip) else {
                message.set_response_code(ResponseCode::NXDomain);
                return Answer::Reply(message);
            };
            if let Ok(target) = Name::from_ascii(format!("{name}.{}.", network.name)) {
                message.add_answer(Record::from_rdata(
                    qname.clone(),
                    TTL,
                    RData::PTR(PTR(target)),
                ));
            }
            return Answer::Reply(message);
        }
    }
    let internal_only = client.networks.iter().all(|&i| view.networks[i].internal);
    if internal_only || client.upstreams.is_empty() {
        return Answer::Reply(reply(query, ResponseCode::ServFail));
    }
    Answer::Forward(client.upstreams.clone())
}

/// What the server does with the bytes of one query, decided without I/O.
#[derive(Debug)]
pub enum Decision {
    /// Send these bytes back.
    Reply(Vec<u8>),
    /// Relay the query's bytes to these servers (in order); SERVFAIL for
    /// `query` when none answers.
    Forward {
        query: Message,
        upstreams: Vec<SocketAddr>,
    },
    /// Send nothing: not a DNS query, not from a container, or no answer
    /// that serializes.
    Ignore,
}

/// Parses `bytes` from the container at `source` and answers from `view`.
pub fn decide(view: &View, source: IpAddr, bytes: &[u8]) -> Decision {
    let Ok(query) = Message::from_vec(bytes) else {
        return Decision::Ignore;
    };
    let answer = answer(view, source, &query);
    log::debug!(
        "dns: {source} asks {:?}: {}",
        query.queries().first().map(|q| q.name().to_ascii()),
        match &answer {
            Answer::Ignore => "ignored",
            Answer::Reply(_) => "answered",
            Answer::Forward(_) => "forwarded",
        }
    );
    match answer {
        Answer::Ignore => Decision::Ignore,
        Answer::Reply(message) => message.to_vec().map_or(Decision::Ignore, Decision::Reply),
        Answer::Forward(upstreams) => Decision::Forward { query, upstreams },
    }
}

/// SERVFAIL for a query no upstream server answered.
pub fn servfail(query: &Message) -> Message {
    reply(query, ResponseCode::ServFail)
}

#[cfg(test)]
#[path = "view_tests.rs"]
mod tests;
