//! A TCP relay the test can cut and restore: a daemon that reaches etcd
//! through it is cut off from the store while the others are not.

use std::io::{self, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

pub struct TcpProxy {
    pub port: u16,
    target: SocketAddr,
    running: Option<Running>,
}

struct Running {
    stop: Arc<AtomicBool>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
    acceptor: JoinHandle<()>,
}

impl TcpProxy {
    /// Relays 127.0.0.1:(a free port) to `target`.
    pub fn start(target: SocketAddr) -> TcpProxy {
        let mut proxy = TcpProxy {
            port: super::etcd::free_port(),
            target,
            running: None,
        };
        proxy.restore();
        proxy
    }

    /// Accepts and relays again, on the same port.
    pub fn restore(&mut self) {
        assert!(self.running.is_none(), "proxy already running");
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .unwrap_or_else(|e| panic!("proxy bind 127.0.0.1:{}: {e}", self.port));
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let stop = Arc::new(AtomicBool::new(false));
        let streams = Arc::new(Mutex::new(Vec::new()));
        let (stop2, streams2, target) = (Arc::clone(&stop), Arc::clone(&streams), self.target);
        let acceptor = thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => relay(client, target, &streams2),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(20));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        self.running = Some(Running {
            stop,
            streams,
            acceptor,
        });
    }

    /// Closes the port and every relayed connection.
    pub fn cut(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop.store(true, Ordering::Relaxed);
            let _ = running.acceptor.join();
            for stream in running
                .streams
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .drain(..)
            {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }
}

fn relay(client: TcpStream, target: SocketAddr, streams: &Mutex<Vec<TcpStream>>) {
    let _ = client.set_nonblocking(false);
    let Ok(server) = TcpStream::connect(target) else {
        return;
    };
    let pairs = [
        (client.try_clone(), server.try_clone()),
        (server.try_clone(), client.try_clone()),
    ];
    let mut held = streams.lock().unwrap_or_else(|p| p.into_inner());
    held.push(client);
    held.push(server);
    for pair in pairs {
        if let (Ok(mut from), Ok(mut to)) = pair {
            thread::spawn(move || {
                let mut buf = [0u8; 16384];
                loop {
                    match from.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
                let _ = to.shutdown(Shutdown::Both);
                let _ = from.shutdown(Shutdown::Both);
            });
        }
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
    }
}
