//! The overlay phase's cluster store: Debian's `etcd-server`, started in
//! the first "host"'s namespace on its underlay address (the other host
//! reaches it over the underlay), with its data under the bench's scratch
//! dir; stopped by the lab's cleanup, its data removed with the dir.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd as _;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::lab::{DIR, ETCD_PID_FILE, Lab};
use super::topology::in_ns;
use crate::interrupt::check_interrupted;

const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A port nothing listens on now (the kernel's pick for port 0).
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("picking a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Starts etcd in `ns`, serving clients on `ip`; answers `IP:PORT` once it
/// reports itself healthy.
pub fn start(lab: &mut Lab, ns: &str, ip: &str) -> Result<String> {
    let data = Path::new(DIR).join("etcd");
    let (client_port, peer_port) = (free_port()?, free_port()?);
    let client = format!("http://{ip}:{client_port}");
    let peer = format!("http://127.0.0.1:{peer_port}");
    let mut cmd = in_ns(ns, "etcd");
    cmd.args(["--name", "ebnb-bench", "--data-dir"])
        .arg(&data)
        .args(["--listen-client-urls", &client])
        .args(["--advertise-client-urls", &client])
        .args(["--listen-peer-urls", &peer])
        .args(["--initial-advertise-peer-urls", &peer])
        .args(["--initial-cluster", &format!("ebnb-bench={peer}")])
        .args(["--initial-cluster-state", "new"]);
    lab.spawn("etcd", &mut cmd)?;
    if let Some(pid) = lab.last_child_pid() {
        std::fs::write(Path::new(DIR).join(ETCD_PID_FILE), format!("{pid}\n"))
            .context("writing etcd's pid file")?;
    }
    let endpoint = format!("{ip}:{client_port}");
    let deadline = Instant::now() + READY_TIMEOUT;
    while !healthy(ns, &endpoint)? {
        check_interrupted()?;
        lab.check_children()?;
        if Instant::now() > deadline {
            bail!(
                "etcd (Debian's etcd-server) not healthy after {} s; see {DIR}/etcd.log",
                READY_TIMEOUT.as_secs()
            );
        }
        sleep(Duration::from_millis(100));
    }
    Ok(endpoint)
}

/// Whether `GET /health` on `endpoint`, from namespace `ns`, answers
/// `"health":"true"`. The request is made by a thread that enters the
/// namespace (threads have their own network namespace).
fn healthy(ns: &str, endpoint: &str) -> Result<bool> {
    let netns = std::fs::File::open(format!("/run/netns/{ns}"))
        .with_context(|| format!("opening network namespace {ns}"))?;
    let endpoint = endpoint.to_string();
    let probe = std::thread::spawn(move || -> Result<bool> {
        nix::sched::setns(netns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
            .context("entering the etcd host's namespace")?;
        let Ok(mut stream) = TcpStream::connect(&endpoint) else {
            return Ok(false);
        };
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        let request = format!("GET /health HTTP/1.0\r\nHost: {endpoint}\r\n\r\n");
        if stream.write_all(request.as_bytes()).is_err() {
            return Ok(false);
        }
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        Ok(answer.contains("\"health\":\"true\""))
    });
    match probe.join() {
        Ok(answer) => answer,
        Err(_) => bail!("the etcd health probe panicked"),
    }
}
