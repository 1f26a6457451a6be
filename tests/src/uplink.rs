//! The test-made uplink: a veth from the host (`TestEnv::uplink`, passed
//! as `--uplink`) to `eth0` in the outside namespace.

use crate::TestEnv;
use crate::netns::{delete_link, ip_ok, netns_exec_ok};

/// Makes the uplink veth pair of `env` (the outside namespace must exist):
/// addresses on both ends, both up, and the outside's default route via
/// the host.
pub(crate) fn make_uplink(env: &TestEnv) {
    let (ns, up) = (env.outside_ns.as_str(), env.uplink.as_str());
    ip_ok(&[
        "link", "add", up, "type", "veth", "peer", "name", "eth0", "netns", ns,
    ]);
    ip_ok(&["addr", "add", &format!("{}/24", env.uplink_ip), "dev", up]);
    ip_ok(&["link", "set", up, "up"]);
    netns_exec_ok(ns, &["ip", "link", "set", "lo", "up"]);
    let outside = format!("{}/24", env.outside_ip);
    netns_exec_ok(ns, &["ip", "addr", "add", &outside, "dev", "eth0"]);
    netns_exec_ok(ns, &["ip", "link", "set", "eth0", "up"]);
    netns_exec_ok(
        ns,
        &["ip", "route", "add", "default", "via", &env.uplink_ip],
    );
}

impl TestEnv {
    /// Deletes the uplink veth (both ends) and makes it again under the
    /// same names and addresses, as wg-quick or NetworkManager do with a
    /// host's interface. The new one has a new ifindex.
    pub fn recreate_uplink(&self) {
        delete_link(&self.uplink);
        make_uplink(self);
    }
}
