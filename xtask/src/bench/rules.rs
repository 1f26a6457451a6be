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

/// Where a variant's rules point: its container subnet and server, in
/// either family.
pub struct Addressing {
    /// `ip` or `ip6` (nft's family; iptables' `-restore` tool prefix).
    pub family: &'static str,
    pub subnet: String,
    pub server_ip: String,
    /// Host-route length of one address (32 or 128).
    pub host_bits: u8,
    /// What Docker's OUTPUT rule leaves out: the loopback net.
    pub loopback: &'static str,
}

impl Addressing {
    pub fn v4(kind: Kind) -> Self {
        Addressing {
            family: "ip",
            subnet: kind.subnet(),
            server_ip: kind.server_ip(),
            host_bits: 32,
            loopback: "127.0.0.0/8",
        }
    }

    /// The DNAT target `ADDR:PORT` (`[ADDR]:PORT` for IPv6).
    fn destination(&self, port: u16) -> String {
        if self.family == "ip6" {
            format!("[{}]:{port}", self.server_ip)
        } else {
            format!("{}:{port}", self.server_ip)
        }
    }
}

pub fn nat_rule(to: &Addressing, m: Mapping) -> String {
    format!(
        "-A DOCKER ! -i br0 -p tcp -m tcp --dport {} -j DNAT --to-destination {}",
        m.host_port,
        to.destination(m.container_port)
    )
}

pub fn filter_rule(to: &Addressing, m: Mapping) -> String {
    format!(
        "-A DOCKER -d {}/{} ! -i br0 -o br0 -p tcp -m tcp --dport {} -j ACCEPT",
        to.server_ip, to.host_bits, m.container_port
    )
}

/// The whole nat and filter tables for `iptables-restore` (or
/// `ip6tables-restore`), with `maps`.
pub fn iptables_ruleset(to: &Addressing, maps: &[Mapping]) -> String {
    let mut text = String::with_capacity(200 * maps.len() + 2048);
    text.push_str(
        "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
         :POSTROUTING ACCEPT [0:0]\n:DOCKER - [0:0]\n\
         -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\n",
    );
    let _ = writeln!(
        text,
        "-A OUTPUT ! -d {} -m addrtype --dst-type LOCAL -j DOCKER",
        to.loopback
    );
    let _ = writeln!(
        text,
        "-A POSTROUTING -s {} ! -o br0 -j MASQUERADE",
        to.subnet
    );
    text.push_str("-A DOCKER -i br0 -j RETURN\n");
    for m in maps {
        let _ = writeln!(text, "{}", nat_rule(to, *m));
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
        let _ = writeln!(text, "{}", filter_rule(to, *m));
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
    let to = Addressing::v4(kind);
    let words = |table: &str, rule: String| -> Vec<String> {
        ["-t", table]
            .into_iter()
            .map(String::from)
            .chain(rule.split(' ').map(String::from))
            .collect()
    };
    [
        words("nat", nat_rule(&to, m)),
        words("filter", filter_rule(&to, m)),
    ]
}

pub const NFT_TABLE: &str = "ebnb";

pub fn nft_element(to: &Addressing, m: Mapping) -> String {
    format!("{} : {} . {}", m.host_port, to.server_ip, m.container_port)
}

/// An `nft -f` file: one table with a verdict map for DNAT, masquerade, and
/// a forward chain that accepts DNATed and established traffic.
pub fn nft_ruleset(to: &Addressing, maps: &[Mapping]) -> String {
    let mut elements = String::with_capacity(40 * maps.len());
    for (i, m) in maps.iter().enumerate() {
        if i > 0 {
            elements.push_str(", ");
        }
        elements.push_str(&nft_element(to, *m));
    }
    let (family, addr_type) = if to.family == "ip6" {
        ("ip6", "ipv6_addr")
    } else {
        ("ip", "ipv4_addr")
    };
    format!(
        "table {family} {NFT_TABLE} {{\n\
         \tmap published {{\n\t\ttype inet_service : {addr_type} . inet_service\n\
         \t\telements = {{ {elements} }}\n\t}}\n\
         \tchain prerouting {{\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n\
         \t\tfib daddr type local dnat {family} to tcp dport map @published\n\t}}\n\
         \tchain postrouting {{\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\
         \t\t{family} saddr {subnet} oifname != \"br0\" masquerade\n\t}}\n\
         \tchain forward {{\n\t\ttype filter hook forward priority filter; policy drop;\n\
         \t\tct state established,related accept\n\t\tiifname \"br0\" accept\n\
         \t\tct status dnat accept\n\t}}\n}}\n",
        subnet = to.subnet
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
        let rules = iptables_ruleset(&Addressing::v4(Kind::IptablesNft), &maps);
        let dnat: Vec<&str> = rules.lines().filter(|l| l.contains("DNAT")).collect();
        assert!(dnat[2].ends_with("10.201.0.2:80"), "{dnat:?}");
        assert_eq!(mappings(1).len(), 1);
        let maps = with_http(3);
        assert_eq!(maps[2].host_port, PUBLISHED_PORT);
        assert_eq!(maps[3].host_port, HTTP_PUBLISHED_PORT);
        let rules = iptables_ruleset(&Addressing::v4(Kind::IptablesNft), &maps);
        let dnat: Vec<&str> = rules.lines().filter(|l| l.contains("DNAT")).collect();
        assert!(dnat[3].ends_with("10.201.0.2:81"), "{dnat:?}");
    }
}
