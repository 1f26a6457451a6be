//! The embedded DNS server on any query bytes from any source: no panic;
//! only containers of user networks get anything back; every answer parses
//! back as a response to the same query id.
#![no_main]

use std::{
    net::{IpAddr, Ipv4Addr},
    sync::LazyLock,
};

use ebpfnet::{
    dns::{
        View,
        view::{Decision, decide, servfail},
    },
    state::State,
};
use hickory_proto::op::{Message, MessageType};
use libfuzzer_sys::fuzz_target;

/// Two user networks (one internal), the default bridge, four containers.
const STATE: &str = r#"{
  "networks": {
    "front": {"id": "f1f1f1f1f1f1f1f1", "name": "front", "subnet": "10.1.0.0/16",
              "gateway": "10.1.0.1", "internal": false, "bridge": "ebr-f1", "created": "", "number": 1},
    "locked": {"id": "a3a3a3a3a3a3a3a3", "name": "locked", "subnet": "10.3.0.0/16",
               "gateway": "10.3.0.1", "internal": true, "bridge": "ebr-a3", "created": "", "number": 2},
    "bridge": {"id": "b0b0b0b0b0b0b0b0", "name": "bridge", "subnet": "10.214.0.0/16",
               "gateway": "10.214.0.1", "internal": false, "bridge": "ebpfnet0", "created": "", "number": 3}
  },
  "containers": {
    "web": {"id": "0123456789abcdef", "name": "web", "created": "", "endpoints": [
      {"id": "e1", "network": "front", "ip": "10.1.0.2", "mac": [2,66,10,1,0,2],
       "ifname": "eth0", "host_veth": "veth1", "aliases": ["www"]}]},
    "custom": {"id": "fedcba9876543210", "name": "custom", "created": "", "dns": ["9.9.9.9"],
      "endpoints": [{"id": "e2", "network": "front", "ip": "10.1.0.3", "mac": [2,66,10,1,0,3],
       "ifname": "eth0", "host_veth": "veth2"}]},
    "vault": {"id": "aaaabbbbccccdddd", "name": "vault", "created": "", "endpoints": [
      {"id": "e3", "network": "locked", "ip": "10.3.0.2", "mac": [2,66,10,3,0,2],
       "ifname": "eth0", "host_veth": "veth3"}]},
    "old": {"id": "9999888877776666", "name": "old", "created": "", "endpoints": [
      {"id": "e4", "network": "bridge", "ip": "10.214.0.2", "mac": [2,66,10,214,0,2],
       "ifname": "eth0", "host_veth": "veth4"}]}
  }
}"#;

static VIEW: LazyLock<View> = LazyLock::new(|| {
    let state: State = serde_json::from_str(STATE).expect("the fixed state parses");
    View::build(&state, &["192.0.2.53".parse().expect("an address")])
});

/// Containers of user networks, one of the default bridge, and a host
/// outside: the first input byte picks who asks.
const SOURCES: [Ipv4Addr; 5] = [
    Ipv4Addr::new(10, 1, 0, 2),
    Ipv4Addr::new(10, 1, 0, 3),
    Ipv4Addr::new(10, 3, 0, 2),
    Ipv4Addr::new(10, 214, 0, 2),
    Ipv4Addr::new(203, 0, 113, 7),
];

fn assert_answers(query: &Message, reply: &[u8]) {
    let message = Message::from_vec(reply)
        .unwrap_or_else(|e| panic!("an answer does not parse back: {e}; {reply:02x?}"));
    assert_eq!(message.id(), query.id(), "an answer to another query id");
    assert_eq!(
        message.message_type(),
        MessageType::Response,
        "an answer that is no response"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let source = IpAddr::V4(SOURCES[usize::from(pick) % SOURCES.len()]);
    let view = &*VIEW;
    let decision = decide(view, source, bytes);
    if !view.clients.contains_key(&source) {
        assert!(
            matches!(decision, Decision::Ignore),
            "{source} is no container of a user network, yet gets {decision:?}"
        );
        return;
    }
    match decision {
        Decision::Ignore => {}
        Decision::Reply(reply) => {
            let query = Message::from_vec(bytes).expect("answered bytes parse as a query");
            assert_answers(&query, &reply);
        }
        Decision::Forward { query, upstreams } => {
            assert!(!upstreams.is_empty(), "forwarded to nobody");
            if let Ok(reply) = servfail(&query).to_vec() {
                assert_answers(&query, &reply);
            }
        }
    }
});
