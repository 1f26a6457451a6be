//! Real handshakes on loopback with certificates made on the spot: a
//! client the CA signed is served; one without a certificate, or with one
//! from another CA, is not; a daemon certificate from another CA is not
//! trusted.

use std::{path::Path, sync::Arc};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair,
};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio_rustls::TlsConnector;

use super::*;

struct Ca {
    cert: Certificate,
    key: KeyPair,
    pem: String,
}

fn ca(name: &str) -> Ca {
    let key = KeyPair::generate().expect("CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let cert = params.self_signed(&key).expect("CA cert");
    Ca {
        pem: cert.pem(),
        cert,
        key,
    }
}

/// Writes `dir/{ca,cert,key}.pem`: a certificate for `names` signed by `ca`.
fn end(
    dir: &Path,
    ca_pem: &str,
    signer: &Ca,
    names: &[&str],
    purpose: ExtendedKeyUsagePurpose,
) -> TlsFiles {
    std::fs::create_dir_all(dir).expect("dir");
    let key = KeyPair::generate().expect("key");
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("params");
    params.extended_key_usages = vec![purpose];
    let cert = params
        .signed_by(&key, &signer.cert, &signer.key)
        .expect("sign");
    let files = TlsFiles::in_dir(dir);
    std::fs::write(&files.ca, ca_pem).expect("ca.pem");
    std::fs::write(&files.cert, cert.pem()).expect("cert.pem");
    std::fs::write(&files.key, key.serialize_pem()).expect("key.pem");
    files
}

/// The CA of `files` as a root store.
fn roots_of(files: &TlsFiles) -> rustls::RootCertStore {
    use rustls_pki_types::{CertificateDer, pem::PemObject};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&files.ca).expect("ca.pem") {
        roots.add(cert.expect("CA cert")).expect("root");
    }
    roots
}

/// Sends a line through a TLS connection to `port` and returns the answer
/// (empty when the server hung up).
async fn ask(port: u16, config: Arc<rustls::ClientConfig>) -> std::io::Result<String> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let name = server_name("127.0.0.1").expect("name");
    let mut tls = TlsConnector::from(config).connect(name, tcp).await?;
    tls.write_all(b"ping\n").await?;
    let mut answer = String::new();
    BufReader::new(tls).read_line(&mut answer).await?;
    Ok(answer)
}

#[tokio::test]
async fn only_clients_the_ca_signed_are_served() {
    let dir = std::env::temp_dir().join(format!("ebpfnet-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let ours = ca("ebpfnet test CA");
    let theirs = ca("someone else's CA");
    let server = end(
        &dir.join("daemon"),
        &ours.pem,
        &ours,
        &["127.0.0.1"],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let client = end(
        &dir.join("cli"),
        &ours.pem,
        &ours,
        &["cli"],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let rogue = end(
        &dir.join("rogue"),
        &ours.pem,
        &theirs,
        &["cli"],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let fooled = end(
        &dir.join("fooled"),
        &theirs.pem,
        &theirs,
        &["cli"],
        ExtendedKeyUsagePurpose::ClientAuth,
    );

    let listener = TlsListener::bind("127.0.0.1:0".parse().expect("addr"), &server)
        .await
        .expect("listen");
    let port = listener.local_addr().expect("port").port();
    let served = tokio::spawn(async move {
        let mut served = 0;
        loop {
            let Ok((handshake, _)) = listener.accept().await else {
                break;
            };
            if let Ok(stream) = handshake.run().await {
                let (read, mut write) = tokio::io::split(stream);
                let mut line = String::new();
                if BufReader::new(read).read_line(&mut line).await.is_ok() {
                    let _ = write.write_all(b"pong\n").await;
                    let _ = write.shutdown().await;
                    served += 1;
                }
            }
            if served == 1 {
                break;
            }
        }
        served
    });

    // No certificate at all.
    let anonymous = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots_of(&client))
    .with_no_client_auth();
    for (who, config) in [
        ("no certificate", Arc::new(anonymous)),
        (
            "another CA's client",
            client_config(&rogue).expect("rogue config"),
        ),
        (
            "a client trusting another CA",
            client_config(&fooled).expect("fooled config"),
        ),
    ] {
        let answer = ask(port, config).await.unwrap_or_default();
        assert_eq!(answer, "", "{who} was served");
    }
    let answer = ask(port, client_config(&client).expect("client config"))
        .await
        .expect("the signed client's exchange");
    assert_eq!(answer, "pong\n");
    assert_eq!(served.await.expect("server task"), 1);
    let _ = std::fs::remove_dir_all(&dir);
}
