//! Docker's ways of showing things, to the character: the PORTS column
//! (docker/cli `formatter.DisplayablePorts`), times (Go's `time.Time.String`,
//! go-units `HumanDuration`), labels, and the natural sort order of
//! `docker port` and `docker network ls` (fvbommel/sortorder `NaturalLess`).

use std::{cmp::Ordering, collections::BTreeMap};

use jiff::{Timestamp, tz::TimeZone};

use crate::portspec::PortMapping;

/// One group of container ports: `key` is `proto` or `ip/proto`.
struct Group {
    key: String,
    first: u16,
    last: u16,
}

fn form_group(group: &Group) -> String {
    let (ip, proto) = match group.key.split_once('/') {
        Some((ip, proto)) => (Some(ip), proto),
        None => (None, group.key.as_str()),
    };
    let mut ports = group.first.to_string();
    if group.first != group.last {
        ports = format!("{ports}-{}", group.last);
    }
    match ip {
        // Go's `net.JoinHostPort`: an IPv6 address in brackets.
        Some(ip) if ip.contains(':') => format!("[{ip}]:{ports}->{ports}/{proto}"),
        Some(ip) => format!("{ip}:{ports}->{ports}/{proto}"),
        None => format!("{ports}/{proto}"),
    }
}

/// The PORTS column of `docker ps`: published ports whose host port equals
/// the container port are grouped into ranges (`0.0.0.0:8000-8002->8000-8002/tcp`);
/// the others are listed one by one after the groups
/// (`0.0.0.0:8080->80/tcp`). Docker's algorithm, step for step.
pub fn displayable_ports(ports: &[PortMapping]) -> String {
    let mut ports = ports.to_vec();
    ports.sort_by(|a, b| {
        (a.container_port, a.host_ip, a.host_port, a.protocol).cmp(&(
            b.container_port,
            b.host_ip,
            b.host_port,
            b.protocol,
        ))
    });
    // Groups by key, in the order their keys first appeared.
    let mut groups: Vec<Group> = Vec::new();
    let mut result = Vec::new();
    let mut host_mappings = Vec::new();
    for p in &ports {
        let current = p.container_port;
        if p.host_port != current {
            host_mappings.push(format!("{}->{}/{}", p.host(), p.container_port, p.protocol));
            continue;
        }
        let key = format!("{}/{}", p.host_ip, p.protocol);
        match groups.iter_mut().find(|g| g.key == key) {
            None => groups.push(Group {
                key,
                first: current,
                last: current,
            }),
            Some(group) if group.last.checked_add(1) == Some(current) => group.last = current,
            Some(group) => {
                result.push(form_group(group));
                group.first = current;
                group.last = current;
            }
        }
    }
    result.extend(groups.iter().map(form_group));
    result.extend(host_mappings);
    result.join(", ")
}

/// Go's `time.Time.String()` of an RFC 3339 time, in this host's time zone:
/// `2026-01-02 03:04:05.5 +0000 UTC`; the fraction only if `fraction`
/// (Docker shows containers' creation to the second, networks' to the
/// nanosecond). The text as given if it is not a time.
pub fn go_time(rfc3339: &str, fraction: bool) -> String {
    go_time_in(rfc3339, fraction, &TimeZone::system())
}

fn go_time_in(rfc3339: &str, fraction: bool, zone: &TimeZone) -> String {
    let Ok(time) = rfc3339.parse::<Timestamp>() else {
        return rfc3339.to_string();
    };
    let format = if fraction {
        "%Y-%m-%d %H:%M:%S%.f %z %Z"
    } else {
        "%Y-%m-%d %H:%M:%S %z %Z"
    };
    time.to_zoned_datetime(zone.clone())
        .strftime(format)
        .to_string()
}

/// go-units' `HumanDuration`: `Less than a second`, `5 seconds`,
/// `About a minute`, `3 hours`, `2 weeks`, …
pub fn human_duration(seconds: f64) -> String {
    let whole = seconds as i64;
    let minutes = (seconds / 60.0) as i64;
    let hours = (seconds / 3600.0 + 0.5) as i64;
    match () {
        _ if whole < 1 => "Less than a second".into(),
        _ if whole == 1 => "1 second".into(),
        _ if whole < 60 => format!("{whole} seconds"),
        _ if minutes == 1 => "About a minute".into(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", (seconds / 3600.0) as i64 / 24 / 365),
    }
}

/// `docker ps`'s RUNNING FOR: how long ago `rfc3339` was, `5 minutes ago`.
pub fn running_for(rfc3339: &str, now: Timestamp) -> String {
    let Ok(created) = rfc3339.parse::<Timestamp>() else {
        return String::new();
    };
    // Docker counts from the creation time cut to the second.
    let seconds =
        (now.as_nanosecond() - i128::from(created.as_second()) * 1_000_000_000) as f64 / 1e9;
    format!("{} ago", human_duration(seconds))
}

/// Labels as `docker … ls` shows them: `k=v` sorted, joined by commas.
pub fn labels(labels: &BTreeMap<String, String>) -> String {
    let mut joined: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    joined.sort();
    joined.join(",")
}

/// fvbommel/sortorder's `NaturalLess` as an ordering: digit runs compare
/// as numbers (fewer leading zeros first), digits sort before other bytes.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (da, db) = (a[i].is_ascii_digit(), b[j].is_ascii_digit());
        if da != db {
            return if da {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        if !da {
            if a[i] != b[j] {
                return a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
            continue;
        }
        let (zeros_a, zeros_b) = (i, j);
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        let (start_a, start_b) = (i, j);
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let (num_a, num_b) = (&a[start_a..i], &b[start_b..j]);
        let order = num_a
            .len()
            .cmp(&num_b.len())
            .then_with(|| num_a.cmp(num_b))
            .then_with(|| (start_a - zeros_a).cmp(&(start_b - zeros_b)));
        if order != Ordering::Equal {
            return order;
        }
    }
    (a.len() - i).cmp(&(b.len() - j))
}

/// Docker's tables (`tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)` over
/// tab-separated cells): every column but the last as wide as its widest
/// cell plus 3, and at least 10; the last cell unpadded; nothing trimmed.
pub fn docker_table(rows: &[Vec<String>]) -> Vec<String> {
    const MIN_WIDTH: usize = 10;
    const PADDING: usize = 3;
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns.saturating_sub(1))
        .map(|column| {
            rows.iter()
                .filter(|row| column + 1 < row.len())
                .map(|row| row[column].chars().count() + PADDING)
                .fold(MIN_WIDTH, usize::max)
        })
        .collect();
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for (column, cell) in row.iter().enumerate() {
                line.push_str(cell);
                if column + 1 < row.len() {
                    let pad = widths[column] - cell.chars().count();
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            line
        })
        .collect()
}

#[cfg(test)]
#[path = "display_tests.rs"]
mod tests;
