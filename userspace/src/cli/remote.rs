//! `-H`/`--host` and the TLS files, shared by the CLI (which daemon to
//! talk to) and `ebpfnet daemon` (where else to listen), as `docker -H`
//! and `dockerd -H`. `tcp://` only ever with mutual TLS.

use std::{
    net::{SocketAddr, ToSocketAddrs as _},
    path::{Path, PathBuf},
};

use anyhow::{Context as _, bail};
use clap::Args;

use crate::{
    client::Client,
    daemon::RemoteListen,
    remote::{DaemonAddress, TlsFiles},
};

#[derive(Debug, Args)]
pub struct RemoteArgs {
    /// The daemon to talk to, or for `ebpfnet daemon` an address to listen
    /// on besides its Unix socket: unix:///PATH or tcp://HOST:PORT (as
    /// docker -H); tcp:// only with mutual TLS
    #[arg(
        short = 'H',
        long = "host",
        global = true,
        env = "EBPFNET_HOST",
        value_name = "ADDRESS"
    )]
    pub host: Option<String>,
    /// CA certificate both ends trust (PEM)
    #[arg(long, global = true, value_name = "PATH")]
    pub tlscacert: Option<PathBuf>,
    /// This end's certificate (PEM), signed by the CA
    #[arg(long, global = true, value_name = "PATH")]
    pub tlscert: Option<PathBuf>,
    /// This end's private key (PEM)
    #[arg(long, global = true, value_name = "PATH")]
    pub tlskey: Option<PathBuf>,
}

impl RemoteArgs {
    fn address(&self) -> anyhow::Result<Option<DaemonAddress>> {
        self.host
            .as_deref()
            .map(DaemonAddress::parse)
            .transpose()
            .map_err(anyhow::Error::from)
    }

    /// The three files, from the flags or else `EBPFNET_CERT_PATH`;
    /// `None` when neither names them.
    fn tls_files(&self) -> anyhow::Result<Option<TlsFiles>> {
        match (&self.tlscacert, &self.tlscert, &self.tlskey) {
            (Some(ca), Some(cert), Some(key)) => Ok(Some(TlsFiles {
                ca: ca.clone(),
                cert: cert.clone(),
                key: key.clone(),
            })),
            (None, None, None) => {
                Ok(std::env::var_os("EBPFNET_CERT_PATH")
                    .map(|dir| TlsFiles::in_dir(Path::new(&dir))))
            }
            _ => bail!("give all three of --tlscacert, --tlscert and --tlskey, or none"),
        }
    }

    /// The CLI's client: `-H` if given, else the Unix socket.
    pub fn client(&self, socket: &Path) -> anyhow::Result<Client> {
        match self.address()? {
            None => Ok(Client::new(socket)),
            Some(address) => Ok(Client::at(&address, self.tls_files()?.as_ref())?),
        }
    }

    /// For `ebpfnet daemon`: the TCP address to listen on with mutual TLS,
    /// if `-H tcp://…` names one.
    pub fn listen(&self) -> anyhow::Result<Option<RemoteListen>> {
        let Some(address) = self.address()? else {
            return Ok(None);
        };
        let DaemonAddress::Tcp { host, port } = &address else {
            bail!(
                "ebpfnet daemon -H {address}: the Unix socket is --socket; -H takes tcp://HOST:PORT"
            );
        };
        let Some(tls) = self.tls_files()? else {
            bail!(
                "refusing to listen on {address} without mutual TLS: give --tlscacert, --tlscert and --tlskey (the daemon's certificate, and the CA its clients' certificates must come from)"
            );
        };
        let address: SocketAddr = (host.as_str(), *port)
            .to_socket_addrs()
            .with_context(|| format!("cannot resolve {address}"))?
            .next()
            .with_context(|| format!("{address} resolves to no address"))?;
        Ok(Some(RemoteListen { address, tls }))
    }
}
