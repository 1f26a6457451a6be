//! Names, identifiers and addresses derived from them.

use std::{fmt::Write as _, io::Read as _, net::Ipv4Addr};

use thiserror::Error;

/// Device name of the default network's bridge.
pub const DEFAULT_BRIDGE: &str = "ebpfnet0";
/// Name of the default network, as in Docker.
pub const DEFAULT_NETWORK: &str = "bridge";
/// Linux limits interface names to 15 bytes.
const IFNAMSIZ_MAX: usize = 15;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum NameError {
    #[error("invalid {kind} name {name:?}: {reason}")]
    Invalid {
        kind: &'static str,
        name: String,
        reason: &'static str,
    },
}

/// Checks a network or container name with Docker's rule
/// (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`). Container names also name the network
/// namespace (`/run/netns/NAME`), which this rule keeps safe as a file name.
pub fn validate(kind: &'static str, name: &str) -> Result<(), NameError> {
    let invalid = |reason| NameError::Invalid {
        kind,
        name: name.to_string(),
        reason,
    };
    let mut chars = name.chars();
    match chars.next() {
        None => return Err(invalid("it is empty")),
        Some(c) if !c.is_ascii_alphanumeric() => {
            return Err(invalid("it must start with a letter or a digit"));
        }
        Some(_) => {}
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
        return Err(invalid(
            "only letters, digits, '_', '.' and '-' are allowed",
        ));
    }
    if name.len() > 64 {
        return Err(invalid("it is longer than 64 characters"));
    }
    Ok(())
}

/// A new random 256-bit identifier in hex, like Docker's ids.
pub fn new_id() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(hex(&bytes))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

/// At most the first `max_bytes` bytes of `id`. Ids we make are hex, but
/// ids also come from the state file and the daemon's answers: cut on a
/// character boundary so a non-ASCII one cannot panic.
fn id_prefix(id: &str, max_bytes: usize) -> &str {
    &id[..id.floor_char_boundary(max_bytes)]
}

/// The short form of an id shown in listings.
pub fn short_id(id: &str) -> &str {
    id_prefix(id, 12)
}

/// Bridge device of a user-defined network.
pub fn bridge_name(network_id: &str) -> String {
    let name = format!("ebr-{}", id_prefix(network_id, 11));
    debug_assert!(name.len() <= IFNAMSIZ_MAX);
    name
}

/// Host side of a container's veth pair.
pub fn host_veth_name(endpoint_id: &str) -> String {
    format!("veth{}", id_prefix(endpoint_id, 8))
}

/// Docker derives a container's MAC from its IPv4 address: 02:42 + the four
/// address bytes, so the MAC is stable and unique within a network.
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = ip.octets();
    [0x02, 0x42, a, b, c, d]
}

/// The MAC of an interface with IPv6 address `ip` and no IPv4 one:
/// 02:42 + the address's last 32 bits (distinct within a network's subnet
/// as addresses are handed out, lowest first).
pub fn mac_for6(ip: std::net::Ipv6Addr) -> [u8; 6] {
    let [.., a, b, c, d] = ip.octets();
    [0x02, 0x42, a, b, c, d]
}

pub fn format_mac(mac: &[u8; 6]) -> String {
    let parts: Vec<String> = mac.iter().map(|b| format!("{b:02x}")).collect();
    parts.join(":")
}

/// Reads `02:42:0a:d6:00:02` (either case); `None` unless six hex pairs.
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        let part = parts.next()?;
        if part.len() != 2 {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_docker_style_names() {
        for name in ["web", "a", "web-1", "my_net.2", "0db"] {
            assert_eq!(validate("container", name), Ok(()), "{name}");
        }
    }

    #[test]
    fn rejects_bad_names() {
        for name in ["", "-web", ".x", "bad/name", "a b", "x:y", &"a".repeat(65)] {
            let err = validate("container", name).expect_err(name);
            assert!(err.to_string().contains("invalid container name"), "{err}");
        }
    }

    #[test]
    fn ids_are_64_hex() {
        let id = new_id().expect("urandom");
        assert_eq!(id.len(), 64);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(id, new_id().expect("urandom"));
    }

    #[test]
    fn device_names_fit_ifnamsiz() {
        let id = "0123456789abcdef".repeat(4);
        assert_eq!(bridge_name(&id), "ebr-0123456789a");
        assert_eq!(host_veth_name(&id), "veth01234567");
        assert!(bridge_name(&id).len() <= IFNAMSIZ_MAX);
    }

    /// Found with the `state_file` fuzz target: a state file whose container
    /// id has a multi-byte character across byte 12 made the daemon panic
    /// building the name servers' view.
    #[test]
    fn non_ascii_ids_are_cut_on_a_character_boundary() {
        let id = "abcdefghijk\u{e9}zz"; // 'é' is bytes 11 and 12
        assert_eq!(short_id(id), "abcdefghijk");
        assert_eq!(bridge_name(id), "ebr-abcdefghijk");
        assert_eq!(host_veth_name("abcdefg\u{e9}"), "vethabcdefg");
        assert_eq!(short_id("ab"), "ab");
    }

    #[test]
    fn macs_parse_back_from_their_text() {
        let mac = [0x02, 0x42, 0x0a, 0xd6, 0x00, 0xff];
        assert_eq!(parse_mac(&format_mac(&mac)), Some(mac));
        assert_eq!(parse_mac("02:42:0A:D6:00:FF"), Some(mac));
        for bad in [
            "",
            "02:42:0a:d6:00",
            "02:42:0a:d6:00:ff:01",
            "2:42:0a:d6:00:ff",
            "zz:42:0a:d6:00:ff",
        ] {
            assert_eq!(parse_mac(bad), None, "{bad}");
        }
    }

    #[test]
    fn mac_follows_docker() {
        let mac = mac_for(Ipv4Addr::new(10, 214, 0, 2));
        assert_eq!(format_mac(&mac), "02:42:0a:d6:00:02");
    }
}
