//! The TLS configurations of both ends, from PEM files named as Docker
//! names them (`--tlscacert`, `--tlscert`, `--tlskey`).

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use rustls::{
    ClientConfig, RootCertStore, ServerConfig,
    crypto::{CryptoProvider, ring},
    server::WebPkiClientVerifier,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject};
use thiserror::Error;

/// The CA both ends trust, and this end's certificate and key.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    /// `ca.pem`, `cert.pem` and `key.pem` in `dir` (Docker's
    /// `DOCKER_CERT_PATH` layout).
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        }
    }
}

#[derive(Debug, Error)]
pub enum TlsError {
    #[error("cannot read the {what} from {path}: {source}")]
    Pem {
        what: &'static str,
        path: PathBuf,
        source: rustls_pki_types::pem::Error,
    },
    #[error("the CA file {path} holds no usable certificate: {reason}")]
    Ca { path: PathBuf, reason: String },
    #[error("TLS setup with {cert} and {key}: {source}")]
    Setup {
        cert: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
    #[error("{0:?} is not a host name or address a certificate can name")]
    ServerName(String),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

fn certificates(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = |source| TlsError::Pem {
        what,
        path: path.to_path_buf(),
        source,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(pem)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem)?;
    if certs.is_empty() {
        return Err(pem(rustls_pki_types::pem::Error::NoItemsFound));
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|source| TlsError::Pem {
        what: "private key",
        path: path.to_path_buf(),
        source,
    })
}

fn roots(files: &TlsFiles) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(&files.ca, "CA certificate")? {
        roots.add(cert).map_err(|e| TlsError::Ca {
            path: files.ca.clone(),
            reason: e.to_string(),
        })?;
    }
    Ok(roots)
}

fn setup_err(files: &TlsFiles) -> impl FnOnce(rustls::Error) -> TlsError + '_ {
    |source| TlsError::Setup {
        cert: files.cert.clone(),
        key: files.key.clone(),
        source,
    }
}

/// The daemon's end: its certificate, and a client certificate signed by
/// the CA required of every client.
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = provider();
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots(files)?), Arc::clone(&provider))
            .build()
            .map_err(|e| TlsError::Ca {
                path: files.ca.clone(),
                reason: e.to_string(),
            })?;
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(setup_err(files))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            certificates(&files.cert, "certificate")?,
            private_key(&files.key)?,
        )
        .map_err(setup_err(files))?;
    Ok(Arc::new(config))
}

/// The CLI's end: the daemon's certificate must come from the CA, and the
/// CLI shows its own.
pub fn client_config(files: &TlsFiles) -> Result<Arc<ClientConfig>, TlsError> {
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(setup_err(files))?
        .with_root_certificates(roots(files)?)
        .with_client_auth_cert(
            certificates(&files.cert, "certificate")?,
            private_key(&files.key)?,
        )
        .map_err(setup_err(files))?;
    Ok(Arc::new(config))
}

/// The name the daemon's certificate must carry: the host as given.
pub fn server_name(host: &str) -> Result<ServerName<'static>, TlsError> {
    ServerName::try_from(host.to_string()).map_err(|_| TlsError::ServerName(host.to_string()))
}
