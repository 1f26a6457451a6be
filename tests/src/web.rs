//! HTTP fetches as a user's client makes them (python3's urllib: the
//! system resolver, a real TCP connection), from wherever a command runs:
//! the host, a namespace (`ip netns exec`), an ebpfnet container
//! (`ebpfnet exec`); and what the busybox image's `/cgi-bin/peer` says.

use std::process::Command;
use std::time::Duration;

use crate::cli::{CmdOutput, run_timeout};
use crate::netns::python;
use crate::traffic::wait_for;

const FETCH: &str = r#"
import sys, urllib.request
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode(), end="")
except Exception as e:
    print("fetch %s: %s" % (sys.argv[1], e), file=sys.stderr)
    sys.exit(1)
"#;

/// GET `url` by `prefix` (empty: from the host): the body or the error.
pub fn fetch(prefix: &[&str], url: &str) -> Result<String, String> {
    let mut cmd = match prefix.split_first() {
        Some((first, rest)) => {
            let mut cmd = Command::new(first);
            cmd.args(rest).arg(python());
            cmd
        }
        None => Command::new(python()),
    };
    cmd.args(["-c", FETCH, url]);
    let out = run_timeout(&mut cmd, None, Duration::from_secs(20))?;
    if out.status.success() {
        Ok(out.stdout_str())
    } else {
        Err(out.stderr_str().trim().to_string())
    }
}

/// [`fetch`], retried for up to 10 s while it fails (a server starting).
pub fn fetch_soon(prefix: &[&str], url: &str) -> Result<String, String> {
    let mut last = Err(String::new());
    wait_for(Duration::from_secs(10), || {
        last = fetch(prefix, url);
        last.is_ok()
    });
    last
}

/// `ip netns exec NS` as a [`fetch`] prefix.
pub fn in_netns(ns: &str) -> [&str; 4] {
    ["ip", "netns", "exec", ns]
}

/// The client address in a `/cgi-bin/peer` answer (`peer=[::ffff:A.B.C.D]`
/// from busybox httpd on a dual-stack socket, or `peer=A.B.C.D`).
pub fn peer_address(reply: &str) -> Option<String> {
    let text = reply.trim().strip_prefix("peer=")?;
    let text = text.trim_start_matches('[').trim_end_matches(']');
    let ip = text.strip_prefix("::ffff:").unwrap_or(text);
    ip.parse::<std::net::Ipv4Addr>()
        .ok()
        .map(|ip| ip.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_answers_give_the_ipv4_address() {
        assert_eq!(
            peer_address("peer=[::ffff:203.0.113.2]\n").as_deref(),
            Some("203.0.113.2")
        );
        assert_eq!(peer_address("peer=10.0.0.1").as_deref(), Some("10.0.0.1"));
        assert_eq!(peer_address("peer=[::1]"), None);
        assert_eq!(peer_address("hello"), None);
    }
}
