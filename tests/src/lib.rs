//! Harness for the end-to-end tests of `ebpfnet`.
//!
//! Every test builds a [`TestEnv`]: its own state dir, socket, pin dir, an
//! "outside" namespace joined to the host by a veth that serves as the uplink,
//! and a running `ebpfnet daemon`. Dropping the env (also on panic) resets
//! everything the daemon made and removes what the harness made.
//!
//! The tests must run as root: they fail (never skip) otherwise.
//!
//! The packet tests (`tests/packets_*.rs`) need no daemon: [`testrun`] loads
//! the eBPF object with private maps and runs its programs on frames built
//! with [`packet`] through `BPF_PROG_TEST_RUN`; `packets_fuzz.rs` feeds them
//! frames mutated by [`mutate`].

pub mod certs;
pub mod checks;
pub mod cli;
pub mod cluster_node;
pub mod cluster_status;
pub mod cni;
pub mod containerd;
pub mod daemon;
pub mod dns;
pub mod docker;
pub mod docker_use;
mod env_cli;
pub mod etcd;
pub mod fuzzer;
mod harness_host;
pub mod hosts;
pub mod images;
pub mod invariants;
pub mod ipv6;
pub mod ipv6_publish;
pub mod lan;
pub mod mutate;
pub mod netns;
pub mod nexthop;
pub mod outside6;
pub mod overlay6_hosts;
pub mod overlay_hosts;
pub mod packet;
pub mod packet46_icmp;
pub mod packet6;
pub mod packet6_l4;
pub mod packet_frag;
pub mod packet_icmp;
pub mod packet_netns;
pub mod paths;
pub mod pinned_datapath;
pub mod podman;
mod py_socket;
pub mod runtime_host;
pub mod tcp_proxy;
pub mod testrun;
mod testrun46;
mod testrun6;
pub mod topology;
pub mod topology46;
pub mod traffic;
mod uplink;
pub mod web;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

pub use checks::check_endpoint;
pub use cli::{CmdOutput, run, run_timeout};
pub use daemon::TestEnv;
pub use dns::dns_query;
pub use netns::*;

static LOCK: Mutex<()> = Mutex::new(());

/// Machine-wide lock file: test runs started by different processes (two
/// `cargo test` invocations, or a test run beside `cargo xtask demo`) would
/// fight over host-global names too.
const HOST_LOCK: &str = "/run/ebpfnet-tests.lock";

/// Held for the duration of a test: the tests share host-global names
/// (`ebpfnet0`, 10.214.0.0/16, 203.0.113.0/24), so one runs at a time, in
/// this process and on this host.
pub struct Serial {
    _thread: MutexGuard<'static, ()>,
    _host: nix::fcntl::Flock<std::fs::File>,
}

pub fn serial() -> Serial {
    let thread = LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let host = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(HOST_LOCK)
        .unwrap_or_else(|e| panic!("cannot open {HOST_LOCK}: {e}"));
    // Released when the file closes, at the end of the test.
    let host = nix::fcntl::Flock::lock(host, nix::fcntl::FlockArg::LockExclusive)
        .unwrap_or_else(|(_, e)| panic!("cannot lock {HOST_LOCK}: {e}"));
    Serial {
        _thread: thread,
        _host: host,
    }
}

/// Path of the `ebpfnet` binary under test: `$EBPFNET_BIN`, else
/// `<workspace>/target/debug/ebpfnet`. Panics when it does not exist.
pub fn bin() -> PathBuf {
    let path = match std::env::var_os("EBPFNET_BIN") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/ebpfnet"),
    };
    assert!(
        path.is_file(),
        "ebpfnet binary not found at {} (set EBPFNET_BIN or build it with `cargo xtask build`)",
        path.display()
    );
    path
}

