//! The server: a fixed pool of threads blocked in accept(), each serving the
//! connection it got until the client closes it.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::thread;

pub fn serve(listen: SocketAddr, threads: usize) -> io::Result<()> {
    let listener = Arc::new(TcpListener::bind(listen)?);
    let datagrams = UdpSocket::bind(listen)?;
    thread::spawn(move || discard(&datagrams));
    eprintln!("listening on {listen} with {threads} threads");
    let workers: Vec<_> = (0..threads.max(1))
        .map(|_| {
            let listener = Arc::clone(&listener);
            thread::spawn(move || {
                // One buffer per thread: zeroing one per connection would
                // cost more than a short connection itself.
                let mut buf = vec![0u8; 128 * 1024];
                loop {
                    match listener.accept() {
                        // A client that goes away mid-test is not our error.
                        Ok((stream, _)) => {
                            let _ = handle(stream, &mut buf);
                        }
                        Err(err) => eprintln!("accept: {err}"),
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.join();
    }
    Ok(())
}

fn handle(mut stream: TcpStream, buf: &mut [u8]) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut mode = [0u8; 1];
    stream.read_exact(&mut mode)?;
    loop {
        let n = stream.read(buf)?;
        if n == 0 {
            return Ok(());
        }
        if mode[0] == b'e' {
            stream.write_all(&buf[..n])?;
        }
    }
}

/// Takes in and forgets UDP datagrams (the bench's sprayed flows end here,
/// so the container answers them with no ICMP error).
fn discard(socket: &UdpSocket) {
    let mut buf = [0u8; 2048];
    while socket.recv(&mut buf).is_ok() {}
}
