//! Masquerade source ports: a range the host's own connections never use,
//! and each container's share of it towards one destination.

use ebpfnet_common::maps::Config;

use super::portalloc::ephemeral_range;

/// The sysctl whose range masquerade ports must stay out of.
pub const PORT_RANGE_SYSCTL: &str = "net.ipv4.ip_local_port_range";

/// Fewest ports a masquerade range may have when ebpfnet picks it.
const MIN_PICKED_PORTS: u32 = 1024;
/// Fewest ports a range given with `--masquerade-port-range` may have.
const MIN_GIVEN_PORTS: u32 = 16;

/// What the daemon was told about masquerade ports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MasqueradeOptions {
    /// `--masquerade-port-range`; else the ports above the host's range.
    pub range: Option<(u16, u16)>,
    /// `--masquerade-ports-per-destination`; else half the range.
    pub per_destination: Option<u16>,
}

/// Masquerade source ports disjoint from the host's ephemeral ports
/// (`ip_local_port_range`, the file's text), so a masqueraded flow never
/// takes a tuple a host connection may use. With no range given: every
/// port above the host's range, which must leave at least 1024.
pub fn masquerade_range(
    ip_local_port_range: &str,
    given: Option<(u16, u16)>,
) -> Result<(u16, u16), String> {
    let (low, high) = ephemeral_range(ip_local_port_range);
    let sysctl = format!("{PORT_RANGE_SYSCTL} is {low}-{high}");
    match given {
        Some((min, max)) => {
            if min > max || u32::from(max - min) + 1 < MIN_GIVEN_PORTS || min < 1024 {
                return Err(format!(
                    "masquerade port range {min}-{max} must hold at least {MIN_GIVEN_PORTS} ports, all from 1024 up"
                ));
            }
            if min <= high && low <= max {
                return Err(format!(
                    "masquerade port range {min}-{max} overlaps the host's ephemeral ports ({sysctl}); \
                     choose a range outside it"
                ));
            }
            Ok((min, max))
        }
        None => {
            let above = 65535 - u32::from(high);
            if above < MIN_PICKED_PORTS {
                return Err(format!(
                    "{sysctl}, which leaves {above} ports above it for masquerade; ebpfnet needs \
                     {MIN_PICKED_PORTS}: lower the sysctl's upper end (e.g. 60999) or give \
                     --masquerade-port-range outside it"
                ));
            }
            Ok((high + 1, 65535))
        }
    }
}

/// `CONFIG`: the masquerade range, each container's share of it towards
/// one destination, and the cookie of the host's network namespace.
pub fn datapath_config(
    range: (u16, u16),
    per_destination: Option<u16>,
    host_netns_cookie: u64,
) -> Config {
    let size = u32::from(range.1 - range.0) + 1;
    // Half the range: one container cannot starve the others.
    let share = per_destination.unwrap_or((size / 2).clamp(1, u32::from(u16::MAX)) as u16);
    Config::new(range, share, host_netns_cookie)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picked_ranges_sit_above_the_host_range() {
        assert_eq!(masquerade_range("32768\t60999\n", None), Ok((61000, 65535)));
        assert_eq!(masquerade_range("10000 40000", None), Ok((40001, 65535)));
        // Exactly 1024 ports left is enough; 1023 is not, and there is no
        // fallback that could overlap the host's ports.
        assert_eq!(masquerade_range("10000 64511", None), Ok((64512, 65535)));
        let err = masquerade_range("10000 64512", None).unwrap_err();
        assert!(
            err.contains("net.ipv4.ip_local_port_range is 10000-64512"),
            "{err}"
        );
        assert!(err.contains("1023 ports"), "{err}");
        assert!(masquerade_range("1024 65535", None).is_err());
    }

    #[test]
    fn given_ranges_must_avoid_the_host_range() {
        let host = "32768 60999";
        assert_eq!(
            masquerade_range(host, Some((61000, 61099))),
            Ok((61000, 61099))
        );
        assert_eq!(
            masquerade_range(host, Some((20000, 20015))),
            Ok((20000, 20015))
        );
        let err = masquerade_range(host, Some((60990, 61100))).unwrap_err();
        assert!(err.contains("overlaps"), "{err}");
        assert!(err.contains("net.ipv4.ip_local_port_range"), "{err}");
        assert!(masquerade_range(host, Some((61000, 61005))).is_err());
        assert!(masquerade_range(host, Some((100, 200))).is_err());
        assert!(masquerade_range(host, Some((62000, 61000))).is_err());
    }

    #[test]
    fn config_shares_half_the_range_unless_told() {
        let config = datapath_config((61000, 65535), None, 7);
        assert_eq!(
            (
                config.masq_port_min,
                config.masq_port_max,
                config.masq_ports_per_destination,
                config._pad,
                config.host_netns_cookie
            ),
            (61000, 65535, 2268, 0, 7)
        );
        assert_eq!(
            datapath_config((61000, 61099), Some(10), 1).masq_ports_per_destination,
            10
        );
        assert_eq!(
            datapath_config((61000, 61000), None, 1).masq_ports_per_destination,
            1
        );
    }
}
