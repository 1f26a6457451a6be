//! A real etcd (Debian's `etcd-server`) for the cluster tests: on loopback,
//! on free ports, with its own data dir under /tmp; killed and removed on
//! drop, also after a panic. Never the host's etcd, if it runs one.

use std::fs::{self, File};
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::cli::{kill_and_reap, last_lines};

const READY_TIMEOUT: Duration = Duration::from_secs(20);

pub struct Etcd {
    /// `/tmp/ebn-etcd-<tag>-<pid>`: data dir and log.
    pub dir: PathBuf,
    pub client_port: u16,
    peer_port: u16,
    /// Where clients connect (`127.0.0.1` unless started with
    /// [`Etcd::start_on`]).
    client_ip: String,
    child: Option<Child>,
}

/// A port nothing listens on now (the kernel's pick for port 0).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    listener.local_addr().expect("local addr").port()
}

impl Etcd {
    /// A client of this etcd and the single-threaded runtime to drive it.
    pub fn client(&self) -> (tokio::runtime::Runtime, etcd_client::Client) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let url = format!("http://{}", self.endpoint());
        let client = runtime
            .block_on(etcd_client::Client::connect([url], None))
            .expect("etcd client");
        (runtime, client)
    }

    /// Starts etcd and waits until it answers `/health`.
    pub fn start(tag: &str) -> Etcd {
        Etcd::start_on(tag, "127.0.0.1")
    }

    /// As [`Etcd::start`], serving clients on `ip` (an address of this
    /// machine that other namespaces reach).
    pub fn start_on(tag: &str, ip: &str) -> Etcd {
        let dir = PathBuf::from(format!("/tmp/ebn-etcd-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        let mut etcd = Etcd {
            dir,
            client_port: free_port(),
            peer_port: free_port(),
            client_ip: ip.to_string(),
            child: None,
        };
        etcd.resume();
        etcd
    }

    /// `127.0.0.1:PORT`, for `--cluster-store etcd://…`.
    pub fn endpoint(&self) -> String {
        format!("{}:{}", self.client_ip, self.client_port)
    }

    /// Starts (again) on the same ports and data, and waits until ready.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "etcd already running");
        let client = format!("http://{}:{}", self.client_ip, self.client_port);
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.dir.join("etcd.log"))
            .unwrap_or_else(|e| panic!("etcd log: {e}"));
        let log2 = log.try_clone().expect("clone log fd");
        let child = Command::new("etcd")
            .args(["--name", "ebn-test"])
            .arg("--data-dir")
            .arg(self.dir.join("data"))
            .args([
                "--listen-client-urls",
                &client,
                "--advertise-client-urls",
                &client,
            ])
            .args([
                "--listen-peer-urls",
                &peer,
                "--initial-advertise-peer-urls",
                &peer,
            ])
            .args(["--initial-cluster", &format!("ebn-test={peer}")])
            .args(["--initial-cluster-state", "new"])
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start etcd (Debian's etcd-server; run `cargo xtask setup`): {e}")
            });
        self.child = Some(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        while !self.healthy() {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                panic!("etcd exited at start ({status})\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "etcd not healthy after {READY_TIMEOUT:?}\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether `GET /health` answers `"health":"true"`.
    fn healthy(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect((self.client_ip.as_str(), self.client_port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let request = "GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
        if stream.write_all(request.as_bytes()).is_err() {
            return false;
        }
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer.contains("\"health\":\"true\"")
    }

    /// Kills etcd (SIGKILL: no goodbye to the clients) and waits for it.
    pub fn stop(&mut self) {
        if let Some(child) = self.child.take() {
            kill_and_reap(child);
        }
    }

    pub fn log(&self) -> String {
        let text = fs::read_to_string(self.dir.join("etcd.log")).unwrap_or_default();
        format!("--- etcd log (tail) ---\n{}", last_lines(&text, 30))
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!("{}", self.log());
        }
        self.stop();
        if std::env::var_os("EBPFNET_TEST_KEEP").is_none() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}