/// `daemon --socket SOCK --state-dir STATE --pin-dir PINS`: the start of a
/// test daemon's command line, on dirs of its own.
pub fn daemon_args<'a>(sock: &'a Path, state_dir: &'a Path, pin_dir: &'a Path) -> [&'a OsStr; 7] {
    [
        OsStr::new("daemon"),
        OsStr::new("--socket"),
        sock.as_os_str(),
        OsStr::new("--state-dir"),
        state_dir.as_os_str(),
        OsStr::new("--pin-dir"),
        pin_dir.as_os_str(),
    ]
}

/// Sends `signal` to process `pid` (a child, or a leftover found by its
/// command line); a process already gone is no error.
pub fn send_signal(pid: impl TryInto<i32>, signal: nix::sys::signal::Signal) {
    if let Ok(pid) = pid.try_into() {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal);
    }
}

/// `--tc-attach VALUE` when `EBPFNET_TEST_TC_ATTACH` asks every test daemon
/// for an attach path (`netlink` runs the suite on the older kernels' path)
/// and the test does not choose one itself.
pub fn forced_tc_attach(daemon_args: &[String]) -> Vec<String> {
    match std::env::var("EBPFNET_TEST_TC_ATTACH") {
        Ok(value) if !daemon_args.iter().any(|a| a.starts_with("--tc-attach")) => {
            vec!["--tc-attach".into(), value]
        }
        _ => Vec::new(),
    }
}

/// Panics unless running as root. These tests create namespaces, links and
/// BPF pins; skipping them silently would hide a broken datapath.
pub fn require_root() {
    let euid = nix::unistd::geteuid();
    assert!(
        euid.is_root(),
        "the ebpfnet end-to-end tests must run as root (euid is {euid}); \
         run them with `sudo -E cargo xtask test` or as root"
    );
}

/// Docker's MAC for an IPv4 address: `02:42:` + the four address bytes.
pub fn mac_for_ip(ip: &str) -> String {
    let o = parse_ipv4(ip);
    format!("02:42:{:02x}:{:02x}:{:02x}:{:02x}", o[0], o[1], o[2], o[3])
}

/// Parses dotted IPv4 into octets; panics on bad input.
pub fn parse_ipv4(ip: &str) -> [u8; 4] {
    let addr: std::net::Ipv4Addr = ip
        .parse()
        .unwrap_or_else(|e| panic!("not an IPv4 address: {ip:?}: {e}"));
    addr.octets()
}

/// Parses `a.b.c.d/len` into (network address as u32, prefix length).
pub fn parse_cidr(cidr: &str) -> (u32, u8) {
    let (ip, len) = cidr
        .split_once('/')
        .unwrap_or_else(|| panic!("not a CIDR: {cidr:?}"));
    let len: u8 = len
        .parse()
        .unwrap_or_else(|e| panic!("bad prefix length in {cidr:?}: {e}"));
    assert!(len <= 32, "bad prefix length in {cidr:?}");
    (u32::from_be_bytes(parse_ipv4(ip)), len)
}

fn mask(len: u8) -> u32 {
    if len == 0 { 0 } else { u32::MAX << (32 - len) }
}

/// Whether `ip` lies inside `cidr`.
pub fn ip_in_cidr(ip: &str, cidr: &str) -> bool {
    let (net, len) = parse_cidr(cidr);
    let ip = u32::from_be_bytes(parse_ipv4(ip));
    ip & mask(len) == net & mask(len)
}

/// Whether two CIDRs share at least one address.
pub fn cidrs_overlap(a: &str, b: &str) -> bool {
    let (na, la) = parse_cidr(a);
    let (nb, lb) = parse_cidr(b);
    let m = mask(la.min(lb));
    na & m == nb & m
}

/// A TCP port nothing listens on now on 127.0.0.1, picked by the kernel.
pub fn free_local_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:0: {e}"));
    listener
        .local_addr()
        .unwrap_or_else(|e| panic!("no local address: {e}"))
        .port()
}

/// Whether `s` is a 64-character lowercase hex id.
pub fn is_hex_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
