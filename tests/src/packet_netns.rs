//! A throwaway namespace for packet tests of programs that look at
//! `skb->ifindex`: the interface must exist where the program runs.

use std::fs::File;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;

use serde_json::Value;

use crate::netns::{delete_netns, ip_ok, netns_exec_ok};

static NETNS_SEQ: AtomicU32 = AtomicU32::new(0);

/// A named namespace `ebnpkt-<pid>-<n>` holding an up link `d0` (one
/// end of a veth pair);
/// removed on drop, also on panic.
pub struct PacketNetns {
    pub name: String,
    /// Index of `d0` inside the namespace.
    pub ifindex: u32,
}

impl PacketNetns {
    pub fn new() -> Self {
        let name = format!(
            "ebnpkt-{}-{}",
            std::process::id(),
            NETNS_SEQ.fetch_add(1, Ordering::Relaxed)
        );
        delete_netns(&name);
        ip_ok(&["netns", "add", &name]);
        let mut ns = Self { name, ifindex: 0 };
        // No `dummy` module on every kernel: a veth pair (d0, d1) will do.
        ip_ok(&[
            "-n", &ns.name, "link", "add", "d0", "type", "veth", "peer", "name", "d1",
        ]);
        ns.ip(&["link", "set", "d0", "up"]);
        ns.ifindex = ns.link_index("d0");
        ns
    }

    /// Runs `ip -n <ns> ARGS`, panicking unless it succeeds.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip_ok(&all)
    }

    /// Index of `dev` inside the namespace.
    pub fn link_index(&self, dev: &str) -> u32 {
        let json = self.ip(&["-j", "link", "show", dev]);
        let links: Value = serde_json::from_str(&json).expect("ip -j output is JSON");
        links[0]["ifindex"].as_u64().expect("link has an ifindex") as u32
    }

    /// Makes `d1` a routed uplink (192.0.2.1/24, default route through
    /// 192.0.2.254) and turns forwarding on for `d0`, so `bpf_fib_lookup`
    /// from `d0` resolves outside addresses to `d1`. Returns `d1`'s index.
    pub fn route_out_of_d1(&self) -> u32 {
        self.ip(&["addr", "add", "192.0.2.1/24", "dev", "d1"]);
        self.ip(&["link", "set", "d1", "up"]);
        self.ip(&["route", "add", "default", "via", "192.0.2.254", "dev", "d1"]);
        netns_exec_ok(
            &self.name,
            &["sysctl", "-qw", "net.ipv4.conf.d0.forwarding=1"],
        );
        self.link_index("d1")
    }

    /// Runs `f` in the namespace ([`run_in_netns`]).
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        run_in_netns(&self.name, f)
    }
}

/// Runs `f` on a new thread that has joined the named network namespace
/// `ns` (`setns` is per thread); a panic in `f` is re-raised here.
pub fn run_in_netns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> T {
    let path = format!("/run/netns/{ns}");
    thread::scope(|scope| {
        let handle = scope.spawn(move || {
            let file = File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
            // Only this thread changes namespace.
            nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
                .unwrap_or_else(|e| panic!("setns {path}: {e}"));
            f()
        });
        handle
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

impl Default for PacketNetns {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for PacketNetns {
    fn drop(&mut self) {
        delete_netns(&self.name);
    }
}
