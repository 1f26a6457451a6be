//! The Docker-style rules: iptables as dockerd writes them (DNAT in the nat
//! table's DOCKER chain, an ACCEPT per published port in the filter table's
//! DOCKER chain, MASQUERADE, the isolation chains), and the nft variant with
//! one verdict map. Mappings are appended, so the measured one comes last
//! but for nginx's (HTTP_PUBLISHED_PORT -> HTTP_SERVER_PORT, test `http`),
//! appended after it: wrk's connections stay open, so only their first
//! packets walk the chains, while `crr`'s mapping keeps its place.

use std::fmt::Write as _;

use super::topology::{
    FILLER_BASE, HTTP_PUBLISHED_PORT, HTTP_SERVER_PORT, Kind, PUBLISHED_PORT, SERVER_PORT,
};

/// One published port: host port -> container port on the variant's server.
#[derive(Clone, Copy)]
pub struct Mapping {
    pub host_port: u16,
    pub container_port: u16,
}

/// `ports` mappings: `ports - 1` fillers (host port = container port, from
/// FILLER_BASE), then the measured PUBLISHED_PORT -> SERVER_PORT.
pub fn mappings(ports: u32) -> Vec<Mapping> {
    let fillers = (0..ports.saturating_sub(1)).map(|i| {
        let port = FILLER_BASE + u16::try_from(i).expect("fewer than 45,000 fillers");
        Mapping {
            host_port: port,
            container_port: port,
        }
    });
    fillers
        .chain([Mapping {
            host_port: PUBLISHED_PORT,
            container_port: SERVER_PORT,
        }])
        .collect()
}

/// The rules of a scale of `ports` published ports: [`mappings`], then
/// nginx's mapping for the `http` test.
pub fn with_http(ports: u32) -> Vec<Mapping> {
    let mut maps = mappings(ports);
    maps.push(Mapping {
        host_port: HTTP_PUBLISHED_PORT,
        container_port: HTTP_SERVER_PORT,
    });
    maps
}

pub fn nat_rule(kind: Kind, m: Mapping) -> String {
    format!(
        "-A DOCKER ! -i br0 -p tcp -m tcp --dport {} -j DNAT --to-destination {}:{}",
        m.host_port,
        kind.server_ip(),
        m.container_port
    )
}

pub fn filter_rule(kind: Kind, m: Mapping) -> String {
    format!(
        "-A DOCKER -d {}/32 ! -i br0 -o br0 -p tcp -m tcp --dport {} -j ACCEPT",
        kind.server_ip(),
        m.container_port
    )
}

/// The whole nat and filter tables for `iptables-restore`, with `maps`.
pub fn iptables_ruleset(kind: Kind, maps: &[Mapping]) -> String {
    let subnet = kind.subnet();
    let mut text = String::with_capacity(200 * maps.len() + 2048);
    text.push_str(
        "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
         :POSTROUTING ACCEPT [0:0]\n:DOCKER - [0:0]\n\
         -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\n\
         -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER\n",
    );
    let _ = writeln!(text, "-A POSTROUTING -s {subnet} ! -o br0 -j MASQUERADE");
    text.push_str("-A DOCKER -i br0 -j RETURN\n");
    for m in maps {
        let _ = writeln!(text, "{}", nat_rule(kind, *m));
    }
    text.push_str(
        "COMMIT\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n\
         :DOCKER - [0:0]\n:DOCKER-ISOLATION-STAGE-1 - [0:0]\n\
         :DOCKER-ISOLATION-STAGE-2 - [0:0]\n:DOCKER-USER - [0:0]\n\
         -A FORWARD -j DOCKER-USER\n-A FORWARD -j DOCKER-ISOLATION-STAGE-1\n\
         -A FORWARD -o br0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n\
         -A FORWARD -o br0 -j DOCKER\n-A FORWARD -i br0 ! -o br0 -j ACCEPT\n\
         -A FORWARD -i br0 -o br0 -j ACCEPT\n",
    );
    for m in maps {
        let _ = writeln!(text, "{}", filter_rule(kind, *m));
    }
    text.push_str(
        "-A DOCKER-ISOLATION-STAGE-1 -i br0 ! -o br0 -j DOCKER-ISOLATION-STAGE-2\n\
         -A DOCKER-ISOLATION-STAGE-1 -j RETURN\n\
         -A DOCKER-ISOLATION-STAGE-2 -o br0 -j DROP\n\
         -A DOCKER-ISOLATION-STAGE-2 -j RETURN\n-A DOCKER-USER -j RETURN\nCOMMIT\n",
    );
    text
}

/// The per-rule commands dockerd runs for one published port (one in the
/// nat table, one in the filter table), as argument lists for `iptables`.
pub fn docker_commands(kind: Kind, m: Mapping) -> [Vec<String>; 2] {
    let words = |table: &str, rule: String| -> Vec<String> {
        ["-t", table]
            .into_iter()
            .map(String::from)
            .chain(rule.split(' ').map(String::from))
            .collect()
    };
    [
        words("nat", nat_rule(kind, m)),
        words("filter", filter_rule(kind, m)),
    ]
}

pub const NFT_TABLE: &str = "ebnb";

pub fn nft_element(kind: Kind, m: Mapping) -> String {
    format!(
        "{} : {} . {}",
        m.host_port,
        kind.server_ip(),
        m.container_port
    )
}

/// An `nft -f` file: one table with a verdict map for DNAT, masquerade, and
/// a forward chain that accepts DNATed and established traffic.
pub fn nft_ruleset(kind: Kind, maps: &[Mapping]) -> String {
    let mut elements = String::with_capacity(40 * maps.len());
    for (i, m) in maps.iter().enumerate() {
        if i > 0 {
            elements.push_str(", ");
        }
        elements.push_str(&nft_element(kind, *m));
    }
    format!(
        "table ip {NFT_TABLE} {{\n\
         \tmap published {{\n\t\ttype inet_service : ipv4_addr . inet_service\n\
         \t\telements = {{ {elements} }}\n\t}}\n\
         \tchain prerouting {{\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n\
         \t\tfib daddr type local dnat ip to tcp dport map @published\n\t}}\n\
         \tchain postrouting {{\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\
         \t\tip saddr {subnet} oifname != \"br0\" masquerade\n\t}}\n\
         \tchain forward {{\n\t\ttype filter hook forward priority filter; policy drop;\n\
         \t\tct state established,related accept\n\t\tiifname \"br0\" accept\n\
         \t\tct status dnat accept\n\t}}\n}}\n",
        subnet = kind.subnet()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_measured_mapping_comes_last() {
        let maps = mappings(3);
        assert_eq!(maps.len(), 3);
        assert_eq!(maps[0].host_port, FILLER_BASE);
        assert_eq!(maps[2].host_port, PUBLISHED_PORT);
        let rules = iptables_ruleset(Kind::IptablesNft, &maps);
        let dnat: Vec<&str> = rules.lines().filter(|l| l.contains("DNAT")).collect();
        assert!(dnat[2].ends_with("10.201.0.2:80"), "{dnat:?}");
        assert_eq!(mappings(1).len(), 1);
        let maps = with_http(3);
        assert_eq!(maps[2].host_port, PUBLISHED_PORT);
        assert_eq!(maps[3].host_port, HTTP_PUBLISHED_PORT);
        let rules = iptables_ruleset(Kind::IptablesNft, &maps);
        let dnat: Vec<&str> = rules.lines().filter(|l| l.contains("DNAT")).collect();
        assert!(dnat[3].ends_with("10.201.0.2:81"), "{dnat:?}");
    }
}
