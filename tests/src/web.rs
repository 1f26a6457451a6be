//! HTTP fetches as a user's client makes them (python3's urllib: the
//! system resolver, a real TCP connection), from wherever a command runs:
//! the host, a namespace (`ip netns exec`), an ebpfnet container
//! (`ebpfnet exec`); and what the busybox image's `/cgi-bin/peer` says.

use std::process::Command;
use std::time::Duration;

use crate::TestEnv;
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

/// `ebpfnet --socket S exec CONTAINER --` against a [`TestEnv`]'s daemon:
/// a [`fetch`] prefix that runs the client in an ebpfnet container.
pub struct InContainer {
    bin: String,
    sock: String,
    container: String,
}

impl InContainer {
    pub fn new(env: &TestEnv, container: &str) -> Self {
        InContainer {
            bin: env.bin.display().to_string(),
            sock: env.sock.display().to_string(),
            container: container.to_string(),
        }
    }

    /// The prefix to hand [`fetch`].
    pub fn prefix(&self) -> [&str; 6] {
        [
            &self.bin,
            "--socket",
            &self.sock,
            "exec",
            &self.container,
            "--",
        ]
    }
}

/// Asserts that the host's port `port`, published for a web container,
/// serves `page` to the outside namespace through the uplink (which sees
/// the outside's own address: `/cgi-bin/peer`) and to the host on
/// 127.0.0.1. Returns the outside's URL of the port, `http://UPLINK:PORT`.
#[track_caller]
pub fn assert_published_page(env: &TestEnv, port: u16, page: &str) -> String {
    let outside = in_netns(&env.outside_ns);
    let url = format!("http://{}:{port}", env.uplink_ip);
    assert_eq!(
        fetch_soon(&outside, &format!("{url}/")).as_deref(),
        Ok(page)
    );
    let peer = fetch(&outside, &format!("{url}{}", crate::images::PEER_PATH))
        .unwrap_or_else(|e| panic!("peer from outside: {e}"));
    assert_eq!(
        peer_address(&peer),
        Some(env.outside_ip.clone()),
        "the client address was not kept: {peer:?}"
    );
    let local = format!("http://127.0.0.1:{port}/");
    assert_eq!(fetch(&[], &local).as_deref(), Ok(page));
    url
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
