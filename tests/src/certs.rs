//! Certificates for the remote-control tests, made on the spot: a CA, and
//! ends (daemon, client) it signs, written as `ca.pem`, `cert.pem` and
//! `key.pem` in a directory of their own (Docker's layout).

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};

pub struct Ca {
    cert: Certificate,
    key: KeyPair,
}

impl Ca {
    pub fn new(name: &str) -> Self {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).expect("CA certificate");
        Self { cert, key }
    }

    /// Writes `dir/{ca,cert,key}.pem`: `trusted`'s certificate as the CA,
    /// and a certificate this CA signs for `names` (`server`: a daemon's,
    /// else a client's).
    pub fn issue(&self, dir: &Path, trusted: &Ca, names: &[&str], server: bool) -> EndFiles {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        let key = KeyPair::generate().expect("key");
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .expect("params");
        params.extended_key_usages = vec![if server {
            ExtendedKeyUsagePurpose::ServerAuth
        } else {
            ExtendedKeyUsagePurpose::ClientAuth
        }];
        let cert = params.signed_by(&key, &self.cert, &self.key).expect("sign");
        let files = EndFiles {
            dir: dir.to_path_buf(),
        };
        for (path, pem) in [
            (files.ca(), trusted.cert.pem()),
            (files.cert(), cert.pem()),
            (files.key(), key.serialize_pem()),
        ] {
            std::fs::write(&path, pem).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
        files
    }
}

/// One end's `ca.pem`, `cert.pem` and `key.pem`.
pub struct EndFiles {
    pub dir: PathBuf,
}

impl EndFiles {
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
    pub fn cert(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }
    pub fn key(&self) -> PathBuf {
        self.dir.join("key.pem")
    }

    /// `--tlscacert CA --tlscert CERT --tlskey KEY`.
    pub fn flags(&self) -> Vec<String> {
        [
            ("--tlscacert", self.ca()),
            ("--tlscert", self.cert()),
            ("--tlskey", self.key()),
        ]
        .into_iter()
        .flat_map(|(flag, path)| [flag.to_string(), path.display().to_string()])
        .collect()
    }
}
